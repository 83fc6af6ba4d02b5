//! vCenter events from vcsim to `SY_EVENTS` and on to a function, under a burst of VM power
//! operations, against vcsim's own event production measured in the same run.
//!
//! `VMS` (default 24) machines are each powered off and on `ROUNDS` (default 5) times by one
//! task per machine, all at once. vcsim's production rate is the events it created over the
//! span of their creation times (the baseline); the stored rate is the same events over the
//! span from the first creation until the last is in `SY_EVENTS`. A function in http mode
//! whose upstream is an HTTP server in this process is subscribed to the power events, so
//! each event's latency from its creation in vcsim to the function's invocation is exact.
//!
//! Run with `./scripts/bench`.

#[path = "../tests/common/mod.rs"]
mod common;
mod support;

use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use common::vcsim::{self, Vcsim, VcsimOptions};
use reqwest::Method;
use serde_json::json;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    support::run(run())
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let vms = support::setting("VMS", 24usize);
    let rounds = support::setting("ROUNDS", 5usize);
    // The model has a host and a cluster, each with `vms_per_host` machines; vcsim keeps its
    // last 1000 events, so a burst stays below that.
    let sim = Vcsim::start(VcsimOptions {
        vms_per_host: Some(vms.div_ceil(2) as u32),
        ..VcsimOptions::default()
    });
    let nats = common::Nats::start();
    let switchyard = common::Switchyard::up_with(&nats, &[("RUST_LOG", "warn")]);
    let api = switchyard.api();
    let receiver = common::CallbackServer::start().await;
    support::deploy_receiver(&api, "on-power", &receiver).await;
    let subscription = json!({"name": "power", "function": "on-power",
        "filters": [{"prefix": {"type": "com.vmware.vsphere.VmPowered"}}]});
    let response = api
        .admin(Method::POST, "/system/subscriptions")
        .json(&subscription)
        .send()
        .await?;
    if response.status() != 201 {
        return Err(format!("subscription not created: {}", response.text().await?).into());
    }
    println!("# vCenter: vcsim → SY_EVENTS → function ({vms} VMs × {rounds} power cycles per run)");
    println!();
    println!("| page size | vcsim created (baseline) | stored in SY_EVENTS | ratio | creation → function p50 | p99 | invocations |");
    println!("|---|---|---|---|---|---|---|");
    for page_size in [10, 100] {
        burst(&sim, &nats, &api, &receiver, page_size, vms, rounds).await?;
    }
    Ok(())
}

/// One source with `page_size`, one burst, one row of the table.
async fn burst(
    sim: &Vcsim,
    nats: &common::Nats,
    api: &common::Api,
    receiver: &common::CallbackServer,
    page_size: u32,
    vms: usize,
    rounds: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    let name = format!("vc{page_size}");
    let mut config = sim.source_config();
    config["pageSize"] = json!(page_size);
    let source = json!({"name": name, "kind": "vcenter", "config": config});
    let response = api
        .admin(Method::POST, "/system/event-sources")
        .json(&source)
        .send()
        .await?;
    if response.status() != 201 {
        return Err(format!("source not created: {}", response.text().await?).into());
    }
    let path = format!("/system/event-sources/{name}");
    common::eventually(Duration::from_secs(60), "the source to run", || async {
        let shown: serde_json::Value = api
            .admin(Method::GET, &path)
            .send()
            .await
            .expect("answers")
            .json()
            .await
            .unwrap_or_default();
        shown["status"]["state"] == "running"
    })
    .await;

    let client = sim.client().await;
    let machines = vcsim::virtual_machines(&client).await;
    let machines = &machines[..vms.min(machines.len())];
    let stored_before = stored_count(nats).await?;
    let received_before = receiver.received().len();
    let since = client.current_time().await?;
    let mut tasks = Vec::new();
    for (_, vm) in machines {
        let vm = vm.clone();
        let client = sim.client().await;
        tasks.push(tokio::spawn(async move {
            for _ in 0..rounds {
                vcsim::power(&client, &vm, false).await;
                vcsim::power(&client, &vm, true).await;
            }
        }));
    }
    for task in tasks {
        task.await?;
    }

    // What vcsim created since the burst began, by its own clock.
    let created = created_since(&client, since).await?;
    let (first, last) = (created[0], created[created.len() - 1]);
    let expected = stored_before + created.len() as u64;
    let stored_at = loop {
        if stored_count(nats).await? >= expected {
            break Utc::now();
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let power_events = 2 * rounds * machines.len();
    receiver
        .wait_for(received_before + power_events, Duration::from_secs(300))
        .await;

    let seconds =
        |a: DateTime<Utc>, b: DateTime<Utc>| (b - a).num_microseconds().unwrap_or(0) as f64 / 1e6;
    let produced = created.len() as f64 / seconds(first, last).max(1e-3);
    let stored = created.len() as f64 / seconds(first, stored_at).max(1e-3);
    let now = SystemTime::now();
    let mut latencies: Vec<Duration> = receiver.received()[received_before..]
        .iter()
        .filter_map(|r| {
            let created = DateTime::parse_from_rfc3339(r.header("ce-time")).ok()?;
            let arrived: DateTime<Utc> = now.checked_sub(r.at.elapsed())?.into();
            (arrived - created.with_timezone(&Utc)).to_std().ok()
        })
        .collect();
    latencies.sort();
    let pick = |q: f64| {
        latencies
            .get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    println!(
        "| {page_size} | {produced:.0} events/s | {stored:.0} events/s | {:.2} | {:?} | {:?} | {} of {} events |",
        stored / produced,
        pick(0.50),
        pick(0.99),
        latencies.len(),
        created.len()
    );
    let response = api.admin(Method::DELETE, &path).send().await?;
    if response.status() != 204 {
        return Err("source not removed".into());
    }
    Ok(())
}

/// Messages in `SY_EVENTS`.
async fn stored_count(nats: &common::Nats) -> Result<u64, Box<dyn std::error::Error>> {
    let client = async_nats::connect(nats.url()).await?;
    let js = async_nats::jetstream::new(client);
    let mut stream = js.get_stream("SY_EVENTS").await?;
    Ok(stream.info().await?.state.messages)
}

/// Creation times of every event vcsim holds from `since` on, sorted.
async fn created_since(
    client: &switchyard_event_sources::vcenter::soap::Client,
    since: DateTime<Utc>,
) -> Result<Vec<DateTime<Utc>>, Box<dyn std::error::Error>> {
    let collector = client.create_collector_for_events(None).await?;
    client.set_collector_page_size(&collector, 1000).await?;
    let events = client.read_next_events(&collector, 1000).await?;
    let _ = client.destroy_collector(&collector).await;
    let mut times: Vec<DateTime<Utc>> = events
        .iter()
        .filter_map(|e| {
            switchyard_event_sources::vcenter::soap::parse_time(e.child_text("createdTime")?)
        })
        .filter(|t| *t >= since)
        .collect();
    times.sort();
    if times.is_empty() {
        return Err("vcsim created no events".into());
    }
    Ok(times)
}
