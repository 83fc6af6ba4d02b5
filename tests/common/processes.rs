//! Switchyard processes started by tests, and what runs under them.

use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{free_port, nats_server_program_path, Api, Nats, TempDir, ADMIN_PASSWORD};

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
            .env("SWITCHYARD_NATS_SERVER_BIN", nats_server_program_path())
            .env("RUST_LOG", "info")
            // Functions are sandboxed: the tests' own scripts and what they record live in
            // the temp dir. (A test of the sandbox itself sets these empty.)
            .env("SWITCHYARD_FUNCTION_READ_PATHS", std::env::temp_dir())
            .env("SWITCHYARD_FUNCTION_WRITE_PATHS", std::env::temp_dir())
            // Tests count replicas they set; OpenFaaS CE's steps (on by default) would add
            // some under their load. The tests of those steps turn them on.
            .env("SWITCHYARD_AUTOSCALE_OPENFAAS_CE", "false")
            .envs(self.env.iter().cloned())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .expect("start switchyard");
        self.child = Some(child);
        if !matches!(self.command.as_str(), "dispatcher" | "provider") {
            self.wait_serving();
        }
    }

    /// Waits until this process serves its port. Another test may have taken the port between
    /// `free_port` and our bind (then the port answers, but not us, and our process exits
    /// saying so): the first launch then retries on another port.
    fn wait_serving(&mut self) {
        const READY: [&str; 4] = [
            "Switchyard is up",
            "gateway listening",
            "webhook ingester listening",
            "vCenter pollers running",
        ];
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let exited = self
                .child
                .as_mut()
                .is_some_and(|c| matches!(c.try_wait(), Ok(Some(_))));
            let log = std::fs::read_to_string(self.log_path()).unwrap_or_default();
            if exited {
                let first_launch = !log.contains("shutting down");
                let port_taken = log.matches("cannot listen on").count();
                if first_launch && (1..=3).contains(&port_taken) {
                    self.address = ([127, 0, 0, 1], free_port()).into();
                    self.launch();
                    return;
                }
                panic!("switchyard {} exited before serving: {log}", self.command);
            }
            if READY.iter().any(|m| log.contains(m)) && TcpStream::connect(self.address).is_ok() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "switchyard {} did not serve {} within 30 s",
                self.command,
                self.address
            );
            std::thread::sleep(Duration::from_millis(20));
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
