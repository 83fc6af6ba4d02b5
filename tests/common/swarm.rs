//! A one-node Docker Swarm on loopback, made for the tests that need it and left again when
//! the last of them is done (`docker swarm init --advertise-addr 127.0.0.1`). An engine that
//! is already part of a Swarm is used as it is and left in it.

use std::sync::Mutex;

use super::docker::docker;

/// How many tests of this binary hold the Swarm, and whether we made it.
static HOLDERS: Mutex<(usize, bool)> = Mutex::new((0, false));

/// A test's hold on the Swarm; the Swarm we made is left when the last hold goes.
pub struct Swarm {
    /// The overlay network this test's services join; its services and the network are
    /// removed when the hold goes.
    pub network: String,
}

impl Swarm {
    pub fn join() -> Self {
        let mut holders = HOLDERS.lock().unwrap_or_else(|e| e.into_inner());
        if holders.0 == 0 {
            let state = docker(&["info", "--format", "{{.Swarm.LocalNodeState}}"]);
            match state.trim() {
                "inactive" => {
                    docker(&["swarm", "init", "--advertise-addr", "127.0.0.1"]);
                    holders.1 = true;
                }
                "active" => holders.1 = false,
                other => panic!("the Docker engine's Swarm state is `{other}`: these tests need a Swarm manager"),
            }
        }
        holders.0 += 1;
        Swarm {
            network: format!("sy-swarm-{}", super::free_port()),
        }
    }

    /// The ids of the services of `function` on this test's network.
    pub fn services(&self, function: &str) -> Vec<String> {
        docker(&[
            "service",
            "ls",
            "-q",
            "--filter",
            &format!("label=dev.switchyard.function={function}"),
            "--filter",
            &format!("label=dev.switchyard.network={}", self.network),
        ])
        .lines()
        .map(str::to_string)
        .collect()
    }

    /// The running tasks of `service`.
    pub fn running_tasks(&self, service: &str) -> Vec<String> {
        docker(&[
            "service",
            "ps",
            "-q",
            "--filter",
            "desired-state=running",
            service,
        ])
        .lines()
        .map(str::to_string)
        .collect()
    }

    /// Swarm secrets of this test's network.
    pub fn secrets(&self) -> Vec<String> {
        docker(&[
            "secret",
            "ls",
            "-q",
            "--filter",
            &format!("label=dev.switchyard.network={}", self.network),
        ])
        .lines()
        .map(str::to_string)
        .collect()
    }
}

impl Drop for Swarm {
    fn drop(&mut self) {
        let filter = format!("label=dev.switchyard.network={}", self.network);
        let run = |args: &[&str]| std::process::Command::new("docker").args(args).output();
        if let Ok(out) = run(&["service", "ls", "-q", "--filter", &filter]) {
            for id in String::from_utf8_lossy(&out.stdout).lines() {
                let _ = run(&["service", "rm", id]);
            }
        }
        let mut holders = HOLDERS.lock().unwrap_or_else(|e| e.into_inner());
        holders.0 -= 1;
        if holders.0 == 0 && holders.1 {
            // Leaving removes the Swarm's services, secrets and overlay networks with it.
            let _ = run(&["swarm", "leave", "--force"]);
            holders.1 = false;
        } else {
            if let Ok(out) = run(&["secret", "ls", "-q", "--filter", &filter]) {
                for id in String::from_utf8_lossy(&out.stdout).lines() {
                    let _ = run(&["secret", "rm", id]);
                }
            }
            let _ = run(&["network", "rm", &self.network]);
        }
    }
}
