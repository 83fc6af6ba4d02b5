//! One replica: a watchdog process, kept running and listed in the endpoint directory while ready.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::Utc;
use switchyard_broker::records::{Endpoint, FunctionDeployment};
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::sandbox::{Allowed, Sandbox};
use super::users::{become_user, give};
use super::{fprocess, Shared};
use crate::probe::Prober;

const FIRST_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// A watchdog that ran this long before dying is restarted without delay.
const STABLE_AFTER: Duration = Duration::from_secs(30);
/// What a replica's environment takes from the provider's: where programs are, the home
/// directory, and the locale and time zone. Nothing else.
const INHERITED: &[&str] = &["PATH", "HOME", "LANG", "LC_ALL", "TZ"];

/// How long a new watchdog may take to become ready before it is restarted.
const READY_WITHIN: Duration = Duration::from_secs(30);
const READY_POLL: Duration = Duration::from_millis(25);
/// How often a ready replica is probed, and its heartbeat written (half of
/// `ENDPOINT_STALE_AFTER`). A watchdog that exits is seen at once (`child.wait()`); the probe
/// only finds one that hangs, and Kubernetes gives that 30 s by default (10 s × 3). Probes are
/// what an idle provider costs: 1,000 replicas probed every 5 s kept `up` at 7 % of a core.
const CHECK_EVERY: Duration = Duration::from_secs(15);
/// The next check after one that failed (not ready, or the heartbeat not written).
const RECHECK: Duration = Duration::from_secs(1);
/// Time a watchdog gets to drain after SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(15);

pub(crate) struct Replica {
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl Replica {
    pub(crate) fn start(
        shared: Arc<Shared>,
        function: &str,
        index: usize,
        deployment: &FunctionDeployment,
    ) -> Self {
        let stop = CancellationToken::new();
        let supervisor = Supervisor {
            shared,
            function: function.to_string(),
            replica: format!("r{index}"),
            deployment: deployment.clone(),
            prober: Prober::new(),
            stop: stop.clone(),
        };
        let span = tracing::info_span!("replica", function = %function, replica = index);
        let task = tokio::spawn(supervisor.run().instrument(span));
        Replica { stop, task }
    }

    /// Unlists the replica, stops its watchdog gracefully, and waits until it has exited.
    pub(crate) async fn stop(self) {
        self.stop.cancel();
        let _ = self.task.await;
    }
}

struct Supervisor {
    shared: Arc<Shared>,
    function: String,
    replica: String,
    deployment: FunctionDeployment,
    prober: Prober,
    stop: CancellationToken,
}

enum Ended {
    Stopped,
    Died,
}

impl Supervisor {
    async fn run(self) {
        let mut backoff = FIRST_BACKOFF;
        loop {
            let started = Instant::now();
            match self.run_once().await {
                Ended::Stopped => return,
                Ended::Died => {
                    if started.elapsed() > STABLE_AFTER {
                        backoff = FIRST_BACKOFF;
                    }
                    tracing::warn!(?backoff, "watchdog died; restarting");
                    tokio::select! {
                        () = tokio::time::sleep(backoff) => {}
                        () = self.stop.cancelled() => return,
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }

    /// Runs one watchdog process from start to exit.
    async fn run_once(&self) -> Ended {
        let port = match free_port() {
            Ok(port) => port,
            Err(error) => {
                tracing::error!(%error, "no free port");
                return Ended::Died;
            }
        };
        let user = match &self.shared.runtime.users {
            Some(users) => match users.of(&self.function) {
                Some(uid) => Some(uid),
                None => {
                    tracing::error!("no user id left for this function");
                    return Ended::Died;
                }
            },
            None => None,
        };
        let secrets = match self.shared.secrets.write(&self.deployment, 0o400).await {
            Ok(dir) => dir,
            Err(error) => {
                tracing::error!(%error, "cannot hand the function its secrets");
                return Ended::Died;
            }
        };
        if let Some(uid) = user {
            if let Err(error) = give(&secrets, uid) {
                tracing::error!(%error, "cannot give the function its secrets");
                return Ended::Died;
            }
        }
        let scratch = match self.scratch(user) {
            Ok(dir) => dir,
            Err(error) => {
                tracing::error!(%error, "cannot make the replica's scratch directory");
                return Ended::Died;
            }
        };
        let token = uuid::Uuid::new_v4().simple().to_string();
        let command = match self.command(port, &secrets, &scratch, &token, user) {
            Ok(command) => command,
            Err(error) => {
                tracing::error!(%error, "cannot sandbox the watchdog");
                return Ended::Died;
            }
        };
        let mut child = match { command }.spawn() {
            Ok(child) => child,
            Err(error) => {
                tracing::error!(%error, "cannot start watchdog");
                return Ended::Died;
            }
        };
        let url = format!("http://127.0.0.1:{port}");
        tracing::info!(pid = child.id(), %url, "watchdog started");
        let mut listed = false;
        let mut ready_deadline = Some(Instant::now() + READY_WITHIN);
        let mut next_check = tokio::time::Instant::now();
        let ended = loop {
            tokio::select! {
                status = child.wait() => {
                    tracing::warn!(?status, "watchdog exited");
                    break Ended::Died;
                }
                () = self.stop.cancelled() => break Ended::Stopped,
                () = tokio::time::sleep_until(next_check) => {}
            }
            let ready = self.prober.ready_with(&url, Some(&token)).await;
            // Each check refreshes the heartbeat, so the listing never goes stale.
            let heartbeat = ready && self.list(&url, &token).await;
            if ready {
                ready_deadline = None;
                listed |= heartbeat;
            } else if listed {
                tracing::warn!("watchdog not ready; unlisted until it is");
                self.unlist().await;
                listed = false;
            }
            if ready_deadline.is_some_and(|d| Instant::now() > d) {
                tracing::error!(within = ?READY_WITHIN, "watchdog never became ready; restarting it");
                break Ended::Died;
            }
            let wait = if ready_deadline.is_some() {
                READY_POLL
            } else if !heartbeat {
                RECHECK
            } else {
                CHECK_EVERY
            };
            next_check = tokio::time::Instant::now() + wait;
        };
        self.unlist().await;
        terminate(&mut child).await;
        ended
    }

    /// The replica's own scratch directory, made empty: its `TMPDIR` and `HOME`, the one
    /// place it may write.
    fn scratch(&self, user: Option<u32>) -> std::io::Result<PathBuf> {
        let dir = self
            .shared
            .runtime
            .scratch_dir
            .join(format!("{}.{}", self.function, self.replica));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
        if let Some(uid) = user {
            give(&dir, uid)?;
        }
        dir.canonicalize()
    }

    /// The watchdog's command with a clean environment: what every process needs from the host
    /// ([`INHERITED`]), the function's `envVars`, and the watchdog's own settings; never
    /// Switchyard's settings or secrets, which the function (and its callers) would see. Where
    /// the kernel has Landlock it runs sandboxed (see [`super::sandbox`]).
    fn command(
        &self,
        port: u16,
        secrets: &Path,
        scratch: &Path,
        token: &str,
        user: Option<u32>,
    ) -> std::io::Result<Command> {
        let argv = &self.shared.runtime.watchdog;
        let fprocess = fprocess(&self.deployment).unwrap_or_default();
        let sandbox = match Sandbox::supported() {
            Some(_) => Some(Arc::new(Sandbox::new(
                &self.allowed(argv, fprocess, secrets, scratch),
            )?)),
            None => None,
        };
        let mut command = Command::new(&argv[0]);
        command
            .args(&argv[1..])
            .env_clear()
            .envs(
                INHERITED
                    .iter()
                    .filter_map(|name| Some((*name, std::env::var_os(name)?))),
            )
            .env("HOME", scratch)
            .env("TMPDIR", scratch)
            .envs(self.deployment.env_vars.iter().flatten())
            .env("fprocess", fprocess)
            .env("port", port.to_string())
            .env("secret_mount_path", secrets)
            .env("listen_host", "127.0.0.1")
            .env("replica_token", token)
            .stdin(Stdio::null())
            .kill_on_drop(true);
        // SAFETY: only async-signal-safe system calls. The parent-death signal is set last:
        // changing user clears it. The child dies with us instead of lingering.
        unsafe {
            command.pre_exec(move || {
                if let Some(sandbox) = &sandbox {
                    sandbox.enforce()?;
                }
                if let Some(uid) = user {
                    become_user(uid)?;
                }
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        Ok(command)
    }

    /// What this replica may touch besides the system's files: its secrets (read), its scratch
    /// directory (write), the watchdog program and the function's own program when named by
    /// path, and what the operator allows every function.
    fn allowed(&self, argv: &[String], fprocess: &str, secrets: &Path, scratch: &Path) -> Allowed {
        let isolation = &self.shared.config.isolation;
        let mut read = vec![secrets.to_path_buf(), PathBuf::from(&argv[0])];
        if let Some(program) = fprocess
            .split_whitespace()
            .next()
            .filter(|p| p.starts_with('/'))
        {
            read.push(PathBuf::from(program));
        }
        read.extend(isolation.read_paths.iter().cloned());
        let mut write = vec![scratch.to_path_buf()];
        write.extend(isolation.write_paths.iter().cloned());
        Allowed { read, write }
    }

    async fn list(&self, url: &str, token: &str) -> bool {
        let endpoint = Endpoint {
            function: self.function.clone(),
            replica: self.replica.clone(),
            url: url.to_string(),
            heartbeat: Utc::now(),
            token: Some(token.to_string()),
        };
        let Ok(value) = serde_json::to_vec(&endpoint) else {
            return false;
        };
        match self
            .shared
            .endpoints
            .put(endpoint.key(), Bytes::from(value))
            .await
        {
            Ok(_) => true,
            Err(error) => {
                tracing::warn!(%error, "cannot list endpoint");
                false
            }
        }
    }

    async fn unlist(&self) {
        let key = format!("{}.{}", self.function, self.replica);
        if let Err(error) = self.shared.endpoints.delete(&key).await {
            tracing::warn!(%error, "cannot unlist endpoint");
        }
    }
}

/// SIGTERM (the watchdog drains), then SIGKILL if it takes too long.
async fn terminate(child: &mut Child) {
    if let Some(pid) = child.id().and_then(|p| i32::try_from(p).ok()) {
        // SAFETY: signalling our own child process.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
    }
    if tokio::time::timeout(STOP_GRACE, child.wait())
        .await
        .is_err()
    {
        tracing::warn!("watchdog did not stop in time; killing it");
        let _ = child.kill().await;
    }
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}
