//! Real receivers for what Switchyard sends out: an HTTP server for callbacks and external
//! endpoints, and a recording function for event deliveries.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::{eventually, free_port, script};

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
                    // A header sent twice reads `a, b`: tests see repeats.
                    let mut joined = std::collections::HashMap::<String, String>::new();
                    for (name, value) in &headers {
                        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                        joined
                            .entry(name.as_str().to_string())
                            .and_modify(|v| {
                                v.push_str(", ");
                                v.push_str(&value);
                            })
                            .or_insert(value);
                    }
                    let headers = joined;
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
