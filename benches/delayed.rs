//! Delayed jobs on time: `JOBS` (default 10,000) jobs sent with `X-Delay: 60s` to an
//! http-mode echo function (gateway, dispatcher and provider as separate processes), NATS
//! restarted 20 s into the wait and the gateway 35 s in. Each job's lateness is its record's
//! `startedAt` less its `notBefore`; none may start early and all must run. The baseline in
//! the same run: `BASELINE` (default 1,000) jobs sent without a delay, from `createdAt` to
//! `startedAt`.
//!
//! Run with `cargo bench --bench delayed` (after `./scripts/bench` has built the echo upstream).

#[path = "../tests/common/mod.rs"]
mod common;
mod support;

use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde_json::Value;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    support::run(run())
}

const DELAY: Duration = Duration::from_secs(60);
const SENDERS: usize = 64;

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let jobs: usize = support::setting("JOBS", 10_000);
    let baseline_jobs: usize = support::setting("BASELINE", 1_000);
    let programs = common::TempDir::new("bench-programs");
    let echo_upstream = support::echo_upstream(&programs.0)?;
    let mut nats = common::Nats::start();
    let url = nats.url();
    let env = [("SWITCHYARD_NATS_URL", url.as_str())];
    let mut gateway = common::Switchyard::start("gateway", &env);
    let _provider = common::Switchyard::start("provider", &env);
    let _dispatcher = common::Switchyard::start("dispatcher", &env);
    let api = gateway.api();
    support::deploy_echo(&api, &echo_upstream).await;

    // Baseline: jobs run as soon as they are stored.
    let immediate = send(&api, baseline_jobs, None).await;
    let baseline = waits(&api, &immediate, "createdAt").await;

    let started = std::time::Instant::now();
    let delayed = send(&api, jobs, Some(DELAY)).await;
    let sent_in = started.elapsed();
    tokio::time::sleep(Duration::from_secs(20).saturating_sub(started.elapsed())).await;
    nats.restart();
    tokio::time::sleep(Duration::from_secs(35).saturating_sub(started.elapsed())).await;
    gateway.restart();
    let api = gateway.api();
    tokio::time::sleep((DELAY + Duration::from_secs(5)).saturating_sub(started.elapsed())).await;
    let lateness = waits(&api, &delayed, "notBefore").await;

    let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1000.0);
    let early = lateness.iter().filter(|l| l.is_none()).count();
    let mut on_time: Vec<Duration> = lateness.iter().flatten().copied().collect();
    on_time.sort();
    let mut base: Vec<Duration> = baseline.iter().flatten().copied().collect();
    base.sort();
    println!("# Delayed jobs ({jobs} with X-Delay: 60s, sent in {sent_in:.1?}; NATS restarted at 20 s, the gateway at 35 s)");
    println!();
    println!("| measurement | p50 | p99 | max |");
    println!("|---|---|---|---|");
    let row = |what: &str, values: &[Duration]| {
        println!(
            "| {what} | {} | {} | {} |",
            ms(common::percentile(values, 0.5)),
            ms(common::percentile(values, 0.99)),
            ms(values.last().copied().unwrap_or_default())
        );
    };
    row(
        &format!("baseline: {baseline_jobs} jobs without delay, accepted → started"),
        &base,
    );
    row("delayed: due → started (lateness)", &on_time);
    println!();
    println!(
        "{} of {jobs} accepted, {} ran, {early} started early",
        delayed.len(),
        lateness.len()
    );
    Ok(())
}

/// Sends `count` jobs (with `X-Delay` when given); their call ids.
async fn send(api: &common::Api, count: usize, delay: Option<Duration>) -> Vec<String> {
    futures::stream::iter(0..count)
        .map(|i| {
            let mut request = api.enqueue("echo").body(format!("job {i}"));
            if let Some(delay) = delay {
                request = request.header("X-Delay", format!("{}s", delay.as_secs()));
            }
            async move {
                let response = request.send().await.ok()?;
                (response.status() == 202).then(|| {
                    response
                        .headers()
                        .get("x-call-id")?
                        .to_str()
                        .ok()
                        .map(str::to_string)
                })?
            }
        })
        .buffer_unordered(SENDERS)
        .filter_map(|id| async move { id })
        .collect()
        .await
}

/// For each job once it succeeded: `startedAt` less `from` (`None` when it started before).
async fn waits(api: &common::Api, call_ids: &[String], from: &str) -> Vec<Option<Duration>> {
    futures::stream::iter(call_ids)
        .map(|call_id| async move {
            let deadline = std::time::Instant::now() + Duration::from_secs(300);
            loop {
                let record: Value = match api
                    .admin(reqwest::Method::GET, &format!("/system/jobs/{call_id}"))
                    .send()
                    .await
                {
                    Ok(response) if response.status() == 200 => {
                        response.json().await.unwrap_or_default()
                    }
                    _ => Value::Null,
                };
                if record["status"] == "succeeded" {
                    let time = |field: &str| {
                        record[field]
                            .as_str()
                            .and_then(|t| t.parse::<DateTime<Utc>>().ok())
                    };
                    let (Some(start), Some(since)) = (time("startedAt"), time(from)) else {
                        panic!("{call_id}: {record}");
                    };
                    return (start - since).to_std().ok();
                }
                assert!(
                    std::time::Instant::now() < deadline,
                    "{call_id} never succeeded: {record}"
                );
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        })
        .buffer_unordered(SENDERS)
        .collect()
        .await
}
