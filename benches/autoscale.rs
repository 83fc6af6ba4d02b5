//! The autoscaler: cold start from zero to the first 200, and the time from a load step to the
//! replicas it needs, with the process, Docker and Swarm providers (the Swarm is a one-node one
//! on loopback, made for the run and left after it unless the engine was in one already). Baselines from the same run: a
//! warm call to the same function (for the cold start), and scaling by hand to the same
//! replicas (for the load step: what the autoscaler adds is its measuring and deciding).
//!
//! Run with `./scripts/bench` (or `cargo bench --bench autoscale`).

#[path = "../tests/common/mod.rs"]
mod common;
mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

type Error = Box<dyn std::error::Error>;

fn main() -> Result<(), Error> {
    support::run(run())
}

async fn run() -> Result<(), Error> {
    println!("# Autoscaler: cold start and load step (1 s measuring interval)");
    println!();
    println!("| provider | cold start from zero → first 200 (3 runs: min, median, max) | warm call | load step (40 callers, capacity target 5) → 4 replicas ready | by hand → 4 ready | autoscaled / by hand |");
    println!("|---|---|---|---|---|---|");
    let dir = common::TempDir::new("bench-autoscale");
    let slow = common::script(&dir.0, "slow.sh", "sleep 0.2; cat");
    {
        let nats = common::Nats::start();
        let switchyard = common::Switchyard::up_with(&nats, &[("RUST_LOG", "warn")]);
        let api = switchyard.api();
        let function = |_: &str| json!({"envProcess": "cat"});
        let slow_function = json!({"envProcess": slow});
        row("process", &api, function, slow_function).await?;
    }
    common::docker::build_images();
    let image = |_: &str| json!({"image": "switchyard/function:latest", "envProcess": "cat"});
    let slow_image = json!({"image": "switchyard/function:latest", "envProcess": "sleep 0.2"});
    {
        let network = format!("sy-bench-{}", common::free_port());
        let nats = common::Nats::start();
        let switchyard = common::docker::up_with_docker(&nats, &network, &[("RUST_LOG", "warn")]);
        let result = row("docker", &switchyard.api(), image, slow_image.clone()).await;
        common::docker::clean_up(&network);
        result?;
    }
    let swarm = common::swarm::Swarm::join();
    let nats = common::Nats::start();
    let switchyard = common::docker::up_with_swarm(&nats, &swarm.network, &[("RUST_LOG", "warn")]);
    row("swarm", &switchyard.api(), image, slow_image).await
}

async fn deploy(
    api: &common::Api,
    name: &str,
    mut body: Value,
    labels: Value,
) -> Result<(), Error> {
    body["service"] = json!(name);
    body["labels"] = labels;
    let response = api.deploy(body).await;
    if response.status() != 202 {
        return Err(format!("deploy {name}: {}", response.text().await?).into());
    }
    api.wait_available(name, 1).await;
    Ok(())
}

async fn replicas(api: &common::Api, name: &str) -> u64 {
    api.status(name)
        .await
        .map_or(0, |s| s["replicas"].as_u64().unwrap_or(0))
}

async fn row(
    provider: &str,
    api: &common::Api,
    function: impl Fn(&str) -> Value,
    slow: Value,
) -> Result<(), Error> {
    // Cold start: scaled to zero after 1 s idle, then one call.
    let zero = json!({"com.openfaas.scale.type": "capacity", "com.openfaas.scale.target": "5",
                      "com.openfaas.scale.zero": "true", "com.openfaas.scale.zero-duration": "1s"});
    deploy(api, "sleepy", function("sleepy"), zero).await?;
    let mut cold = Vec::new();
    let mut warm = Duration::MAX;
    for _ in 0..3 {
        let deadline = Instant::now() + Duration::from_secs(60);
        while replicas(api, "sleepy").await != 0 || api.available("sleepy").await != 0 {
            if Instant::now() > deadline {
                return Err("never scaled to zero".into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let started = Instant::now();
        let answer = api.invoke("sleepy", "x").await;
        if answer.status() != 200 {
            return Err(format!("cold call answered {}", answer.status()).into());
        }
        cold.push(started.elapsed());
        let started = Instant::now();
        api.invoke("sleepy", "x").await;
        warm = warm.min(started.elapsed());
    }
    cold.sort();

    // Load step: 40 callers on a 0.2 s function at capacity target 5 → 4 replicas (the max).
    let capacity = json!({"com.openfaas.scale.type": "capacity", "com.openfaas.scale.target": "5",
                          "com.openfaas.scale.max": "4"});
    deploy(api, "busy", slow.clone(), capacity).await?;
    let running = Arc::new(AtomicBool::new(true));
    for _ in 0..40 {
        let (api, running) = (api.clone(), running.clone());
        tokio::spawn(async move {
            while running.load(Ordering::Relaxed) {
                let _ = api.invoke("busy", "x").await;
            }
        });
    }
    let started = Instant::now();
    api.wait_available("busy", 4).await;
    let stepped = started.elapsed();
    running.store(false, Ordering::Relaxed);

    // The same replicas by hand.
    deploy(api, "manual", slow, json!({})).await?;
    let started = Instant::now();
    api.scale("manual", 4).await;
    api.wait_available("manual", 4).await;
    let by_hand = started.elapsed();

    println!(
        "| {provider} | {:?}, {:?}, {:?} | {warm:?} | {stepped:?} | {by_hand:?} | {:.2} |",
        cold[0],
        cold[1],
        cold[2],
        stepped.as_secs_f64() / by_hand.as_secs_f64()
    );
    for name in ["sleepy", "busy", "manual"] {
        let _ = api
            .admin(reqwest::Method::DELETE, "/system/functions")
            .json(&json!({"functionName": name}))
            .send()
            .await;
    }
    Ok(())
}
