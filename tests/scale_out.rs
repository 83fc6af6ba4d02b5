//! The parts scaled out on one NATS: several gateways and dispatchers, one active provider with
//! a standby, and functions whose replicas are external HTTP endpoints.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{children, eventually, free_port, CallbackServer, Nats, Switchyard};
use reqwest::Method;
use serde_json::json;

const WAIT: Duration = Duration::from_secs(30);

fn part(command: &str, nats: &Nats) -> Switchyard {
    Switchyard::start(command, &[("SWITCHYARD_NATS_URL", &nats.url())])
}

#[tokio::test]
async fn two_gateways_and_two_dispatchers_serve_one_registry() {
    let nats = Nats::start();
    let mut first = part("gateway", &nats);
    let second = part("gateway", &nats);
    let _provider = part("provider", &nats);
    let _dispatchers = [part("dispatcher", &nats), part("dispatcher", &nats)];
    let (one, two) = (first.api(), second.api());
    one.deploy_ready("echo", "cat", json!({})).await;

    // What one gateway stored, the other serves: sync, async, and the listing.
    let answer = two.invoke("echo", "via the other gateway").await;
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.text().await.expect("body"), "via the other gateway");
    let job = two.run_job("echo", "queued", WAIT).await;
    assert_eq!(job["status"], "succeeded");
    let listed = two.admin_json("/system/functions").await;
    assert_eq!(listed.as_array().map(Vec::len), Some(1));
    let info = two.admin_json("/system/info").await;
    assert_eq!(info["provider"]["orchestration"], "process");

    // Deployed through one and called through the other in the very next request.
    let deployed = one
        .deploy(json!({"service": "fresh", "envProcess": "cat"}))
        .await;
    assert_eq!(deployed.status(), 202);
    let accepted = two
        .enqueue("fresh")
        .body("right away")
        .send()
        .await
        .expect("answers");
    assert_eq!(
        accepted.status(),
        202,
        "the other gateway knows the function at once"
    );

    // One gateway gone: the other keeps serving.
    first.kill();
    for i in 0..20 {
        let answer = two.invoke("echo", "still here").await;
        assert_eq!(
            answer.status(),
            200,
            "call {i} after the first gateway died"
        );
    }
}

#[tokio::test]
async fn a_standby_provider_takes_over_without_doubling_replicas() {
    let nats = Nats::start();
    let gateway = part("gateway", &nats);
    let _dispatcher = part("dispatcher", &nats);
    let mut active = part("provider", &nats);
    let api = gateway.api();
    api.deploy_ready("echo", "cat", json!({})).await;
    assert_eq!(api.scale("echo", 2).await.status(), 202);
    api.wait_available("echo", 2).await;
    // Started once the first one holds the lease, so it is the standby.
    let standby = part("provider", &nats);
    eventually(WAIT, "the standby to wait for the lease", || async {
        standby.logs().contains("standing by")
    })
    .await;
    assert_eq!(children(active.pid(), "watchdog").len(), 2);
    assert!(children(standby.pid(), "watchdog").is_empty());

    let old_replicas = children(active.pid(), "watchdog");
    let killed = Instant::now();
    active.kill();
    // Its replicas die with it (a parent-death signal); only then can an answer come from the
    // new provider's.
    eventually(
        Duration::from_secs(5),
        "the old replicas to die",
        || async { !old_replicas.iter().any(|pid| common::alive(*pid)) },
    )
    .await;
    eventually(
        Duration::from_secs(10),
        "the function to answer again",
        || async {
            let answer = api.invoke("echo", "again").await;
            answer.status() == 200 && answer.text().await.unwrap_or_default() == "again"
        },
    )
    .await;
    let took = killed.elapsed();
    eventually(WAIT, "the new provider to run both replicas", || async {
        children(standby.pid(), "watchdog").len() == 2
    })
    .await;
    api.wait_available("echo", 2).await;
    // And no more than that, once it has settled.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        children(standby.pid(), "watchdog").len(),
        2,
        "the new provider runs exactly the wanted replicas"
    );
    let status = api.status("echo").await.expect("status");
    assert_eq!(status["replicas"], 2);
    assert_eq!(status["availableReplicas"], 2);
    eprintln!("standby answered {took:?} after the active provider was killed");
}

/// A `switchyard watchdog` on its own port, outside any provider: an endpoint somebody else runs.
struct LoneWatchdog(Child, u16);

impl LoneWatchdog {
    fn start(fprocess: &str) -> Self {
        let port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_switchyard"))
            .arg("watchdog")
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("fprocess", fprocess)
            .env("port", port.to_string())
            .env("listen_host", "127.0.0.1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start a watchdog");
        LoneWatchdog(child, port)
    }
}

impl Drop for LoneWatchdog {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn external_endpoints_are_invoked_sync_async_and_by_events() {
    let nats = Nats::start();
    let switchyard = Switchyard::up_with(&nats, &[("SWITCHYARD_RETRY_MIN_WAIT", "100ms")]);
    let api = switchyard.api();
    let server = CallbackServer::start().await;
    let watchdog = LoneWatchdog::start("cat");

    let external = |name: &str, url: String| json!({"service": name, "annotations": {"com.switchyard.endpoint": url}});
    for (name, url) in [
        ("remote", server.url("/function/remote")),
        ("remote-cat", format!("http://127.0.0.1:{}", watchdog.1)),
    ] {
        let response = api.deploy(external(name, url)).await;
        assert_eq!(
            response.status(),
            202,
            "{}",
            response.text().await.unwrap_or_default()
        );
        api.wait_available(name, 1).await;
    }
    let bad = api
        .deploy(external("broken", "ftp://nowhere/".into()))
        .await;
    assert_eq!(bad.status(), 400);
    assert!(bad
        .text()
        .await
        .unwrap_or_default()
        .contains("com.switchyard.endpoint"));

    // Sync, through a watchdog nobody here runs.
    let answer = api.invoke("remote-cat", "echoed far away").await;
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.text().await.expect("body"), "echoed far away");

    // Async with a retry: the endpoint answers 503 once, then 200.
    server.answer(503);
    let call_id = api.queue("remote", "job").await;
    server.wait_for(1, WAIT).await;
    server.answer(200);
    let job = api.wait_job(&call_id, "succeeded", WAIT).await;
    assert_eq!(job["attempts"], 2, "{job}");
    let calls = server.received();
    assert_eq!(calls.len(), 2);
    assert!(calls
        .iter()
        .all(|c| c.body == "job" && c.header("x-call-id") == call_id));

    // An event subscription.
    let subscription = api
        .admin(Method::POST, "/system/subscriptions")
        .json(&json!({"name": "to-remote", "function": "remote",
            "filters": [{"exact": {"type": "test.remote"}}]}))
        .send()
        .await
        .expect("answers");
    assert_eq!(subscription.status(), 201);
    let source = api
        .create_source(
            json!({"name": "hooks", "kind": "webhook", "config": {"auth": {"none": true}}}),
        )
        .await;
    assert_eq!(source.status(), 201);
    let posted = api
        .post_event("hooks", ("/test", "ev-1", "test.remote"), "event data")
        .await;
    assert_eq!(posted.status(), 202);
    let calls = server.wait_for(3, WAIT).await;
    let event = &calls[2];
    assert_eq!(event.header("ce-type"), "test.remote");
    assert_eq!(event.header("ce-id"), "ev-1");
    assert_eq!(event.body, "event data");

    // An endpoint that goes away is unlisted.
    drop(watchdog);
    api.wait_available("remote-cat", 0).await;
}
