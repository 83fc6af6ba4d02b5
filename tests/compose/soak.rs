//! The soak: mixed load on the three-node NATS cluster while its parts fail.
//!
//! For `SWITCHYARD_SOAK_SECONDS` (120 in the suite; `scripts/soak` runs 1,200) synchronous
//! calls, asynchronous jobs and webhook events arrive at a steady rate at the Compose stack with
//! the three-node cluster, two dispatchers and a standby provider. Meanwhile each period (a
//! third of the run, at most two minutes) one NATS node in turn is stopped and started again;
//! once a dispatcher is killed, and once the active provider (its standby takes over). Then:
//! every accepted job succeeded, and every tick of a schedule (every 5 s) made one, no job
//! finished more than 30 s after it was due (a fourth of them are delayed by 5 s), every accepted event reached its function exactly once, the lost
//! node's alert fired, and every part works again.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde_json::{json, Value};

use super::{deploy_cat, prometheus_query, Stack};
use crate::common::{self, docker::docker, Api};

/// The NATS nodes in the order they are stopped: the first is the one whose alert is awaited.
const NODES: [&str; 3] = ["nats2", "nats3", "nats"];
const SYNC_EVERY: Duration = Duration::from_millis(50);
/// 20 jobs a second: with the events, about 8,500 record writes in the 100 s before a sink is
/// last checked, within the 10,000 most recent writes a job listing looks at (25 a second
/// came to the edge of it, and a sink's early jobs fell out of sight).
const JOB_EVERY: Duration = Duration::from_millis(50);
const EVENT_EVERY: Duration = Duration::from_millis(125);
/// Each window's events go to a function of their own, whose jobs are counted by listing
/// them soon after the window closes: a listing looks at the 10,000 most recent record writes
/// only (a job writes three), and answers at most 1,000 records (320 events at the rate above).
const SINK_WINDOW: Duration = Duration::from_secs(40);
/// How long after its window closes a sink may still be receiving its events.
const SINK_GRACE: Duration = Duration::from_secs(120);
/// No request waits longer: a call lost with a node must not stall the load.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// The bound on a job's wait beyond its due time (now, for these jobs).
const MAX_WAIT: Duration = Duration::from_secs(30);

fn soak_length() -> Duration {
    let seconds = std::env::var("SWITCHYARD_SOAK_SECONDS")
        .ok()
        .map(|s| {
            s.parse::<u64>()
                .expect("SWITCHYARD_SOAK_SECONDS is seconds")
        })
        .unwrap_or(120);
    Duration::from_secs(seconds)
}

/// What the load saw.
#[derive(Default)]
struct Tally {
    sync_ok: u64,
    sync_failed: u64,
    /// The call id of every job accepted (202).
    jobs: Vec<String>,
    jobs_refused: u64,
    /// Events accepted (202) per sink window.
    events: Vec<u64>,
    /// Events never answered 202 per sink window (one may have been stored all the same).
    events_refused: Vec<u64>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_cluster_keeps_every_accepted_job_and_event_through_node_losses_and_crashes() {
    let length = soak_length();
    let period = (length / 3).min(Duration::from_secs(120));
    let stack = Stack::start_scaled(true, true, &["dispatcher=2", "provider=2"]);
    let api = stack.api();
    deploy_cat(&api, "echo").await;
    deploy_cat(&api, "work").await;
    let sinks = length.as_secs().div_ceil(SINK_WINDOW.as_secs()) as usize;
    for sink in 0..sinks {
        deploy_cat(&api, &format!("sink-{sink}")).await;
        api.subscribe(
            json!({"name": format!("soak-{sink}"), "function": format!("sink-{sink}"),
            "filters": [{"exact": {"type": format!("dev.switchyard.soak.{sink}")}}]}),
        )
        .await;
    }
    // A schedule every 5 s (catching up any tick a fault made it miss): each tick one job.
    let ticks = api
        .deploy(
            json!({"service": "ticks", "image": "switchyard/function:latest",
            "envProcess": "cat", "annotations": {"topic": "cron-function",
            "schedule": "*/5 * * * * *", "com.switchyard.schedule.misfire": "all"}}),
        )
        .await;
    assert_eq!(ticks.status(), 202);
    let source = api
        .create_source(
            json!({"name": "soak", "kind": "webhook", "config": {"auth": {"none": true}}}),
        )
        .await;
    assert_eq!(source.status(), 201);

    let tally = Arc::new(Mutex::new(Tally {
        events: vec![0; sinks],
        events_refused: vec![0; sinks],
        ..Tally::default()
    }));
    let start = Instant::now();
    let until = start + length;
    let ticks_from = Utc::now() + chrono::Duration::seconds(10);
    let load = [
        tokio::spawn(sync_calls(api.clone(), until, tally.clone())),
        tokio::spawn(async_jobs(api.clone(), until, tally.clone())),
        tokio::spawn(events(stack.webhook(), start, until, tally.clone())),
    ];
    let sinks_checked = tokio::spawn(check_sinks(api.clone(), start, until, tally.clone()));
    let alerted = Arc::new(AlertWatch::default());
    let watching = tokio::spawn(alerted.clone().watch(stack.prometheus.expect("monitoring")));

    // The faults, each at its time in its period.
    let mut node = 0;
    while start.elapsed() + period / 2 < length {
        let n = node as u32;
        sleep_until(start + period * n + Duration::from_secs(2)).await;
        let name = NODES[node % NODES.len()];
        eprintln!("soak {:?}: stopping {name}", start.elapsed());
        block(|| stack.compose(&["stop", name]));
        if node == 0 {
            common::eventually(
                Duration::from_secs(90),
                "SwitchyardNatsNodeLost firing for the stopped node",
                || async { alerted.fired(name) },
            )
            .await;
        }
        sleep_until(start + period * n + period * 3 / 5).await;
        eprintln!("soak {:?}: starting {name}", start.elapsed());
        block(|| stack.compose(&["start", name]));
        stack.wait_healthy(name, 1, Duration::from_secs(60)).await;
        sleep_until(start + period * n + period * 4 / 5).await;
        match node {
            0 => {
                let provider = active_provider(&stack);
                eprintln!(
                    "soak {:?}: killing the active provider {provider}",
                    start.elapsed()
                );
                crash(&provider).await;
            }
            1 => {
                let dispatcher = stack.container("dispatcher", 1);
                eprintln!("soak {:?}: killing {dispatcher}", start.elapsed());
                crash(&dispatcher).await;
            }
            _ => {}
        }
        node += 1;
    }
    assert!(node >= 2, "the run is too short for every fault");
    for part in load {
        part.await.expect("load ran");
    }
    watching.abort();

    let tally = std::mem::take(&mut *tally.lock().expect("tally"));
    // (The sinks' checker read the event counts before this took them.)
    eprintln!(
        "soak over {length:?}: sync {} ok, {} failed; jobs {} accepted, {} refused; events {:?} accepted, {:?} refused",
        tally.sync_ok, tally.sync_failed, tally.jobs.len(), tally.jobs_refused, tally.events, tally.events_refused
    );
    // Every tick of the schedule while the load ran is a job that succeeded.
    let ticks_until = Utc::now() - chrono::Duration::seconds(10);
    let tick_jobs: Vec<String> = (ticks_from.timestamp()..ticks_until.timestamp())
        .filter(|second| second % 5 == 0)
        .map(|second| format!("tick-{second}-ticks"))
        .collect();
    eprintln!("soak: {} ticks of the schedule to check", tick_jobs.len());
    let mut jobs = tally.jobs.clone();
    jobs.extend(tick_jobs);
    let mut waits = job_waits(&api, &jobs).await;
    waits.sort();
    let longest = waits.last().copied().unwrap_or_default();
    eprintln!(
        "soak: due → finished p50 {:?}, p99 {:?}, max {longest:?}",
        common::percentile(&waits, 0.5),
        common::percentile(&waits, 0.99)
    );
    assert!(
        longest <= MAX_WAIT,
        "a job finished {longest:?} after it was due"
    );
    let unreached = sinks_checked.await.expect("sinks checked");
    assert!(unreached.is_empty(), "{}", unreached.join("\n"));
    // Most calls made it through the faults, and the parts answer now.
    let calls = tally.sync_ok + tally.sync_failed;
    assert!(
        tally.sync_failed * 10 <= calls,
        "{} of {calls} sync calls failed",
        tally.sync_failed
    );
    assert!(!tally.jobs.is_empty() && tally.events.iter().sum::<u64>() > 0);
    let answer = api.invoke("echo", "after the soak").await;
    assert_eq!(answer.status(), 200);
    api.run_job("work", "after the soak", Duration::from_secs(60))
        .await;
}

/// Runs a blocking `docker-compose` step without holding up the load's tasks.
fn block<T>(step: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(step)
}

async fn sleep_until(at: Instant) {
    tokio::time::sleep_until(at.into()).await;
}

/// Kills `container` (SIGKILL: no graceful shutdown) and starts it again 5 s later.
async fn crash(container: &str) {
    block(|| docker(&["kill", container]));
    tokio::time::sleep(Duration::from_secs(5)).await;
    block(|| docker(&["start", container]));
}

/// The provider container that said last that it holds the lease.
fn active_provider(stack: &Stack) -> String {
    (1..=2)
        .map(|index| stack.container("provider", index))
        .find(|container| {
            let output = std::process::Command::new("docker")
                .args(["logs", container])
                .output()
                .expect("docker logs");
            let log = [output.stdout, output.stderr].concat();
            String::from_utf8_lossy(&log)
                .lines()
                .rfind(|line| line.contains("provider lease taken") || line.contains("standing by"))
                .is_some_and(|line| line.contains("provider lease taken"))
        })
        .expect("one provider holds the lease")
}

/// Which nodes' `SwitchyardNatsNodeLost` alert Prometheus has fired.
#[derive(Default)]
struct AlertWatch(Mutex<HashSet<String>>);

impl AlertWatch {
    fn fired(&self, node: &str) -> bool {
        self.0.lock().expect("alerts").contains(node)
    }

    async fn watch(self: Arc<Self>, prometheus_port: u16) {
        let url = format!("http://127.0.0.1:{prometheus_port}/api/v1/alerts");
        loop {
            let alerts = prometheus_query(&url).await;
            for alert in alerts["data"]["alerts"].as_array().into_iter().flatten() {
                if alert["labels"]["alertname"] == "SwitchyardNatsNodeLost"
                    && alert["state"] == "firing"
                {
                    if let Some(node) = alert["labels"]["nats_node"].as_str() {
                        self.0.lock().expect("alerts").insert(node.to_string());
                    }
                }
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    }
}

fn ticker(every: Duration) -> tokio::time::Interval {
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    ticker
}

async fn sync_calls(api: Api, until: Instant, tally: Arc<Mutex<Tally>>) {
    let mut ticker = ticker(SYNC_EVERY);
    for n in 0u64.. {
        ticker.tick().await;
        if Instant::now() >= until {
            break;
        }
        let body = format!("call {n}");
        let request = api.http.post(api.url("/function/echo")).body(body.clone());
        let ok = match request.timeout(REQUEST_TIMEOUT).send().await {
            Ok(response) if response.status() == 200 => {
                response.text().await.is_ok_and(|text| text == body)
            }
            _ => false,
        };
        let mut tally = tally.lock().expect("tally");
        if ok {
            tally.sync_ok += 1;
        } else {
            tally.sync_failed += 1;
        }
    }
}

async fn async_jobs(api: Api, until: Instant, tally: Arc<Mutex<Tally>>) {
    let mut ticker = ticker(JOB_EVERY);
    for n in 0u64.. {
        ticker.tick().await;
        if Instant::now() >= until {
            break;
        }
        let mut request = api.enqueue("work").body(format!("job {n}"));
        // Every fourth job is delayed: held in `SY_DELAYED` (replicated) through the faults.
        if n % 4 == 0 {
            request = request.header("X-Delay", "5s");
        }
        let accepted = match request.timeout(REQUEST_TIMEOUT).send().await {
            Ok(response) if response.status() == 202 => response
                .headers()
                .get("x-call-id")
                .and_then(|id| id.to_str().ok())
                .map(str::to_string),
            _ => None,
        };
        let mut tally = tally.lock().expect("tally");
        match accepted {
            Some(call_id) => tally.jobs.push(call_id),
            None => tally.jobs_refused += 1,
        }
    }
}

async fn events(webhook: Api, start: Instant, until: Instant, tally: Arc<Mutex<Tally>>) {
    let mut ticker = ticker(EVENT_EVERY);
    for n in 0u64.. {
        ticker.tick().await;
        let now = Instant::now();
        if now >= until {
            break;
        }
        let sink = (now.duration_since(start).as_secs() / SINK_WINDOW.as_secs()) as usize;
        let request = webhook
            .http
            .post(webhook.url("/webhook/soak"))
            .header("ce-specversion", "1.0")
            .header("ce-id", format!("soak-{n}"))
            .header("ce-source", "/soak")
            .header("ce-type", format!("dev.switchyard.soak.{sink}"))
            .body(format!("event {n}"));
        // A producer retries what was not accepted, with the same id (deduplicated if it was
        // stored after all); only an event accepted at last is counted.
        let mut accepted = false;
        for _ in 0..3 {
            let Some(attempt) = request.try_clone() else {
                break;
            };
            if let Ok(response) = attempt.timeout(REQUEST_TIMEOUT).send().await {
                if response.status() == 202 {
                    accepted = true;
                    break;
                }
            }
        }
        let mut tally = tally.lock().expect("tally");
        if accepted {
            tally.events[sink] += 1;
        } else {
            tally.events_refused[sink] += 1;
        }
    }
}

/// Waits until every job succeeded (each job is read until it did); the time from each one's
/// acceptance until it finished.
async fn job_waits(api: &Api, jobs: &[String]) -> Vec<Duration> {
    let deadline = Instant::now() + Duration::from_secs(180);
    futures::stream::iter(jobs)
        .map(|call_id| async move {
            loop {
                let record: Value = match api
                    .admin(reqwest::Method::GET, &format!("/system/jobs/{call_id}"))
                    .timeout(REQUEST_TIMEOUT)
                    .send()
                    .await
                {
                    Ok(response) if response.status() == 200 => {
                        response.json().await.unwrap_or_default()
                    }
                    _ => Value::Null,
                };
                match record["status"].as_str() {
                    Some("succeeded") => return finished_after_due(&record),
                    Some("failed" | "cancelled") => panic!("job {call_id} ended: {record}"),
                    _ => {}
                }
                assert!(
                    Instant::now() < deadline,
                    "job {call_id} has not succeeded: {record}"
                );
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        })
        .buffer_unordered(16)
        .collect()
        .await
}

/// From when the job was due (accepted, or its `notBefore` for a delayed one) to its end.
fn finished_after_due(record: &Value) -> Duration {
    let time = |field: &str| {
        record[field]
            .as_str()
            .and_then(|t| t.parse::<DateTime<Utc>>().ok())
    };
    let (Some(finished), Some(created)) = (time("finishedAt"), time("createdAt")) else {
        panic!("finishedAt and createdAt in {record}");
    };
    let due = time("notBefore").map_or(created, |due| due.max(created));
    (finished - due).to_std().unwrap_or_default()
}

/// Checks each sink once its window has closed: every event accepted for it reached it, and
/// no more than were sent (an event never answered 202 may have arrived too). What failed.
async fn check_sinks(
    api: Api,
    start: Instant,
    until: Instant,
    tally: Arc<Mutex<Tally>>,
) -> Vec<String> {
    let mut unreached = Vec::new();
    let sinks = tally.lock().expect("tally").events.len();
    for sink in 0..sinks {
        let closed = (start + SINK_WINDOW * (sink as u32 + 1)).min(until);
        sleep_until(closed).await;
        let (accepted, refused) = {
            let tally = tally.lock().expect("tally");
            (tally.events[sink], tally.events_refused[sink])
        };
        let function = format!("sink-{sink}");
        let deadline = Instant::now() + SINK_GRACE;
        loop {
            let jobs = jobs_of(&api, &function).await;
            let succeeded = jobs.iter().filter(|j| j["status"] == "succeeded").count() as u64;
            if succeeded >= accepted {
                if succeeded > accepted + refused {
                    unreached.push(format!(
                        "{function} ran {succeeded} times for {accepted} events accepted ({refused} refused)"
                    ));
                }
                break;
            }
            if Instant::now() > deadline {
                let others: Vec<_> = jobs.iter().filter(|j| j["status"] != "succeeded").collect();
                unreached.push(format!(
                    "{succeeded} of {accepted} events reached {function}; jobs not succeeded: {others:?}"
                ));
                break;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
    unreached
}

/// `function`'s job records (at most 1,000, newest first).
async fn jobs_of(api: &Api, function: &str) -> Vec<Value> {
    let path = format!("/system/jobs?function={function}&limit=1000");
    let Ok(response) = api.admin(reqwest::Method::GET, &path).send().await else {
        return Vec::new();
    };
    response.json().await.unwrap_or_default()
}
