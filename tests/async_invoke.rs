//! Asynchronous invoke end to end, against real nats-server, functions and callback receivers.
//!
//! Over 400 lines on purpose: one file holds every end-to-end scenario of one path, so that
//! its set-up and helpers are read once; each test is one scenario.

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::{line_count, CallbackServer, Nats, Switchyard, TempDir};
use reqwest::Method;
use serde_json::{json, Value};
use switchyard_broker::codec;
use switchyard_broker::jobs::{DeadLetter, DeadReason};
use switchyard_broker::subjects;

const WAIT: Duration = Duration::from_secs(30);

#[tokio::test]
async fn happy_path_callback_carries_the_answer_and_every_header() {
    let nats = Nats::start();
    let switchyard = Switchyard::up(&nats);
    let api = switchyard.api();
    let dir = TempDir::new("fn");
    let slow_echo = common::script(&dir.0, "slow-echo.sh", "sleep 1; cat");
    api.deploy_ready("echo", &slow_echo, json!({})).await;
    let receiver = CallbackServer::start().await;

    let accepted = api
        .enqueue("echo")
        .header("X-Callback-Url", receiver.url("/done"))
        .header("X-Call-Id", "job-happy-1")
        .header("Content-Type", "text/plain")
        .body("hello async")
        .send()
        .await
        .expect("answers");
    assert_eq!(accepted.status(), 202);
    assert_eq!(accepted.headers()["x-call-id"], "job-happy-1");

    // queued (or already running) → running → succeeded
    let first = api.job("job-happy-1").await;
    assert!(
        first["status"] == "queued" || first["status"] == "running",
        "{first}"
    );
    api.wait_job("job-happy-1", "running", WAIT).await;
    let done = api.wait_job("job-happy-1", "succeeded", WAIT).await;
    assert_eq!(done["attempts"], 1);
    assert_eq!(done["lastStatusCode"], 200);
    for field in ["createdAt", "startedAt", "finishedAt"] {
        assert!(done[field].is_string(), "{field} missing: {done}");
    }

    let callbacks = receiver.wait_for(1, WAIT).await;
    let callback = &callbacks[0];
    assert_eq!(callback.body, "hello async");
    assert_eq!(callback.header("x-call-id"), "job-happy-1");
    assert_eq!(callback.header("x-function-name"), "echo");
    assert_eq!(callback.header("x-function-status"), "200");
    assert_eq!(callback.header("content-type"), "text/plain");
    assert!(
        callback
            .header("x-duration-seconds")
            .parse::<f64>()
            .expect("duration")
            >= 1.0
    );
    assert!(
        callback.header("x-start-time").parse::<u128>().is_ok(),
        "{:?}",
        callback.headers
    );
    assert_eq!(callback.header("x-retry"), "0");
    assert_eq!(callback.header("x-retry-max"), "2");

    let record = api.wait_job("job-happy-1", "succeeded", WAIT).await;
    common::eventually(WAIT, "callback outcome recorded", || async {
        api.job("job-happy-1").await["callback"]["status"] == "delivered"
    })
    .await;
    assert_eq!(record["callbackUrl"], receiver.url("/done"));

    let too_late = api
        .admin(Method::DELETE, "/async-function/job-happy-1")
        .send()
        .await
        .expect("answers");
    assert_eq!(too_late.status(), 409);
    assert!(too_late
        .text()
        .await
        .expect("body")
        .contains("already succeeded"));

    let result = api
        .admin(Method::GET, "/system/jobs/job-happy-1/result")
        .send()
        .await
        .expect("answers");
    assert_eq!(result.status(), 200);
    assert_eq!(result.headers()["x-function-status"], "200");
    assert_eq!(result.text().await.expect("body"), "hello async");

    let listed: Vec<Value> = api
        .admin(
            Method::GET,
            "/system/jobs?function=echo&status=succeeded&limit=10",
        )
        .send()
        .await
        .expect("answers")
        .json()
        .await
        .expect("json");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["callId"], "job-happy-1");
}

#[tokio::test]
async fn a_function_failing_twice_is_retried_with_backoff_and_called_back_once() {
    let nats = Nats::start();
    let switchyard = Switchyard::up(&nats);
    let api = switchyard.api();
    let dir = TempDir::new("flaky");
    let runs = dir.0.join("runs");
    let flaky = common::script(
        &dir.0,
        "flaky.sh",
        &format!("echo run >> {0}; if [ $(wc -l < {0}) -lt 3 ]; then echo 'not yet' >&2; exit 1; fi; echo finally", runs.display()),
    );
    api.deploy_with(
        "flaky",
        &flaky,
        json!({}),
        json!({ "com.openfaas.retry.attempts": "5", "com.openfaas.retry.min_wait": "300ms", "com.openfaas.retry.max_wait": "2s" }),
    )
    .await;
    let receiver = CallbackServer::start().await;
    let sent = Instant::now();
    let accepted = api
        .enqueue("flaky")
        .header("X-Callback-Url", receiver.url("/"))
        .body("x")
        .send()
        .await
        .expect("answers");
    assert_eq!(accepted.status(), 202);
    let call_id = accepted.headers()["x-call-id"]
        .to_str()
        .expect("ascii")
        .to_string();

    let callbacks = receiver.wait_for(1, WAIT).await;
    // Two waits of at least the minimum backoff.
    assert!(
        callbacks[0].at - sent >= Duration::from_millis(600),
        "took {:?}",
        callbacks[0].at - sent
    );
    assert_eq!(callbacks[0].header("x-function-status"), "200");
    assert_eq!(callbacks[0].header("x-retry"), "2");
    assert_eq!(callbacks[0].body, "finally\n");
    let record = api.wait_job(&call_id, "succeeded", WAIT).await;
    assert_eq!(record["attempts"], 3);
    assert_eq!(line_count(&runs), 3);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(receiver.received().len(), 1, "exactly one callback");
}

#[tokio::test]
async fn a_function_that_always_fails_ends_in_sy_dead_with_a_failed_record() {
    let nats = Nats::start();
    let switchyard = Switchyard::up(&nats);
    let api = switchyard.api();
    let dir = TempDir::new("broken");
    let runs = dir.0.join("runs");
    let broken = common::script(
        &dir.0,
        "broken.sh",
        &format!(
            "echo run >> {}; echo 'always broken' >&2; exit 1",
            runs.display()
        ),
    );
    api.deploy_with(
        "broken",
        &broken,
        json!({}),
        json!({ "com.openfaas.retry.attempts": "3", "com.openfaas.retry.min_wait": "100ms", "com.openfaas.retry.max_wait": "200ms" }),
    )
    .await;
    let receiver = CallbackServer::start().await;
    let accepted = api
        .enqueue("broken")
        .header("X-Callback-Url", receiver.url("/"))
        .header("X-Call-Id", "job-broken-1")
        .body("payload")
        .send()
        .await
        .expect("answers");
    assert_eq!(accepted.status(), 202);
    let record = api.wait_job("job-broken-1", "failed", WAIT).await;
    assert_eq!(record["attempts"], 3);
    assert_eq!(record["lastStatusCode"], 500);
    assert_eq!(record["deadLettered"], true);
    assert_eq!(line_count(&runs), 3);

    let callbacks = receiver.wait_for(1, WAIT).await;
    assert_eq!(callbacks[0].header("x-function-status"), "500");
    assert!(String::from_utf8_lossy(&callbacks[0].body).contains("always broken"));

    let client = async_nats::connect(nats.url()).await.expect("connects");
    let dead = async_nats::jetstream::new(client)
        .get_stream("SY_DEAD")
        .await
        .expect("SY_DEAD exists");
    let message = dead
        .get_last_raw_message_by_subject(&subjects::dead("broken"))
        .await
        .expect("a dead letter");
    let letter = DeadLetter::from_message(&message.subject, Some(&message.headers))
        .expect("a readable dead letter");
    assert_eq!(
        codec::event_id(&message.headers).as_deref(),
        Some("job-broken-1")
    );
    assert_eq!(letter.reason, DeadReason::AttemptsExhausted);
    assert_eq!((letter.attempts, letter.status), (3, 500));
    assert_eq!(&message.payload[..], b"payload");
}

#[tokio::test]
async fn a_job_running_ten_times_the_ack_wait_runs_once() {
    let nats = Nats::start();
    let switchyard = Switchyard::up_with(&nats, &[("SWITCHYARD_ASYNC_ACK_WAIT", "500ms")]);
    let api = switchyard.api();
    let dir = TempDir::new("long");
    let runs = dir.0.join("runs");
    let long = common::script(
        &dir.0,
        "long.sh",
        &format!("echo run >> {}; sleep 5; echo done", runs.display()),
    );
    api.deploy_with(
        "long",
        &long,
        json!({ "exec_timeout": "60s", "write_timeout": "60s" }),
        json!({}),
    )
    .await;
    let accepted = api
        .enqueue("long")
        .header("X-Call-Id", "job-long-1")
        .send()
        .await
        .expect("answers");
    assert_eq!(accepted.status(), 202);
    let record = api.wait_job("job-long-1", "succeeded", WAIT).await;
    assert_eq!(record["attempts"], 1);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(line_count(&runs), 1, "the job ran more than once");
}

#[tokio::test]
async fn the_same_call_id_twice_is_one_job() {
    let nats = Nats::start();
    let switchyard = Switchyard::up(&nats);
    let api = switchyard.api();
    let dir = TempDir::new("idem");
    let runs = dir.0.join("runs");
    let counted = common::script(
        &dir.0,
        "counted.sh",
        &format!("echo run >> {}; sleep 0.5", runs.display()),
    );
    api.deploy_ready("counted", &counted, json!({})).await;
    for header in ["X-Call-Id", "X-Call-Id", "Idempotency-Key"] {
        let accepted = api
            .enqueue("counted")
            .header(header, "same-job-1")
            .body("x")
            .send()
            .await
            .expect("answers");
        assert_eq!(accepted.status(), 202);
        assert_eq!(accepted.headers()["x-call-id"], "same-job-1");
    }
    api.wait_job("same-job-1", "succeeded", WAIT).await;
    // Once finished, a late retry is still the same job.
    let late = api
        .enqueue("counted")
        .header("X-Call-Id", "same-job-1")
        .send()
        .await
        .expect("answers");
    assert_eq!(late.status(), 202);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(line_count(&runs), 1);
}

#[tokio::test]
async fn a_slow_function_does_not_delay_another_functions_jobs() {
    let nats = Nats::start();
    let switchyard = Switchyard::up(&nats);
    let api = switchyard.api();
    api.deploy_with(
        "sleepy",
        "sleep 3",
        json!({}),
        json!({ "com.switchyard.async.concurrency": "2" }),
    )
    .await;
    api.deploy_ready("quick", "cat", json!({})).await;
    let receiver = CallbackServer::start().await;
    for _ in 0..20 {
        let accepted = api
            .enqueue("sleepy")
            .header("X-Callback-Url", receiver.url("/sleepy"))
            .send()
            .await
            .expect("answers");
        assert_eq!(accepted.status(), 202);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let sent = Instant::now();
    let accepted = api
        .enqueue("quick")
        .header("X-Callback-Url", receiver.url("/quick"))
        .body("fast")
        .send()
        .await
        .expect("answers");
    assert_eq!(accepted.status(), 202);
    common::eventually(
        Duration::from_secs(10),
        "the quick function's callback",
        || async {
            receiver
                .received()
                .iter()
                .any(|r| r.header("x-function-name") == "quick")
        },
    )
    .await;
    let quick = receiver
        .received()
        .into_iter()
        .find(|r| r.header("x-function-name") == "quick")
        .expect("quick callback");
    assert!(
        quick.at - sent < Duration::from_secs(2),
        "quick job waited {:?}",
        quick.at - sent
    );
    let sleepy_done = receiver
        .received()
        .iter()
        .filter(|r| r.header("x-function-name") == "sleepy")
        .count();
    assert!(
        sleepy_done <= 2,
        "the slow queue was not still busy ({sleepy_done} done)"
    );
}

#[tokio::test]
async fn a_callback_receiver_that_is_down_still_gets_the_callback() {
    let nats = Nats::start();
    let switchyard = Switchyard::up_with(
        &nats,
        &[
            ("SWITCHYARD_CALLBACK_MIN_WAIT", "200ms"),
            ("SWITCHYARD_CALLBACK_MAX_WAIT", "1s"),
        ],
    );
    let api = switchyard.api();
    api.deploy_ready("echo", "cat", json!({})).await;
    let port = common::free_port();
    let accepted = api
        .enqueue("echo")
        .header("X-Callback-Url", format!("http://127.0.0.1:{port}/late"))
        .header("X-Call-Id", "job-late-callback")
        .body("eventually")
        .send()
        .await
        .expect("answers");
    assert_eq!(accepted.status(), 202);
    api.wait_job("job-late-callback", "succeeded", WAIT).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let pending = api.job("job-late-callback").await;
    assert_eq!(pending["callback"]["status"], "pending", "{pending}");
    assert!(
        pending["callback"]["attempts"].as_u64().unwrap_or(0) >= 2,
        "{pending}"
    );

    let receiver = CallbackServer::start_on(port).await;
    let callbacks = receiver.wait_for(1, WAIT).await;
    assert_eq!(callbacks[0].body, "eventually");
    common::eventually(WAIT, "callback recorded as delivered", || async {
        api.job("job-late-callback").await["callback"]["status"] == "delivered"
    })
    .await;
}

#[tokio::test]
async fn queued_and_running_jobs_can_be_cancelled() {
    let nats = Nats::start();
    let switchyard = Switchyard::up(&nats);
    let api = switchyard.api();
    let dir = TempDir::new("cancel");
    let runs = dir.0.join("runs");
    let slow = common::script(
        &dir.0,
        "slow.sh",
        &format!(
            "echo $Http_X_Call_Id >> {}; sleep 3; echo finished",
            runs.display()
        ),
    );
    api.deploy_with(
        "slow",
        &slow,
        json!({}),
        json!({ "com.switchyard.async.concurrency": "1" }),
    )
    .await;
    let receiver = CallbackServer::start().await;
    for id in ["job-running", "job-queued"] {
        let accepted = api
            .enqueue("slow")
            .header("X-Call-Id", id)
            .header("X-Callback-Url", receiver.url("/"))
            .send()
            .await
            .expect("answers");
        assert_eq!(accepted.status(), 202);
    }
    api.wait_job("job-running", "running", WAIT).await;
    assert_eq!(api.job("job-queued").await["status"], "queued");

    for id in ["job-queued", "job-running"] {
        let cancelled = api
            .admin(Method::DELETE, &format!("/async-function/{id}"))
            .send()
            .await
            .expect("answers");
        assert_eq!(cancelled.status(), 202, "{id}");
        assert_eq!(api.job(id).await["status"], "cancelled");
    }
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(
        std::fs::read_to_string(&runs).unwrap_or_default().trim(),
        "job-running",
        "the queued job ran"
    );
    assert!(
        receiver.received().is_empty(),
        "cancelled jobs are not called back"
    );
    for id in ["job-queued", "job-running"] {
        assert_eq!(api.job(id).await["status"], "cancelled");
    }
    // Cancelling again is idempotent.
    let again = api
        .admin(Method::DELETE, "/async-function/job-running")
        .send()
        .await
        .expect("answers");
    assert_eq!(again.status(), 202);
    let unknown = api
        .http
        .delete(api.url("/async-function/no-such-job"))
        .send()
        .await
        .expect("answers");
    assert_eq!(unknown.status(), 404);
}

#[tokio::test]
async fn bad_intake_gets_a_clear_error_and_nothing_is_queued() {
    let nats = Nats::start();
    let switchyard = Switchyard::up_with(&nats, &[("SWITCHYARD_MAX_BODY_BYTES", "1024")]);
    let api = switchyard.api();
    api.deploy_ready("echo", "cat", json!({})).await;
    let cases: Vec<(reqwest::RequestBuilder, u16, &str)> = vec![
        (api.enqueue("nope"), 404, "function `nope` not found"),
        (
            api.enqueue("echo").header("X-Callback-Url", "/relative"),
            400,
            "X-Callback-Url must be an absolute http(s) URL",
        ),
        (
            api.enqueue("echo").header("X-Callback-Url", "ftp://x/y"),
            400,
            "X-Callback-Url must be an absolute http(s) URL",
        ),
        (
            api.enqueue("echo").header("X-Call-Id", "has.dot"),
            400,
            "invalid call id",
        ),
        (
            api.enqueue("echo").body(vec![b'a'; 2048]),
            413,
            "exceeds the limit of 1024 bytes",
        ),
        (
            api.enqueue("echo").header("X-Delay", "soon"),
            400,
            "X-Delay `soon`",
        ),
        (
            api.enqueue("echo").header("X-Not-Before", "tomorrow"),
            400,
            "X-Not-Before `tomorrow`",
        ),
        (
            api.enqueue("echo")
                .header("X-Delay", "5s")
                .header("X-Not-Before", "2030-01-01T00:00:00Z"),
            400,
            "not both",
        ),
        (
            api.enqueue("echo").header("X-Delay", "9000h"),
            400,
            "SWITCHYARD_MAX_DELAY",
        ),
    ];
    for (request, status, message) in cases {
        let response = request.send().await.expect("answers");
        assert_eq!(response.status(), status);
        let text = response.text().await.expect("body");
        assert!(
            text.contains(message),
            "{text:?} should contain {message:?}"
        );
    }
    let listed: Vec<Value> = api
        .admin(Method::GET, "/system/jobs")
        .send()
        .await
        .expect("answers")
        .json()
        .await
        .expect("json");
    assert!(listed.is_empty(), "{listed:?}");
    let missing = api
        .admin(Method::GET, "/system/jobs/never-was")
        .send()
        .await
        .expect("answers");
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn every_job_completes_when_the_dispatcher_is_killed_mid_way() {
    let nats = Nats::start();
    let url = nats.url();
    let gateway = Switchyard::start("gateway", &[("SWITCHYARD_NATS_URL", &url)]);
    let _provider = Switchyard::start("provider", &[("SWITCHYARD_NATS_URL", &url)]);
    let dispatcher_env = [
        ("SWITCHYARD_NATS_URL", url.as_str()),
        ("SWITCHYARD_ASYNC_ACK_WAIT", "2s"),
        ("SWITCHYARD_ASYNC_CONCURRENCY", "16"),
    ];
    let mut dispatcher = Switchyard::start("dispatcher", &dispatcher_env);
    let api = gateway.api();
    api.deploy_ready("echo", "cat", json!({})).await;
    let receiver = CallbackServer::start().await;
    let callback_url = receiver.url("/");
    let accepted = enqueue_many(&api, "echo", &callback_url, 1000).await;
    assert_eq!(accepted.len(), 1000);

    receiver.wait_for(200, Duration::from_secs(60)).await;
    // SAFETY: killing a process this test started.
    unsafe { libc::kill(dispatcher.pid() as i32, libc::SIGKILL) };
    let _ = dispatcher.stop(Duration::from_secs(5));
    let _restarted = Switchyard::start("dispatcher", &dispatcher_env);

    common::eventually(
        Duration::from_secs(120),
        "1000 distinct callbacks",
        || async { distinct_call_ids(&receiver) == accepted },
    )
    .await;
}

#[tokio::test]
async fn queued_jobs_survive_a_nats_restart() {
    let mut nats = Nats::start();
    let url = nats.url();
    // No dispatcher yet: the jobs stay queued.
    let gateway = Switchyard::start("gateway", &[("SWITCHYARD_NATS_URL", &url)]);
    let _provider = Switchyard::start("provider", &[("SWITCHYARD_NATS_URL", &url)]);
    let api = gateway.api();
    api.deploy_ready("echo", "cat", json!({})).await;
    let receiver = CallbackServer::start().await;
    let accepted = enqueue_many(&api, "echo", &receiver.url("/"), 200).await;
    assert_eq!(accepted.len(), 200);

    nats.restart();
    let _dispatcher = Switchyard::start("dispatcher", &[("SWITCHYARD_NATS_URL", &url)]);
    common::eventually(
        Duration::from_secs(90),
        "200 distinct callbacks after the restart",
        || async { distinct_call_ids(&receiver) == accepted },
    )
    .await;
}

/// Delayed jobs: accepted now, `scheduled` until due, run at (not before) their time after
/// every part and NATS were restarted in between; a cancelled one never runs; a due time in
/// the past runs now.
#[tokio::test]
async fn delayed_jobs_run_on_time_after_restarts_and_cancelled_ones_never() {
    let mut nats = Nats::start();
    let mut switchyard = Switchyard::up(&nats);
    let api = switchyard.api();
    api.deploy_ready("echo", "cat", json!({})).await;
    let receiver = CallbackServer::start().await;
    let not_before = (chrono::Utc::now() + chrono::Duration::seconds(9)).to_rfc3339();
    let delayed = [
        ("in-6s", "X-Delay", "6s".to_string()),
        ("cancelled", "X-Delay", "7".to_string()),
        ("at-9s", "X-Not-Before", not_before),
        ("past", "X-Not-Before", "2020-01-01T00:00:00Z".to_string()),
    ];
    for (id, header, value) in &delayed {
        let accepted = api
            .enqueue("echo")
            .header("X-Call-Id", *id)
            .header(*header, value.as_str())
            .header("X-Callback-Url", receiver.url("/"))
            .body(*id)
            .send()
            .await
            .expect("answers");
        assert_eq!(accepted.status(), 202, "{id}");
    }
    let accepted_at = chrono::Utc::now();
    let record = api.job("in-6s").await;
    assert_eq!(record["status"], "scheduled", "{record}");
    let due: chrono::DateTime<chrono::Utc> = record["notBefore"]
        .as_str()
        .and_then(|t| t.parse().ok())
        .expect("notBefore");
    assert!(
        due > accepted_at + chrono::Duration::seconds(4),
        "{due} vs {accepted_at}"
    );
    // A due time already past runs at once.
    receiver.wait_for(1, WAIT).await;
    assert_eq!(receiver.received()[0].header("x-call-id"), "past");
    let cancelled = api
        .admin(Method::DELETE, "/async-function/cancelled")
        .send()
        .await
        .expect("answers");
    assert_eq!(cancelled.status(), 202);
    assert_eq!(api.job("cancelled").await["status"], "cancelled");

    // A job due after its record expired (deleted here) is still shown and cancellable,
    // from the message that holds it.
    let accepted = api
        .enqueue("echo")
        .header("X-Call-Id", "in-an-hour")
        .header("X-Delay", "1h")
        .send()
        .await
        .expect("answers");
    assert_eq!(accepted.status(), 202);
    let client = async_nats::connect(nats.url()).await.expect("connects");
    let js = async_nats::jetstream::new(client);
    let records = js
        .get_key_value(switchyard_broker::buckets::JOBS)
        .await
        .expect("bucket");
    records.purge("in-an-hour").await.expect("record removed");
    let shown = api.job("in-an-hour").await;
    assert_eq!(shown["status"], "scheduled", "{shown}");
    assert!(shown["notBefore"].is_string(), "{shown}");
    let cancelled = api
        .admin(Method::DELETE, "/async-function/in-an-hour")
        .send()
        .await
        .expect("answers");
    assert_eq!(cancelled.status(), 202);
    assert_eq!(api.job("in-an-hour").await["status"], "cancelled");
    let mut held = js
        .get_stream(switchyard_broker::streams::DELAYED)
        .await
        .expect("stream");
    let holding = held.info().await.expect("info").state.messages;
    assert_eq!(holding, 2, "in-6s and at-9s held, nothing else");

    // Every part killed, NATS restarted, all before the first job is due.
    switchyard.kill();
    nats.restart();
    switchyard.restart();
    let api = switchyard.api();

    let done = api.wait_job("at-9s", "succeeded", WAIT).await;
    let in_six = api.wait_job("in-6s", "succeeded", WAIT).await;
    for record in [&done, &in_six] {
        let started: chrono::DateTime<chrono::Utc> = record["startedAt"]
            .as_str()
            .and_then(|t| t.parse().ok())
            .expect("startedAt");
        let due: chrono::DateTime<chrono::Utc> = record["notBefore"]
            .as_str()
            .and_then(|t| t.parse().ok())
            .expect("notBefore");
        assert!(started >= due, "ran early: {record}");
        assert!(
            started - due < chrono::Duration::seconds(5),
            "ran late: {record}"
        );
    }
    // The cancelled job was due before the last one ran: it would have run by now.
    receiver.wait_for(3, WAIT).await;
    let ran: HashSet<String> = distinct_call_ids(&receiver);
    let expected: HashSet<String> = ["past", "in-6s", "at-9s"].map(String::from).into();
    assert_eq!(ran, expected);
    assert_eq!(api.job("cancelled").await["status"], "cancelled");
    let scheduled = api.admin_json("/system/jobs?status=scheduled").await;
    assert_eq!(scheduled, json!([]));
}

/// Schedules from OpenFaaS's cron-connector annotations: each tick is one job (two of every
/// part running), with the schedule's data, its headers and its record; the preview
/// shows what daylight saving does; a paused schedule fires nothing; a bad schedule is a 400.
#[tokio::test]
async fn scheduled_functions_run_each_tick_once_and_can_be_paused() {
    let nats = Nats::start();
    let switchyard = Switchyard::up(&nats);
    // Every part twice: `up` runs one of each.
    let url = nats.url();
    let _second: Vec<Switchyard> = ["gateway", "dispatcher", "provider"]
        .into_iter()
        .map(|part| Switchyard::start(part, &[("SWITCHYARD_NATS_URL", &url)]))
        .collect();
    let api = switchyard.api();
    let receiver = CallbackServer::start().await;
    // As faas-cli deploys a stack.yml function with the cron-connector's annotations: PUT, then
    // POST on 404, the same body.
    let deployment = json!({
        "service": "ticker", "image": "ticker:latest", "envProcess": "cat", "labels": {},
        "annotations": {
            "topic": "cron-function",
            "schedule": "*/2 * * * * *",
            "com.switchyard.schedule.data": "tick!",
            "com.switchyard.schedule.callback-url": receiver.url("/"),
        },
    });
    let put = api
        .admin(Method::PUT, "/system/functions")
        .json(&deployment)
        .send()
        .await
        .expect("answers");
    assert_eq!(put.status(), 404);
    assert_eq!(api.deploy(deployment).await.status(), 202);
    api.wait_available("ticker", 1).await;
    let refused = api
        .deploy(json!({ "service": "bad", "envProcess": "cat",
            "annotations": { "topic": "cron-function", "schedule": "61 * * * *" } }))
        .await;
    assert_eq!(refused.status(), 400);
    let text = refused.text().await.expect("body");
    assert!(
        text.contains("annotation `schedule`") && text.contains("minute `61`"),
        "{text}"
    );

    // A minute of ticks.
    let ticks = receiver.wait_for(30, Duration::from_secs(90)).await;
    let mut instants: Vec<i64> = ticks
        .iter()
        .map(|t| {
            assert_eq!(&t.body[..], b"tick!");
            let id = t.header("x-call-id");
            let unix: i64 = id
                .strip_prefix("tick-")
                .and_then(|rest| rest.strip_suffix("-ticker"))
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("tick call id {id}"));
            unix
        })
        .collect();
    instants.sort();
    let distinct: HashSet<i64> = instants.iter().copied().collect();
    assert_eq!(
        distinct.len(),
        instants.len(),
        "a tick ran twice: {instants:?}"
    );
    let first = instants[0];
    let last = instants[instants.len() - 1];
    let expected: Vec<i64> = (first..=last).step_by(2).collect();
    assert_eq!(instants, expected, "every tick once, none missing");
    let record = api.job(ticks[0].header("x-call-id")).await;
    assert_eq!(record["trigger"], "schedule", "{record}");
    assert!(record["scheduledFor"].is_string(), "{record}");

    let listed = api.admin_json("/system/schedules").await;
    assert_eq!(listed[0]["function"], "ticker", "{listed}");
    assert_eq!(listed[0]["timezone"], "UTC");
    assert!(listed[0]["next"].is_string(), "{listed}");
    assert_eq!(listed[0]["lastOutcome"], "fired");

    // What daylight saving does, before it happens: 01:30 does not exist in London on
    // 2026-03-29 and runs once at the end of the gap.
    api.deploy_with(
        "report",
        "cat",
        json!({}),
        json!({ "topic": "cron-function", "schedule": "30 1 * * *",
                "com.switchyard.schedule.timezone": "Europe/London" }),
    )
    .await;
    let preview = api
        .admin_json("/system/schedules/report?from=2026-03-28T12:00:00Z&count=3")
        .await;
    assert_eq!(
        preview,
        json!({ "function": "report", "schedule": "30 1 * * *", "timezone": "Europe/London",
                "next": ["2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z", "2026-03-31T00:30:00Z"] })
    );

    api.deploy_with(
        "report-ny",
        "cat",
        json!({}),
        json!({ "topic": "cron-function", "schedule": "CRON_TZ=America/New_York 30 2 * * *" }),
    )
    .await;
    let preview = api
        .admin_json("/system/schedules/report-ny?from=2027-03-13T17:00:00Z&count=2")
        .await;
    assert_eq!(preview["timezone"], "America/New_York");
    assert_eq!(
        preview["next"],
        json!(["2027-03-14T07:00:00Z", "2027-03-15T06:30:00Z"])
    );

    let paused = api
        .admin(Method::POST, "/system/schedules/ticker/pause")
        .send()
        .await
        .expect("answers");
    assert_eq!(paused.status(), 204);
    let paused_at = chrono::Utc::now().timestamp();
    let before = receiver.received().len();
    // Two ticks' time with nothing to wait for: a paused schedule fires nothing.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let after: Vec<String> = receiver.received()[before..]
        .iter()
        .map(|t| t.header("x-call-id").to_string())
        .collect();
    assert!(
        after.iter().all(|id| id
            .strip_prefix("tick-")
            .and_then(|rest| rest.split('-').next())
            .and_then(|n| n.parse::<i64>().ok())
            .is_some_and(|unix| unix <= paused_at)),
        "ticks after the pause: {after:?}"
    );
    let listed = api.admin_json("/system/schedules").await;
    let ticker = listed
        .as_array()
        .and_then(|all| all.iter().find(|s| s["function"] == "ticker"))
        .expect("listed");
    assert_eq!(ticker["paused"], true, "{ticker}");
    assert!(ticker.get("next").is_none(), "{ticker}");
}

const MISFIRES: [&str; 3] = ["skip", "latest", "all"];

/// A tick's job: the tick, when it started and when it finished.
type TickRun = (Option<Time>, Option<Time>, Option<Time>);
type Time = chrono::DateTime<chrono::Utc>;

/// After everything was stopped for two ticks, a schedule with `misfire: skip` runs none of
/// them, `latest` the second, `all` both; a slow function's ticks never overlap with `overlap: skip` or `queue`,
/// and do with `allow`.
#[tokio::test]
async fn schedules_catch_up_by_their_misfire_policy_and_overlap_only_when_allowed() {
    let nats = Nats::start();
    let mut switchyard = Switchyard::up_with(&nats, &[("SWITCHYARD_SCHEDULE_MISFIRE_AFTER", "2s")]);
    let api = switchyard.api();
    let dir = TempDir::new("schedules");
    let slow = common::script(&dir.0, "slow.sh", "sleep 2.5; echo done");
    for misfire in MISFIRES {
        api.deploy_with(
            &format!("every-10s-{misfire}"),
            "cat",
            json!({}),
            json!({ "topic": "cron-function", "schedule": "*/10 * * * * *",
                    "com.switchyard.schedule.misfire": misfire }),
        )
        .await;
    }
    for overlap in ["skip", "queue", "allow"] {
        api.deploy_with(
            &format!("slow-{overlap}"),
            &slow,
            json!({}),
            json!({ "topic": "cron-function", "schedule": "* * * * * *",
                    "com.switchyard.schedule.overlap": overlap }),
        )
        .await;
    }
    let ticks_of = |function: &str| {
        let api = api.clone();
        let function = function.to_string();
        async move {
            let jobs = api
                .admin_json(&format!("/system/jobs?function={function}&limit=1000"))
                .await;
            let time = |job: &Value, field: &str| {
                job[field]
                    .as_str()
                    .and_then(|t| t.parse::<chrono::DateTime<chrono::Utc>>().ok())
            };
            jobs.as_array()
                .into_iter()
                .flatten()
                .map(|job| {
                    (
                        time(job, "scheduledFor"),
                        time(job, "startedAt"),
                        time(job, "finishedAt"),
                    )
                })
                .collect::<Vec<TickRun>>()
        }
    };
    // Everything stops just after a tick T that all three ran, until T + 24.5 s: T + 10 and
    // T + 20 are more than 2 s old when it is back (before T + 30, with room for a slow start).
    let latest_run = |function: String| {
        let runs = ticks_of(&function);
        async move { runs.await.iter().filter_map(|(t, _, _)| *t).max() }
    };
    let common_tick = std::sync::Mutex::new(None);
    common::eventually(WAIT, "a tick all three ran, just now", || async {
        let mut latest = Vec::new();
        for misfire in MISFIRES {
            latest.push(latest_run(format!("every-10s-{misfire}")).await);
        }
        let tick = latest[0].filter(|t| latest.iter().all(|l| *l == Some(*t)));
        let fresh = tick.filter(|t| chrono::Utc::now() < *t + chrono::Duration::seconds(4));
        *common_tick.lock().expect("tick") = fresh;
        fresh.is_some()
    })
    .await;
    switchyard.kill();
    let tick = common_tick.lock().expect("tick").expect("found");
    assert!(
        chrono::Utc::now() < tick + chrono::Duration::seconds(8),
        "stopped too late to miss T + 10"
    );
    let back = tick + chrono::Duration::milliseconds(24_500);
    tokio::time::sleep((back - chrono::Utc::now()).to_std().unwrap_or_default()).await;
    switchyard.restart();
    let next = tick + chrono::Duration::seconds(30);
    for misfire in MISFIRES {
        common::eventually(WAIT, "a tick from T + 30 on run", || async {
            latest_run(format!("every-10s-{misfire}"))
                .await
                .is_some_and(|t| t >= next)
        })
        .await;
    }
    for (misfire, caught_up) in [
        ("skip", vec![]),
        ("latest", vec![20]),
        ("all", vec![10, 20]),
    ] {
        let mut between: Vec<i64> = ticks_of(&format!("every-10s-{misfire}"))
            .await
            .iter()
            .filter_map(|(t, _, _)| *t)
            .filter(|t| *t > tick && *t < next)
            .map(|t| (t - tick).num_seconds())
            .collect();
        between.sort();
        assert_eq!(between, caught_up, "misfire {misfire}");
    }

    // With `allow`, a slow function's ticks run side by side.
    common::eventually(WAIT, "two ticks of slow-allow running at once", || async {
        let mut runs: Vec<(Time, Option<Time>)> = ticks_of("slow-allow")
            .await
            .into_iter()
            .filter_map(|(_, start, end)| Some((start?, end)))
            .collect();
        runs.sort();
        runs.windows(2)
            .any(|pair| pair[0].1.is_none_or(|end| pair[1].0 < end))
    })
    .await;
    // The others' jobs never ran at the same time, and ran at least twice.
    for function in ["slow-skip", "slow-queue"] {
        common::eventually(WAIT, "two finished ticks", || async {
            ticks_of(function)
                .await
                .iter()
                .filter(|(_, _, end)| end.is_some())
                .count()
                >= 2
        })
        .await;
        let mut runs: Vec<_> = ticks_of(function)
            .await
            .into_iter()
            .filter_map(|(_, start, end)| Some((start?, end?)))
            .collect();
        runs.sort();
        for pair in runs.windows(2) {
            assert!(
                pair[1].0 >= pair[0].1,
                "{function}: overlapping runs {pair:?}"
            );
        }
    }
    // After the restart, `skip` runs about one tick in three (each run takes 2.5 s of a tick
    // a second), and `queue` runs the held tick as soon as the previous one ends.
    let since_restart = |runs: Vec<TickRun>| {
        let mut runs: Vec<(Time, Time, Time)> = runs
            .into_iter()
            .filter_map(|(tick, start, end)| Some((tick?, start?, end?)))
            .filter(|(tick, _, _)| *tick > back + chrono::Duration::seconds(3))
            .collect();
        runs.sort();
        runs
    };
    common::eventually(WAIT, "four runs of each since the restart", || async {
        since_restart(ticks_of("slow-skip").await).len() >= 4
            && since_restart(ticks_of("slow-queue").await).len() >= 4
    })
    .await;
    for pair in since_restart(ticks_of("slow-skip").await).windows(2) {
        let apart = (pair[1].0 - pair[0].0).num_seconds();
        assert!(
            // At least one tick skipped while it ran; not starved (a loaded machine makes a
            // run, or a scheduler round, late).
            (2..=8).contains(&apart),
            "skip: ticks run {apart} s apart: {pair:?}"
        );
    }
    for pair in since_restart(ticks_of("slow-queue").await).windows(2) {
        let idle = pair[1].1 - pair[0].2;
        assert!(
            idle < chrono::Duration::seconds(3),
            "queue: {idle} idle between runs: {pair:?}"
        );
    }
}

/// Enqueues `count` jobs, 32 at a time; returns the call ids of the 202s.
async fn enqueue_many(
    api: &common::Api,
    function: &str,
    callback_url: &str,
    count: usize,
) -> HashSet<String> {
    use futures::StreamExt;
    futures::stream::iter(0..count)
        .map(|i| {
            let request = api
                .enqueue(function)
                .header("X-Callback-Url", callback_url)
                .body(format!("job {i}"));
            async move {
                let response = request.send().await.ok()?;
                (response.status() == 202).then(|| {
                    response.headers()["x-call-id"]
                        .to_str()
                        .ok()
                        .map(str::to_string)
                })?
            }
        })
        .buffer_unordered(32)
        .filter_map(|id| async move { id })
        .collect()
        .await
}

fn distinct_call_ids(receiver: &CallbackServer) -> HashSet<String> {
    receiver
        .received()
        .iter()
        .map(|r| r.header("x-call-id").to_string())
        .collect()
}
