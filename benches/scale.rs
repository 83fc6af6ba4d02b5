//! Functions at scale: `switchyard up` with one warm function, then `FUNCTIONS` (default
//! 10,000) more deployed at zero replicas. Measured against the same run with one function:
//! deploy rate per thousand, `GET /system/functions`, a warm function's sync p50/p99, the idle
//! CPU and RSS of `up`; then one async job to each of the last `ASYNC_SAMPLE` (default 300)
//! functions deployed (each woken from zero), which must all run; then `WITH_REPLICA` (default
//! 1,000) more with one process replica each, measured again once all are ready. With `CLUSTER=3` the same
//! against a three-node NATS cluster on loopback, every stream and bucket replicated three times.
//!
//! Run with `cargo bench --bench scale` (after `./scripts/bench` has built the echo upstream).

#[path = "../tests/common/mod.rs"]
mod common;
mod support;

use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::json;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    support::run(run())
}

/// Deploys sent at once.
const DEPLOYERS: usize = 16;
/// Sequential sync calls per latency measurement.
const CALLS: usize = 2_000;
/// How long idle CPU is measured.
const IDLE: Duration = Duration::from_secs(10);

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let functions: usize = support::setting("FUNCTIONS", 10_000);
    let sample: usize = support::setting("ASYNC_SAMPLE", 300).min(functions);
    let programs = common::TempDir::new("bench-programs");
    let echo_upstream = support::echo_upstream(&programs.0)?;
    let cluster_nodes: usize = support::setting("CLUSTER", 1);
    let nats = common::Nats::cluster(cluster_nodes);
    let urls = common::Nats::urls(&nats);
    let replicas = cluster_nodes.min(5).to_string();
    let switchyard = common::Switchyard::start(
        "up",
        &[
            ("SWITCHYARD_NATS_URL", urls.as_str()),
            ("SWITCHYARD_REPLICAS", replicas.as_str()),
            // The autoscaler's ticks and the process provider's rounds say how long they took.
            (
                "RUST_LOG",
                "warn,switchyard_autoscaler::service=debug,switchyard_providers::process=debug",
            ),
        ],
    );
    let api = switchyard.api();
    api.deploy_with(
        "warm",
        &echo_upstream.to_string_lossy(),
        json!({ "mode": "http", "upstream_url": format!("http://127.0.0.1:{}", common::free_port()) }),
        json!({}),
    )
    .await;
    api.wait_available("warm", 1).await;

    let before = State::measure(&api, &switchyard).await?;
    let deploys_from = switchyard.logs().len();
    let mut deploy_rates = Vec::new();
    let mut deployed = 0;
    while deployed < functions {
        let block = if deployed == 0 { 100 } else { 1_000 }.min(functions - deployed);
        let started = Instant::now();
        let ok = futures::stream::iter(deployed..deployed + block)
            .map(|i| {
                api.deploy(json!({
                    "service": format!("idle-{i}"),
                    "envProcess": "cat",
                    "labels": {"com.openfaas.scale.min": "0"},
                    "annotations": {"topic": format!("idle.topic-{i}")},
                }))
            })
            .buffer_unordered(DEPLOYERS)
            .filter(|r| futures::future::ready(r.status() == 202))
            .count()
            .await;
        if ok != block {
            return Err(format!("{ok} of {block} deploys accepted").into());
        }
        deploy_rates.push((
            deployed + block,
            block as f64 / started.elapsed().as_secs_f64(),
        ));
        deployed += block;
    }
    let during_deploys = switchyard
        .logs()
        .get(deploys_from..)
        .map(|log| (slowest(log, "tick"), slowest(log, "round")))
        .unwrap_or_default();
    let after = State::measure(&api, &switchyard).await?;

    println!("# Functions at scale ({functions} deployed at zero replicas, each with a `topic` annotation; NATS: {cluster_nodes} node(s))");
    println!();
    println!("| functions deployed | deploys/s (16 at once) |");
    println!("|---|---|");
    for (total, rate) in &deploy_rates {
        println!("| {total} | {rate:.0} |");
    }
    println!();
    println!(
        "| measurement | 1 function | {} functions | ratio |",
        functions + 1
    );
    println!("|---|---|---|---|");
    let row = |what: &str, a: f64, b: f64, unit: &str| {
        println!(
            "| {what} | {a:.2}{unit} | {b:.2}{unit} | {:.2} |",
            b / a.max(f64::MIN_POSITIVE)
        );
    };
    row(
        "GET /system/functions",
        ms(before.list),
        ms(after.list),
        " ms",
    );
    row("warm sync p50", ms(before.p50), ms(after.p50), " ms");
    row("warm sync p99", ms(before.p99), ms(after.p99), " ms");
    row(
        "idle CPU of `up`",
        before.cpu * 100.0,
        after.cpu * 100.0,
        " %",
    );
    row("RSS of `up`", before.rss_mib, after.rss_mib, " MiB");
    // A round runs only when something changed: none may have run while measuring.
    let logged = |d: Duration| {
        if d.is_zero() {
            "none ran".to_string()
        } else {
            format!("{:.2} ms", ms(d))
        }
    };
    for (what, a, b) in [
        (
            "slowest autoscaler tick",
            before.slowest_tick,
            after.slowest_tick,
        ),
        (
            "slowest process provider round",
            before.slowest_round,
            after.slowest_round,
        ),
    ] {
        println!("| {what} | {} | {} | |", logged(a), logged(b));
    }
    println!();
    println!(
        "While deploying: slowest autoscaler tick {:.2} ms, slowest process provider round {:.2} ms",
        ms(during_deploys.0),
        ms(during_deploys.1)
    );
    println!(
        "RSS per function deployed: {:.1} KiB",
        (after.rss_mib - before.rss_mib) * 1024.0 / functions as f64
    );

    // One job to each of the last `sample` functions deployed, all from zero.
    let started = Instant::now();
    let mut ids = Vec::new();
    for i in functions - sample..functions {
        ids.push(api.queue(&format!("idle-{i}"), "job").await);
    }
    for id in &ids {
        api.wait_job(id, "succeeded", Duration::from_secs(600))
            .await;
    }
    println!(
        "{sample} async jobs to the last {sample} functions deployed (each at zero): all succeeded in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let with_replica: usize = support::setting("WITH_REPLICA", 1_000);
    if with_replica > 0 {
        with_replicas(&api, &switchyard, with_replica, &before).await?;
    }
    Ok(())
}

/// Deploys `count` more functions with one process replica each (an idle `cat` watchdog),
/// waits until every one is ready, and measures again.
async fn with_replicas(
    api: &common::Api,
    switchyard: &common::Switchyard,
    count: usize,
    alone: &State,
) -> Result<(), Box<dyn std::error::Error>> {
    let log_from = switchyard.logs().len();
    let started = Instant::now();
    let accepted = futures::stream::iter(0..count)
        .map(|i| api.deploy(json!({"service": format!("busy-{i}"), "envProcess": "cat"})))
        .buffer_unordered(DEPLOYERS)
        .filter(|r| futures::future::ready(r.status() == 202))
        .count()
        .await;
    if accepted != count {
        return Err(format!("{accepted} of {count} deploys accepted").into());
    }
    loop {
        let listed = api.admin_json("/system/functions").await;
        let ready = listed
            .as_array()
            .into_iter()
            .flatten()
            .filter(|f| {
                f["name"].as_str().is_some_and(|n| n.starts_with("busy-"))
                    && f["availableReplicas"].as_u64().unwrap_or(0) >= 1
            })
            .count();
        if ready == count {
            break;
        }
        if started.elapsed() > Duration::from_secs(900) {
            return Err(format!("{ready} of {count} functions ready after 15 minutes").into());
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let ready_in = started.elapsed();
    let starting_round = slowest(
        switchyard.logs().get(log_from..).unwrap_or_default(),
        "round",
    );
    let state = State::measure(api, switchyard).await?;
    println!();
    println!(
        "{count} more functions with one process replica each: all ready in {:.1} s (slowest provider round meanwhile {:.0} ms); then GET /system/functions {:.2} ms, warm sync p50 {:.2} ms ({:.2} of one function), p99 {:.2} ms ({:.2}), idle CPU of `up` {:.1} %, RSS of `up` {:.1} MiB, slowest provider round while idle {:.2} ms",
        ready_in.as_secs_f64(),
        ms(starting_round),
        ms(state.list),
        ms(state.p50),
        ms(state.p50) / ms(alone.p50),
        ms(state.p99),
        ms(state.p99) / ms(alone.p99),
        state.cpu * 100.0,
        state.rss_mib,
        ms(state.slowest_round),
    );
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// What one measurement round reads.
struct State {
    list: Duration,
    p50: Duration,
    p99: Duration,
    cpu: f64,
    rss_mib: f64,
    /// The slowest autoscaler tick and provider round logged while measuring.
    slowest_tick: Duration,
    slowest_round: Duration,
}

impl State {
    async fn measure(
        api: &common::Api,
        switchyard: &common::Switchyard,
    ) -> Result<Self, Box<dyn std::error::Error>> {
        let pid = switchyard.pid();
        let log_mark = switchyard.logs().len();
        // Let deploys settle (providers reconcile, caches fill) before timing anything.
        tokio::time::sleep(Duration::from_secs(5)).await;
        let mut lists = Vec::new();
        for _ in 0..5 {
            let started = Instant::now();
            let response = api
                .admin(reqwest::Method::GET, "/system/functions")
                .send()
                .await?;
            response.bytes().await?;
            lists.push(started.elapsed());
        }
        lists.sort();
        let mut latencies = Vec::with_capacity(CALLS);
        for _ in 0..CALLS {
            let started = Instant::now();
            let response = api.invoke("warm", "ping").await;
            if !response.status().is_success() {
                return Err(format!("warm call answered {}", response.status()).into());
            }
            response.bytes().await?;
            latencies.push(started.elapsed());
        }
        latencies.sort();
        let cpu_before = cpu_ticks(pid);
        tokio::time::sleep(IDLE).await;
        let cpu = (cpu_ticks(pid) - cpu_before) as f64 / 100.0 / IDLE.as_secs_f64();
        let log = switchyard.logs();
        let logged = log.get(log_mark..).unwrap_or_default();
        Ok(State {
            slowest_tick: slowest(logged, "tick"),
            slowest_round: slowest(logged, "round"),
            list: lists[lists.len() / 2],
            p50: common::percentile(&latencies, 0.50),
            p99: common::percentile(&latencies, 0.99),
            cpu,
            rss_mib: support::rss_kib(pid).unwrap_or(0) as f64 / 1024.0,
        })
    }
}

/// The longest `took=` of the debug lines whose message is `message`.
fn slowest(log: &str, message: &str) -> Duration {
    log.lines()
        .map(strip_ansi)
        .filter(|line| line.contains(&format!(": {message} ")))
        .filter_map(|line| {
            let took = line.split("took=").nth(1)?.split_whitespace().next()?;
            parse_debug_duration(took)
        })
        .max()
        .unwrap_or_default()
}

fn strip_ansi(line: &str) -> String {
    let mut plain = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // An escape sequence runs to its final letter.
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            plain.push(c);
        }
    }
    plain
}

/// A `Duration` as `{:?}` writes it (`12ns`, `1.5µs`, `3.2ms`, `1.1s`).
fn parse_debug_duration(text: &str) -> Option<Duration> {
    let (number, unit) = text.split_at(text.find(|c: char| c.is_alphabetic() || c == 'µ')?);
    let value: f64 = number.parse().ok()?;
    let seconds = match unit {
        "ns" => value / 1e9,
        "µs" => value / 1e6,
        "ms" => value / 1e3,
        "s" => value,
        _ => return None,
    };
    Some(Duration::from_secs_f64(seconds))
}

/// User and system CPU time of a process, in clock ticks (100 per second on Linux).
fn cpu_ticks(pid: u32) -> u64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0;
    };
    // Fields after the command name, which is in parentheses and may hold spaces.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let field = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    field(11) + field(12)
}
