//! The OpenFaaS function API against a real nats-server: what faas-cli and curl users rely on.

mod common;

use common::{Api, Nats, Switchyard};
use reqwest::Method;
use serde_json::{json, Value};

#[tokio::test]
async fn deploy_list_describe_update_remove() {
    let nats = Nats::start();
    let switchyard = Switchyard::up(&nats);
    let api = switchyard.api();

    // faas-cli deploy: PUT first, POST on 404.
    let body = json!({ "service": "echo", "image": "ignored", "envProcess": "cat", "labels": {}, "annotations": {} });
    let put = api
        .admin(Method::PUT, "/system/functions")
        .json(&body)
        .send()
        .await
        .expect("answers");
    assert_eq!(put.status(), 404);
    assert_eq!(api.deploy(body.clone()).await.status(), 202);
    let again = api.deploy(body.clone()).await;
    assert_eq!(again.status(), 409);
    assert!(again.text().await.expect("body").contains("already exists"));

    api.wait_available("echo", 1).await;
    let list: Vec<Value> = api
        .admin(Method::GET, "/system/functions")
        .send()
        .await
        .expect("answers")
        .json()
        .await
        .expect("json");
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["name"], "echo");
    assert_eq!(list[0]["namespace"], "openfaas-fn");
    assert_eq!(list[0]["envProcess"], "cat");
    assert_eq!(list[0]["replicas"], 1);
    assert!(list[0]["createdAt"].is_string());

    // faas-cli describe NAME uses ?usage=1; faas-cli invoke appends the namespace.
    let status: Value = api
        .admin(Method::GET, "/system/function/echo?usage=1")
        .send()
        .await
        .expect("answers")
        .json()
        .await
        .expect("json");
    assert_eq!(status["availableReplicas"], 1);
    assert_eq!(
        api.invoke("echo.openfaas-fn", "hi")
            .await
            .text()
            .await
            .expect("body"),
        "hi"
    );

    let update = json!({ "service": "echo", "image": "ignored", "envProcess": "wc -c" });
    let put = api
        .admin(Method::PUT, "/system/functions")
        .json(&update)
        .send()
        .await
        .expect("answers");
    assert_eq!(put.status(), 202);
    common::eventually(
        std::time::Duration::from_secs(20),
        "the updated function to answer",
        || async {
            api.invoke("echo", "four")
                .await
                .text()
                .await
                .unwrap_or_default()
                .trim()
                == "4"
        },
    )
    .await;

    let remove = api
        .admin(Method::DELETE, "/system/functions")
        .json(&json!({ "functionName": "echo" }))
        .send()
        .await
        .expect("answers");
    assert_eq!(remove.status(), 202);
    assert!(api.status("echo").await.is_none());
    let remove = api
        .admin(Method::DELETE, "/system/functions")
        .json(&json!({ "functionName": "echo" }))
        .send()
        .await
        .expect("answers");
    assert_eq!(remove.status(), 404);
    assert_eq!(api.invoke("echo", "x").await.status(), 404);
}

#[tokio::test]
async fn system_routes_need_basic_auth() {
    let nats = Nats::start();
    let switchyard = Switchyard::up(&nats);
    let api = switchyard.api();
    let anonymous = api
        .http
        .get(api.url("/system/functions"))
        .send()
        .await
        .expect("answers");
    assert_eq!(anonymous.status(), 401);
    assert_eq!(
        anonymous.headers()["www-authenticate"],
        "Basic realm=\"Restricted\""
    );
    // What faas-cli sends when not logged in.
    let empty_bearer = api
        .http
        .get(api.url("/system/functions"))
        .header("Authorization", "Bearer ")
        .send()
        .await
        .expect("answers");
    assert_eq!(empty_bearer.status(), 401);
    let wrong = api
        .http
        .get(api.url("/system/functions"))
        .basic_auth("admin", Some("wrong"))
        .send()
        .await
        .expect("answers");
    assert_eq!(wrong.status(), 401);
    let right = api
        .admin(Method::GET, "/system/functions")
        .send()
        .await
        .expect("answers");
    assert_eq!(right.status(), 200);
    // Invoke, health and metrics stay open.
    assert_eq!(
        api.http
            .get(api.url("/healthz"))
            .send()
            .await
            .expect("answers")
            .status(),
        200
    );
    assert_eq!(
        api.http
            .get(api.url("/metrics"))
            .send()
            .await
            .expect("answers")
            .status(),
        200
    );
}

#[tokio::test]
async fn bad_deployments_get_400_saying_what_is_wrong() {
    let nats = Nats::start();
    let switchyard = Switchyard::up(&nats);
    let api = switchyard.api();
    let cases = [
        (
            json!({ "service": "has.dot", "envProcess": "cat" }),
            "invalid function name `has.dot`",
        ),
        (
            json!({ "service": "", "envProcess": "cat" }),
            "invalid function name",
        ),
        (json!({ "service": "ok" }), "envProcess is required"),
        (
            json!({ "service": "ok", "envProcess": "no-such-program-here" }),
            "program `no-such-program-here` not found",
        ),
        (
            json!({ "service": "ok", "envProcess": "cat", "namespace": "other" }),
            "namespace `other` does not exist",
        ),
        (json!({ "image": "x" }), "missing field `service`"),
        (
            json!({ "service": "ok", "envProcess": "cat", "envVars": "not-a-map" }),
            "invalid function deployment",
        ),
    ];
    for (body, message) in cases {
        let response = api.deploy(body.clone()).await;
        assert_eq!(response.status(), 400, "{body}");
        let text = response.text().await.expect("body");
        assert!(
            text.contains(message),
            "{body}: {text:?} should contain {message:?}"
        );
    }
    let not_json = api
        .admin(Method::POST, "/system/functions")
        .body("{")
        .send()
        .await
        .expect("answers");
    assert_eq!(not_json.status(), 400);
    // Nothing was half-created.
    let list: Vec<Value> = api
        .admin(Method::GET, "/system/functions")
        .send()
        .await
        .expect("answers")
        .json()
        .await
        .expect("json");
    assert!(list.is_empty(), "{list:?}");
}

#[tokio::test]
async fn scale_changes_running_replicas_within_bounds() {
    let nats = Nats::start();
    let switchyard = Switchyard::up(&nats);
    let api = switchyard.api();
    api.deploy_ready("echo", "cat", json!({})).await;
    assert_eq!(api.scale("echo", 3).await.status(), 202);
    api.wait_available("echo", 3).await;
    assert_eq!(common::children(switchyard.pid(), "watchdog").len(), 3);
    assert_eq!(api.scale("echo", 1).await.status(), 202);
    api.wait_available("echo", 1).await;
    common::eventually(
        std::time::Duration::from_secs(20),
        "surplus watchdogs to exit",
        || async { common::children(switchyard.pid(), "watchdog").len() == 1 },
    )
    .await;
    let too_many = api.scale("echo", 101).await;
    assert_eq!(too_many.status(), 400);
    assert!(too_many
        .text()
        .await
        .expect("body")
        .contains("replicas must be between 0 and 100"));
    assert_eq!(api.scale("missing", 1).await.status(), 404);
}

#[tokio::test]
async fn info_and_namespaces_have_openfaas_shapes() {
    let nats = Nats::start();
    let switchyard = Switchyard::up(&nats);
    let api: Api = switchyard.api();
    let info: Value = api
        .admin(Method::GET, "/system/info")
        .send()
        .await
        .expect("answers")
        .json()
        .await
        .expect("json");
    assert_eq!(info["provider"]["provider"], "switchyard");
    assert_eq!(info["provider"]["orchestration"], "process");
    assert!(info["version"]["release"].is_string());
    assert!(info["arch"].is_string());
    // The commit this was built from (the tests run in a git work tree), as faas-cli shows it.
    let head = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("git");
    let head = String::from_utf8_lossy(&head.stdout).trim().to_string();
    assert_eq!(head.len(), 40, "a git work tree");
    assert_eq!(info["version"]["sha"], head.as_str());
    assert_eq!(info["provider"]["version"]["sha"], head.as_str());
    let namespaces: Value = api
        .admin(Method::GET, "/system/namespaces")
        .send()
        .await
        .expect("answers")
        .json()
        .await
        .expect("json");
    assert_eq!(namespaces, json!(["openfaas-fn"]));
}
