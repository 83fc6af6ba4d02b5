//! The webhook ingester end to end: real HTTP producers posting to a real Switchyard, events
//! reaching real functions through subscriptions.
//!
//! Over 400 lines on purpose: one file holds every end-to-end scenario of one path, so that
//! its set-up and helpers are read once; each test is one scenario.

mod common;

use std::time::Duration;

use common::{deliveries, recorder, Nats, Switchyard, TempDir};
use reqwest::Method;
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(30);

async fn create_source(api: &common::Api, body: Value) -> reqwest::Response {
    api.create_source(body).await
}

async fn setup(nats: &Nats) -> (Switchyard, TempDir, std::path::PathBuf) {
    let switchyard = Switchyard::up_with(nats, &[("SWITCHYARD_MAX_BODY_BYTES", "65536")]);
    let api = switchyard.api();
    let dir = TempDir::new("webhook");
    let out = dir.0.join("out");
    api.deploy_ready("sink", &recorder(&dir.0, &out), json!({}))
        .await;
    let sub = json!({"name": "all-hooks", "function": "sink", "filters": [{"prefix": {"type": "test."}}]});
    let response = api
        .admin(Method::POST, "/system/subscriptions")
        .json(&sub)
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), 201);
    (switchyard, dir, out)
}

#[tokio::test]
async fn binary_structured_and_batch_posts_reach_the_function_intact() {
    let nats = Nats::start();
    let (switchyard, _dir, out) = setup(&nats).await;
    let api = switchyard.api();
    assert_eq!(
        create_source(
            &api,
            json!({"name": "open", "kind": "webhook", "config": {"auth": {"none": true}}})
        )
        .await
        .status(),
        201
    );
    let url = api.url("/webhook/open");

    let binary = api
        .http
        .post(&url)
        .header("ce-specversion", "1.0")
        .header("ce-id", "b-1")
        .header("ce-source", "/producer")
        .header("ce-type", "test.binary")
        .header("ce-subject", "Gr%C3%B6%C3%9Fe%20100%25")
        .header("ce-traceparent", "00-abc-01")
        .header("content-type", "application/octet-stream")
        .body(vec![0u8, 255, 1, 128])
        .send()
        .await
        .expect("answers");
    assert_eq!(binary.status(), 202);
    let structured = api
        .http
        .post(&url)
        .header("content-type", "application/cloudevents+json")
        .body(json!({"specversion": "1.0", "id": "s-1", "source": "/producer", "type": "test.structured", "subject": "ünï", "datacontenttype": "application/json", "data": {"k": 1}}).to_string())
        .send()
        .await
        .expect("answers");
    assert_eq!(structured.status(), 202);
    let batch = api
        .http
        .post(&url)
        .header("content-type", "application/cloudevents-batch+json")
        .body(json!([
            {"specversion": "1.0", "id": "batch-1", "source": "/producer", "type": "test.batch"},
            {"specversion": "1.0", "id": "batch-2", "source": "/producer", "type": "test.batch", "data_base64": "AAE="}
        ]).to_string())
        .send()
        .await
        .expect("answers");
    assert_eq!(batch.status(), 202);

    common::eventually(WAIT, "four deliveries", || async {
        deliveries(&out).len() == 4
    })
    .await;
    let all = deliveries(&out);
    let find = |id: &str| {
        all.iter()
            .find(|d| d.contains(&format!("Http_Ce_Id={id}\n")))
            .cloned()
            .unwrap_or_else(|| panic!("{id} not delivered: {all:?}"))
    };
    let b = find("b-1");
    for expected in [
        "Http_Ce_Subject=Gr%C3%B6%C3%9Fe%20100%25",
        "Http_Ce_Traceparent=00-abc-01",
        "Http_Content_Type=application/octet-stream",
        "body=00ff0180",
    ] {
        assert!(
            b.lines().any(|l| l == expected),
            "{expected} missing from {b}"
        );
    }
    let s = find("s-1");
    assert!(s.contains("Http_Ce_Subject=%C3%BCn%C3%AF"), "{s}");
    assert!(s.contains("Http_Content_Type=application/json"), "{s}");
    assert!(s.contains("body=7b226b223a317d"), "{s}"); // {"k":1}
    assert!(find("batch-2").contains("body=0001"));
    find("batch-1");
}

#[tokio::test]
async fn plain_payloads_are_wrapped_and_sources_authenticate_and_limit() {
    let nats = Nats::start();
    let (switchyard, _dir, out) = setup(&nats).await;
    let api = switchyard.api();
    let github = json!({"name": "github", "kind": "webhook", "config": {
        "auth": {"hmacSecret": "It's a Secret to Everybody"}, "type": "test.github", "typeFromHeader": "X-GitHub-Event"}});
    let created = create_source(&api, github).await;
    assert_eq!(created.status(), 201);
    let shown: Value = api
        .admin(Method::GET, "/system/event-sources/github")
        .send()
        .await
        .expect("answers")
        .json()
        .await
        .expect("json");
    assert!(
        !shown.to_string().contains("Secret to Everybody"),
        "credentials leaked: {shown}"
    );
    assert_eq!(shown["status"]["state"], "running");
    assert_eq!(shown["config"]["typeFromHeader"], "X-GitHub-Event");

    // GitHub's documented signature of "Hello, World!" with this secret.
    let signature = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
    let url = api.url("/webhook/github");
    let signed = api
        .http
        .post(&url)
        .header("X-Hub-Signature-256", signature)
        .header("X-GitHub-Event", "push")
        .header("content-type", "text/plain")
        .body("Hello, World!")
        .send()
        .await
        .expect("answers");
    assert_eq!(signed.status(), 202);
    let forged = api
        .http
        .post(&url)
        .header("X-Hub-Signature-256", signature)
        .body("Hello, World?")
        .send()
        .await
        .expect("answers");
    assert_eq!(forged.status(), 401);
    let unsigned = api
        .http
        .post(&url)
        .body("Hello, World!")
        .send()
        .await
        .expect("answers");
    assert_eq!(unsigned.status(), 401);
    common::eventually(WAIT, "the wrapped push event", || async {
        deliveries(&out).len() == 1
    })
    .await;
    let push = &deliveries(&out)[0];
    for expected in [
        "Http_Ce_Type=test.github.push",
        "Http_Ce_Source=/webhook/github",
        "Http_Content_Type=text/plain",
    ] {
        assert!(
            push.lines().any(|l| l == expected),
            "{expected} missing from {push}"
        );
    }

    assert_eq!(
        create_source(
            &api,
            json!({"name": "tok", "kind": "webhook", "config": {"auth": {"token": "t0k"}}})
        )
        .await
        .status(),
        201
    );
    let no_token = api
        .http
        .post(api.url("/webhook/tok"))
        .body("x")
        .send()
        .await
        .expect("answers");
    assert_eq!(no_token.status(), 401);
    let token = api
        .http
        .post(api.url("/webhook/tok"))
        .bearer_auth("t0k")
        .body("x")
        .send()
        .await
        .expect("answers");
    assert_eq!(token.status(), 202);
    assert_eq!(create_source(&api, json!({"name": "basic", "kind": "webhook", "config": {"auth": {"basic": {"username": "u", "password": "p"}}}})).await.status(), 201);
    let wrong = api
        .http
        .post(api.url("/webhook/basic"))
        .basic_auth("u", Some("x"))
        .body("x")
        .send()
        .await
        .expect("answers");
    assert_eq!(wrong.status(), 401);

    assert_eq!(
        create_source(
            &api,
            json!({"name": "slow", "kind": "webhook", "config": {"auth": {"none": true}, "rateLimit": "2/m"}})
        )
        .await
        .status(),
        201
    );
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let response = api
            .http
            .post(api.url("/webhook/slow"))
            .body("x")
            .send()
            .await
            .expect("answers");
        statuses.push((
            response.status().as_u16(),
            response.headers().get("retry-after").is_some(),
        ));
    }
    assert_eq!(statuses, vec![(202, false), (202, false), (429, true)]);

    let oversize = api
        .http
        .post(api.url("/webhook/tok"))
        .bearer_auth("t0k")
        .body(vec![b'a'; 70_000])
        .send()
        .await
        .expect("answers");
    assert_eq!(oversize.status(), 413);
    let invalid = api
        .http
        .post(api.url("/webhook/tok"))
        .bearer_auth("t0k")
        .header("content-type", "application/cloudevents+json")
        .body(r#"{"specversion":"0.3","id":"1","source":"/s","type":"t"}"#)
        .send()
        .await
        .expect("answers");
    assert_eq!(invalid.status(), 400);
    assert!(invalid
        .text()
        .await
        .expect("body")
        .contains("unsupported specversion `0.3`"));
    assert_eq!(
        api.http
            .post(api.url("/webhook/nope"))
            .body("x")
            .send()
            .await
            .expect("answers")
            .status(),
        404
    );
    let bad_kind = create_source(
        &api,
        json!({"name": "vc", "kind": "carrier-pigeon", "config": {}}),
    )
    .await;
    assert_eq!(bad_kind.status(), 400);
}

#[tokio::test]
async fn the_same_event_posted_twice_is_delivered_once() {
    let nats = Nats::start();
    let (switchyard, _dir, out) = setup(&nats).await;
    let api = switchyard.api();
    assert_eq!(
        create_source(
            &api,
            json!({"name": "open", "kind": "webhook", "config": {"auth": {"none": true}}})
        )
        .await
        .status(),
        201
    );
    let event =
        json!({"specversion": "1.0", "id": "dup-1", "source": "/producer", "type": "test.dup"})
            .to_string();
    for _ in 0..2 {
        let response = api
            .http
            .post(api.url("/webhook/open"))
            .header("content-type", "application/cloudevents+json")
            .body(event.clone())
            .send()
            .await
            .expect("answers");
        assert_eq!(response.status(), 202);
    }
    common::eventually(WAIT, "the delivery", || async {
        deliveries(&out).len() == 1
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(deliveries(&out).len(), 1);
}

#[tokio::test]
async fn killing_the_router_mid_stream_skips_no_event_and_routes_none_twice() {
    let nats = Nats::start();
    let url = nats.url();
    let gateway = Switchyard::start("gateway", &[("SWITCHYARD_NATS_URL", &url)]);
    let _provider = Switchyard::start("provider", &[("SWITCHYARD_NATS_URL", &url)]);
    let ingester = Switchyard::start("source webhook", &[("SWITCHYARD_NATS_URL", &url)]);
    let dispatcher_env = [
        ("SWITCHYARD_NATS_URL", url.as_str()),
        ("SWITCHYARD_ASYNC_ACK_WAIT", "2s"),
    ];
    let mut dispatcher = Switchyard::start("dispatcher", &dispatcher_env);
    let api = gateway.api();
    let dir = TempDir::new("router-kill");
    let out = dir.0.join("out");
    api.deploy_ready("sink", &recorder(&dir.0, &out), json!({}))
        .await;
    let sub =
        json!({"name": "all", "function": "sink", "filters": [{"exact": {"type": "test.stream"}}]});
    assert_eq!(
        api.admin(Method::POST, "/system/subscriptions")
            .json(&sub)
            .send()
            .await
            .expect("answers")
            .status(),
        201
    );
    assert_eq!(
        create_source(
            &api,
            json!({"name": "feed", "kind": "webhook", "config": {"auth": {"none": true}}})
        )
        .await
        .status(),
        201
    );
    tokio::time::sleep(Duration::from_secs(1)).await;

    let hook = ingester.api().url("/webhook/feed");
    let total = 300;
    for i in 0..total {
        if i == total / 3 {
            // SAFETY: killing a process this test started.
            unsafe { libc::kill(dispatcher.pid() as i32, libc::SIGKILL) };
            let _ = dispatcher.stop(Duration::from_secs(5));
        }
        if i == total / 2 {
            dispatcher = Switchyard::start("dispatcher", &dispatcher_env);
        }
        let event = json!({"specversion": "1.0", "id": format!("e-{i}"), "source": "/feed", "type": "test.stream"});
        let response = api
            .http
            .post(&hook)
            .header("content-type", "application/cloudevents+json")
            .body(event.to_string())
            .send()
            .await
            .expect("answers");
        assert_eq!(response.status(), 202);
    }
    let delivered_ids = || {
        deliveries(&out)
            .iter()
            .filter_map(|d| {
                d.lines()
                    .find_map(|l| l.strip_prefix("Http_Ce_Id="))
                    .map(str::to_string)
            })
            .collect::<std::collections::HashSet<_>>()
    };
    common::eventually(Duration::from_secs(90), "every event delivered", || async {
        delivered_ids().len() == total
    })
    .await;
    // One job per event and subscription: the router never routed an event twice.
    common::eventually(Duration::from_secs(30), "300 job records", || async {
        let jobs: Vec<Value> = match api
            .admin(Method::GET, "/system/jobs?function=sink&limit=1000")
            .send()
            .await
        {
            Ok(r) => r.json().await.unwrap_or_default(),
            Err(_) => Vec::new(),
        };
        jobs.len() == total && jobs.iter().all(|j| j["status"] == "succeeded")
    })
    .await;
    let runs = deliveries(&out).len();
    assert!(runs >= total, "{runs} runs");
    // A job killed while its function ran is run again (at least once); finished jobs never
    // are, so duplicates are bounded by the jobs in flight (the default concurrency, 32).
    assert!(
        runs - total <= 32,
        "{} duplicate executions after one crash",
        runs - total
    );
}

#[tokio::test]
async fn an_update_keeps_the_credentials_it_leaves_out() {
    let nats = Nats::start();
    let switchyard = Switchyard::up(&nats);
    let api = switchyard.api();
    let created = create_source(
        &api,
        json!({"name": "orders", "kind": "webhook", "config": {"auth": {"token": "t0ken"}, "type": "com.example.a"}}),
    )
    .await;
    assert_eq!(created.status(), 201);
    // An editor cannot send the token back (it is never shown): leaving `auth` out keeps it.
    let updated = api
        .admin(reqwest::Method::PUT, "/system/event-sources/orders")
        .json(&json!({"name": "orders", "kind": "webhook", "config": {"type": "com.example.b"}}))
        .send()
        .await
        .expect("answers");
    assert_eq!(updated.status(), 200);
    let shown = updated.text().await.expect("body");
    assert!(
        shown.contains("com.example.b") && !shown.contains("t0ken"),
        "{shown}"
    );
    let post = |token: Option<&'static str>| {
        let mut request = reqwest::Client::new()
            .post(api.url("/webhook/orders"))
            .body("{}");
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    assert_eq!(post(None).await.expect("answers").status(), 401);
    common::eventually(
        Duration::from_secs(10),
        "the new type applies with the kept token",
        || async { post(Some("t0ken")).await.expect("answers").status() == 202 },
    )
    .await;
    // The kind cannot change; a name that differs from the path's is refused.
    for (body, says) in [
        (
            json!({"name": "orders", "kind": "vcenter", "config": {"url": "https://vc/sdk", "username": "u"}}),
            "kind",
        ),
        (
            json!({"name": "other", "kind": "webhook", "config": {}}),
            "differs",
        ),
    ] {
        let refused = api
            .admin(reqwest::Method::PUT, "/system/event-sources/orders")
            .json(&body)
            .send()
            .await
            .expect("answers");
        assert_eq!(refused.status(), 400);
        assert!(refused.text().await.expect("body").contains(says));
    }
}
