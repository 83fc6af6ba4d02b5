//! The http-mode upstream: started once, restarted with backoff whenever it exits.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::process;

const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// A process that ran this long before exiting is restarted at once, not after a long wait.
const STABLE_AFTER: Duration = Duration::from_secs(10);
const STOP_GRACE: Duration = Duration::from_secs(5);

/// A handle on the supervised upstream process.
#[derive(Clone)]
pub(crate) struct Upstream {
    running: Arc<AtomicBool>,
    address: Option<SocketAddr>,
}

impl Upstream {
    /// Starts `argv` and keeps it running until `stop` fires; the task ends once it has exited.
    pub(crate) fn start(
        argv: Vec<String>,
        address: Option<SocketAddr>,
        stop: CancellationToken,
    ) -> (Self, JoinHandle<()>) {
        let running = Arc::new(AtomicBool::new(false));
        let upstream = Upstream {
            running: running.clone(),
            address,
        };
        let task = tokio::spawn(supervise(argv, running, stop));
        (upstream, task)
    }

    pub(crate) fn is_running(&self) -> bool {
        self.running.load(Ordering::Relaxed)
    }

    /// Running and accepting connections.
    pub(crate) async fn is_ready(&self) -> bool {
        if !self.is_running() {
            return false;
        }
        match self.address {
            Some(address) => tokio::time::timeout(
                Duration::from_secs(1),
                tokio::net::TcpStream::connect(address),
            )
            .await
            .is_ok_and(|r| r.is_ok()),
            None => true,
        }
    }
}

async fn supervise(argv: Vec<String>, running: Arc<AtomicBool>, stop: CancellationToken) {
    let mut backoff = FIRST_BACKOFF;
    loop {
        let started = Instant::now();
        let mut child = match process::long_running_command(&argv).spawn() {
            Ok(child) => child,
            Err(error) => {
                tracing::error!(%error, fprocess = argv.join(" "), "cannot start upstream");
                if pause(&stop, &mut backoff).await {
                    return;
                }
                continue;
            }
        };
        let pid = child.id().unwrap_or_default();
        running.store(true, Ordering::Relaxed);
        tracing::info!(pid, fprocess = argv.join(" "), "upstream started");
        tokio::select! {
            status = child.wait() => {
                running.store(false, Ordering::Relaxed);
                tracing::warn!(pid, status = ?status, "upstream exited; restarting");
                if started.elapsed() > STABLE_AFTER {
                    backoff = FIRST_BACKOFF;
                }
                if pause(&stop, &mut backoff).await {
                    return;
                }
            }
            () = stop.cancelled() => {
                running.store(false, Ordering::Relaxed);
                process::signal_group(pid, libc::SIGTERM);
                if tokio::time::timeout(STOP_GRACE, child.wait()).await.is_err() {
                    process::signal_group(pid, libc::SIGKILL);
                    let _ = child.wait().await;
                }
                tracing::info!(pid, "upstream stopped");
                return;
            }
        }
    }
}

/// Waits out the backoff (doubling it); true when told to stop meanwhile.
async fn pause(stop: &CancellationToken, backoff: &mut Duration) -> bool {
    let wait = *backoff;
    *backoff = (*backoff * 2).min(MAX_BACKOFF);
    tokio::select! {
        () = tokio::time::sleep(wait) => false,
        () = stop.cancelled() => true,
    }
}
