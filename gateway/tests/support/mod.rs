//! What the gateway's in-process tests share: the app on a real nats-server, a stand-in
//! provider, and two organizations (`a`, `b`) with a namespace, a function, a secret, a
//! subscription, a webhook source, a host, a route and a job each, plus the tokens of a
//! viewer, a developer and an admin of `a` and an admin of `b`.

#![allow(dead_code)] // each test binary uses its own part

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use futures::StreamExt;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use switchyard_broker::provider::{LogsReply, PrepareReply};
use switchyard_broker::subjects;
use switchyard_broker::testing::NatsServer;
use switchyard_gateway::{app, GatewayConfig};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

pub const ROOT: &str = "Basic YWRtaW46c2VjcmV0"; // admin:secret

/// Who asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    Anonymous,
    ViewerA,
    DeveloperA,
    AdminA,
    AdminB,
    SuperUser,
}

/// Organization `a` or `b`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Org {
    A,
    B,
}

/// A request: method, URI, JSON body.
pub struct Call {
    pub method: &'static str,
    pub uri: String,
    pub body: Option<Value>,
}

pub fn call(method: &'static str, uri: impl Into<String>, body: Option<Value>) -> Call {
    Call {
        method,
        uri: uri.into(),
        body,
    }
}

/// What the super-user sets up, and the tokens the others sign in with.
pub struct Fixtures {
    tokens: Vec<(Who, String)>,
    tmp_tokens: Vec<(Org, String)>,
}

impl Fixtures {
    pub fn token(&self, who: Who) -> Option<&str> {
        self.tokens
            .iter()
            .find(|(w, _)| *w == who)
            .map(|(_, t)| t.as_str())
    }

    pub fn tmp_token(&self, org: Org) -> &str {
        self.tmp_tokens
            .iter()
            .find(|(o, _)| *o == org)
            .map(|(_, t)| t.as_str())
            .expect("a tmp token per organization")
    }
}

pub struct App {
    pub router: Router,
}

impl App {
    pub async fn send(&self, authorization: Option<&str>, call: &Call) -> StatusCode {
        // Status only: the event stream's body never ends.
        let (headers, body): (&[(&str, &str)], Vec<u8>) = match &call.body {
            Some(body) => (
                &[("content-type", "application/json")],
                body.to_string().into_bytes(),
            ),
            None => (&[], Vec::new()),
        };
        self.request(authorization, call.method, &call.uri, headers, body)
            .await
            .status()
    }

    async fn request(
        &self,
        authorization: Option<&str>,
        method: &str,
        uri: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> axum::response::Response {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        self.router
            .clone()
            .oneshot(request.body(Body::from(body)).expect("request"))
            .await
            .expect("answers")
    }

    /// Any request, its body given as bytes; the answer's status and body (not for the event
    /// stream, whose body never ends).
    pub async fn raw(
        &self,
        authorization: Option<&str>,
        method: &str,
        uri: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> (StatusCode, String) {
        let response = self
            .request(authorization, method, uri, headers, body)
            .await;
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        (status, String::from_utf8_lossy(&bytes).into_owned())
    }

    /// As the super-user, a change whose answer must be success or "it exists already".
    pub async fn put_back(&self, method: &'static str, uri: &str, body: Value) -> StatusCode {
        let (status, answer) = self.root(method, uri, body.clone()).await;
        assert!(
            status.is_success()
                || status == StatusCode::CONFLICT
                || status == StatusCode::NOT_FOUND,
            "fixture {method} {uri} {body}: {status} {answer}"
        );
        status
    }

    pub async fn root(&self, method: &'static str, uri: &str, body: Value) -> (StatusCode, Value) {
        let json = [("content-type", "application/json")];
        let (status, answer) = self
            .raw(
                Some(ROOT),
                method,
                uri,
                &json,
                body.to_string().into_bytes(),
            )
            .await;
        (status, serde_json::from_str(&answer).unwrap_or(Value::Null))
    }

    /// Creates (or puts back) what the cases act on; idempotent.
    pub async fn ensure_fixtures(&self) {
        for o in ["a", "b"] {
            let ns = format!("{o}-ns");
            let f = format!("f{o}");
            self.put_back("POST", "/system/organizations", json!({"name": o}))
                .await;
            self.put_back(
                "POST",
                "/system/namespace/",
                json!({"name": ns, "organization": o}),
            )
            .await;
            let deployment = json!({"service": f, "namespace": ns, "envProcess": "cat"});
            if self
                .put_back("PUT", "/system/functions", deployment.clone())
                .await
                == StatusCode::NOT_FOUND
            {
                self.put_back("POST", "/system/functions", deployment).await;
            }
            self.put_back(
                "POST",
                "/system/secrets",
                json!({"name": format!("s{o}"), "namespace": ns, "value": "v"}),
            )
            .await;
            self.put_back(
                "POST",
                "/system/subscriptions",
                json!({"name": format!("sub-{o}"), "function": format!("{f}.{ns}"), "filters": []}),
            )
            .await;
            self.put_back("POST", "/system/event-sources", json!({"name": format!("hook-{o}"), "kind": "webhook", "namespace": ns, "config": {"auth": {"none": true}}})).await;
            self.put_back(
                "POST",
                "/system/hosts",
                json!({"host": format!("{o}.example.test"), "organization": o}),
            )
            .await;
            self.put_back("POST", "/system/routes", json!({"name": format!("r{o}"), "namespace": ns, "function": f, "path": format!("/{o}"), "hosts": [format!("{o}.example.test")]})).await;
            self.put_back("POST", "/system/policies", json!({"name": "tmp", "organization": o, "subjects": ["serviceaccount:nobody"], "role": "viewer"})).await;
            self.put_back(
                "POST",
                "/system/service-accounts",
                json!({"name": "tmp", "organization": o}),
            )
            .await;
        }
    }
}

/// Stands in for the provider: accepts every deployment, keeps no logs.
async fn answer_as_provider(client: async_nats::Client) {
    let prepares = client
        .subscribe(subjects::PROVIDER_PREPARE)
        .await
        .expect("subscribes");
    let logs = client
        .subscribe(subjects::PROVIDER_LOGS)
        .await
        .expect("subscribes");
    client.flush().await.expect("flushes");
    tokio::spawn(async move {
        let mut requests = futures::stream::select(prepares, logs);
        while let Some(request) = requests.next().await {
            let answer = if request.subject.as_str() == subjects::PROVIDER_LOGS {
                serde_json::to_vec(&LogsReply::NotSupported {
                    message: "no logs here".into(),
                })
            } else {
                serde_json::to_vec(&PrepareReply { refused: None })
            }
            .expect("json");
            if let Some(reply) = request.reply {
                let _ = client.publish(reply, answer.into()).await;
            }
        }
    });
}

pub async fn start(nats: &NatsServer) -> App {
    let client = async_nats::connect(nats.url()).await.expect("connects");
    answer_as_provider(client.clone()).await;
    let mut config = GatewayConfig::new("admin", "secret");
    config.secrets_key_file = Some(nats.store_dir().with_extension("secrets.key"));
    let router = app(
        config,
        client,
        &prometheus::Registry::new(),
        CancellationToken::new(),
    )
    .await
    .expect("the app builds");
    App { router }
}

/// Organizations `a` and `b`, their namespaces and records, a job in each, and the tokens of
/// the principals.
pub async fn set_up(app: &App) -> Fixtures {
    app.ensure_fixtures().await;
    for o in ["a", "b"] {
        let request = Request::post(format!("/async-function/f{o}.{o}-ns"))
            .header("x-call-id", format!("job-{o}"))
            .body(Body::from("x"))
            .expect("request");
        let status = app
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("answers")
            .status();
        assert_eq!(status, StatusCode::ACCEPTED, "job of {o}");
    }
    let mut tokens = Vec::new();
    let accounts = [
        (Who::ViewerA, "a", "viewer"),
        (Who::DeveloperA, "a", "developer"),
        (Who::AdminA, "a", "admin"),
        (Who::AdminB, "b", "admin"),
    ];
    for (who, o, role) in accounts {
        let (status, _) = app
            .root(
                "POST",
                "/system/service-accounts",
                json!({"name": role, "organization": o}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{who:?}");
        let (status, _) = app
            .root(
                "POST",
                "/system/policies",
                json!({"name": role, "organization": o,
                "subjects": [format!("serviceaccount:{role}")], "role": role}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{who:?}");
        let (status, token) = app
            .root(
                "POST",
                &format!("/system/service-accounts/{o}/{role}/tokens"),
                json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{who:?}");
        let token = token["token"]
            .as_str()
            .expect("token shown once")
            .to_string();
        tokens.push((who, format!("Bearer {token}")));
    }
    tokens.push((Who::SuperUser, ROOT.to_string()));
    let mut tmp_tokens = Vec::new();
    for (org, o) in [(Org::A, "a"), (Org::B, "b")] {
        let (status, token) = app
            .root(
                "POST",
                &format!("/system/service-accounts/{o}/tmp/tokens"),
                json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
        tmp_tokens.push((org, token["id"].as_str().expect("id").to_string()));
    }
    Fixtures { tokens, tmp_tokens }
}
