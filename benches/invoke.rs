//! Synchronous invoke through the gateway against a direct call to the same watchdog.
//!
//! Starts a real nats-server and `switchyard up`, deploys an http-mode function (a trivial echo
//! upstream) and a fork-mode function (`cat`), then measures each at concurrency 1 and 64 with a
//! 100-byte body, direct to the watchdog and through the gateway, in the same run. Reports
//! requests/s, p50 and p99, the gateway/direct ratios, and the RSS of an idle watchdog.
//!
//! Run with `./scripts/bench` (it builds the echo upstream first). `BENCH_SECONDS` sets the
//! length of each measurement (default 5).

#[path = "../tests/common/mod.rs"]
mod common;
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use switchyard_broker::records::REPLICA_TOKEN_HEADER;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    support::run(run())
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let seconds: u64 = support::setting("BENCH_SECONDS", 5);
    let programs = common::TempDir::new("bench-programs");
    let echo_upstream = support::echo_upstream(&programs.0)?;
    let nats = common::Nats::start();
    let switchyard = common::Switchyard::up(&nats);
    let api = switchyard.api();
    let gateway = api.url("");

    let upstream_url = format!("http://127.0.0.1:{}", common::free_port());
    for body in [
        serde_json::json!({ "service": "http-echo", "envProcess": echo_upstream.to_string_lossy(),
                            "envVars": { "mode": "http", "upstream_url": upstream_url } }),
        serde_json::json!({ "service": "fork-cat", "envProcess": "cat" }),
    ] {
        let response = api.deploy(body).await;
        if response.status() != 202 {
            return Err(format!("deploy failed: {}", response.text().await?).into());
        }
    }
    let client = async_nats::connect(nats.url()).await?;
    let endpoints = async_nats::jetstream::new(client)
        .get_key_value(switchyard_broker::buckets::ENDPOINTS)
        .await?;
    let mut direct = Vec::new();
    for function in ["http-echo", "fork-cat"] {
        direct.push(support::endpoint(&endpoints, function).await?);
    }
    // Let the replicas settle, then read the idle watchdogs' memory.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss: Vec<u64> = common::children(switchyard.pid(), "watchdog")
        .into_iter()
        .filter_map(support::rss_kib)
        .collect();

    let client = Client::builder(TokioExecutor::new()).build({
        let mut c = HttpConnector::new();
        c.set_nodelay(true);
        c
    });
    let client: Arc<Client<HttpConnector, Full<Bytes>>> = Arc::new(client);
    let body = Bytes::from(vec![b'x'; 100]);
    let duration = Duration::from_secs(seconds);

    println!(
        "# Sync invoke: gateway vs direct watchdog ({seconds}s per measurement, 100-byte body)"
    );
    println!();
    println!("| function | concurrency | direct req/s | gateway req/s | ratio | direct p50 | gateway p50 | added p50 | direct p99 | gateway p99 |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let mut floors = Vec::new();
    for (function, replica) in ["http-echo", "fork-cat"].iter().zip(&direct) {
        for concurrency in [1usize, 64] {
            let direct_result = load(
                client.clone(),
                format!("{}/", replica.url),
                replica.token.clone(),
                body.clone(),
                concurrency,
                duration,
            )
            .await;
            let gateway_result = load(
                client.clone(),
                format!("{gateway}/function/{function}"),
                None,
                body.clone(),
                concurrency,
                duration,
            )
            .await;
            let ratio = gateway_result.rps / direct_result.rps.max(f64::MIN_POSITIVE);
            let added_p50 = gateway_result.p50.saturating_sub(direct_result.p50);
            println!(
                "| {function} | {concurrency} | {:.0} | {:.0} | {:.2} | {:?} | {:?} | {:?} | {:?} | {:?} |",
                direct_result.rps, gateway_result.rps, ratio, direct_result.p50, gateway_result.p50, added_p50,
                direct_result.p99, gateway_result.p99
            );
            if direct_result.errors + gateway_result.errors > 0 {
                println!(
                    "  (errors: direct {}, gateway {})",
                    direct_result.errors, gateway_result.errors
                );
            }
            if concurrency == 64 {
                floors.push((
                    format!("{function} c64 gateway/direct throughput ≥ 0.25"),
                    ratio >= 0.25,
                    format!("{ratio:.2}"),
                ));
            } else {
                floors.push((
                    format!("{function} c1 added p50 ≤ 1 ms"),
                    added_p50 <= Duration::from_millis(1),
                    format!("{added_p50:?}"),
                ));
            }
        }
    }
    println!();
    let max_rss = rss.iter().copied().max().unwrap_or(0);
    println!(
        "Idle watchdog RSS: {} KiB each ({} watchdogs)",
        rss.iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        rss.len()
    );
    floors.push((
        "idle watchdog RSS < 10 MB".into(),
        max_rss > 0 && max_rss < 10 * 1024,
        format!("{max_rss} KiB"),
    ));
    println!();
    println!("| floor | measured | met |");
    println!("|---|---|---|");
    for (floor, met, measured) in &floors {
        println!(
            "| {floor} | {measured} | {} |",
            if *met { "yes" } else { "NO" }
        );
    }
    Ok(())
}

struct LoadResult {
    rps: f64,
    p50: Duration,
    p99: Duration,
    errors: u64,
}

/// `concurrency` workers POST `body` to `url` back to back for `duration` (after a 1 s warm-up),
/// with the replica's token when calling a watchdog directly (as the dispatcher does).
async fn load(
    client: Arc<Client<HttpConnector, Full<Bytes>>>,
    url: String,
    token: Option<String>,
    body: Bytes,
    concurrency: usize,
    duration: Duration,
) -> LoadResult {
    let warm_up_end = Instant::now() + Duration::from_secs(1);
    let end = warm_up_end + duration;
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let client = client.clone();
        let url = url.clone();
        let token = token.clone();
        let body = body.clone();
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0u64;
            loop {
                let started = Instant::now();
                if started >= end {
                    break;
                }
                let mut request = hyper::Request::post(url.as_str());
                if let Some(token) = &token {
                    request = request.header(REPLICA_TOKEN_HEADER, token.as_str());
                }
                let request = request.body(Full::new(body.clone()));
                let ok = match request {
                    Ok(request) => match client.request(request).await {
                        Ok(response) => {
                            let ok = response.status().is_success();
                            ok && response.into_body().collect().await.is_ok()
                        }
                        Err(_) => false,
                    },
                    Err(_) => false,
                };
                if started >= warm_up_end {
                    if ok {
                        latencies.push(started.elapsed());
                    } else {
                        errors += 1;
                    }
                }
            }
            (latencies, errors)
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    for worker in workers {
        if let Ok((mut l, e)) = worker.await {
            latencies.append(&mut l);
            errors += e;
        }
    }
    latencies.sort();
    let pick = |q| common::percentile(&latencies, q);
    LoadResult {
        rps: latencies.len() as f64 / duration.as_secs_f64(),
        p50: pick(0.50),
        p99: pick(0.99),
        errors,
    }
}
