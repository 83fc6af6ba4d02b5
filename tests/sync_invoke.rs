//! Synchronous invoke end to end: gateway → NATS request/reply → dispatcher → watchdog → process.

mod common;

use std::collections::HashSet;

use common::{Nats, Switchyard, TempDir};
use serde_json::json;

#[tokio::test]
async fn invoke_passes_body_path_query_headers_and_sets_call_headers() {
    let nats = Nats::start();
    let switchyard = Switchyard::up(&nats);
    let api = switchyard.api();
    api.deploy_ready("echo", "cat", json!({})).await;
    api.deploy_ready("wc", "wc -c", json!({})).await;
    api.deploy_ready("env", "env", json!({})).await;

    let response = api
        .http
        .post(api.url("/function/echo"))
        .header("X-Call-Id", "my-call-1")
        .body("hello")
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-call-id"], "my-call-1");
    assert!(response.headers()["x-start-time"]
        .to_str()
        .expect("ascii")
        .parse::<u128>()
        .is_ok());
    assert!(response.headers()["x-duration-seconds"]
        .to_str()
        .expect("ascii")
        .parse::<f64>()
        .is_ok());
    assert_eq!(response.text().await.expect("body"), "hello");

    let generated = api.invoke("wc", "hello world").await;
    assert!(uuid_like(
        generated.headers()["x-call-id"].to_str().expect("ascii")
    ));
    assert_eq!(generated.text().await.expect("body").trim(), "11");

    let env = api
        .http
        .put(api.url("/function/env/some/path?a=1&b=%20x"))
        .header("X-Custom", "ünïcode ok")
        .header("Content-Type", "application/json")
        .header("X-Call-Id", "call-env")
        .body("{}")
        .send()
        .await
        .expect("answers")
        .text()
        .await
        .expect("body");
    for expected in [
        "Http_Method=PUT",
        "Http_Path=/some/path",
        "Http_Query=a=1&b=%20x",
        "Http_Content_Type=application/json",
        "Http_X_Call_Id=call-env",
        "Http_X_Custom=ünïcode ok",
    ] {
        assert!(
            env.lines().any(|l| l == expected),
            "{expected} missing from:\n{env}"
        );
    }
    assert!(
        env.lines().any(|l| l.starts_with("Http_X_Start_Time=")),
        "{env}"
    );
}

fn uuid_like(id: &str) -> bool {
    id.len() == 36 && id.chars().filter(|c| *c == '-').count() == 4
}

#[tokio::test]
async fn function_status_codes_and_errors_reach_the_caller() {
    let nats = Nats::start();
    let switchyard = Switchyard::up(&nats);
    let api = switchyard.api();
    let dir = TempDir::new("scripts");
    let fail = common::script(&dir.0, "fail.sh", "echo 'bad input' >&2; exit 3");
    api.deploy_ready("fail", &fail, json!({ "combine_output": "false" }))
        .await;
    let response = api.invoke("fail", "x").await;
    assert_eq!(response.status(), 500);
    assert!(
        response.headers().get("x-openfaas-internal").is_none(),
        "the function's own error is not internal"
    );
    assert!(response.text().await.expect("body").contains("bad input"));

    let missing = api.invoke("nope", "x").await;
    assert_eq!(missing.status(), 404);
    assert!(missing
        .text()
        .await
        .expect("body")
        .contains("function `nope` not found"));
    assert_eq!(api.invoke("nope.other-namespace", "x").await.status(), 404);
}

#[tokio::test]
async fn timeouts_answer_504() {
    let nats = Nats::start();
    let switchyard = Switchyard::up_with(&nats, &[("SWITCHYARD_UPSTREAM_TIMEOUT", "1s")]);
    let api = switchyard.api();
    // The watchdog's exec_timeout kills the function.
    api.deploy_ready("slow-exec", "sleep 5", json!({ "exec_timeout": "500ms" }))
        .await;
    let response = api.invoke("slow-exec", "").await;
    assert_eq!(response.status(), 504);
    // The gateway's upstream timeout gives up on a function that would run longer.
    api.deploy_ready(
        "slow-upstream",
        "sleep 5",
        json!({ "exec_timeout": "30s", "write_timeout": "30s" }),
    )
    .await;
    let started = std::time::Instant::now();
    let response = api.invoke("slow-upstream", "").await;
    assert_eq!(response.status(), 504);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(4),
        "took {:?}",
        started.elapsed()
    );
    assert!(response
        .text()
        .await
        .expect("body")
        .contains("did not answer"));
}

#[tokio::test]
async fn bodies_over_the_limit_get_413() {
    let nats = Nats::start();
    let switchyard = Switchyard::up_with(&nats, &[("SWITCHYARD_MAX_BODY_BYTES", "1024")]);
    let api = switchyard.api();
    api.deploy_ready("echo", "cat", json!({})).await;
    let at_limit = api
        .http
        .post(api.url("/function/echo"))
        .body(vec![b'a'; 1024])
        .send()
        .await
        .expect("answers");
    assert_eq!(at_limit.status(), 200);
    assert_eq!(at_limit.bytes().await.expect("body").len(), 1024);
    let over = api
        .http
        .post(api.url("/function/echo"))
        .body(vec![b'a'; 1025])
        .send()
        .await
        .expect("answers");
    assert_eq!(over.status(), 413);
    assert!(over
        .text()
        .await
        .expect("body")
        .contains("exceeds the limit of 1024 bytes"));
}

#[tokio::test]
async fn body_limit_never_exceeds_the_nats_max_payload() {
    // The test server keeps NATS's 1 MB default max payload; ask for far more.
    let nats = Nats::start();
    let switchyard = Switchyard::up_with(&nats, &[("SWITCHYARD_MAX_BODY_BYTES", "50000000")]);
    let api = switchyard.api();
    api.deploy_ready("wc", "wc -c", json!({})).await;
    let just_under = 1024 * 1024 - 64 * 1024;
    let ok = api
        .http
        .post(api.url("/function/wc"))
        .body(vec![b'a'; just_under])
        .send()
        .await
        .expect("answers");
    assert_eq!(ok.status(), 200);
    assert_eq!(
        ok.text().await.expect("body").trim(),
        just_under.to_string()
    );
    let over = api
        .http
        .post(api.url("/function/wc"))
        .body(vec![b'a'; 2 * 1024 * 1024])
        .send()
        .await
        .expect("answers");
    assert_eq!(over.status(), 413);
}

#[tokio::test]
async fn calls_spread_across_replicas() {
    let nats = Nats::start();
    let switchyard = Switchyard::up(&nats);
    let api = switchyard.api();
    // `env` shows the replica's `port`, different for each watchdog.
    api.deploy_ready("whoami", "env", json!({})).await;
    assert_eq!(api.scale("whoami", 3).await.status(), 202);
    api.wait_available("whoami", 3).await;
    let mut ports = HashSet::new();
    for _ in 0..30 {
        let body = api.invoke("whoami", "").await.text().await.expect("body");
        let port = body
            .lines()
            .find(|l| l.starts_with("port="))
            .expect("port variable")
            .to_string();
        ports.insert(port);
    }
    assert_eq!(ports.len(), 3, "calls reached {ports:?}");
}

#[tokio::test]
async fn gateway_metrics_use_openfaas_names() {
    let nats = Nats::start();
    let switchyard = Switchyard::up(&nats);
    let api = switchyard.api();
    api.deploy_ready("echo", "cat", json!({})).await;
    for _ in 0..3 {
        api.invoke("echo", "x").await;
    }
    // Anonymous callers get no series that name functions (other organizations' business).
    let anonymous = api
        .http
        .get(api.url("/metrics"))
        .send()
        .await
        .expect("answers")
        .text()
        .await
        .expect("body");
    assert!(
        anonymous.contains("# TYPE gateway_function_invocation_total counter")
            && !anonymous.contains("function_name="),
        "{anonymous}"
    );
    let metrics = api
        .admin(reqwest::Method::GET, "/metrics")
        .send()
        .await
        .expect("answers")
        .text()
        .await
        .expect("body");
    assert!(
        metrics.contains(
            r#"gateway_function_invocation_total{code="200",function_name="echo.openfaas-fn"} 3"#
        ),
        "{metrics}"
    );
    assert!(
        metrics
            .contains(r#"gateway_function_invocation_started{function_name="echo.openfaas-fn"} 3"#),
        "{metrics}"
    );
    assert!(
        metrics.contains("gateway_functions_seconds_bucket"),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"gateway_service_count{function_name="echo.openfaas-fn"} 1"#),
        "{metrics}"
    );
    let status = api.status("echo").await.expect("status");
    assert_eq!(status["invocationCount"], 3);
}

#[tokio::test]
async fn x_function_on_the_root_invokes_like_the_function_route() {
    let nats = Nats::start();
    let switchyard = Switchyard::up(&nats);
    let api = switchyard.api();
    api.deploy_ready("echo", "cat", json!({})).await;
    let answer = api
        .http
        .post(api.url("/"))
        .header("X-Function", "echo")
        .body("routed by header")
        .send()
        .await
        .expect("answers");
    assert_eq!(answer.status(), 200);
    assert!(answer.headers().contains_key("x-call-id"));
    assert_eq!(answer.text().await.expect("body"), "routed by header");
    let namespaced = api
        .http
        .post(api.url("/"))
        .header("X-Function", "echo.openfaas-fn")
        .body("with namespace")
        .send()
        .await
        .expect("answers");
    assert_eq!(namespaced.text().await.expect("body"), "with namespace");
    let missing = api
        .http
        .post(api.url("/"))
        .header("X-Function", "nowhere")
        .body("x")
        .send()
        .await
        .expect("answers");
    assert_eq!(missing.status(), 404);
    assert!(missing.text().await.expect("body").contains("nowhere"));
}
