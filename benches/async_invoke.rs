//! Asynchronous invoke: intake rate against a raw JetStream publish-with-ack rate measured in the
//! same run, completion rate, and latency from intake to callback.
//!
//! 1. Raw: 64 tasks publish 100-byte messages to a file-backed stream and await each ack; then
//!    the same with intake's own message shape (a binary-mode invocation CloudEvent with
//!    `deduplication id`, to a work-queue stream), to show what the server itself costs.
//! 2. Intake: 64 HTTP clients POST 100-byte bodies to `/async-function/parked` and count 202s.
//!    `parked`'s replica never becomes ready, so no job runs while intake is measured: the
//!    figure is the cost of accepting work, not of doing it.
//!    For reference, the same tool's rate against `GET /healthz` (HTTP alone).
//! 3. Baseline for completion: the same number of messages through a minimal worker (publish,
//!    pull, POST to the same replica, ack; see [`minimal_worker_rate`]).
//! 4. Completion: `JOBS` (default 5000) jobs to an http-mode echo function (concurrency 64),
//!    each with a callback to a real HTTP server here; callbacks per second, and p50/p99 from
//!    the moment the 202 arrived to the moment the callback arrived.
//!
//! Run with `./scripts/bench` (it builds the echo upstream first).

#[path = "../tests/common/mod.rs"]
mod common;
mod support;

use support::{rate, raw_publish_rate, CONCURRENCY};

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use serde_json::json;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    support::run(run())
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let seconds: u64 = support::setting("BENCH_SECONDS", 5);
    let jobs: usize = support::setting("JOBS", 5000);
    let duration = Duration::from_secs(seconds);
    let programs = common::TempDir::new("bench-programs");
    let echo_upstream = support::echo_upstream(&programs.0)?;
    let nats = common::Nats::start();
    let switchyard = common::Switchyard::up_with(&nats, &[("RUST_LOG", "warn")]);
    let api = switchyard.api();
    let body = Bytes::from(vec![b'x'; 100]);

    // 1. Raw JetStream publish with ack.
    let client = async_nats::connect(nats.url()).await?;
    let js = async_nats::jetstream::new(client);
    let raw = raw_publish_rate(&js, duration).await?;

    // 1b. Raw publish of intake's own message shape: a binary-mode invocation CloudEvent with
    // `deduplication id`, to a work-queue stream with a duplicate window, as intake sends it.
    js.create_stream(async_nats::jetstream::stream::Config {
        name: "BENCH_SHAPED".into(),
        subjects: vec!["bench.shaped.>".into()],
        retention: async_nats::jetstream::stream::RetentionPolicy::WorkQueue,
        duplicate_window: Duration::from_secs(600),
        ..Default::default()
    })
    .await?;
    let shaped_js = js.clone();
    let shaped_body = body.clone();
    let shaped = rate(duration, move |_| {
        let js = shaped_js.clone();
        let (mut headers, payload) = sample_invocation(shaped_body.clone()).to_message();
        async move {
            let id = switchyard_broker::codec::event_id(&headers).unwrap_or_default();
            switchyard_broker::headers::set_msg_id(&mut headers, &id);
            match js
                .publish_with_headers("bench.shaped.echo", headers, payload)
                .await
            {
                Ok(ack) => ack.await.is_ok(),
                Err(_) => false,
            }
        }
    })
    .await;

    // 2. Intake alone. `parked`'s replica never becomes ready (its upstream is never
    // listened on), so the dispatcher, which wakes a function its jobs find at zero, cannot
    // run its jobs meanwhile; they are purged afterwards.
    let parked = api
        .deploy(json!({
            "service": "parked",
            "envProcess": "sleep 1000000",
            "envVars": { "mode": "http", "upstream_url": format!("http://127.0.0.1:{}", common::free_port()) },
        }))
        .await;
    if parked.status() != 202 {
        return Err("deploy of `parked` failed".into());
    }
    let http = reqwest::Client::new();
    let intake_url = api.url("/async-function/parked");
    let intake_body = body.clone();
    let intake = rate(duration, move |_| {
        let request = http.post(&intake_url).body(intake_body.clone());
        async move { request.send().await.is_ok_and(|r| r.status() == 202) }
    })
    .await;

    let removed = api
        .admin(reqwest::Method::DELETE, "/system/functions")
        .json(&json!({ "functionName": "parked" }))
        .send()
        .await?;
    if !removed.status().is_success() {
        return Err("`parked` not removed".into());
    }
    js.get_stream(switchyard_broker::streams::INVOCATIONS)
        .await?
        .purge()
        .filter(switchyard_broker::subjects::invoke("parked"))
        .await?;

    // The same tool against the cheapest route: what HTTP alone costs on this machine.
    let healthz_url = api.url("/healthz");
    let healthz_http = reqwest::Client::new();
    let http_ceiling = rate(duration, move |_| {
        let request = healthz_http.get(&healthz_url);
        async move { request.send().await.is_ok_and(|r| r.status() == 200) }
    })
    .await;

    // 3. Completion.
    support::deploy_echo(&api, &echo_upstream).await;
    let endpoints = js
        .get_key_value(switchyard_broker::buckets::ENDPOINTS)
        .await?;
    let replica = support::endpoint(&endpoints, "echo").await?;
    let minimal = minimal_worker_rate(&js, &replica, jobs, body.clone()).await?;

    let receiver = common::CallbackServer::start().await;
    let callback_url = receiver.url("/");
    let accepted_at: Arc<std::sync::Mutex<HashMap<String, Instant>>> = Default::default();
    let started = Instant::now();
    futures::stream::iter(0..jobs)
        .map(|_| {
            let request = api
                .enqueue("echo")
                .header("X-Callback-Url", &callback_url)
                .body(body.clone());
            let accepted_at = accepted_at.clone();
            async move {
                if let Ok(response) = request.send().await {
                    if let Some(id) = response
                        .headers()
                        .get("x-call-id")
                        .and_then(|v| v.to_str().ok())
                    {
                        accepted_at
                            .lock()
                            .expect("lock")
                            .insert(id.to_string(), Instant::now());
                    }
                }
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect::<Vec<()>>()
        .await;
    let callbacks = receiver.wait_for(jobs, Duration::from_secs(600)).await;
    let finished = callbacks.iter().map(|c| c.at).max().unwrap_or(started);
    let completion_rate = jobs as f64 / (finished - started).as_secs_f64();
    let accepted_at = accepted_at.lock().expect("lock").clone();
    let latencies = support::latencies(&callbacks, "x-call-id", &accepted_at);
    let pick = |q| common::percentile(&latencies, q);

    let ratio = intake / raw.max(f64::MIN_POSITIVE);
    println!("# Async invoke ({seconds}s per rate measurement, concurrency {CONCURRENCY}, 100-byte body)");
    println!();
    println!("| measurement | result |");
    println!("|---|---|");
    println!("| raw JetStream publish with ack | {raw:.0}/s |");
    println!("| raw publish of intake's message shape (CloudEvent headers + deduplication id, work queue) | {shaped:.0}/s |");
    println!("| HTTP ceiling (GET /healthz, same tool) | {http_ceiling:.0}/s |");
    println!("| async intake (202s) | {intake:.0}/s |");
    println!("| intake / raw publish | {ratio:.2} |");
    println!(
        "| intake / raw publish of the same shape | {:.2} |",
        intake / shaped.max(f64::MIN_POSITIVE)
    );
    println!("| baseline: minimal worker ({jobs} messages published by 64 tasks while a pull consumer POSTs each to the echo replica, 64 at once, and acks) | {minimal:.0}/s |");
    println!("| completions ({jobs} jobs, http-mode echo, callbacks) | {completion_rate:.0}/s |");
    println!(
        "| completions / minimal worker | {:.2} |",
        completion_rate / minimal.max(f64::MIN_POSITIVE)
    );
    println!("| intake → callback p50 | {:?} |", pick(0.50));
    println!("| intake → callback p99 | {:?} |", pick(0.99));
    println!();
    println!("| floor | measured | met |");
    println!("|---|---|---|");
    println!(
        "| intake ≥ 30% of raw publish | {ratio:.2} | {} |",
        if ratio >= 0.30 { "yes" } else { "NO" }
    );
    println!(
        "| completions ≥ 1,000/s | {completion_rate:.0}/s | {} |",
        if completion_rate >= 1000.0 {
            "yes"
        } else {
            "NO"
        }
    );
    Ok(())
}

/// The baseline for completions: the same work with nothing that makes it a job (no record,
/// no result, no callback, no retry): `jobs` messages of intake's shape published by 64 tasks
/// to a work queue while one pull consumer POSTs each body to the function's replica, 64 at
/// once, and acks it. Messages per second from the first publish to the last ack.
async fn minimal_worker_rate(
    js: &async_nats::jetstream::Context,
    replica: &switchyard_broker::records::Endpoint,
    jobs: usize,
    body: Bytes,
) -> Result<f64, Box<dyn std::error::Error>> {
    use async_nats::jetstream::{consumer, stream};
    let stream = js
        .create_stream(stream::Config {
            name: "BENCH_MINIMAL".into(),
            subjects: vec!["bench.minimal.>".into()],
            retention: stream::RetentionPolicy::WorkQueue,
            duplicate_window: Duration::from_secs(600),
            ..Default::default()
        })
        .await?;
    let consumer: consumer::PullConsumer = stream
        .create_consumer(consumer::pull::Config {
            durable_name: Some("minimal".into()),
            ack_policy: consumer::AckPolicy::Explicit,
            max_ack_pending: 20_000,
            ..Default::default()
        })
        .await?;
    let started = Instant::now();
    let publisher_js = js.clone();
    let publisher = tokio::spawn(async move {
        futures::stream::iter(0..jobs)
            .for_each_concurrent(CONCURRENCY, |_| {
                let js = publisher_js.clone();
                let (mut headers, payload) = sample_invocation(body.clone()).to_message();
                async move {
                    let id = switchyard_broker::codec::event_id(&headers).unwrap_or_default();
                    switchyard_broker::headers::set_msg_id(&mut headers, &id);
                    if let Ok(ack) = js
                        .publish_with_headers("bench.minimal.echo", headers, payload)
                        .await
                    {
                        let _ = ack.await;
                    }
                }
            })
            .await;
    });
    let http = reqwest::Client::new();
    let url = format!("{}/", replica.url);
    let token = replica.token.clone().unwrap_or_default();
    let done = std::sync::atomic::AtomicUsize::new(0);
    let messages = consumer.messages().await?;
    messages
        .take(jobs)
        .for_each_concurrent(CONCURRENCY, |message| {
            let request = http
                .post(&url)
                .header(switchyard_broker::records::REPLICA_TOKEN_HEADER, &token);
            let done = &done;
            async move {
                let Ok(message) = message else { return };
                let answered = request
                    .body(message.payload.clone())
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success());
                if answered && message.ack().await.is_ok() {
                    done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
        })
        .await;
    let elapsed = started.elapsed().as_secs_f64();
    publisher.await?;
    let done = done.load(std::sync::atomic::Ordering::Relaxed);
    if done < jobs {
        return Err(format!("minimal worker: {done} of {jobs} answered").into());
    }
    Ok(jobs as f64 / elapsed)
}

/// An invocation like one the gateway stores for a 100-byte POST from an HTTP client.
fn sample_invocation(body: Bytes) -> switchyard_broker::invocation::Invocation {
    let call_id = uuid_like();
    switchyard_broker::invocation::Invocation {
        call_id: call_id.clone(),
        function: "echo".into(),
        method: "POST".into(),
        path: "/".into(),
        query: None,
        content_type: Some("application/octet-stream".into()),
        headers: vec![
            ("accept".into(), "*/*".into()),
            ("X-Call-Id".into(), call_id),
            ("X-Start-Time".into(), "1795438734494281644".into()),
        ],
        body,
        time: chrono::Utc::now(),
        callback_url: Some("http://127.0.0.1:9/".into()),
        subscription: None,
        hops: 0,
    }
}

fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "bench-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}
