//! Hostile input, one test per finding of the hardening issue: each reproduces what an attacker
//! on the same network tried, against real processes, and asserts it no longer works.

mod common;

use std::time::Duration;

use common::{deliveries, recorder, Nats, Switchyard, TempDir};
use reqwest::Method;
use serde_json::json;

const WAIT: Duration = Duration::from_secs(30);

/// Asserts a refusal: its status, and that its message names `what`.
async fn refused(response: reqwest::Response, status: u16, what: &str) {
    assert_eq!(response.status(), status);
    let message = response.text().await.expect("body");
    assert!(message.contains(what), "`{what}` not named in: {message}");
}

/// A webhook source open to anyone (as the attacker found them) and a function subscribed to
/// every `test.` event.
async fn open_webhook(api: &common::Api, dir: &TempDir) -> std::path::PathBuf {
    let out = dir.0.join("out");
    api.deploy_ready("sink", &recorder(&dir.0, &out), json!({}))
        .await;
    let subscription = api
        .admin(Method::POST, "/system/subscriptions")
        .json(
            &json!({"name": "all", "function": "sink", "filters": [{"prefix": {"type": "test."}}]}),
        )
        .send()
        .await
        .expect("answers");
    assert_eq!(subscription.status(), 201);
    let source = api
        .create_source(
            json!({"name": "open", "kind": "webhook", "config": {"auth": {"none": true}}}),
        )
        .await;
    assert_eq!(source.status(), 201);
    out
}

/// Finding 1: a 1,500-character `type` made nats-server drop the connection every part shares.
#[tokio::test]
async fn an_over_long_event_type_is_refused_and_the_connection_lives() {
    let nats = Nats::start();
    let switchyard = Switchyard::up(&nats);
    let api = switchyard.api();
    let dir = TempDir::new("hostile-type");
    let out = open_webhook(&api, &dir).await;
    api.deploy_ready("echo", "cat", json!({})).await;
    let url = api.url("/webhook/open");
    let long_type = format!("test.{}", "x".repeat(1500));

    let binary = api
        .http
        .post(&url)
        .header("ce-specversion", "1.0")
        .header("ce-id", "long-1")
        .header("ce-source", "/attacker")
        .header("ce-type", &long_type)
        .body("x")
        .send()
        .await
        .expect("answers");
    let structured = api
        .http
        .post(&url)
        .header("content-type", "application/cloudevents+json")
        .body(
            json!({"specversion": "1.0", "id": "long-2", "source": "/attacker", "type": long_type})
                .to_string(),
        )
        .send()
        .await
        .expect("answers");
    let batch = api
        .http
        .post(&url)
        .header("content-type", "application/cloudevents-batch+json")
        .body(json!([{"specversion": "1.0", "id": "long-3", "source": "/attacker", "type": long_type}]).to_string())
        .send()
        .await
        .expect("answers");
    for response in [binary, structured, batch] {
        assert_eq!(response.status(), 400);
        let text = response.text().await.expect("body");
        assert!(text.contains("`type`") && text.contains("256"), "{text}");
    }

    // Everything still works on the same connection: a call, and an event delivered.
    let answer = api.invoke("echo", "alive").await;
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.text().await.expect("body"), "alive");
    let fine = api
        .http
        .post(&url)
        .header("ce-specversion", "1.0")
        .header("ce-id", "ok-1")
        .header("ce-source", "/producer")
        .header("ce-type", "test.fine")
        .body("fine")
        .send()
        .await
        .expect("answers");
    assert_eq!(fine.status(), 202);
    common::eventually(WAIT, "the valid event delivered", || async {
        deliveries(&out).len() == 1
    })
    .await;
    assert!(
        !switchyard.logs().contains("maximum control line"),
        "NATS dropped the connection"
    );
}

/// Finding 2: a function's environment held Switchyard's settings, its admin password among
/// them, for any caller to read.
#[tokio::test]
async fn a_function_sees_none_of_switchyards_settings() {
    let nats = Nats::start();
    let switchyard = Switchyard::up(&nats);
    let api = switchyard.api();
    api.deploy_ready("env", "env", json!({"MY_SETTING": "mine"}))
        .await;
    let answer = api.invoke("env", "").await;
    assert_eq!(answer.status(), 200);
    let environment = answer.text().await.expect("body");
    assert!(
        !environment.contains("SWITCHYARD_") && !environment.contains(common::ADMIN_PASSWORD),
        "{environment}"
    );
    for expected in ["MY_SETTING=mine", "PATH=", "fprocess=env"] {
        assert!(
            environment.contains(expected),
            "{expected} missing: {environment}"
        );
    }
}

/// Finding 8: the rate limit was charged before authentication, so junk used up a source's
/// quota and the real producer got 429.
#[tokio::test]
async fn unauthenticated_requests_do_not_use_up_the_rate_limit() {
    let nats = Nats::start();
    let switchyard = Switchyard::up(&nats);
    let api = switchyard.api();
    let source = api
        .create_source(json!({"name": "guarded", "kind": "webhook",
            "config": {"auth": {"token": "s3cret"}, "rateLimit": "3/m"}}))
        .await;
    assert_eq!(source.status(), 201);
    let url = api.url("/webhook/guarded");
    for _ in 0..10 {
        let junk = api
            .http
            .post(&url)
            .body("junk")
            .send()
            .await
            .expect("answers");
        assert_eq!(junk.status(), 401);
    }
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let real = api
            .http
            .post(&url)
            .bearer_auth("s3cret")
            .body("real")
            .send()
            .await
            .expect("answers");
        statuses.push(real.status().as_u16());
    }
    assert_eq!(
        statuses,
        [202, 202, 202, 429],
        "the producer's own quota, untouched by junk"
    );
}

/// Finding 7: `X-Callback-Url` could point at cloud metadata or loopback admin ports, and
/// redirects were followed with the body.
#[tokio::test]
async fn callbacks_reach_only_allowed_networks_and_never_follow_redirects() {
    let nats = Nats::start();
    let switchyard = Switchyard::up_with(
        &nats,
        &[
            ("SWITCHYARD_CALLBACK_ATTEMPTS", "1"),
            // Loopback by name is denied here; the receivers below are reached by address.
            (
                "SWITCHYARD_CALLBACK_DENY",
                "169.254.0.0/16,fe80::/10,::1/128",
            ),
        ],
    );
    let api = switchyard.api();
    api.deploy_ready("echo", "cat", json!({})).await;

    // An address in a denied network is refused at intake.
    let metadata = api
        .enqueue("echo")
        .header("X-Callback-Url", "http://169.254.169.254/latest/meta-data/")
        .body("x")
        .send()
        .await
        .expect("answers");
    refused(metadata, 400, "denied network").await;

    // A redirect is not followed: the receiver it points to gets nothing.
    let target = common::CallbackServer::start().await;
    let redirector = redirect_to(&target.url("/stolen")).await;
    let accepted = api
        .enqueue("echo")
        .header("X-Callback-Url", &redirector)
        .body("secret body")
        .send()
        .await
        .expect("answers");
    assert_eq!(accepted.status(), 202);
    let call_id = accepted.headers()["x-call-id"]
        .to_str()
        .expect("call id")
        .to_string();
    let job = wait_callback_outcome(&api, &call_id).await;
    assert_eq!(job["callback"]["status"], "failed", "{job}");
    assert_eq!(job["callback"]["lastStatusCode"], 307, "{job}");
    assert!(target.received().is_empty(), "the redirect was followed");
}

/// A name that resolves to a denied address is refused when the dispatcher connects.
#[tokio::test]
async fn a_callback_host_resolving_to_a_denied_address_is_refused_at_connect_time() {
    let nats = Nats::start();
    let switchyard = Switchyard::up_with(
        &nats,
        &[
            ("SWITCHYARD_CALLBACK_ATTEMPTS", "1"),
            ("SWITCHYARD_CALLBACK_DENY", "127.0.0.0/8,::1/128"),
        ],
    );
    let api = switchyard.api();
    api.deploy_ready("echo", "cat", json!({})).await;
    let receiver = common::CallbackServer::start().await;
    let accepted = api
        .enqueue("echo")
        .header(
            "X-Callback-Url",
            format!("http://localhost:{}/done", receiver.port),
        )
        .body("x")
        .send()
        .await
        .expect("answers");
    assert_eq!(
        accepted.status(),
        202,
        "a name is checked when it is resolved"
    );
    let call_id = accepted.headers()["x-call-id"]
        .to_str()
        .expect("call id")
        .to_string();
    let job = wait_callback_outcome(&api, &call_id).await;
    assert_eq!(job["callback"]["status"], "failed", "{job}");
    let error = job["callback"]["lastError"].as_str().unwrap_or_default();
    assert!(error.contains("denied network"), "{error}");
    assert!(receiver.received().is_empty());
}

/// Waits until the job's callback has an outcome other than pending.
async fn wait_callback_outcome(api: &common::Api, call_id: &str) -> serde_json::Value {
    common::eventually(WAIT, "the callback outcome", || async {
        let job = api.job(call_id).await;
        job["callback"]["status"] == "failed" || job["callback"]["status"] == "delivered"
    })
    .await;
    api.job(call_id).await
}

/// A real HTTP server answering every request with a 307 to `location`; returns its URL.
async fn redirect_to(location: &str) -> String {
    let location = location.to_string();
    let app = axum::Router::new().fallback(move || {
        let location = location.clone();
        async move {
            (
                axum::http::StatusCode::TEMPORARY_REDIRECT,
                [("location", location)],
            )
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let url = format!("http://{}/hook", listener.local_addr().expect("address"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

/// Finding 3: a client that sent headers and part of a body, then stalled, kept `up` from
/// exiting on SIGTERM; there were no header, body or idle timeouts.
#[tokio::test]
async fn stalled_clients_get_408_and_cannot_hold_up_shutdown() {
    use std::io::{Read, Write};
    let nats = Nats::start();
    let mut switchyard = Switchyard::up_with(
        &nats,
        &[
            ("SWITCHYARD_BODY_TIMEOUT", "1s"),
            ("SWITCHYARD_SHUTDOWN_TIMEOUT", "2s"),
        ],
    );
    let api = switchyard.api();
    api.deploy_ready("echo", "cat", json!({})).await;
    let partial_request =
        "POST /function/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nonly ten b";

    // A body that stops coming is answered 408 after the body timeout.
    let mut stalled = std::net::TcpStream::connect(switchyard.address).expect("connects");
    stalled
        .write_all(partial_request.as_bytes())
        .expect("writes");
    stalled
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut answer = [0u8; 64];
    let read = stalled.read(&mut answer).expect("an answer before 10 s");
    let answer = String::from_utf8_lossy(&answer[..read]);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");

    // A client stalled in its headers does not keep the process from exiting.
    let mut holding = std::net::TcpStream::connect(switchyard.address).expect("connects");
    holding
        .write_all(b"POST /function/echo HTTP/1.1\r\nHost: x\r\n")
        .expect("writes");
    let mut stalled_body = std::net::TcpStream::connect(switchyard.address).expect("connects");
    stalled_body
        .write_all(partial_request.as_bytes())
        .expect("writes");
    let asked = std::time::Instant::now();
    let status = switchyard.stop(Duration::from_secs(15));
    let took = asked.elapsed();
    assert!(
        status.is_some_and(|s| s.success()),
        "exited cleanly: {status:?}"
    );
    assert!(took < Duration::from_secs(8), "took {took:?} to exit");
    drop((holding, stalled_body));
}

/// Finding 6: the work queue, callbacks, dead letters and job records had no size limits, so
/// unauthenticated async calls filled the disk. A full queue now refuses with 503 and
/// `Retry-After`, and every job that got a 202 still runs.
#[tokio::test]
async fn a_full_work_queue_refuses_new_work_and_loses_none_it_accepted() {
    let nats = Nats::start();
    let url = nats.url();
    let env = [
        ("SWITCHYARD_NATS_URL", url.as_str()),
        ("SWITCHYARD_QUEUE_MAX_BYTES", "65536"),
    ];
    let gateway = Switchyard::start("gateway", &env);
    let _provider = Switchyard::start("provider", &env);
    let api = gateway.api();
    api.deploy_ready("echo", "cat", json!({})).await;

    // No dispatcher yet: everything accepted stays queued.
    let body = "x".repeat(2048);
    let mut accepted = Vec::new();
    let mut refused = None;
    for _ in 0..200 {
        let response = api
            .enqueue("echo")
            .body(body.clone())
            .send()
            .await
            .expect("answers");
        match response.status().as_u16() {
            202 => accepted.push(
                response.headers()["x-call-id"]
                    .to_str()
                    .expect("call id")
                    .to_string(),
            ),
            503 => {
                refused = Some(response);
                break;
            }
            other => panic!("unexpected {other}"),
        }
    }
    let refused = refused.expect("the queue filled up within 200 jobs of 2 KiB");
    assert!(refused.headers().contains_key("retry-after"));
    assert!(refused
        .text()
        .await
        .expect("body")
        .contains("SWITCHYARD_QUEUE_MAX_BYTES"));
    assert!(accepted.len() >= 10, "only {} accepted", accepted.len());

    let _dispatcher = Switchyard::start("dispatcher", &env);
    for call_id in &accepted {
        api.wait_job(call_id, "succeeded", WAIT).await;
    }
    let listed = api
        .admin_json("/system/jobs?function=echo&status=succeeded&limit=1000")
        .await;
    assert_eq!(listed.as_array().map(Vec::len), Some(accepted.len()));
}

/// Finding 12: values that overflowed or panicked. An out-of-range setting stops the process
/// at start, naming it; out-of-range API fields and annotations are 400s naming them.
#[tokio::test]
async fn out_of_range_values_are_refused_by_name() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .arg("dispatcher")
        .env("SWITCHYARD_ASYNC_ACK_WAIT", "0")
        .output()
        .expect("runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("SWITCHYARD_ASYNC_ACK_WAIT=0ms is out of range"),
        "{stderr}"
    );

    let nats = Nats::start();
    let switchyard = Switchyard::up(&nats);
    let api = switchyard.api();
    api.deploy_ready("f", "cat", json!({})).await;
    let subscription = api
        .admin(Method::POST, "/system/subscriptions")
        .json(
            &json!({"name": "s", "function": "f", "delivery": {"timeout": "PT3000000000000000H"}}),
        )
        .send()
        .await
        .expect("answers");
    refused(subscription, 400, "delivery.timeout").await;
    let deploy = api
        .deploy(json!({"service": "g", "envProcess": "cat", "labels": {"com.openfaas.scale.min": "1000000"}}))
        .await;
    refused(deploy, 400, "com.openfaas.scale.min").await;
}

/// Finding 5: deduplication by (source, id) across every ingress let a webhook producer
/// suppress another source's future event; webhooks were open unless configured.
#[tokio::test]
async fn events_are_scoped_to_the_source_that_took_them_in() {
    let nats = Nats::start();
    let switchyard = Switchyard::up(&nats);
    let api = switchyard.api();
    let dir = TempDir::new("hostile-ingress");
    let out = open_webhook(&api, &dir).await;
    let create = |body: serde_json::Value| {
        let request = api.admin(Method::POST, "/system/event-sources").json(&body);
        async move { request.send().await.expect("answers") }
    };
    // No authentication must be asked for.
    let implicit = create(json!({"name": "implicit", "kind": "webhook", "config": {}})).await;
    refused(implicit, 400, "config.auth").await;
    let second =
        create(json!({"name": "second", "kind": "webhook", "config": {"auth": {"none": true}}}))
            .await;
    assert_eq!(second.status(), 201);
    let picky = create(
        json!({"name": "picky", "kind": "webhook", "config": {"auth": {"none": true},
        "allowedSources": ["https://github.com/*"], "allowedTypes": ["test.github.*"]}}),
    )
    .await;
    assert_eq!(picky.status(), 201);

    let post = |source: &str, ce_source: &str, ty: &str, claimed_ingress: &str| {
        api.http
            .post(api.url(&format!("/webhook/{source}")))
            .header("ce-specversion", "1.0")
            .header("ce-id", "same-id")
            .header("ce-source", ce_source)
            .header("ce-type", ty)
            .header("ce-syingress", claimed_ingress)
            .body("x")
            .send()
    };
    // The same (source, id) through two ingresses is two events; a claimed ingress is replaced.
    for ingress in ["open", "second"] {
        let response = post(ingress, "https://vc.example/sdk", "test.vm", "vc1")
            .await
            .expect("answers");
        assert_eq!(response.status(), 202);
    }
    common::eventually(WAIT, "both deliveries", || async {
        deliveries(&out).len() == 2
    })
    .await;
    let mut ingresses: Vec<String> = deliveries(&out)
        .iter()
        .filter_map(|d| {
            d.lines()
                .find_map(|l| l.strip_prefix("Http_Ce_Syingress="))
                .map(str::to_string)
        })
        .collect();
    ingresses.sort();
    assert_eq!(ingresses, ["open", "second"]);

    // A source restricted to some sources and types refuses the others.
    let wrong_source = post("picky", "https://vc.example/sdk", "test.github.push", "")
        .await
        .expect("answers");
    refused(wrong_source, 403, "source").await;
    let wrong_type = post("picky", "https://github.com/o/r", "test.other", "")
        .await
        .expect("answers");
    assert_eq!(wrong_type.status(), 403);
    let right = post("picky", "https://github.com/o/r", "test.github.push", "")
        .await
        .expect("answers");
    assert_eq!(right.status(), 202);
}

/// Finding 4: routed events' job ids were an unkeyed hash anyone could compute and claim
/// first, and callers' keys were global across functions.
#[tokio::test]
async fn nobody_can_claim_a_routed_event_or_another_functions_call_id() {
    let nats = Nats::start();
    let switchyard = Switchyard::up(&nats);
    let api = switchyard.api();
    let dir = TempDir::new("hostile-ids");
    let out = open_webhook(&api, &dir).await;
    api.deploy_ready("other", "cat", json!({})).await;

    // The id the old scheme gave this event's job (consumer, source, id), claimed first.
    let old_id: String = {
        use sha2::{Digest, Sha256};
        Sha256::digest(b"sy-sub-all\0/producer\0ev-claimed")
            .iter()
            .take(16)
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    let claim = api
        .enqueue("sink")
        .header("X-Call-Id", &old_id)
        .body("claimed first")
        .send()
        .await
        .expect("answers");
    assert_eq!(claim.status(), 202);
    let posted = api
        .post_event(
            "open",
            ("/producer", "ev-claimed", "test.claimed"),
            "the real event",
        )
        .await;
    assert_eq!(posted.status(), 202);
    common::eventually(WAIT, "the event delivered despite the claim", || async {
        deliveries(&out)
            .iter()
            .any(|d| d.contains("Http_Ce_Id=ev-claimed"))
    })
    .await;

    // A caller's key is its function's: the same key on another function is another job (and
    // the first function's job stays its own), retried it is that same other job.
    let first = api
        .enqueue("sink")
        .header("X-Call-Id", "shared-key")
        .body("a")
        .send()
        .await
        .expect("answers");
    assert_eq!(first.status(), 202);
    api.wait_job("shared-key", "succeeded", WAIT).await;
    let second = || {
        api.enqueue("other")
            .header("X-Call-Id", "shared-key")
            .body("b")
            .send()
    };
    let answered = second().await.expect("answers");
    assert_eq!(answered.status(), 202);
    let scoped = answered.headers()["x-call-id"]
        .to_str()
        .expect("id")
        .to_string();
    assert_ne!(scoped, "shared-key", "another function's job keeps the key");
    let job = api.wait_job(&scoped, "succeeded", WAIT).await;
    assert_eq!(job["function"], "other");
    assert_eq!(api.job("shared-key").await["function"], "sink");
    let again = second().await.expect("answers");
    assert_eq!(
        again.headers()["x-call-id"].to_str().expect("id"),
        scoped,
        "the same job"
    );
}

/// Limits at every entry: too many or too large headers, and an over-long query, are refused
/// before anything else happens, and the gateway keeps serving.
#[tokio::test]
async fn oversized_requests_are_refused_with_the_limit() {
    let nats = Nats::start();
    let switchyard = Switchyard::up(&nats);
    let api = switchyard.api();
    api.deploy_ready("echo", "cat", json!({})).await;
    let mut many = api.http.post(api.url("/function/echo"));
    for i in 0..150 {
        many = many.header(format!("x-h{i}"), "v");
    }
    let many = many.body("x").send().await.expect("answers");
    assert_eq!(many.status(), 431);
    let huge = api
        .http
        .post(api.url("/function/echo"))
        .header("x-big", "v".repeat(100 * 1024))
        .body("x")
        .send()
        .await
        .expect("answers");
    assert_eq!(huge.status(), 431);
    let long_query = api
        .http
        .post(api.url(&format!("/function/echo?q={}", "a".repeat(9000))))
        .body("x")
        .send()
        .await
        .expect("answers");
    refused(long_query, 414, "8192").await;
    let fine = api.invoke("echo", "still serving").await;
    assert_eq!(fine.status(), 200);
}

/// Resident memory of a process, in KiB.
fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// 64 clients invoke a function while others send every kind of hostile input to every entry:
/// no invoke fails, every accepted async job completes, and `up` stays under 512 MiB.
#[tokio::test]
async fn invokes_keep_working_under_hostile_load() {
    use std::io::Write;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    const MEMORY_BOUND_KIB: u64 = 512 * 1024;
    let nats = Nats::start();
    let switchyard = Switchyard::up_with(&nats, &[("SWITCHYARD_BODY_TIMEOUT", "2s")]);
    let api = Arc::new(switchyard.api());
    let dir = TempDir::new("hostile-load");
    let _out = open_webhook(&api, &dir).await;
    api.deploy_ready("echo", "cat", json!({})).await;
    let redirector = redirect_to("http://127.0.0.1:9/elsewhere").await;
    let until = std::time::Instant::now() + Duration::from_secs(10);

    let (ok, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let mut clients = Vec::new();
    for _ in 0..64 {
        let (api, ok, failed) = (api.clone(), ok.clone(), failed.clone());
        clients.push(tokio::spawn(async move {
            while std::time::Instant::now() < until {
                let answer = api.invoke("echo", "steady").await;
                if answer.status() == 200 && answer.text().await.unwrap_or_default() == "steady" {
                    ok.fetch_add(1, Ordering::Relaxed);
                } else {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    let accepted = Arc::new(std::sync::Mutex::new(Vec::new()));
    let hostile = {
        let (api, accepted) = (api.clone(), accepted.clone());
        let address = switchyard.address;
        tokio::spawn(async move {
            let mut stalled = Vec::new();
            let mut round = 0;
            while std::time::Instant::now() < until {
                round += 1;
                let webhook = api.url("/webhook/open");
                let _ = api
                    .http
                    .post(&webhook)
                    .header("ce-specversion", "1.0")
                    .header("ce-id", "x")
                    .header("ce-source", "/x")
                    .header("ce-type", "t".repeat(2000))
                    .body("x")
                    .send()
                    .await;
                let _ = api
                    .http
                    .post(&webhook)
                    .header("content-type", "application/cloudevents+json")
                    .body("{not json")
                    .send()
                    .await;
                let _ = api
                    .http
                    .post(api.url("/function/echo"))
                    .header("x-big", "v".repeat(80 * 1024))
                    .body("x")
                    .send()
                    .await;
                let _ = api
                    .http
                    .get(api.url("/system/functions"))
                    .basic_auth("admin", Some("wrong"))
                    .send()
                    .await;
                let _ = api
                    .http
                    .post(api.url("/async-function/echo"))
                    .header("X-Callback-Url", "http://169.254.169.254/")
                    .body("x")
                    .send()
                    .await;
                if let Ok(response) = api
                    .http
                    .post(api.url("/async-function/echo"))
                    .header("X-Callback-Url", &redirector)
                    .body("job")
                    .send()
                    .await
                {
                    if response.status() == 202 {
                        if let Some(id) = response
                            .headers()
                            .get("x-call-id")
                            .and_then(|v| v.to_str().ok())
                        {
                            accepted.lock().expect("lock").push(id.to_string());
                        }
                    }
                }
                if round % 5 == 0 && stalled.len() < 32 {
                    if let Ok(mut stream) = std::net::TcpStream::connect(address) {
                        let _ = stream.write_all(b"POST /function/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\npart");
                        stalled.push(stream);
                    }
                }
            }
        })
    };
    let mut peak = 0;
    while std::time::Instant::now() < until {
        peak = peak.max(rss_kib(switchyard.pid()));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for client in clients {
        client.await.expect("client");
    }
    hostile.await.expect("hostile");
    let (ok, failed) = (ok.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    eprintln!("{ok} invokes, {failed} failed; peak RSS of up {peak} KiB");
    assert_eq!(
        failed, 0,
        "invokes failed under hostile load ({ok} succeeded)"
    );
    assert!(ok > 1000, "only {ok} invokes in 10 s");
    assert!(peak < MEMORY_BOUND_KIB, "peak RSS {peak} KiB");
    let accepted = accepted.lock().expect("lock").clone();
    assert!(!accepted.is_empty());
    for call_id in &accepted {
        api.wait_job(call_id, "succeeded", WAIT).await;
    }
}

/// The input limits are settings: a smaller `type` bound is applied, and named.
#[tokio::test]
async fn input_limits_are_settings() {
    let nats = Nats::start();
    let switchyard = Switchyard::up_with(
        &nats,
        &[
            ("SWITCHYARD_EVENT_TYPE_MAX_BYTES", "16"),
            ("SWITCHYARD_MAX_QUERY_BYTES", "10"),
        ],
    );
    let api = switchyard.api();
    let dir = TempDir::new("hostile-settings");
    let _out = open_webhook(&api, &dir).await;
    let posted = api
        .post_event("open", ("/s", "1", "test.seventeen.xx"), "x")
        .await;
    refused(posted, 400, "the limit is 16").await;
    let query = api
        .http
        .post(api.url("/function/sink?q=eleven-byte"))
        .body("x")
        .send()
        .await
        .expect("answers");
    assert_eq!(query.status(), 414);
}

/// Finding 4, cancelling: a job whose id the caller chose may be known to others, so only the
/// admin cancels it; an id Switchyard generated is known only to whoever queued the job.
#[tokio::test]
async fn only_the_creator_or_the_admin_cancels_a_job() {
    let nats = Nats::start();
    let url = nats.url();
    let env = [("SWITCHYARD_NATS_URL", url.as_str())];
    // No dispatcher: the jobs stay queued.
    let gateway = Switchyard::start("gateway", &env);
    let _provider = Switchyard::start("provider", &env);
    let api = gateway.api();
    api.deploy_ready("echo", "cat", json!({})).await;
    let queue = |chosen: Option<&str>| {
        let mut request = api.enqueue("echo").body("x");
        if let Some(id) = chosen {
            request = request.header("X-Call-Id", id);
        }
        async move {
            let response = request.send().await.expect("answers");
            assert_eq!(response.status(), 202);
            response.headers()["x-call-id"]
                .to_str()
                .expect("call id")
                .to_string()
        }
    };
    let chosen = queue(Some("guessable-1")).await;
    let by_stranger = api
        .http
        .delete(api.url(&format!("/async-function/{chosen}")))
        .send()
        .await
        .expect("answers");
    refused(by_stranger, 401, "basic auth").await;
    assert_eq!(api.job(&chosen).await["status"], "queued");
    let by_admin = api
        .admin(Method::DELETE, &format!("/async-function/{chosen}"))
        .send()
        .await
        .expect("answers");
    assert_eq!(by_admin.status(), 202);

    let generated = queue(None).await;
    let by_creator = api
        .http
        .delete(api.url(&format!("/async-function/{generated}")))
        .send()
        .await
        .expect("answers");
    assert_eq!(by_creator.status(), 202);
    assert_eq!(api.job(&generated).await["status"], "cancelled");
}
