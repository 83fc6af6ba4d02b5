//! API routes against `switchyard up` (issue 15): hosts, paths and methods bound to functions,
//! path parameters reaching the function, async routes, conflicts, and each kind of route
//! authentication (a real test identity provider for `jwt`), and CORS.

mod common;

use std::time::Duration;

use common::idp::{IdentityProvider, SigningKey};
use common::{script, Api, Nats, Switchyard, TempDir};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// Prints what the function saw: method, path, the route's headers and whether a key or
/// credentials reached it.
const SHOW: &str = "echo \"$Http_Method $Http_Path id=${Http_X_Route_Param_Id:-} route=${Http_X_Route_Name:-} key=${Http_X_Api_Key:-none} auth=${Http_Authorization:-none} body=$(cat)\"";

async fn create_route(api: &Api, body: Value) -> reqwest::Response {
    api.admin(Method::POST, "/system/routes")
        .json(&body)
        .send()
        .await
        .expect("answers")
}

async fn created(api: &Api, body: Value) -> Value {
    let response = create_route(api, body).await;
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    assert_eq!(status, StatusCode::CREATED, "{text}");
    serde_json::from_str(&text).expect("the route as JSON")
}

async fn deploy_show(api: &Api, dir: &TempDir, name: &str) {
    let show = script(&dir.0, &format!("{name}.sh"), SHOW);
    api.deploy_ready(name, &show, json!({})).await;
}

fn call(api: &Api, method: Method, host: &str, path: &str) -> reqwest::RequestBuilder {
    api.http.request(method, api.url(path)).header("host", host)
}

async fn text(request: reqwest::RequestBuilder) -> (StatusCode, String) {
    let response = request.send().await.expect("answers");
    (response.status(), response.text().await.unwrap_or_default())
}

#[tokio::test]
async fn routes_match_by_host_path_and_method_and_pass_parameters() {
    let nats = Nats::start();
    let switchyard = Switchyard::up(&nats);
    let api = switchyard.api();
    let dir = TempDir::new("routes");
    deploy_show(&api, &dir, "users").await;
    deploy_show(&api, &dir, "me").await;
    deploy_show(&api, &dir, "v2").await;

    let route = created(
        &api,
        json!({"name": "user", "function": "users", "path": "/users/{id}", "methods": ["GET", "PUT"]}),
    )
    .await;
    assert_eq!(route["auth"]["type"], "public");
    created(
        &api,
        json!({"name": "me", "function": "me", "path": "/users/me", "methods": ["GET"]}),
    )
    .await;
    created(
        &api,
        json!({"name": "v2", "function": "v2", "hosts": ["api.example.test"], "path": "/users", "pathMatch": "prefix"}),
    )
    .await;

    let (status, body) = text(call(&api, Method::GET, "localhost", "/users/42")).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.starts_with("GET /users/42 id=42 route=user "),
        "{body}"
    );
    let (_, body) = text(call(&api, Method::GET, "localhost", "/users/me")).await;
    assert!(body.contains("route=me"), "the literal path wins: {body}");
    let (_, body) = text(call(
        &api,
        Method::GET,
        "api.example.test:8080",
        "/users/42/orders",
    ))
    .await;
    assert!(body.contains("route=v2"), "the named host wins: {body}");
    // A caller cannot choose the parameters.
    let (_, body) =
        text(call(&api, Method::GET, "localhost", "/users/7").header("x-route-param-id", "99"))
            .await;
    assert!(body.contains("id=7 "), "{body}");

    // The path with another method: 405 and what is allowed; no route at all: 404.
    let response = call(&api, Method::DELETE, "localhost", "/users/42")
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "GET, HEAD, OPTIONS, PUT");
    let (status, body) = text(call(&api, Method::GET, "localhost", "/nothing/here")).await;
    assert_eq!(status, 404, "{body}");

    // Invoked as /function/NAME is: its metrics count the call.
    let metrics = api
        .admin(reqwest::Method::GET, "/metrics")
        .send()
        .await
        .expect("metrics");
    let metrics = metrics.text().await.expect("body");
    assert!(
        metrics.contains(
            "gateway_function_invocation_total{code=\"200\",function_name=\"users.openfaas-fn\"}"
        ),
        "route calls counted like any invoke"
    );

    // Listed, shown, updated, removed.
    let listed = api.admin_json("/system/routes").await;
    assert_eq!(listed.as_array().map(Vec::len), Some(3));
    let response = api
        .admin(Method::PUT, "/system/routes/me")
        .json(&json!({"name": "me", "function": "me", "path": "/users/me", "methods": ["GET", "POST"]}))
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), 200);
    let (status, body) = text(call(&api, Method::POST, "localhost", "/users/me").body("hi")).await;
    assert_eq!(status, 200);
    assert!(body.contains("body=hi"), "{body}");
    let response = api
        .admin(Method::DELETE, "/system/routes/me")
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), 204);
    let (_, body) = text(call(&api, Method::GET, "localhost", "/users/me")).await;
    assert!(
        body.contains("id=me route=user"),
        "now the parameter route: {body}"
    );
}

#[tokio::test]
async fn async_routes_answer_202_and_conflicts_and_bad_routes_are_refused_by_name() {
    let nats = Nats::start();
    let switchyard = Switchyard::up(&nats);
    let api = switchyard.api();
    let dir = TempDir::new("routes-async");
    deploy_show(&api, &dir, "worker").await;
    created(
        &api,
        json!({"name": "jobs", "function": "worker", "path": "/jobs", "methods": ["POST"], "async": true}),
    )
    .await;
    let response = call(&api, Method::POST, "localhost", "/jobs")
        .body("later")
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), 202);
    let call_id = response.headers()["x-call-id"]
        .to_str()
        .expect("call id")
        .to_string();
    let job = api
        .wait_job(&call_id, "succeeded", Duration::from_secs(30))
        .await;
    assert_eq!(job["function"], "worker");

    // The same path and method under another name: refused, naming the route in the way.
    let response = create_route(
        &api,
        json!({"name": "jobs2", "function": "worker", "path": "/jobs", "methods": ["POST", "GET"]}),
    )
    .await;
    assert_eq!(response.status(), 409);
    let message = response.text().await.expect("body");
    assert!(message.contains("`jobs`"), "{message}");
    // Another method on the same path is no conflict.
    created(
        &api,
        json!({"name": "jobs-get", "function": "worker", "path": "/jobs", "methods": ["GET"]}),
    )
    .await;

    for (body, expected) in [
        (
            json!({"name": "sys", "function": "worker", "path": "/system/functions"}),
            "/system",
        ),
        (
            json!({"name": "m", "function": "worker", "path": "/m", "methods": ["FETCH"]}),
            "FETCH",
        ),
        (
            json!({"name": "h", "function": "worker", "path": "/h", "hosts": ["Bad Host"]}),
            "Bad Host",
        ),
        (
            json!({"name": "f", "function": "ghost", "path": "/f"}),
            "ghost",
        ),
        (
            json!({"name": "k", "function": "worker", "path": "/k", "auth": {"type": "api-key", "keys": ["short"]}}),
            "too short",
        ),
        (
            json!({"name": "x", "function": "worker", "path": "/x", "extra": 1}),
            "extra",
        ),
        (
            // A route's JWKS is fetched by the gateway: never from the metadata service.
            json!({"name": "meta", "function": "worker", "path": "/meta",
                   "auth": {"type": "jwt", "issuer": "i", "audience": "a", "jwksUrl": "http://169.254.169.254/jwks"}}),
            "169.254.169.254",
        ),
    ] {
        let response = create_route(&api, body.clone()).await;
        assert_eq!(response.status(), 400, "{body}");
        let message = response.text().await.expect("body");
        assert!(message.contains(expected), "{body}: {message}");
    }
    let unauthorised = api
        .http
        .get(api.url("/system/routes"))
        .send()
        .await
        .expect("answers");
    assert_eq!(
        unauthorised.status(),
        401,
        "the routes API needs credentials"
    );
}

#[tokio::test]
async fn api_key_basic_and_jwt_routes_check_their_callers() {
    let nats = Nats::start();
    let switchyard = Switchyard::up(&nats);
    let api = switchyard.api();
    let dir = TempDir::new("routes-auth");
    deploy_show(&api, &dir, "guarded").await;
    let idp = IdentityProvider::start().await;

    let route = created(
        &api,
        json!({"name": "keyed", "function": "guarded", "path": "/keyed",
               "auth": {"type": "api-key", "keys": ["k-0123456789abcdef"]}}),
    )
    .await;
    assert_eq!(
        route["auth"],
        json!({"type": "api-key", "keys": 1}),
        "keys are never shown"
    );
    let (status, _) = text(call(&api, Method::GET, "h", "/keyed")).await;
    assert_eq!(status, 401);
    let (status, _) =
        text(call(&api, Method::GET, "h", "/keyed").header("x-api-key", "k-wrong-wrong-wrong"))
            .await;
    assert_eq!(status, 401);
    let (status, body) =
        text(call(&api, Method::GET, "h", "/keyed").header("x-api-key", "k-0123456789abcdef"))
            .await;
    assert_eq!(status, 200);
    assert!(
        body.contains("key=none"),
        "the key does not reach the function: {body}"
    );
    // An update that leaves the keys out keeps them.
    let response = api
        .admin(Method::PUT, "/system/routes/keyed")
        .json(
            &json!({"name": "keyed", "function": "guarded", "path": "/keyed", "methods": ["GET"],
                      "auth": {"type": "api-key"}}),
        )
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), 200);
    let (status, _) =
        text(call(&api, Method::GET, "h", "/keyed").header("x-api-key", "k-0123456789abcdef"))
            .await;
    assert_eq!(status, 200);

    created(&api, json!({"name": "basic", "function": "guarded", "path": "/basic", "auth": {"type": "basic"}})).await;
    let (status, _) = text(call(&api, Method::GET, "h", "/basic")).await;
    assert_eq!(status, 401);
    let (status, body) = text(
        call(&api, Method::GET, "h", "/basic").basic_auth("admin", Some(common::ADMIN_PASSWORD)),
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        body.contains("auth=none"),
        "Switchyard's credentials do not reach the function: {body}"
    );

    created(
        &api,
        json!({"name": "jwt", "function": "guarded", "path": "/jwt",
               "auth": {"type": "jwt", "issuer": idp.issuer, "audience": "orders", "jwksUrl": idp.jwks_url()}}),
    )
    .await;
    let bearer = |token: String| call(&api, Method::GET, "h", "/jwt").bearer_auth(token);
    let (status, body) = text(bearer(idp.token("orders", "alice", 300, json!({})))).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = text(bearer(idp.token("orders", "alice", -300, json!({})))).await;
    assert_eq!(status, 401, "expired: {body}");
    assert!(body.contains("xpired"), "{body}");
    let (status, _) = text(bearer(idp.token("billing", "alice", 300, json!({})))).await;
    assert_eq!(status, 401, "another audience");
    // Not valid before an hour from now (beyond the 30 s leeway).
    let later = chrono::Utc::now().timestamp() + 3600;
    let (status, body) = text(bearer(idp.token(
        "orders",
        "alice",
        7200,
        json!({"nbf": later}),
    )))
    .await;
    assert_eq!(status, 401, "not yet valid: {body}");
    let stranger = SigningKey::generate("key-1");
    let now = chrono::Utc::now().timestamp();
    let forged = stranger
        .sign(&json!({"iss": idp.issuer, "aud": "orders", "sub": "mallory", "exp": now + 300}));
    let (status, _) = text(bearer(forged)).await;
    assert_eq!(status, 401, "signed by a key the issuer does not publish");
    let (status, _) = text(call(&api, Method::GET, "h", "/jwt")).await;
    assert_eq!(status, 401, "no token");
}

#[tokio::test]
async fn cors_preflights_are_answered_for_allowed_origins_only() {
    let nats = Nats::start();
    let switchyard = Switchyard::up(&nats);
    let api = switchyard.api();
    let dir = TempDir::new("routes-cors");
    deploy_show(&api, &dir, "web").await;
    created(
        &api,
        json!({"name": "web", "function": "web", "path": "/web/{id}", "methods": ["PUT"],
               "cors": {"allowedOrigins": ["https://app.example.test"], "allowedHeaders": ["Content-Type"], "maxAge": 600}}),
    )
    .await;
    let preflight = |origin: &str| {
        call(&api, Method::OPTIONS, "h", "/web/1")
            .header("origin", origin)
            .header("access-control-request-method", "PUT")
    };
    let response = preflight("https://app.example.test")
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), 204);
    let headers = response.headers();
    assert_eq!(
        headers["access-control-allow-origin"],
        "https://app.example.test"
    );
    assert_eq!(headers["access-control-allow-methods"], "PUT");
    assert_eq!(headers["access-control-allow-headers"], "Content-Type");
    assert_eq!(headers["access-control-max-age"], "600");
    let response = preflight("https://evil.example.test")
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), 403);
    assert!(!response
        .headers()
        .contains_key("access-control-allow-origin"));

    let response = call(&api, Method::PUT, "h", "/web/1")
        .header("origin", "https://app.example.test")
        .body("x")
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["access-control-allow-origin"],
        "https://app.example.test"
    );
}
