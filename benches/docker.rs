//! The Docker provider: sync invoke through the gateway to a containerised function against a
//! direct call to the same container, in one run, and cold start (deploy to first successful
//! invoke) of a function image.
//!
//! The function is `switchyard/function` (built by `compose/build-images.sh` from this build's
//! binaries) running `cat`, one replica; 64 concurrent callers send 100-byte bodies.
//!
//! Run with `./scripts/bench`.

#[path = "../tests/common/mod.rs"]
mod common;
mod support;

use std::time::{Duration, Instant};

use serde_json::json;
use support::{rate, CONCURRENCY};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    support::run(run())
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let seconds: u64 = support::setting("BENCH_SECONDS", 5);
    common::docker::build_images();
    let network = format!("sy-bench-{}", common::free_port());
    let nats = common::Nats::start();
    let switchyard = common::docker::up_with_docker(&nats, &network, &[("RUST_LOG", "warn")]);
    let api = switchyard.api();
    let result = measure(&api, &network, seconds).await;
    common::docker::clean_up(&network);
    result
}

async fn deploy(api: &common::Api, name: &str) -> Result<(), Box<dyn std::error::Error>> {
    let response = api
        .deploy(
            json!({"service": name, "image": "switchyard/function:latest", "envProcess": "cat"}),
        )
        .await;
    if response.status() != 202 {
        return Err(format!("deploy {name}: {}", response.text().await?).into());
    }
    Ok(())
}

async fn measure(
    api: &common::Api,
    network: &str,
    seconds: u64,
) -> Result<(), Box<dyn std::error::Error>> {
    // Cold start: from the deploy request to the first 200 through the gateway.
    let mut cold = Vec::new();
    for i in 0..3 {
        let name = format!("cold{i}");
        let started = Instant::now();
        deploy(api, &name).await?;
        loop {
            if api.invoke(&name, "x").await.status() == 200 {
                break;
            }
            if started.elapsed() > Duration::from_secs(60) {
                return Err("cold start over 60 s".into());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        cold.push(started.elapsed());
    }
    cold.sort();

    deploy(api, "echo").await?;
    api.wait_available("echo", 1).await;
    let id = common::docker::containers(network, "echo")
        .into_iter()
        .next()
        .ok_or("no container")?;
    let ip = common::docker::docker(&[
        "inspect",
        "-f",
        &format!("{{{{(index .NetworkSettings.Networks \"{network}\").IPAddress}}}}"),
        &id,
    ]);
    let direct_url = format!("http://{}:8080/", ip.trim());
    let gateway_url = api.url("/function/echo");
    let body = bytes::Bytes::from(vec![b'x'; 100]);
    let http = reqwest::Client::new();
    let call = |url: String| {
        let http = http.clone();
        let body = body.clone();
        move |_| {
            let http = http.clone();
            let body = body.clone();
            let url = url.clone();
            async move { matches!(http.post(&url).body(body).send().await, Ok(r) if r.status() == 200) }
        }
    };
    let direct = rate(Duration::from_secs(seconds), call(direct_url)).await;
    let through = rate(Duration::from_secs(seconds), call(gateway_url)).await;

    println!("# Docker provider: sync invoke of a containerised `cat` ({CONCURRENCY} callers, 100-byte bodies)");
    println!();
    println!("| measurement | result |");
    println!("|---|---|");
    println!("| direct to the container's watchdog | {direct:.0}/s |");
    println!("| through the gateway | {through:.0}/s |");
    println!("| gateway / direct | {:.2} |", through / direct);
    println!(
        "| cold start, deploy → first 200 (3 runs: min, median, max) | {:?}, {:?}, {:?} |",
        cold[0], cold[1], cold[2]
    );
    Ok(())
}
