//! The job worker in-process against a real nats-server, delivering to a real HTTP server that
//! stands in for a function's watchdog.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::Utc;
use switchyard_broker::invocation::Invocation;
use switchyard_broker::jobs::{JobRecord, JobStatus, JobStore, Transition};
use switchyard_broker::records::{Endpoint, FunctionDeployment, FunctionSpec};
use switchyard_broker::table::Table;
use switchyard_broker::testing::NatsServer;
use switchyard_broker::{buckets, streams};
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
    let nats = NatsServer::start();
    let client = async_nats::connect(nats.url()).await.expect("connects");
    let js = async_nats::jetstream::new(client.clone());
    let registry: Table<FunctionSpec> = Table::new(buckets::functions(&js).await.expect("bucket"));
    let spec = FunctionSpec {
        deployment: FunctionDeployment {
            service: "f".into(),
            ..Default::default()
        },
        replicas: 1,
        created_at: Utc::now(),
        topic_start_sequence: None,
        start_failure: None,
    };
    registry.create("f", &spec).await.expect("registered");
    let endpoint = Endpoint {
        function: "f".into(),
        replica: "r0".into(),
        url: url.to_string(),
        heartbeat: Utc::now(),
        token: None,
    };
    let endpoints: Table<Endpoint> = Table::new(buckets::endpoints(&js).await.expect("bucket"));
    endpoints
        .put(&endpoint.key(), &endpoint)
        .await
        .expect("listed");
    let shutdown = CancellationToken::new();
    let config = DispatcherConfig::default();
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
    /// Stores an invocation as the gateway's intake does, with its queued record.
    async fn enqueue(&self, call_id: &str, callback_url: Option<&str>) {
        let invocation = Invocation {
            call_id: call_id.into(),
            function: "f".into(),
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
        let record = JobRecord::queued(call_id, "f", invocation.callback_url.clone());
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
