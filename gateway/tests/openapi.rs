//! The OpenAPI document: valid OpenAPI 3 (checked by openapi-spec-validator, a real validator),
//! and exactly the router's routes: every documented operation is served, every other method on
//! a documented path is 405, and paths it does not name are 404.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use axum::Router;
use serde_json::Value;
use switchyard_broker::testing::NatsServer;
use switchyard_gateway::{app, openapi, GatewayConfig};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

const AUTH: &str = "Basic YWRtaW46c2VjcmV0"; // admin:secret
const METHODS: [&str; 7] = ["get", "post", "put", "delete", "patch", "head", "options"];

fn document() -> Value {
    serde_json::to_value(openapi()).expect("serializes")
}

#[test]
fn the_document_validates_as_openapi_3() {
    let validator = std::env::var("SWITCHYARD_OPENAPI_VALIDATOR").unwrap_or_else(|_| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../.venv/bin/openapi-spec-validator"
        )
        .to_string()
    });
    let path = std::env::temp_dir().join(format!("sy-openapi-{}.json", std::process::id()));
    std::fs::write(&path, serde_json::to_vec_pretty(&document()).expect("json")).expect("write");
    let output = std::process::Command::new(&validator)
        .arg(&path)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run {validator} ({e}): run ./scripts/test, which installs it")
        });
    let _ = std::fs::remove_file(&path);
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let doc = document();
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")));
}

#[test]
fn guarded_routes_say_so_and_schemas_are_named() {
    let doc = document();
    let create = &doc["paths"]["/system/functions"]["post"];
    assert_eq!(create["security"][0]["basic"], serde_json::json!([]));
    assert!(create["responses"]["401"].is_object());
    assert_eq!(
        create["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/FunctionDeployment"
    );
    assert!(doc["paths"]["/function/{name}"]["post"]["security"]
        .as_array()
        .is_some_and(|s| s
            .iter()
            .all(|r| r.as_object().is_some_and(|o| o.is_empty()))));
    for schema in [
        "FunctionStatus",
        "JobRecord",
        "Subscription",
        "Filter",
        "EventSource",
        "SecretName",
    ] {
        assert!(doc["components"]["schemas"][schema].is_object(), "{schema}");
    }
}

/// A concrete URI for a documented path.
fn concrete(path: &str) -> String {
    path.replace("{name}", "nothing-here")
        .replace("{call_id}", "no-such-call")
        .replace("{id}", "1")
        .replace("{path}", "a/b")
        .replace("{file}", "app.js")
}

async fn status_of(router: &Router, method: &str, uri: &str) -> (StatusCode, bool) {
    let request = Request::builder()
        .method(Method::from_bytes(method.to_uppercase().as_bytes()).expect("method"))
        .uri(uri)
        .header("authorization", AUTH)
        .body(Body::empty())
        .expect("request");
    let response = router.clone().oneshot(request).await.expect("answers");
    // Our own answers carry this header; axum's "no such route" does not.
    let ours = response.headers().contains_key("x-openfaas-internal");
    (response.status(), ours)
}

#[tokio::test]
async fn every_documented_route_is_served_and_nothing_else() {
    let nats = NatsServer::start();
    let client = async_nats::connect(nats.url()).await.expect("connects");
    let router = app(
        GatewayConfig::new("admin", "secret"),
        client,
        &prometheus::Registry::new(),
        CancellationToken::new(),
    )
    .await
    .expect("the app builds");
    let doc = document();
    let paths = doc["paths"].as_object().expect("paths");
    assert!(paths.len() >= 30, "{} paths", paths.len());
    for (path, item) in paths {
        let uri = concrete(path);
        for method in METHODS {
            // HEAD is served wherever GET is (HTTP's rule, and axum's).
            if method == "head" && item.get("get").is_some() {
                continue;
            }
            let (status, ours) = status_of(&router, method, &uri).await;
            if item.get(method).is_some() {
                let unrouted = status == StatusCode::METHOD_NOT_ALLOWED
                    || (status == StatusCode::NOT_FOUND && !ours);
                assert!(
                    !unrouted,
                    "{method} {path} is documented but not served ({status})"
                );
            } else {
                assert_eq!(
                    status,
                    StatusCode::METHOD_NOT_ALLOWED,
                    "{method} {path} is served but not documented"
                );
            }
        }
    }
    for path in [
        "/system/nothing",
        "/system",
        "/functions/x",
        "/ui/nothing/here/at/all",
    ] {
        let (status, ours) = status_of(&router, "get", path).await;
        assert!(
            status == StatusCode::NOT_FOUND && !ours,
            "GET {path}: {status}"
        );
    }
}
