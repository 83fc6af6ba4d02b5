//! Events from webhook intake to function invocation, with 1 and with 10 matching
//! subscriptions, against a raw JetStream publish rate measured in the same run; then through
//! one matching subscription among 1, 100, 1,000 and 10,000, against the rate with one.
//!
//! The subscribed functions are watchdogs in http mode whose upstream is an HTTP server in
//! this process, so the moment each function receives its event is timed exactly. `EVENTS`
//! (default 5000) events are posted by 64 concurrent producers to `/webhook/bench`.
//!
//! Run with `./scripts/bench`.

#[path = "../tests/common/mod.rs"]
mod common;
mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use reqwest::Method;
use serde_json::{json, Value};
use support::{raw_publish_rate, CONCURRENCY};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    support::run(run())
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let seconds: u64 = support::setting("BENCH_SECONDS", 5);
    let events: usize = support::setting("EVENTS", 5000);
    let nats = common::Nats::start();
    let switchyard = common::Switchyard::up_with(&nats, &[("RUST_LOG", "warn")]);
    let api = switchyard.api();

    let client = async_nats::connect(nats.url()).await?;
    let js = async_nats::jetstream::new(client);
    let raw = raw_publish_rate(&js, Duration::from_secs(seconds)).await?;

    let created = api
        .admin(Method::POST, "/system/event-sources")
        .json(&json!({"name": "bench", "kind": "webhook", "config": {"auth": {"none": true}}}))
        .send()
        .await?;
    if created.status() != 201 {
        return Err("event source not created".into());
    }
    let receiver = common::CallbackServer::start().await;
    println!("# Events: webhook intake to function invocation ({events} events, {CONCURRENCY} producers)");
    println!();
    println!("raw JetStream publish with ack (same tool): {raw:.0}/s");
    println!();
    println!("| subscriptions | events/s | invocations/s | intake → function p50 | p99 |");
    println!("|---|---|---|---|---|");
    let mut one_subscription_rate = 0.0;
    for subscriptions in [1usize, 10] {
        let ty = format!("bench.fanout{subscriptions}");
        for i in 0..subscriptions {
            let name = format!("f{subscriptions}-{i}");
            support::deploy_receiver(&api, &name, &receiver).await;
            let sub = json!({"name": name, "function": name, "filters": [{"exact": {"type": ty}}]});
            let response = api
                .admin(Method::POST, "/system/subscriptions")
                .json(&sub)
                .send()
                .await?;
            if response.status() != 201 {
                return Err(format!("subscription not created: {}", response.text().await?).into());
            }
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        let run = deliver(&api, &receiver, &ty, events, subscriptions).await;
        if subscriptions == 1 {
            one_subscription_rate = run.event_rate;
        }
        println!(
            "| {subscriptions} | {:.0} | {:.0} | {:?} | {:?} |",
            run.event_rate,
            run.event_rate * subscriptions as f64,
            run.p50,
            run.p99
        );
    }
    println!();
    let scale = subscriptions_at_scale(&api, &receiver, events).await?;
    println!();
    println!("| floor | measured | met |");
    println!("|---|---|---|");
    println!(
        "| ≥ 1,000 events/s delivered with one subscription | {one_subscription_rate:.0}/s | {} |",
        if one_subscription_rate >= 1000.0 {
            "yes"
        } else {
            "NO"
        }
    );
    println!(
        "| events/s with {} subscriptions ≥ 0.8 of with 1 | {scale:.2} | {} |",
        SCALES[SCALES.len() - 1],
        if scale >= 0.8 { "yes" } else { "NO" }
    );
    Ok(())
}

/// Subscriptions in all for the scale table, of which one matches.
const SCALES: [usize; 4] = [1, 100, 1_000, 10_000];

/// Events/s through the one matching subscription while 0, 99, 999 and 9,999 others match
/// nothing; prints a table and returns the rate with the most over the rate with one.
async fn subscriptions_at_scale(
    api: &common::Api,
    receiver: &common::CallbackServer,
    events: usize,
) -> Result<f64, Box<dyn std::error::Error>> {
    let ty = "bench.scale";
    support::deploy_receiver(api, "scale", receiver).await;
    println!(
        "| subscriptions (one matches) | events/s | ratio to 1 | intake → function p50 | p99 |"
    );
    println!("|---|---|---|---|---|");
    let mut created = 0;
    let mut first_rate = 0.0;
    let mut ratio = 0.0;
    for (round, total) in SCALES.into_iter().enumerate() {
        let wanted: Vec<Value> = (created..total)
            .map(|i| {
                let filter = if i == 0 { ty.to_string() } else { format!("bench.none-{i}") };
                json!({"name": format!("scale-{i}"), "function": "scale", "filters": [{"exact": {"type": filter}}]})
            })
            .collect();
        let made = futures::stream::iter(wanted)
            .map(|sub| {
                api.admin(Method::POST, "/system/subscriptions")
                    .json(&sub)
                    .send()
            })
            .buffer_unordered(16)
            .filter(|r| futures::future::ready(r.as_ref().is_ok_and(|r| r.status() == 201)))
            .count()
            .await;
        if made != total - created {
            return Err(format!("{made} of {} subscriptions created", total - created).into());
        }
        created = total;
        let run = deliver(api, receiver, ty, events, 1).await;
        if round == 0 {
            first_rate = run.event_rate;
        }
        ratio = run.event_rate / first_rate;
        println!(
            "| {total} | {:.0} | {ratio:.2} | {:?} | {:?} |",
            run.event_rate, run.p50, run.p99
        );
    }
    Ok(ratio)
}

struct Run {
    event_rate: f64,
    p50: Duration,
    p99: Duration,
}

/// Posts `events` events of type `ty` by 64 producers and waits until each has reached every
/// one of `deliveries` subscriptions.
async fn deliver(
    api: &common::Api,
    receiver: &common::CallbackServer,
    ty: &str,
    events: usize,
    deliveries: usize,
) -> Run {
    let before = receiver.received().len();
    let posted: Arc<Mutex<HashMap<String, Instant>>> = Default::default();
    let hook = api.url("/webhook/bench");
    let run_id = uuid::Uuid::new_v4().simple().to_string();
    let started = Instant::now();
    futures::stream::iter(0..events)
        .map(|i| {
            let id = format!("{ty}-{run_id}-{i}");
            let event = json!({"specversion": "1.0", "id": id, "source": "/bench", "type": ty, "data": "x".repeat(100)});
            let request = api
                .http
                .post(&hook)
                .header("content-type", "application/cloudevents+json")
                .body(event.to_string());
            let posted = posted.clone();
            async move {
                let sent = Instant::now();
                if request.send().await.is_ok_and(|r| r.status() == 202) {
                    posted.lock().expect("lock").insert(id, sent);
                }
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect::<Vec<()>>()
        .await;
    let expected = before + events * deliveries;
    receiver.wait_for(expected, Duration::from_secs(600)).await;
    let arrivals = receiver.received();
    let arrivals = &arrivals[before..];
    let finished = arrivals.iter().map(|a| a.at).max().unwrap_or(started);
    let elapsed = (finished - started).as_secs_f64();
    let posted = posted.lock().expect("lock").clone();
    let latencies = support::latencies(arrivals, "ce-id", &posted);
    Run {
        event_rate: events as f64 / elapsed,
        p50: common::percentile(&latencies, 0.50),
        p99: common::percentile(&latencies, 0.99),
    }
}
