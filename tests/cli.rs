//! The client verbs (`switchyard jobs|events|subscriptions|sources|dead-letters|routes|
//! organizations|policies|service-accounts|audit`) against a real `switchyard up`: tables for
//! people, `--json` for scripts, errors that say what went wrong.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::{deliveries, recorder, script, Nats, Switchyard, TempDir, ADMIN_PASSWORD};
use serde_json::{json, Value};

const WITHIN: Duration = Duration::from_secs(30);

fn client(switchyard: &Switchyard) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_switchyard"));
    command
        .env(
            "SWITCHYARD_GATEWAY",
            format!("http://{}", switchyard.address),
        )
        .env("SWITCHYARD_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env_remove("SWITCHYARD_DATA_DIR");
    command
}

fn run(switchyard: &Switchyard, args: &[&str]) -> Output {
    client(switchyard)
        .args(args)
        .output()
        .expect("the client runs")
}

/// Runs the verb, expects success, returns its standard output.
fn ok(switchyard: &Switchyard, args: &[&str]) -> String {
    let output = run(switchyard, args);
    assert!(
        output.status.success(),
        "switchyard {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn json_of(switchyard: &Switchyard, args: &[&str]) -> Value {
    let mut with_json = args.to_vec();
    with_json.push("--json");
    serde_json::from_str(&ok(switchyard, &with_json)).expect("--json prints JSON")
}

#[tokio::test]
async fn jobs_and_dead_letters_from_the_command_line() {
    let nats = Nats::start();
    let switchyard = Switchyard::up(&nats);
    let api = switchyard.api();
    let dir = TempDir::new("cli-jobs");
    api.deploy_ready("echo", "cat", json!({})).await;
    let call_id = api.queue("echo", "from the queue").await;

    // `jobs get --wait` shows progress on stderr and the record as fields.
    let output = run(&switchyard, &["jobs", "get", &call_id, "--wait"]);
    assert!(output.status.success());
    let progress = String::from_utf8_lossy(&output.stderr);
    assert!(
        progress.contains(&format!("{call_id}: succeeded")),
        "{progress}"
    );
    let shown = String::from_utf8_lossy(&output.stdout);
    assert!(
        shown.contains("status") && shown.contains("succeeded") && shown.contains("echo"),
        "{shown}"
    );
    // The answer on stdout, as the function gave it.
    assert_eq!(
        ok(&switchyard, &["jobs", "result", &call_id]),
        "from the queue"
    );
    assert_eq!(
        json_of(&switchyard, &["jobs", "result", &call_id])["status"],
        200
    );
    // A table with a heading, and the same records as JSON.
    let table = ok(&switchyard, &["jobs", "list", "--function", "echo"]);
    let mut lines = table.lines();
    assert!(
        lines
            .next()
            .is_some_and(|h| h.starts_with("CALL ID") && h.contains("STATUS")),
        "{table}"
    );
    assert!(
        lines
            .next()
            .is_some_and(|r| r.contains(&call_id) && r.contains("succeeded")),
        "{table}"
    );
    assert_eq!(
        json_of(&switchyard, &["jobs", "list"])[0]["callId"],
        call_id
    );

    // Cancel a job that waits behind a slow one.
    let slow = script(&dir.0, "slow.sh", "sleep 5; cat");
    api.deploy_with(
        "slow",
        &slow,
        json!({}),
        json!({"com.switchyard.async.concurrency": "1"}),
    )
    .await;
    let _running = api.queue("slow", "first").await;
    let waiting = api.queue("slow", "second").await;
    assert!(ok(&switchyard, &["jobs", "cancel", &waiting]).contains("cancelled"));
    api.wait_job(&waiting, "cancelled", WITHIN).await;

    // A dead letter listed and redriven once its function works.
    let flag = api.deploy_failing_until_healed("flaky", &dir.0).await;
    let dead = api.queue("flaky", "again").await;
    api.wait_job(&dead, "failed", WITHIN).await;
    let letters = ok(
        &switchyard,
        &["dead-letters", "list", "--function", "flaky"],
    );
    assert!(
        letters.starts_with("ID") && letters.contains("attempts exhausted"),
        "{letters}"
    );
    let id = json_of(&switchyard, &["dead-letters", "list"])[0]["id"]
        .as_u64()
        .expect("an id");
    std::fs::write(&flag, "").expect("flag");
    let redriven = json_of(&switchyard, &["dead-letters", "redrive", &id.to_string()]);
    let new_job = redriven["callId"].as_str().expect("a new job").to_string();
    api.wait_job(&new_job, "succeeded", WITHIN).await;
    assert_eq!(ok(&switchyard, &["jobs", "result", &new_job]), "again");
    let bulk = json_of(&switchyard, &["dead-letters", "redrive", "--all"]);
    assert_eq!(
        bulk["redriven"],
        json!([]),
        "already redriven ones are skipped"
    );

    // Schedules: listed, previewed across a daylight-saving change, paused and resumed.
    api.deploy_scheduled("nightly", "30 1 * * *", "Europe/London")
        .await;
    let table = ok(&switchyard, &["schedules", "list"]);
    assert!(
        table.contains("nightly") && table.contains("Europe/London"),
        "{table}"
    );
    let next = ok(
        &switchyard,
        &[
            "schedules",
            "next",
            "nightly",
            "--from",
            "2026-03-28T12:00:00Z",
            "--count",
            "2",
        ],
    );
    assert!(
        next.contains("2026-03-29 01:00:00Z") && next.contains("2026-03-30 00:30:00Z"),
        "{next}"
    );
    assert!(ok(&switchyard, &["schedules", "pause", "nightly"]).contains("paused nightly"));
    assert_eq!(
        json_of(&switchyard, &["schedules", "list"])[0]["paused"],
        true
    );
    assert!(ok(&switchyard, &["schedules", "resume", "nightly"]).contains("resumed nightly"));
    assert_eq!(
        json_of(&switchyard, &["schedules", "list"])[0]["paused"],
        false
    );

    // Errors say what went wrong, with a failing exit.
    let missing = run(&switchyard, &["jobs", "get", "no-such-job"]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("404"));
    let denied = client(&switchyard)
        .args(["jobs", "list", "--password", "wrong"])
        .output()
        .expect("runs");
    assert!(!denied.status.success());
    assert!(String::from_utf8_lossy(&denied.stderr).contains("401"));
}

#[tokio::test]
async fn subscriptions_sources_and_a_live_tail_from_the_command_line() {
    let nats = Nats::start();
    let switchyard = Switchyard::up(&nats);
    let api = switchyard.api();
    let dir = TempDir::new("cli-events");
    let out = dir.0.join("out");
    api.deploy_ready("sink", &recorder(&dir.0, &out), json!({}))
        .await;

    let source = dir.0.join("source.json");
    std::fs::write(
        &source,
        json!({"name": "orders", "kind": "webhook", "config": {"auth": {"token": "t0k"}}})
            .to_string(),
    )
    .expect("write");
    let created = ok(
        &switchyard,
        &["sources", "create", "-f", source.to_str().expect("utf-8")],
    );
    assert!(
        created.contains("orders") && created.contains("webhook") && !created.contains("t0k"),
        "{created}"
    );
    let listed = json_of(&switchyard, &["sources", "list"]);
    assert_eq!(listed[0]["name"], "orders");
    assert!(!listed.to_string().contains("t0k"));

    ok(
        &switchyard,
        &[
            "subscriptions",
            "create",
            "orders-to-sink",
            "--function",
            "sink",
            "--type-prefix",
            "com.example.",
        ],
    );
    let table = ok(&switchyard, &["subscriptions", "list"]);
    assert!(
        table.starts_with("NAME") && table.contains("orders-to-sink") && table.contains("sink"),
        "{table}"
    );

    // `events tail --json` prints each stored event as one JSON line.
    let mut tail = client(&switchyard)
        .args(["events", "tail", "--ingress", "orders", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("tail runs");
    let stdout = tail.stdout.take().expect("stdout");
    let (lines_tx, lines_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });
    // The tail is following once a posted event shows up; post until one does.
    let mut first = None;
    for attempt in 0..30 {
        let posted = reqwest::Client::new()
            .post(api.url("/webhook/orders"))
            .bearer_auth("t0k")
            .header("ce-specversion", "1.0")
            .header("ce-id", format!("order-{attempt}"))
            .header("ce-source", "/shop")
            .header("ce-type", "com.example.order")
            .body("{\"n\":1}")
            .send()
            .await
            .expect("answers");
        assert_eq!(posted.status(), 202);
        if let Ok(line) = lines_rx.recv_timeout(Duration::from_millis(500)) {
            first = Some(line);
            break;
        }
    }
    let _ = tail.kill();
    let _ = tail.wait();
    let event: Value =
        serde_json::from_str(&first.expect("the tail printed an event")).expect("a JSON line");
    assert_eq!(event["type"], "com.example.order");
    assert_eq!(event["source"], "/shop");
    common::eventually(WITHIN, "the events reach the subscribed function", || {
        let out = out.clone();
        async move { !deliveries(&out).is_empty() }
    })
    .await;

    common::eventually(WITHIN, "the catalog counts the posted events", || {
        let types = ok(&switchyard, &["events", "types", "--source", "orders"]);
        async move { types.starts_with("SOURCE") && types.contains("com.example.order") }
    })
    .await;

    ok(&switchyard, &["subscriptions", "delete", "orders-to-sink"]);
    ok(&switchyard, &["sources", "delete", "orders"]);
    assert_eq!(json_of(&switchyard, &["subscriptions", "list"]), json!([]));
    assert_eq!(json_of(&switchyard, &["sources", "list"]), json!([]));
}

#[tokio::test]
async fn routes_organizations_policies_and_tokens_from_the_command_line() {
    let nats = Nats::start();
    let switchyard = Switchyard::up(&nats);
    let api = switchyard.api();
    let dir = TempDir::new("cli-access");
    api.deploy_ready("echo", "cat", json!({})).await;

    let route = dir.0.join("route.json");
    std::fs::write(
        &route,
        json!({"name": "hello", "function": "echo", "path": "/hello", "methods": ["POST"]})
            .to_string(),
    )
    .expect("write");
    let created = ok(
        &switchyard,
        &["routes", "create", "-f", &route.display().to_string()],
    );
    assert!(
        created.contains("hello") && created.contains("/hello"),
        "{created}"
    );
    let table = ok(&switchyard, &["routes", "list"]);
    let heading = table.lines().next().unwrap_or_default();
    assert!(
        heading.contains("PATH") && heading.contains("METHODS"),
        "{table}"
    );
    assert!(
        table.contains("/hello") && table.contains(" POST "),
        "{table}"
    );
    let answer = api
        .http
        .post(api.url("/hello"))
        .body("via a route")
        .send()
        .await
        .expect("answers");
    assert_eq!(answer.text().await.expect("body"), "via a route");

    ok(&switchyard, &["organizations", "create", "acme"]);
    ok(
        &switchyard,
        &["service-accounts", "create", "ci", "--organization", "acme"],
    );
    ok(
        &switchyard,
        &[
            "policies",
            "create",
            "ci",
            "--organization",
            "acme",
            "--role",
            "viewer",
            "--subject",
            "serviceaccount:ci",
        ],
    );
    let policies = json_of(&switchyard, &["policies", "list", "--organization", "acme"]);
    assert_eq!(policies[0]["role"], "viewer");
    let issued = json_of(
        &switchyard,
        &[
            "service-accounts",
            "issue",
            "ci",
            "--organization",
            "acme",
            "--expires-in",
            "1h",
        ],
    );
    let token = issued["token"]
        .as_str()
        .expect("the token, once")
        .to_string();
    let listed = ok(
        &switchyard,
        &["service-accounts", "tokens", "ci", "--organization", "acme"],
    );
    assert!(
        listed.contains(issued["id"].as_str().unwrap_or("?")) && !listed.contains(&token),
        "{listed}"
    );

    // Signed in with the token: what a viewer of acme may do, and no more.
    let as_token = |args: &[&str]| {
        client(&switchyard)
            .env_remove("SWITCHYARD_ADMIN_PASSWORD")
            .env("SWITCHYARD_TOKEN", &token)
            .args(args)
            .output()
            .expect("the client runs")
    };
    // The list holds only what the caller may read: not the default namespace's route.
    let listed = as_token(&["routes", "list"]);
    assert!(listed.status.success(), "{listed:?}");
    assert!(
        !String::from_utf8_lossy(&listed.stdout).contains("/hello"),
        "a viewer of acme cannot read the default namespace's routes"
    );
    let refused = as_token(&["routes", "list", "--namespace", "openfaas-fn"]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("403"),
        "naming the default namespace is refused"
    );
    let revoked = ok(
        &switchyard,
        &[
            "service-accounts",
            "revoke",
            issued["id"].as_str().expect("id"),
        ],
    );
    assert!(revoked.contains("revoked"), "{revoked}");
    let after = as_token(&["policies", "list", "--organization", "acme"]);
    assert!(
        String::from_utf8_lossy(&after.stderr).contains("401"),
        "revoked"
    );

    let audit = ok(&switchyard, &["audit", "--limit", "20"]);
    assert!(
        audit.contains("/system/tokens/") && audit.contains("/system/organizations"),
        "{audit}"
    );
}
