//! Shared by the benchmarks: the runtime, settings from the environment, and a
//! fixed-concurrency rate measurement.

#![allow(dead_code)] // each benchmark uses a different part

use std::time::{Duration, Instant};

/// Runs a benchmark's `main` body on a multi-threaded runtime.
pub fn run<F>(benchmark: F) -> Result<(), Box<dyn std::error::Error>>
where
    F: std::future::Future<Output = Result<(), Box<dyn std::error::Error>>>,
{
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(benchmark)
}

/// A number from the environment variable `name` (`BENCH_SECONDS`, `JOBS`, …), else `default`.
pub fn setting<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// Concurrent workers in every rate measurement.
pub const CONCURRENCY: usize = 64;

/// Operations per second: `CONCURRENCY` workers run `operation` back to back for `duration`
/// after a one-second warm-up; only successes count.
pub async fn rate<F, Fut>(duration: Duration, operation: F) -> f64
where
    F: Fn(usize) -> Fut + Send + Sync + 'static + Clone,
    Fut: std::future::Future<Output = bool> + Send,
{
    let measure_from = Instant::now() + Duration::from_secs(1);
    let end = measure_from + duration;
    let mut workers = Vec::new();
    for worker in 0..CONCURRENCY {
        let operation = operation.clone();
        workers.push(tokio::spawn(async move {
            let mut ok = 0u64;
            while Instant::now() < end {
                let counted = Instant::now() >= measure_from;
                if operation(worker).await && counted {
                    ok += 1;
                }
            }
            ok
        }));
    }
    let mut total = 0;
    for worker in workers {
        total += worker.await.unwrap_or(0);
    }
    total as f64 / duration.as_secs_f64()
}

/// Raw JetStream publishes with ack per second: `CONCURRENCY` tasks, 100-byte messages, a
/// file-backed stream of its own. The baseline the benchmarks compare against.
pub async fn raw_publish_rate(
    js: &async_nats::jetstream::Context,
    duration: Duration,
) -> Result<f64, Box<dyn std::error::Error>> {
    js.create_stream(async_nats::jetstream::stream::Config {
        name: "BENCH_RAW".into(),
        subjects: vec!["bench.raw".into()],
        ..Default::default()
    })
    .await?;
    let js = js.clone();
    let body = bytes::Bytes::from(vec![b'x'; 100]);
    Ok(rate(duration, move |_| {
        let js = js.clone();
        let body = body.clone();
        async move {
            match js.publish("bench.raw", body).await {
                Ok(ack) => ack.await.is_ok(),
                Err(_) => false,
            }
        }
    })
    .await)
}

/// Deploys `echo`: an http-mode watchdog in front of `echo_upstream`, 64 jobs at once; waits
/// for its replica.
pub async fn deploy_echo(api: &crate::common::Api, echo_upstream: &std::path::Path) {
    api.deploy_with(
        "echo",
        &echo_upstream.to_string_lossy(),
        serde_json::json!({ "mode": "http", "upstream_url": format!("http://127.0.0.1:{}", crate::common::free_port()) }),
        serde_json::json!({ "com.switchyard.async.concurrency": "64" }),
    )
    .await;
}

/// The `echo_upstream` example built beside this benchmark (`./scripts/bench` builds it),
/// copied into `dir`: functions may run as users of their own, who cannot enter the build
/// directory (often below a private home).
pub fn echo_upstream(
    dir: &std::path::Path,
) -> Result<std::path::PathBuf, Box<dyn std::error::Error>> {
    let built = std::env::current_exe()?
        .parent()
        .and_then(|p| p.parent())
        .ok_or("no target dir")?
        .join("examples")
        .join("echo_upstream");
    if !built.exists() {
        return Err(format!("{} missing: run ./scripts/bench", built.display()).into());
    }
    let copy = dir.join("echo_upstream");
    std::fs::copy(&built, &copy)?;
    std::fs::set_permissions(&copy, std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
    Ok(copy)
}

/// Replica 0 of `function` (its URL and token), once the provider lists it.
pub async fn endpoint(
    endpoints: &async_nats::jetstream::kv::Store,
    function: &str,
) -> Result<switchyard_broker::records::Endpoint, Box<dyn std::error::Error>> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(Some(value)) = endpoints.get(format!("{function}.r0")).await {
            return Ok(serde_json::from_slice(&value)?);
        }
        if Instant::now() > deadline {
            return Err(format!("{function} never became ready").into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// VmRSS of a process, in KiB.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// From sending to arrival, for each arrival whose `header` names a request in `sent`; sorted.
pub fn latencies(
    arrivals: &[crate::common::Received],
    header: &str,
    sent: &std::collections::HashMap<String, Instant>,
) -> Vec<Duration> {
    let mut latencies: Vec<Duration> = arrivals
        .iter()
        .filter_map(|a| {
            sent.get(a.header(header))
                .map(|t| a.at.saturating_duration_since(*t))
        })
        .collect();
    latencies.sort();
    latencies
}

/// Deploys `name`, an http-mode function whose upstream is `receiver` (so each arrival is
/// timed there), taking 64 jobs at once.
pub async fn deploy_receiver(
    api: &crate::common::Api,
    name: &str,
    receiver: &crate::common::CallbackServer,
) {
    api.deploy_with(
        name,
        "sleep 1000000",
        serde_json::json!({"mode": "http", "upstream_url": receiver.url(""), "exec_timeout": "60s"}),
        serde_json::json!({"com.switchyard.async.concurrency": "64"}),
    )
    .await;
}
