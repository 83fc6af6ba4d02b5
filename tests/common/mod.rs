//! Test harness: real nats-server processes and real `switchyard` processes on free loopback
//! ports, each with its own temporary directory. A missing nats-server fails the test loudly.
//!
//! - [`processes`]: `switchyard` parts as child processes ([`Switchyard`]), their children.
//! - [`api`]: an HTTP client for the gateway ([`Api`]).
//! - [`receivers`]: real receivers of what Switchyard sends (callbacks, event deliveries).
//! - [`docker`], [`swarm`], [`vcsim`]: the Docker engine, a one-node Swarm and the vCenter
//!   simulator as peers.
//! - [`browser`]: headless chromium over WebDriver, for the UI.
//! - [`idp`]: a test identity provider (JWKS, signed tokens).
//! - here: temporary directories, polling for a positive condition, drained queues,
//!   percentiles.

#![allow(dead_code, unused_imports)] // each test binary uses a different part of the harness

pub mod api;
pub mod browser;
pub mod docker;
pub mod idp;
pub mod processes;
pub mod receivers;
pub mod swarm;
pub mod vcsim;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub use api::Api;
pub use processes::{alive, children, Switchyard};
pub use receivers::{body_of, deliveries, hex, recorder, CallbackServer, Received};
pub use switchyard_broker::testing::free_port;
/// A real nats-server with JetStream, on a free port with its own storage.
pub use switchyard_broker::testing::NatsServer as Nats;

pub const ADMIN_PASSWORD: &str = "test-password";

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
        // Functions run as users of their own when the tests run as root: they write what
        // they record here.
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o777))
            .expect("chmod temp dir");
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The nats-server program as a path.
pub fn nats_server_program_path() -> PathBuf {
    switchyard_broker::testing::program()
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
    // Functions may run as users of their own: what one records, another may append to.
    std::fs::write(&path, format!("#!/bin/sh\numask 0\n{body}\n")).expect("write script");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path.to_string_lossy().into_owned()
}

/// Lines in a file (0 when it does not exist): functions append one per execution.
/// The `q` quantile (0–1) of `sorted` durations; zero when there are none.
pub fn percentile(sorted: &[Duration], q: f64) -> Duration {
    let index = ((sorted.len() as f64 * q) as usize).min(sorted.len().saturating_sub(1));
    sorted.get(index).copied().unwrap_or_default()
}

pub fn line_count(path: &Path) -> usize {
    std::fs::read_to_string(path)
        .map(|s| s.lines().count())
        .unwrap_or(0)
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

/// Every file below `dir` whose bytes contain `needle`.
pub fn files_holding(dir: &Path, needle: &[u8]) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_holding(&path, needle));
        } else if std::fs::read(&path).is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle)) {
            found.push(path);
        }
    }
    found
}
