//! The job worker in-process against a real nats-server, delivering to a real HTTP server that
//! stands in for a function's watchdog.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::Utc;
use switchyard_broker::events::{self, StartAt, Subscription};
use switchyard_broker::invocation::Invocation;
use switchyard_broker::jobs::{JobRecord, JobStatus, JobStore, Transition};
use switchyard_broker::records::{Endpoint, FunctionDeployment, FunctionSpec};
use switchyard_broker::table::Table;
use switchyard_broker::testing::NatsServer;
use switchyard_broker::{buckets, consumers, streams};
use switchyard_dispatcher::{Dispatcher, DispatcherConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

const WAIT: Duration = Duration::from_secs(20);

/// An HTTP server answering `200 done` to every request after `delay`; counts requests.
async fn function(delay: Duration) -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let counter = counter.clone();
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buffer = [0u8; 4096];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buffer[..n]),
                    }
                }
                counter.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(delay).await;
                let _ = socket
                    .write_all(
                        b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\nConnection: close\r\n\r\ndone",
                    )
                    .await;
            });
        }
    });
    (url, calls)
}

struct Fixture {
    _nats: NatsServer,
    metrics: prometheus::Registry,
    js: async_nats::jetstream::Context,
    jobs: JobStore,
    shutdown: CancellationToken,
}

/// A dispatcher, and a function `f` whose one replica is `url`.
async fn fixture(url: &str) -> Fixture {
    fixture_of(url, &["f".to_string()], DispatcherConfig::default()).await
}

/// A dispatcher with `config`, and `functions` whose one replica each is `url`.
async fn fixture_of(url: &str, functions: &[String], config: DispatcherConfig) -> Fixture {
    let nats = NatsServer::start();
    let client = async_nats::connect(nats.url()).await.expect("connects");
    let js = async_nats::jetstream::new(client.clone());
    let registry: Table<FunctionSpec> = Table::new(buckets::functions(&js).await.expect("bucket"));
    let endpoints: Table<Endpoint> = Table::new(buckets::endpoints(&js).await.expect("bucket"));
    for function in functions {
        let spec = FunctionSpec {
            deployment: FunctionDeployment {
                service: function.clone(),
                ..Default::default()
            },
            replicas: 1,
            created_at: Utc::now(),
            topic_start_sequence: None,
            start_failure: None,
        };
        registry.create(function, &spec).await.expect("registered");
        let endpoint = Endpoint {
            function: function.clone(),
            replica: "r0".into(),
            url: url.to_string(),
            heartbeat: Utc::now(),
            token: None,
        };
        endpoints
            .put(&endpoint.key(), &endpoint)
            .await
            .expect("listed");
    }
    let shutdown = CancellationToken::new();
    let jobs = JobStore::open(&js, &config.retention)
        .await
        .expect("job store");
    let metrics = prometheus::Registry::new();
    Dispatcher::start(client, config, &metrics, shutdown.clone())
        .await
        .expect("dispatcher starts");
    Fixture {
        _nats: nats,
        metrics,
        js,
        jobs,
        shutdown,
    }
}

impl Fixture {
    /// Stores an invocation of `f` as the gateway's intake does, with its queued record.
    async fn enqueue(&self, call_id: &str, callback_url: Option<&str>) {
        self.enqueue_for("f", call_id, callback_url).await
    }

    async fn enqueue_for(&self, function: &str, call_id: &str, callback_url: Option<&str>) {
        let invocation = Invocation {
            call_id: call_id.into(),
            function: function.into(),
            method: "POST".into(),
            path: "/".into(),
            query: None,
            content_type: None,
            headers: Vec::new(),
            body: Bytes::from_static(b"work"),
            time: Utc::now(),
            callback_url: callback_url.map(str::to_string),
            subscription: None,
            hops: 0,
        };
        let record = JobRecord::queued(call_id, function, invocation.callback_url.clone());
        self.jobs
            .create_queued(&record)
            .await
            .expect("queued record");
        let (subject, headers, payload) = invocation.to_stored_message();
        streams::publish_acked(&self.js, subject, headers, payload)
            .await
            .expect("stored");
    }

    async fn wait_for(
        &self,
        call_id: &str,
        what: &str,
        check: impl Fn(&JobRecord) -> bool,
    ) -> JobRecord {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Ok(Some(record)) = self.jobs.get(call_id).await {
                if check(&record) {
                    return record;
                }
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {what}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// `switchyard_jobs_finished_total` for `status`.
    fn finished(&self, status: &str) -> u64 {
        self.metrics
            .gather()
            .iter()
            .filter(|family| family.name() == "switchyard_jobs_finished_total")
            .flat_map(|family| family.get_metric().to_vec())
            .filter(|m| {
                m.get_label()
                    .iter()
                    .any(|l| l.name() == "status" && l.value() == status)
            })
            .map(|m| m.get_counter().get_value() as u64)
            .sum()
    }

    /// Messages left in a stream.
    async fn messages(&self, stream: &str) -> u64 {
        let mut stream = self.js.get_stream(stream).await.expect("stream");
        stream.info().await.expect("info").state.messages
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

#[tokio::test]
async fn a_job_runs_once_and_its_record_follows_it() {
    let (url, calls) = function(Duration::ZERO).await;
    let fixture = fixture(&url).await;
    fixture.enqueue("job-1", None).await;
    let record = fixture
        .wait_for("job-1", "success", |r| r.status == JobStatus::Succeeded)
        .await;
    assert_eq!(record.attempts, 1);
    assert_eq!(record.last_status_code, Some(200));
    assert!(record.result_stored && record.started_at.is_some() && record.finished_at.is_some());
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(
        fixture.messages(streams::INVOCATIONS).await,
        0,
        "the job was acked"
    );
    assert_eq!(fixture.finished("succeeded"), 1);
}

#[tokio::test]
async fn a_job_cancelled_while_its_function_runs_stays_cancelled_without_a_callback() {
    let (url, calls) = function(Duration::from_millis(800)).await;
    let fixture = fixture(&url).await;
    fixture
        .enqueue("job-2", Some("http://127.0.0.1:9/never"))
        .await;
    fixture
        .wait_for("job-2", "the job to run", |r| {
            r.status == JobStatus::Running
        })
        .await;
    // Cancelled in the record only: the call is not aborted, so the function answers.
    fixture
        .jobs
        .apply("job-2", &Transition::Cancel { at: Utc::now() }, None)
        .await
        .expect("cancelled");
    let deadline = tokio::time::Instant::now() + WAIT;
    while fixture.messages(streams::INVOCATIONS).await > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the job was never acked"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1, "the function ran once");
    let record = fixture
        .jobs
        .get("job-2")
        .await
        .expect("reads")
        .expect("record");
    assert_eq!(record.status, JobStatus::Cancelled, "{record:?}");
    assert!(record.callback.is_none(), "{record:?}");
    assert_eq!(
        fixture.messages(streams::CALLBACKS).await,
        0,
        "no callback queued"
    );
    assert_eq!(
        fixture.finished("cancelled"),
        1,
        "counted as what the record says"
    );
    assert_eq!(fixture.finished("succeeded"), 0);
}

/// More functions with work than a dispatcher opens consumers for: every job still runs, once,
/// and the consumers on the queue never outnumber the setting (NATS's own limit is 1,000 per
/// stream; a consumer per deployed function once stranded the jobs of every function past it).
#[tokio::test]
async fn every_function_gets_its_jobs_run_with_consumers_only_for_functions_with_work() {
    const FUNCTIONS: usize = 300;
    const ACTIVE: usize = 20;
    let (url, calls) = function(Duration::ZERO).await;
    let functions: Vec<String> = (0..FUNCTIONS).map(|i| format!("fn-{i}")).collect();
    let mut config = DispatcherConfig::default();
    config.jobs.active_functions = ACTIVE;
    let fixture = fixture_of(&url, &functions, config).await;
    let stream = fixture
        .js
        .get_stream(streams::INVOCATIONS)
        .await
        .expect("stream");
    // Consumers on the queue, and those in use (a fetch waiting or a job unacknowledged); an
    // unused one is deleted by the server within seconds.
    let consumers = || async {
        use futures::StreamExt;
        let mut all = 0;
        let mut in_use = 0;
        let mut infos = stream.consumers();
        while let Some(info) = infos.next().await {
            let Ok(info) = info else { continue };
            all += 1;
            if info.num_waiting > 0 || info.num_ack_pending > 0 {
                in_use += 1;
            }
        }
        (all, in_use)
    };
    assert_eq!(consumers().await.0, 0, "no work, no consumer");
    for function in &functions {
        fixture
            .enqueue_for(function, &format!("job-{function}"), None)
            .await;
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    let mut most = 0;
    while fixture.messages(streams::INVOCATIONS).await > 0 {
        most = most.max(consumers().await.1);
        assert!(
            tokio::time::Instant::now() < deadline,
            "jobs still queued: {} of {FUNCTIONS} ran",
            calls.load(Ordering::SeqCst)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for function in &functions {
        let record = fixture
            .jobs
            .get(&format!("job-{function}"))
            .await
            .expect("reads")
            .expect("record");
        assert_eq!(
            record.status,
            JobStatus::Succeeded,
            "{function}: {record:?}"
        );
    }
    assert_eq!(calls.load(Ordering::SeqCst), FUNCTIONS, "each job ran once");
    assert!(
        most <= ACTIVE,
        "{most} consumers in use at once, more than {ACTIVE}"
    );
    assert!(most > 1, "functions were served side by side");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while consumers().await.0 > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "consumers left after the work: {:?}",
            consumers().await
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// An event stored as an ingress does: `(ingress, source, id)` makes it unique.
async fn publish_event(js: &async_nats::jetstream::Context, ty: &str, id: &str) {
    use cloudevents::{EventBuilder, EventBuilderV10};
    let event = EventBuilderV10::new()
        .id(id)
        .ty(ty)
        .source("/test")
        .build()
        .expect("event");
    let (subject, headers, payload) = events::to_stored_message("webhook", "default", &event);
    streams::publish_acked(js, subject, headers, payload)
        .await
        .expect("stored");
}

fn subscription(name: &str, ty: &str, start_at: StartAt, start_sequence: u64) -> Subscription {
    serde_json::from_value::<Subscription>(serde_json::json!({
        "name": name,
        "function": "f",
        "filters": [{"exact": {"type": ty}}],
    }))
    .map(|s| Subscription {
        start_at,
        start_sequence: Some(start_sequence),
        ..s
    })
    .expect("subscription")
}

/// More subscriptions than NATS allows consumers on a stream, one of which matches: the event
/// reaches its function once, through the one shared router (no consumer per subscription);
/// and a subscription that asks for what came before it gets that from a replay that is
/// removed once the router has taken over.
#[tokio::test]
async fn events_reach_one_of_many_subscriptions_through_one_router_and_replays_end() {
    const SUBSCRIPTIONS: usize = 1_100;
    let (url, calls) = function(Duration::ZERO).await;
    let fixture = fixture(&url).await;
    let js = &fixture.js;
    publish_event(js, "before", "early").await;
    let table: Table<Subscription> = Table::new(buckets::subscriptions(js).await.expect("bucket"));
    let next = streams::next_sequence(js, streams::EVENTS)
        .await
        .expect("sequence");
    for i in 0..SUBSCRIPTIONS {
        let s = subscription(&format!("s{i}"), &format!("t{i}"), StartAt::New, next);
        table.create(&s.name, &s).await.expect("created");
    }
    let replaying = subscription("replaying", "before", StartAt::All, next);
    events::replay::create(js, &replaying)
        .await
        .expect("replay made");
    table
        .create(&replaying.name, &replaying)
        .await
        .expect("created");
    publish_event(js, &format!("t{}", SUBSCRIPTIONS - 1), "one").await;
    publish_event(js, "before", "late").await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while calls.load(Ordering::SeqCst) < 3 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} of 3 deliveries",
            calls.load(Ordering::SeqCst)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let stream = js.get_stream(streams::EVENTS).await.expect("stream");
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        use futures::TryStreamExt;
        let mut names: Vec<String> = stream
            .consumer_names()
            .try_collect()
            .await
            .expect("consumers");
        names.sort();
        if names == [consumers::CATALOG, consumers::ROUTER] {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "consumers of the events: {names:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    while fixture.messages(streams::INVOCATIONS).await > 0 {
        assert!(tokio::time::Instant::now() < deadline, "jobs left");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        3,
        "the matching event once, and the replayed and the later event once each"
    );
}

/// A subscription changed from `all` to `new` keeps no replay: its older events must not
/// reach it after the change.
#[tokio::test]
async fn a_subscription_changed_to_start_at_new_keeps_no_replay() {
    use futures::TryStreamExt;
    let nats = NatsServer::start();
    let client = async_nats::connect(nats.url()).await.expect("connects");
    let js = async_nats::jetstream::new(client);
    streams::ensure(&js, &Default::default())
        .await
        .expect("streams");
    let replays = || async {
        js.get_stream(streams::EVENTS)
            .await
            .expect("stream")
            .consumer_names()
            .try_collect::<Vec<String>>()
            .await
            .expect("consumers")
    };
    let all = subscription("s", "t", StartAt::All, 1);
    events::replay::create(&js, &all).await.expect("made");
    assert_eq!(replays().await, [consumers::replay("s")]);
    let new = subscription("s", "t", StartAt::New, 1);
    events::replay::create(&js, &new).await.expect("replaced");
    assert!(replays().await.is_empty(), "{:?}", replays().await);
}

/// The consumer that moves delayed jobs when due, made by an earlier version with a 30 s ack
/// wait (a job a dead dispatcher held waited that long), is brought to today's settings.
#[tokio::test]
async fn an_old_delayed_jobs_consumer_is_brought_up_to_date() {
    use async_nats::jetstream::consumer::{pull, AckPolicy};
    let nats = NatsServer::start();
    let client = async_nats::connect(nats.url()).await.expect("connects");
    let js = async_nats::jetstream::new(client.clone());
    streams::ensure(&js, &Default::default())
        .await
        .expect("streams");
    let stream = js.get_stream(streams::DELAYED).await.expect("stream");
    stream
        .create_consumer(pull::Config {
            durable_name: Some(consumers::DUE.to_string()),
            filter_subject: switchyard_broker::subjects::ALL_DUE.to_string(),
            ack_policy: AckPolicy::Explicit,
            ack_wait: Duration::from_secs(30),
            ..Default::default()
        })
        .await
        .expect("old consumer");
    let shutdown = CancellationToken::new();
    Dispatcher::start(
        client,
        DispatcherConfig::default(),
        &prometheus::Registry::new(),
        shutdown.clone(),
    )
    .await
    .expect("dispatcher starts");
    let mut consumer: async_nats::jetstream::consumer::Consumer<pull::Config> =
        stream.get_consumer(consumers::DUE).await.expect("consumer");
    let info = consumer.info().await.expect("info");
    assert!(
        info.config.ack_wait < Duration::from_secs(30),
        "{:?}",
        info.config.ack_wait
    );
    shutdown.cancel();
}
