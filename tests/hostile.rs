//! Hostile input, one test per finding of the hardening issue: each reproduces what an attacker
//! on the same network tried, against real processes, and asserts it no longer works.

mod common;

use std::time::Duration;

use common::{deliveries, recorder, Nats, Switchyard, TempDir};
use reqwest::Method;
use serde_json::json;

const WAIT: Duration = Duration::from_secs(30);

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
        .admin(Method::POST, "/system/event-sources")
        .json(&json!({"name": "open", "kind": "webhook", "config": {}}))
        .send()
        .await
        .expect("answers");
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
        .admin(Method::POST, "/system/event-sources")
        .json(&json!({"name": "guarded", "kind": "webhook",
            "config": {"auth": {"token": "s3cret"}, "rateLimit": "3/m"}}))
        .send()
        .await
        .expect("answers");
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
