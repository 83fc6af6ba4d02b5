//! The dead letters API against `switchyard up`: a job that fails for good is listed with why,
//! shown with its invocation, redriven (alone or in bulk) once its function works, and purged.

mod common;

use std::time::Duration;

use common::{Nats, Switchyard, TempDir};
use reqwest::Method;
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(30);

#[tokio::test]
async fn dead_letters_are_listed_shown_redriven_and_purged() {
    let nats = Nats::start();
    let switchyard = Switchyard::up(&nats);
    let api = switchyard.api();
    let dir = TempDir::new("dead");
    let healed = api.deploy_failing_until_healed("flaky", &dir.0).await;
    let mut failed = Vec::new();
    for body in ["first", "second"] {
        let call_id = api.queue("flaky", body).await;
        api.wait_job(&call_id, "failed", WAIT).await;
        failed.push(call_id);
    }

    let listed = api.admin_json("/system/dead-letters?function=flaky").await;
    let listed = listed.as_array().expect("a list").clone();
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert_eq!(listed[0]["callId"], failed[1].as_str(), "newest first");
    assert_eq!(listed[0]["failure"]["reason"], "attempts exhausted");
    assert_eq!(listed[0]["failure"]["status"], 500);
    let id = listed[1]["id"].as_u64().expect("an id");
    let shown = api.admin_json(&format!("/system/dead-letters/{id}")).await;
    assert_eq!(shown["invocation"]["body"], "first");
    assert_eq!(shown["invocation"]["function"], "flaky");
    let attempts = shown["attempts"].as_array().expect("every attempt");
    assert_eq!(attempts.len(), 1, "{attempts:?}");
    assert_eq!(attempts[0]["number"], 1);
    assert_eq!(attempts[0]["statusCode"], 500);
    assert!(attempts[0]["endedAt"].is_string());

    // The function works again: one redriven alone, the rest in bulk.
    std::fs::write(&healed, "").expect("heal");
    let redriven: Value = api
        .admin(Method::POST, &format!("/system/dead-letters/{id}/redrive"))
        .send()
        .await
        .expect("answers")
        .json()
        .await
        .expect("json");
    let new_call = redriven["callId"]
        .as_str()
        .expect("a new call id")
        .to_string();
    assert_ne!(new_call, failed[0]);
    let job = api.wait_job(&new_call, "succeeded", WAIT).await;
    assert_eq!(job["function"], "flaky");
    let result = api
        .admin(Method::GET, &format!("/system/jobs/{new_call}/result"))
        .send()
        .await
        .expect("answers");
    assert_eq!(result.text().await.expect("body"), "first");
    let bulk: Value = api
        .admin(Method::POST, "/system/dead-letters/redrive?function=flaky")
        .send()
        .await
        .expect("answers")
        .json()
        .await
        .expect("json");
    let bulk = bulk["redriven"].as_array().expect("a list").clone();
    assert_eq!(
        bulk.len(),
        1,
        "the one already redriven is skipped: {bulk:?}"
    );
    api.wait_job(
        bulk[0]["callId"].as_str().expect("call id"),
        "succeeded",
        WAIT,
    )
    .await;
    let shown = api.admin_json(&format!("/system/dead-letters/{id}")).await;
    assert_eq!(shown["redrive"]["callId"], new_call.as_str());

    // Purged.
    let purged = api
        .admin(Method::DELETE, &format!("/system/dead-letters/{id}"))
        .send()
        .await
        .expect("answers");
    assert_eq!(purged.status(), 204);
    let gone = api
        .admin(Method::GET, &format!("/system/dead-letters/{id}"))
        .send()
        .await
        .expect("answers");
    assert_eq!(gone.status(), 404);
    let bad_limit = api
        .admin(Method::GET, "/system/dead-letters?limit=0")
        .send()
        .await
        .expect("answers");
    assert_eq!(bad_limit.status(), 400);
}
