//! A real nats-server with JetStream for tests (feature `testing`): on a free loopback port,
//! with its own storage, stopped on drop. Tests fail loudly when nats-server is missing;
//! `./scripts/test` installs it.
//!
//! ```no_run
//! # async fn run() {
//! let nats = switchyard_broker::testing::NatsServer::start();
//! let client = async_nats::connect(nats.url()).await.expect("connects");
//! # }
//! ```

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// A nats-server child process.
pub struct NatsServer {
    child: Option<Child>,
    pub port: u16,
    dir: PathBuf,
    /// In a cluster: this node's name, its route port and the other nodes' route ports.
    cluster: Option<(String, u16, Vec<u16>)>,
}

impl NatsServer {
    pub fn start() -> Self {
        let mut server = Self::unstarted();
        server.launch();
        server
    }

    /// A JetStream cluster of `nodes` servers on loopback, routed to each other (one plain
    /// server when `nodes` is 1).
    pub fn cluster(nodes: usize) -> Vec<Self> {
        let route_ports: Vec<u16> = (0..nodes).map(|_| free_port()).collect();
        let mut servers: Vec<Self> = (0..nodes)
            .map(|node| {
                let mut server = Self::unstarted();
                let others = route_ports
                    .iter()
                    .enumerate()
                    .filter(|&(other, _)| other != node)
                    .map(|(_, &port)| port)
                    .collect();
                if nodes > 1 {
                    server.cluster = Some((format!("n{node}"), route_ports[node], others));
                }
                server
            })
            .collect();
        for server in &mut servers {
            server.launch();
        }
        servers
    }

    fn unstarted() -> Self {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "sy-nats-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        NatsServer {
            child: None,
            port: free_port(),
            dir,
            cluster: None,
        }
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// The URLs of every node of a cluster, as a client takes them (comma-separated).
    pub fn urls(cluster: &[Self]) -> String {
        cluster.iter().map(Self::url).collect::<Vec<_>>().join(",")
    }

    /// Where JetStream keeps its files.
    pub fn store_dir(&self) -> PathBuf {
        self.dir.join("store")
    }

    fn launch(&mut self) {
        let mut command = Command::new(program());
        command
            .args([
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-js",
                "-sd",
            ])
            .arg(self.dir.join("store"));
        if let Some((name, route_port, others)) = &self.cluster {
            let routes: Vec<String> = others
                .iter()
                .map(|port| format!("nats://127.0.0.1:{port}"))
                .collect();
            command
                .args(["-n", name, "--cluster_name", "switchyard-test", "--cluster"])
                .arg(format!("nats://127.0.0.1:{route_port}"))
                .arg("--routes")
                .arg(routes.join(","));
        }
        let child = command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nats-server");
        self.child = Some(child);
        let address: SocketAddr = ([127, 0, 0, 1], self.port).into();
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(address).is_err() {
            assert!(
                Instant::now() < deadline,
                "nats-server did not listen on {address}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the server (SIGTERM, then SIGKILL after 10 s), keeping its storage.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        // SAFETY: signalling a child process this fixture started.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Starts it again on the same port with the same storage.
    pub fn restart(&mut self) {
        self.stop();
        self.launch();
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A free loopback port.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The nats-server program: `SWITCHYARD_NATS_SERVER_BIN`, else `nats-server` on PATH, as a
/// path; panics with what to do when there is none.
pub fn program() -> PathBuf {
    let program = std::env::var_os("SWITCHYARD_NATS_SERVER_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| "nats-server".into());
    let found = if program.components().count() > 1 {
        program.exists().then(|| program.clone())
    } else {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join(&program))
                .find(|p| p.exists())
        })
    };
    found.unwrap_or_else(|| {
        panic!(
            "nats-server not found ({}): these tests need a real NATS server; run ./scripts/test, which installs it",
            program.display()
        )
    })
}
