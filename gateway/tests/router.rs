//! The gateway's router called in-process, without a socket, against a real nats-server.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use futures::StreamExt;
use http_body_util::BodyExt;
use serde_json::json;
use switchyard_broker::provider::PrepareReply;
use switchyard_broker::subjects;
use switchyard_broker::testing::NatsServer;
use switchyard_gateway::{app, GatewayConfig};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

const AUTH: &str = "Basic YWRtaW46c2VjcmV0"; // admin:secret

async fn router(nats: &NatsServer) -> (Router, async_nats::Client) {
    let client = async_nats::connect(nats.url()).await.expect("connects");
    let metrics = prometheus::Registry::new();
    let router = app(
        GatewayConfig::new("admin", "secret"),
        client.clone(),
        &metrics,
        CancellationToken::new(),
    )
    .await
    .expect("the app builds");
    (router, client)
}

async fn call(router: &Router, request: Request<Body>) -> (StatusCode, String) {
    let response = router.clone().oneshot(request).await.expect("answers");
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

fn admin(method: &str, uri: &str, body: &str) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(uri)
        .header("authorization", AUTH)
        .body(Body::from(body.to_string()))
        .expect("request")
}

/// Answers prepare requests as the provider contract says: refuses `envProcess: "refuse-me"`.
async fn answer_prepares(client: async_nats::Client) {
    let mut requests = client
        .subscribe(subjects::PROVIDER_PREPARE)
        .await
        .expect("subscribes");
    client.flush().await.expect("flushes");
    tokio::spawn(async move {
        while let Some(request) = requests.next().await {
            let deployment: serde_json::Value =
                serde_json::from_slice(&request.payload).unwrap_or_default();
            let refused = (deployment["envProcess"] == "refuse-me")
                .then(|| "envProcess `refuse-me`: program not found".to_string());
            let answer = serde_json::to_vec(&PrepareReply { refused }).expect("json");
            if let Some(reply) = request.reply {
                let _ = client.publish(reply, answer.into()).await;
            }
        }
    });
}

#[tokio::test]
async fn system_routes_need_credentials() {
    let nats = NatsServer::start();
    let (router, _) = router(&nats).await;
    let request = Request::get("/system/functions")
        .body(Body::empty())
        .expect("request");
    let response = router.clone().oneshot(request).await.expect("answers");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response.headers()["www-authenticate"]
        .to_str()
        .unwrap_or_default()
        .starts_with("Basic"));
    let (status, body) = call(&router, admin("GET", "/system/functions", "")).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "[]"));
    let (status, _) = call(&router, admin("GET", "/healthz", "")).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn deployments_are_checked_here_and_by_the_provider() {
    let nats = NatsServer::start();
    let (router, client) = router(&nats).await;
    answer_prepares(client).await;

    let (status, body) = call(&router, admin("POST", "/system/functions", "{")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("invalid function deployment"), "{body}");
    let (status, body) = call(
        &router,
        admin(
            "POST",
            "/system/functions",
            r#"{"service":"bad.name","envProcess":"cat"}"#,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("bad.name"), "{body}");
    let (status, body) = call(
        &router,
        admin(
            "POST",
            "/system/functions",
            r#"{"service":"f","envProcess":"refuse-me"}"#,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("program not found"), "{body}");

    // Finding 10 of the hardening issue: a secret name was joined to a host path unchecked.
    for secret in ["/var/run/docker.sock", "../"] {
        let body = json!({"service": "f", "envProcess": "cat", "secrets": [secret]}).to_string();
        let (status, text) = call(&router, admin("POST", "/system/functions", &body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(text.contains("secret name"), "{text}");
    }

    let deploy = r#"{"service":"echo","envProcess":"cat"}"#;
    let (status, _) = call(&router, admin("POST", "/system/functions", deploy)).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (status, body) = call(&router, admin("GET", "/system/function/echo", "")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let status_json: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(status_json["replicas"], 1);
    let (status, body) = call(&router, admin("POST", "/system/functions", deploy)).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(body.contains("already exists"), "{body}");
}

#[tokio::test]
async fn unknown_functions_and_jobs_are_named_in_404s() {
    let nats = NatsServer::start();
    let (router, _) = router(&nats).await;
    let request = Request::post("/function/missing")
        .body(Body::from("x"))
        .expect("request");
    let response = tokio::time::timeout(Duration::from_secs(10), router.clone().oneshot(request))
        .await
        .expect("in time")
        .expect("answers");
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(response.headers()["x-openfaas-internal"], "switchyard");
    let (status, body) = call(&router, admin("DELETE", "/async-function/no-such-job", "")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.contains("no-such-job"), "{body}");
    let (status, _) = call(&router, admin("DELETE", "/async-function/bad.id", "")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

/// Prometheus's HTTP service discovery: every watchdog Switchyard runs, in any namespace, and
/// no external function's address (a tenant's choice, not a watchdog).
#[tokio::test]
async fn metrics_targets_list_watchdogs_for_prometheus() {
    use switchyard_broker::buckets;
    use switchyard_broker::records::Endpoint;
    let nats = NatsServer::start();
    let (router, client) = router(&nats).await;
    let endpoints = buckets::endpoints(&async_nats::jetstream::new(client))
        .await
        .expect("bucket");
    for (function, replica, url) in [
        ("echo", "c1", "http://172.18.0.5:8080"),
        ("echo.team-a", "s2", "http://10.0.0.7:30001"),
        ("remote", "x0", "http://metadata.example/function/remote"),
    ] {
        let endpoint = Endpoint {
            function: function.into(),
            replica: replica.into(),
            url: url.into(),
            heartbeat: chrono::Utc::now(),
            token: Some("secret-token".into()),
        };
        let json = serde_json::to_vec(&endpoint).expect("json");
        endpoints
            .put(endpoint.key(), json.into())
            .await
            .expect("put");
    }
    let expected = json!([
        {"targets": ["172.18.0.5:8080"],
         "labels": {"function_name": "echo.openfaas-fn", "namespace": "openfaas-fn", "replica": "c1"}},
        {"targets": ["10.0.0.7:30001"],
         "labels": {"function_name": "echo.team-a", "namespace": "team-a", "replica": "s2"}},
    ]);
    let mut last = String::new();
    for _ in 0..100 {
        let (status, body) = call(&router, admin("GET", "/system/metrics-targets", "")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        if serde_json::from_str::<serde_json::Value>(&body).ok() == Some(expected.clone()) {
            assert!(!body.contains("secret-token"));
            return;
        }
        last = body;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("targets: {last}");
}
