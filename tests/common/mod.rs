//! Test harness: real nats-server processes and real `switchyard` processes on free loopback
//! ports, each with its own temporary directory. A missing nats-server fails the test loudly.

#![allow(dead_code)] // each test binary uses a different part of the harness

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

pub mod docker;
pub mod vcsim;

pub const ADMIN_PASSWORD: &str = "test-password";

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A fresh directory under the system temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(label: &str) -> Self {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "sy-test-{label}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The nats-server program as a path (resolved on PATH when given as a bare name).
pub fn nats_server_program_path() -> PathBuf {
    let program = nats_server_program();
    if program.components().count() > 1 {
        return program;
    }
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join(&program))
                .find(|p| p.exists())
        })
        .unwrap_or(program)
}

/// The nats-server program: `SWITCHYARD_NATS_SERVER_BIN`, else `nats-server` on PATH.
pub fn nats_server_program() -> PathBuf {
    let program = std::env::var_os("SWITCHYARD_NATS_SERVER_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| "nats-server".into());
    let found = if program.components().count() > 1 {
        program.exists()
    } else {
        std::env::var_os("PATH")
            .is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join(&program).exists()))
    };
    assert!(
        found,
        "nats-server not found ({}): these tests need a real NATS server; run ./scripts/test, which installs it",
        program.display()
    );
    program
}

pub(crate) fn wait_for_port(address: SocketAddr, within: Duration, what: &str) {
    let deadline = Instant::now() + within;
    while TcpStream::connect(address).is_err() {
        assert!(
            Instant::now() < deadline,
            "{what} did not listen on {address} within {within:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub(crate) fn terminate(child: &mut Child, grace: Duration) -> Option<std::process::ExitStatus> {
    // SAFETY: signalling a child process this harness started.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

/// A real nats-server with JetStream, on a free port with its own storage.
pub struct Nats {
    child: Option<Child>,
    pub port: u16,
    dir: TempDir,
}

impl Nats {
    pub fn start() -> Self {
        let mut nats = Nats {
            child: None,
            port: free_port(),
            dir: TempDir::new("nats"),
        };
        nats.launch();
        nats
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    fn launch(&mut self) {
        let child = Command::new(nats_server_program())
            .args([
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-js",
                "-sd",
            ])
            .arg(self.dir.0.join("store"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nats-server");
        self.child = Some(child);
        wait_for_port(
            ([127, 0, 0, 1], self.port).into(),
            Duration::from_secs(20),
            "nats-server",
        );
    }

    /// Stops the server, keeping its storage.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            terminate(&mut child, Duration::from_secs(10));
        }
    }

    /// Starts it again on the same port with the same storage.
    pub fn restart(&mut self) {
        self.stop();
        self.launch();
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A `switchyard` process (`up`, `gateway` or `dispatcher`) with its own data dir and log file.
pub struct Switchyard {
    child: Option<Child>,
    pub address: SocketAddr,
    pub dir: TempDir,
    command: String,
    env: Vec<(String, String)>,
}

impl Switchyard {
    /// `switchyard up` against `nats`.
    pub fn up(nats: &Nats) -> Self {
        Self::start("up", &[("SWITCHYARD_NATS_URL", &nats.url())])
    }

    /// `switchyard up` against `nats`, with extra environment.
    pub fn up_with(nats: &Nats, env: &[(&str, &str)]) -> Self {
        let url = nats.url();
        let mut all = vec![("SWITCHYARD_NATS_URL", url.as_str())];
        all.extend_from_slice(env);
        Self::start("up", &all)
    }

    /// Any subcommand (`up`, `gateway`, `dispatcher`, `provider`, `source webhook`) with extra
    /// environment; waits for its HTTP port unless it has none (dispatcher, provider).
    pub fn start(command: &str, env: &[(&str, &str)]) -> Self {
        let address: SocketAddr = ([127, 0, 0, 1], free_port()).into();
        let mut switchyard = Switchyard {
            child: None,
            address,
            dir: TempDir::new(&command.replace(' ', "-")),
            command: command.to_string(),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        switchyard.launch();
        switchyard
    }

    fn launch(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_switchyard"))
            .args(self.command.split_whitespace())
            .env("SWITCHYARD_LISTEN", self.address.to_string())
            .env("SWITCHYARD_WEBHOOK_LISTEN", self.address.to_string())
            .env("SWITCHYARD_SOURCE_METRICS_LISTEN", self.address.to_string())
            .env("SWITCHYARD_DATA_DIR", self.dir.0.join("data"))
            .env("SWITCHYARD_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("SWITCHYARD_NATS_SERVER_BIN", nats_server_program())
            .env("RUST_LOG", "info")
            .envs(self.env.iter().cloned())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .expect("start switchyard");
        self.child = Some(child);
        if !matches!(self.command.as_str(), "dispatcher" | "provider") {
            wait_for_port(self.address, Duration::from_secs(30), "switchyard gateway");
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).expect("running")
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.0.join("switchyard.log")
    }

    pub fn logs(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// SIGTERM and wait; returns the exit status when it stopped within `grace`.
    pub fn stop(&mut self, grace: Duration) -> Option<std::process::ExitStatus> {
        let mut child = self.child.take()?;
        terminate(&mut child, grace)
    }

    /// SIGKILL (no chance to clean up) and reap.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops and starts again with the same settings and data dir.
    pub fn restart(&mut self) {
        self.stop(Duration::from_secs(30));
        self.launch();
    }

    pub fn api(&self) -> Api {
        Api::new(self.address)
    }
}

impl Drop for Switchyard {
    fn drop(&mut self) {
        self.stop(Duration::from_secs(30));
        if std::thread::panicking() {
            let logs = self.logs();
            let tail: Vec<&str> = logs.lines().rev().take(40).collect();
            eprintln!("--- last lines of switchyard {} log ---", self.command);
            for line in tail.into_iter().rev() {
                eprintln!("{line}");
            }
        }
    }
}

/// Direct children of `pid` whose command line contains `needle`.
pub fn children(pid: u32, needle: &str) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|child| {
            let stat = std::fs::read_to_string(format!("/proc/{child}/stat")).unwrap_or_default();
            // Fields after the parenthesised command: state, ppid, ...
            let after = stat
                .rsplit_once(')')
                .map(|(_, rest)| rest)
                .unwrap_or_default();
            let mut fields = after.split_whitespace();
            let state = fields.next();
            let ppid = fields.next().and_then(|p| p.parse::<u32>().ok());
            let cmdline = std::fs::read(format!("/proc/{child}/cmdline")).unwrap_or_default();
            ppid == Some(pid)
                && state != Some("Z")
                && String::from_utf8_lossy(&cmdline).contains(needle)
        })
        .collect()
}

pub fn alive(pid: u32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().next());
    !stat.is_empty() && state != Some("Z")
}

/// Polls `check` until it returns true or `within` passes.
pub async fn eventually<F, Fut>(within: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    loop {
        if check().await {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {within:?} waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A shell script in `dir`, for functions that need more than one command.
pub fn script(dir: &Path, name: &str, body: &str) -> String {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("write script");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path.to_string_lossy().into_owned()
}

/// An HTTP client for the gateway's API.
pub struct Api {
    base: String,
    pub http: reqwest::Client,
}

impl Api {
    pub fn new(address: SocketAddr) -> Self {
        Api {
            base: format!("http://{address}"),
            http: reqwest::Client::new(),
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

    /// Deploys `name` running `fprocess` and waits until `replicas` replicas are ready.
    pub async fn deploy_ready(&self, name: &str, fprocess: &str, env: Value) {
        let response = self
            .deploy(json!({ "service": name, "envProcess": fprocess, "envVars": env }))
            .await;
        assert_eq!(
            response.status(),
            202,
            "deploy {name}: {}",
            response.text().await.unwrap_or_default()
        );
        self.wait_available(name, 1).await;
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
}

/// One request a [`CallbackServer`] received.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: std::collections::HashMap<String, String>,
    pub body: bytes::Bytes,
    pub at: Instant,
}

impl Received {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
            .unwrap_or_default()
    }
}

/// A real HTTP server that records every POST it receives and answers `status` (200 unless set).
#[derive(Clone)]
pub struct CallbackServer {
    pub port: u16,
    received: std::sync::Arc<std::sync::Mutex<Vec<Received>>>,
    status: std::sync::Arc<std::sync::atomic::AtomicU16>,
}

impl CallbackServer {
    pub async fn start() -> Self {
        Self::start_on(free_port()).await
    }

    /// Listens on `port` (to bring a receiver up where callbacks already point).
    pub async fn start_on(port: u16) -> Self {
        let server = CallbackServer {
            port,
            received: Default::default(),
            status: std::sync::Arc::new(std::sync::atomic::AtomicU16::new(200)),
        };
        let state = server.clone();
        let app = axum::Router::new().fallback(
            move |headers: axum::http::HeaderMap, body: bytes::Bytes| {
                let state = state.clone();
                async move {
                    let headers = headers
                        .iter()
                        .map(|(k, v)| {
                            (
                                k.as_str().to_string(),
                                String::from_utf8_lossy(v.as_bytes()).into_owned(),
                            )
                        })
                        .collect();
                    state.received.lock().expect("lock").push(Received {
                        headers,
                        body,
                        at: Instant::now(),
                    });
                    axum::http::StatusCode::from_u16(state.status.load(Ordering::Relaxed))
                        .unwrap_or(axum::http::StatusCode::OK)
                }
            },
        );
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind callback server");
        tokio::spawn(async move { axum::serve(listener, app).await });
        server
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn answer(&self, status: u16) {
        self.status.store(status, Ordering::Relaxed);
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().expect("lock").clone()
    }

    /// Waits until at least `count` requests arrived.
    pub async fn wait_for(&self, count: usize, within: Duration) -> Vec<Received> {
        eventually(within, &format!("{count} callbacks"), || async {
            self.received().len() >= count
        })
        .await;
        self.received()
    }
}

/// Lines in a file (0 when it does not exist): functions append one per execution.
pub fn line_count(path: &Path) -> usize {
    std::fs::read_to_string(path)
        .map(|s| s.lines().count())
        .unwrap_or(0)
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

    /// Queues `body` for `name` (202 expected) and waits until the job succeeded.
    pub async fn run_job(&self, name: &str, body: &'static str, within: Duration) -> Value {
        let response = self.enqueue(name).body(body).send().await.expect("answers");
        assert_eq!(response.status(), 202, "async invoke of {name}");
        let call_id = response.headers()["x-call-id"]
            .to_str()
            .expect("call id")
            .to_string();
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
}

/// A function that appends what it received to `out`: its CloudEvent headers and content type
/// (as CGI variables), then `body=<hex>`, then `--`. One append per run (a single small write
/// is atomic), so concurrent runs do not interleave.
pub fn recorder(dir: &Path, out: &Path) -> String {
    let name = format!(
        "record-{}.sh",
        out.file_name().and_then(|n| n.to_str()).unwrap_or("out")
    );
    script(
        dir,
        &name,
        &format!(
            "t=$(mktemp); {{ env | grep '^Http_Ce_\\|^Http_Content_Type' | sort; echo \"body=$(cat | od -An -tx1 | tr -d ' \\n')\"; echo '--'; }} > $t; cat $t >> {}; rm $t",
            out.display()
        ),
    )
}

/// What a [`recorder`] recorded, one entry per run.
pub fn deliveries(out: &Path) -> Vec<String> {
    std::fs::read_to_string(out)
        .unwrap_or_default()
        .split("--\n")
        .filter(|d| !d.trim().is_empty())
        .map(str::to_string)
        .collect()
}

/// The hex form a [`recorder`] writes bodies in.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The body a [`recorder`] recorded in one delivery.
pub fn body_of(delivery: &str) -> Vec<u8> {
    let hex = delivery
        .lines()
        .find_map(|l| l.strip_prefix("body="))
        .unwrap_or_default();
    (0..hex.len() / 2)
        .filter_map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok())
        .collect()
}

/// Waits until nothing is on its way to a function: every consumer of `SY_EVENTS` and
/// `SY_INVOCATIONS` has delivered everything and had it acked, and no job waits in the work
/// queue. The positive condition to reach before asserting that something did not happen.
pub async fn drained(nats: &Nats, within: Duration) {
    use futures::StreamExt;
    use switchyard_broker::streams;
    let client = async_nats::connect(nats.url()).await.expect("connects");
    let js = async_nats::jetstream::new(client);
    eventually(within, "events and jobs drained", || {
        let js = js.clone();
        async move {
            for name in [streams::EVENTS, streams::INVOCATIONS] {
                let Ok(mut stream) = js.get_stream(name).await else {
                    return false;
                };
                if name == streams::INVOCATIONS
                    && stream.info().await.map_or(true, |i| i.state.messages > 0)
                {
                    return false;
                }
                let mut consumers = stream.consumers();
                while let Some(info) = consumers.next().await {
                    match info {
                        Ok(info) if info.num_pending == 0 && info.num_ack_pending == 0 => {}
                        _ => return false,
                    }
                }
            }
            true
        }
    })
    .await;
}
