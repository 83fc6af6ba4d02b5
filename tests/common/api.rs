//! An HTTP client for the gateway's API, with the steps tests repeat.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{json, Value};

use super::{eventually, ADMIN_PASSWORD};

/// An HTTP client for the gateway's API.
#[derive(Clone)]
pub struct Api {
    base: String,
    pub http: reqwest::Client,
}

impl Api {
    pub fn new(address: SocketAddr) -> Self {
        // A connection idle for long is not reused: the gateway closes idle connections (its
        // header timeout), and a request sent as that close arrives fails (`IncompleteMessage`).
        let http = reqwest::Client::builder()
            .pool_idle_timeout(Duration::from_secs(5))
            .build()
            .expect("client");
        Api {
            base: format!("http://{address}"),
            http,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn admin(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.url(path))
            .basic_auth("admin", Some(ADMIN_PASSWORD))
    }

    pub async fn deploy(&self, body: Value) -> reqwest::Response {
        self.admin(reqwest::Method::POST, "/system/functions")
            .json(&body)
            .send()
            .await
            .expect("deploy answers")
    }

    /// Deploys `name` running `fprocess` and waits for a ready replica.
    pub async fn deploy_ready(&self, name: &str, fprocess: &str, env: Value) {
        self.deploy_with(name, fprocess, env, json!({})).await;
    }

    /// `POST /system/event-sources` with `body`.
    pub async fn create_source(&self, body: Value) -> reqwest::Response {
        self.admin(reqwest::Method::POST, "/system/event-sources")
            .json(&body)
            .send()
            .await
            .expect("answers")
    }

    /// A binary-mode CloudEvent posted to the webhook source `hook`.
    pub async fn post_event(
        &self,
        hook: &str,
        (source, id, ty): (&str, &str, &str),
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        self.http
            .post(self.url(&format!("/webhook/{hook}")))
            .header("ce-specversion", "1.0")
            .header("ce-id", id)
            .header("ce-source", source)
            .header("ce-type", ty)
            .body(body)
            .send()
            .await
            .expect("answers")
    }

    /// `GET path` with credentials, answered 200 with JSON.
    pub async fn admin_json(&self, path: &str) -> Value {
        let response = self
            .admin(reqwest::Method::GET, path)
            .send()
            .await
            .expect("answers");
        assert_eq!(response.status(), 200, "GET {path}");
        response.json().await.expect("json")
    }

    pub async fn status(&self, name: &str) -> Option<Value> {
        let response = self
            .admin(reqwest::Method::GET, &format!("/system/function/{name}"))
            .send()
            .await
            .ok()?;
        if response.status() != 200 {
            return None;
        }
        response.json().await.ok()
    }

    pub async fn available(&self, name: &str) -> u64 {
        self.status(name)
            .await
            .and_then(|s| s["availableReplicas"].as_u64())
            .unwrap_or(0)
    }

    pub async fn wait_available(&self, name: &str, replicas: u64) {
        eventually(
            Duration::from_secs(30),
            &format!("{name} to have {replicas} available replicas"),
            || async { self.available(name).await == replicas },
        )
        .await;
    }

    pub async fn scale(&self, name: &str, replicas: i64) -> reqwest::Response {
        self.admin(
            reqwest::Method::POST,
            &format!("/system/scale-function/{name}"),
        )
        .json(&json!({ "serviceName": name, "replicas": replicas }))
        .send()
        .await
        .expect("scale answers")
    }

    pub async fn invoke(&self, name: &str, body: &'static str) -> reqwest::Response {
        self.http
            .post(self.url(&format!("/function/{name}")))
            .body(body)
            .send()
            .await
            .expect("invoke answers")
    }

    /// The text a sync call to `name` with `body` answers (a script, for shell functions).
    pub async fn invoke_text(&self, name: &str, body: String) -> String {
        self.http
            .post(self.url(&format!("/function/{name}")))
            .body(body)
            .send()
            .await
            .expect("invoke answers")
            .text()
            .await
            .unwrap_or_default()
    }

    /// Creates the namespace `name` as the admin.
    pub async fn create_namespace(&self, name: &str) {
        let response = self
            .admin(reqwest::Method::POST, "/system/namespace/")
            .json(&json!({ "name": name }))
            .send()
            .await
            .expect("answers");
        assert_eq!(response.status(), 201, "namespace {name}");
    }
}

impl Api {
    /// POSTs to `/async-function/{name}`.
    pub fn enqueue(&self, name: &str) -> reqwest::RequestBuilder {
        self.http.post(self.url(&format!("/async-function/{name}")))
    }

    pub async fn job(&self, call_id: &str) -> Value {
        let response = self
            .admin(reqwest::Method::GET, &format!("/system/jobs/{call_id}"))
            .send()
            .await
            .expect("answers");
        assert_eq!(response.status(), 200, "job {call_id}");
        response.json().await.expect("job json")
    }

    /// Waits until the job's record has `status`.
    pub async fn wait_job(&self, call_id: &str, status: &str, within: Duration) -> Value {
        eventually(within, &format!("job {call_id} to be {status}"), || async {
            let response = self
                .admin(reqwest::Method::GET, &format!("/system/jobs/{call_id}"))
                .send()
                .await;
            match response {
                Ok(r) if r.status() == 200 => r
                    .json::<Value>()
                    .await
                    .map(|j| j["status"] == status)
                    .unwrap_or(false),
                _ => false,
            }
        })
        .await;
        self.job(call_id).await
    }

    /// Queues `body` for `name` (202 expected); returns the call id.
    pub async fn queue(&self, name: &str, body: impl Into<reqwest::Body>) -> String {
        let response = self.enqueue(name).body(body).send().await.expect("answers");
        assert_eq!(response.status(), 202, "async invoke of {name}");
        response.headers()["x-call-id"]
            .to_str()
            .expect("call id")
            .to_string()
    }

    /// Queues `body` for `name` (202 expected) and waits until the job succeeded.
    pub async fn run_job(&self, name: &str, body: &'static str, within: Duration) -> Value {
        let call_id = self.queue(name, body).await;
        self.wait_job(&call_id, "succeeded", within).await
    }

    /// Deploys `name` with annotations and env vars, and waits for a ready replica.
    pub async fn deploy_with(&self, name: &str, fprocess: &str, env: Value, annotations: Value) {
        let response = self
            .deploy(json!({ "service": name, "envProcess": fprocess, "envVars": env, "annotations": annotations }))
            .await;
        assert_eq!(
            response.status(),
            202,
            "deploy {name}: {}",
            response.text().await.unwrap_or_default()
        );
        self.wait_available(name, 1).await;
    }

    /// Deploys `name` (a `cat`) on `schedule` in time zone `zone` (cron-connector annotations),
    /// without waiting for a replica.
    pub async fn deploy_scheduled(&self, name: &str, schedule: &str, zone: &str) {
        let response = self
            .deploy(json!({ "service": name, "envProcess": "cat",
                "annotations": { "topic": "cron-function", "schedule": schedule,
                                 "com.switchyard.schedule.timezone": zone } }))
            .await;
        assert_eq!(response.status(), 202, "deploy {name}");
    }

    /// `POST /system/subscriptions` of `body`, expected to answer 201.
    pub async fn subscribe(&self, body: Value) {
        let response = self
            .admin(reqwest::Method::POST, "/system/subscriptions")
            .json(&body)
            .send()
            .await
            .expect("answers");
        assert_eq!(
            response.status(),
            201,
            "subscribe: {}",
            response.text().await.unwrap_or_default()
        );
    }

    /// Deploys `name`: a function that fails every job at its one attempt (so each dies as a
    /// dead letter) until the file it returns exists; then it echoes its input.
    pub async fn deploy_failing_until_healed(
        &self,
        name: &str,
        dir: &std::path::Path,
    ) -> std::path::PathBuf {
        let healed = dir.join(format!("{name}.healed"));
        let program = super::script(
            dir,
            &format!("{name}.sh"),
            &format!("if [ -f {} ]; then cat; else exit 1; fi", healed.display()),
        );
        self.deploy_with(
            name,
            &program,
            json!({}),
            json!({"com.openfaas.retry.attempts": "1"}),
        )
        .await;
        healed
    }
}
