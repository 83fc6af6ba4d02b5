//! The nats-server child that `switchyard up` starts when no NATS URL is given.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use tokio::process::{Child, Command};

const READY_WITHIN: Duration = Duration::from_secs(30);
const STOP_GRACE: Duration = Duration::from_secs(10);
/// Larger than NATS's 1 MB default so that function bodies of a few MB fit; NATS advises at
/// most 8 MB.
const MAX_PAYLOAD: &str = "8MB";

pub struct NatsServer {
    child: Child,
    /// Where it listens, without credentials (for people to read).
    pub url: String,
    /// The URL the parts connect with: `nats://switchyard:<password>@host:port`.
    pub client_url: String,
    /// The file holding the password (mode 0600).
    pub password_file: PathBuf,
    pub store_dir: PathBuf,
}

/// The user the parts connect as.
const USER: &str = "switchyard";

impl NatsServer {
    /// Starts nats-server with JetStream on `listen`, storing under `data_dir/nats`, and waits
    /// until it accepts connections.
    pub async fn start(
        program: &Path,
        listen: SocketAddr,
        data_dir: &Path,
    ) -> anyhow::Result<Self> {
        let store_dir = data_dir.join("nats");
        std::fs::create_dir_all(&store_dir)
            .with_context(|| format!("cannot create {}", store_dir.display()))?;
        // Only Switchyard's parts may connect: the buckets hold source credentials and the
        // registry says what runs.
        let password_file = data_dir.join("nats-password");
        let password = crate::credentials::read_or_generate(&password_file)?;
        let config_path = data_dir.join("nats-server.conf");
        let config = format!(
            "host: \"{}\"\nport: {}\nserver_name: switchyard\nmax_payload: {MAX_PAYLOAD}\nauthorization {{\n  user: \"{USER}\"\n  password: \"{password}\"\n}}\njetstream {{\n  store_dir: \"{}\"\n}}\n",
            listen.ip(),
            listen.port(),
            store_dir.display()
        );
        crate::credentials::write_private(&config_path, &config)?;
        let log_path = data_dir.join("nats-server.log");
        let log = std::fs::File::create(&log_path)
            .with_context(|| format!("cannot create {}", log_path.display()))?;
        let mut command = Command::new(program);
        command
            .arg("-c")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true);
        // SAFETY: prctl is async-signal-safe; NATS must not outlive us if we are killed.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
        let mut child = command.spawn().with_context(|| {
            format!(
                "cannot run `{}`: install nats-server (the README's run command does) or set SWITCHYARD_NATS_URL",
                program.display()
            )
        })?;
        let deadline = Instant::now() + READY_WITHIN;
        loop {
            if let Some(status) = child.try_wait()? {
                let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(5).collect();
                bail!(
                    "nats-server exited ({status}) before accepting connections on {listen}; is the port taken? \
                     (set SWITCHYARD_NATS_LISTEN or SWITCHYARD_NATS_URL). Its last log lines:\n{}",
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                );
            }
            if tokio::net::TcpStream::connect(listen).await.is_ok() {
                break;
            }
            if Instant::now() > deadline {
                bail!("nats-server did not accept connections on {listen} within {READY_WITHIN:?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(NatsServer {
            child,
            url: format!("nats://{listen}"),
            client_url: format!("nats://{USER}:{password}@{listen}"),
            password_file,
            store_dir,
        })
    }

    /// Stops the server gracefully (SIGTERM), killing it if it takes too long.
    pub async fn stop(mut self) {
        if let Some(pid) = self.child.id().and_then(|p| i32::try_from(p).ok()) {
            // SAFETY: signalling our own child process.
            unsafe {
                libc::kill(pid, libc::SIGTERM);
            }
        }
        if tokio::time::timeout(STOP_GRACE, self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
        tracing::info!("nats-server stopped");
    }
}
