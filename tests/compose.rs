//! The Compose stack, started and stopped by `compose/stack.sh`, on the real Docker engine:
//! one NATS node, the monitoring profile (Prometheus scraping every part, an alert reaching a
//! function as a CloudEvent), and the soak: the three-node cluster under mixed load while its
//! nodes, a dispatcher and the active provider fail ([`soak`]).

mod common;
#[path = "compose/soak.rs"]
mod soak;

use std::process::Command;
use std::time::Duration;

use common::docker::build_images;
use common::{free_port, Api};
use serde_json::json;

const PASSWORD: &str = common::ADMIN_PASSWORD;
const NATS_PASSWORD: &str = "compose-test-nats-0123456789";

/// One stack at a time: three stacks (one a NATS cluster with the monitoring profile) at once
/// on a 2-core machine made the node-loss test's timings depend on its neighbours.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// One stack of its own (project, ports, functions network), brought down on drop.
struct Stack {
    /// Held until the stack is down (fields drop after `Drop::drop` has run `down`).
    _turn: std::sync::MutexGuard<'static, ()>,
    project: String,
    port: u16,
    network: String,
    cluster: bool,
    /// The webhook source's port.
    webhook: u16,
    /// With the monitoring profile: Prometheus's port.
    prometheus: Option<u16>,
    /// `SERVICE=N` for services with more than one container.
    scale: &'static [&'static str],
}

impl Stack {
    fn up(cluster: bool) -> Self {
        Self::start(cluster, false)
    }

    fn start(cluster: bool, monitoring: bool) -> Self {
        Self::start_scaled(cluster, monitoring, &[])
    }

    fn start_scaled(cluster: bool, monitoring: bool, scale: &'static [&'static str]) -> Self {
        let turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        build_images();
        let port = free_port();
        let stack = Stack {
            _turn: turn,
            project: format!("sytest{port}"),
            port,
            network: format!("sy-compose-{port}"),
            cluster,
            webhook: free_port(),
            prometheus: monitoring.then(free_port),
            scale,
        };
        assert!(stack.script("up").success(), "compose/stack.sh up failed");
        stack
    }

    fn script(&self, action: &str) -> std::process::ExitStatus {
        let mut command = Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/compose/stack.sh"));
        command.arg(action);
        if self.cluster {
            command.arg("--cluster");
        }
        if let Some(port) = self.prometheus {
            command
                .arg("--monitoring")
                .env("SWITCHYARD_PROMETHEUS_PORT", port.to_string());
        }
        for service in self.scale {
            command.args(["--scale", service]);
        }
        command
            .env("COMPOSE_PROJECT_NAME", &self.project)
            .env("SWITCHYARD_ADMIN_PASSWORD", PASSWORD)
            .env("SWITCHYARD_NATS_PASSWORD", NATS_PASSWORD)
            .env("SWITCHYARD_PORT", self.port.to_string())
            .env("SWITCHYARD_WEBHOOK_PORT", self.webhook.to_string())
            .env("SWITCHYARD_FUNCTIONS_NETWORK", &self.network)
            .env("SWITCHYARD_AUTOSCALE_OPENFAAS_CE", "false")
            .status()
            .expect("run compose/stack.sh")
    }

    /// `docker-compose <args>` on this stack.
    fn compose(&self, args: &[&str]) {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/compose");
        let mut files = vec!["-f".to_string(), format!("{dir}/docker-compose.yml")];
        if self.cluster {
            files.extend([
                "-f".to_string(),
                format!("{dir}/docker-compose.cluster.yml"),
            ]);
        }
        let status = Command::new("docker-compose")
            .args(&files)
            .args(args)
            .env("COMPOSE_PROJECT_NAME", &self.project)
            .env("SWITCHYARD_ADMIN_PASSWORD", PASSWORD)
            .env("SWITCHYARD_NATS_PASSWORD", NATS_PASSWORD)
            .env("SWITCHYARD_FUNCTIONS_NETWORK", &self.network)
            .status()
            .expect("run docker-compose");
        assert!(status.success(), "docker-compose {args:?} failed");
    }

    fn api(&self) -> Api {
        Api::new(([127, 0, 0, 1], self.port).into())
    }

    /// The webhook source's listener (`/webhook/{source}`).
    fn webhook(&self) -> Api {
        Api::new(([127, 0, 0, 1], self.webhook).into())
    }

    /// The container of `service`'s `index`th replica (from 1).
    fn container(&self, service: &str, index: usize) -> String {
        format!("{}_{service}_{index}", self.project)
    }

    /// Waits until `service`'s `index`th container reports healthy.
    async fn wait_healthy(&self, service: &str, index: usize, within: Duration) {
        let container = self.container(service, index);
        common::eventually(within, &format!("{container} to be healthy"), || async {
            let output = Command::new("docker")
                .args(["inspect", "-f", "{{.State.Health.Status}}", &container])
                .output()
                .expect("docker inspect");
            String::from_utf8_lossy(&output.stdout).trim() == "healthy"
        })
        .await;
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // What the parts said, to see why.
            self.compose(&["logs", "--tail", "200", "provider", "dispatcher", "gateway"]);
        }
        self.script("down");
    }
}

async fn deploy_cat(api: &Api, name: &str) {
    let response = api
        .deploy(
            json!({"service": name, "image": "switchyard/function:latest", "envProcess": "cat"}),
        )
        .await;
    assert_eq!(
        response.status(),
        202,
        "{}",
        response.text().await.unwrap_or_default()
    );
    api.wait_available(name, 1).await;
}

#[tokio::test]
async fn the_stack_comes_up_runs_a_function_and_goes_down() {
    let stack = Stack::up(false);
    let api = stack.api();
    deploy_cat(&api, "echo").await;
    let answer = api.invoke("echo", "through compose").await;
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.text().await.expect("body"), "through compose");
    // NATS takes no client without the password: its INFO says so, to anyone on its network.
    let info = common::docker::docker(&[
        "run",
        "--rm",
        "--network",
        &format!("{}_default", stack.project),
        "--entrypoint",
        "/bin/sh",
        "switchyard/function:latest",
        "-c",
        "(sleep 1) | nc -w 2 nats 4222; true",
    ]);
    assert!(info.contains("\"auth_required\":true"), "{info}");
    let (project, network) = (stack.project.clone(), stack.network.clone());
    drop(stack);
    for filter in [
        format!("label=com.docker.compose.project={project}"),
        format!("label=dev.switchyard.network={network}"),
    ] {
        let left = common::docker::docker(&["ps", "-aq", "--filter", &filter]);
        assert!(left.trim().is_empty(), "containers left ({filter}): {left}");
    }
}

#[tokio::test]
async fn the_monitoring_profile_scrapes_every_part_and_an_alert_reaches_a_function() {
    let stack = Stack::start(false, true);
    let api = stack.api();
    deploy_cat(&api, "alertsink").await;
    // Alerts arrive as events of the `alerts` source that stack.sh made; from the start, so
    // that one sent before this subscription still arrives.
    api.subscribe(
        json!({"name": "alerts-to-sink", "function": "alertsink", "startAt": "all",
        "filters": [{"exact": {"type": "com.switchyard.alert"}}]}),
    )
    .await;

    let prometheus = format!("http://127.0.0.1:{}", stack.prometheus.expect("monitoring"));
    let http = reqwest::Client::new();
    let jobs = [
        "gateway",
        "webhook",
        "vcenter",
        "dispatcher",
        "provider",
        "autoscaler",
        "alertmanager",
        "functions",
        "nats",
    ];
    common::eventually(
        Duration::from_secs(90),
        "Prometheus reports every target up",
        || {
            let (http, url) = (http.clone(), format!("{prometheus}/api/v1/targets"));
            async move {
                let request = http.get(url).basic_auth("admin", Some(PASSWORD));
                let Ok(response) = request.send().await else {
                    return false;
                };
                let Ok(targets) = response.json::<serde_json::Value>().await else {
                    return false;
                };
                let active = targets["data"]["activeTargets"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                jobs.iter().all(|job| {
                    let of_job: Vec<_> = active
                        .iter()
                        .filter(|t| t["labels"]["job"] == *job)
                        .collect();
                    !of_job.is_empty() && of_job.iter().all(|t| t["health"] == "up")
                })
            }
        },
    )
    .await;

    // Prometheus asks who is asking.
    let anonymous = http
        .get(format!("{prometheus}/api/v1/targets"))
        .send()
        .await
        .expect("answers");
    assert_eq!(anonymous.status(), 401);
    // A namespace's functions are scraped too: Prometheus finds them through the gateway (it
    // holds no Docker socket) and the provider connects it to the namespace's network, where
    // the namespace's functions reach it but cannot read it without the password.
    let mounts = common::docker::docker(&[
        "inspect",
        "-f",
        "{{range .Mounts}}{{.Source}} {{end}}",
        &format!("{}_prometheus_1", stack.project),
    ]);
    assert!(
        !mounts.contains("docker.sock"),
        "Prometheus mounts {mounts}"
    );
    api.create_namespace("team-a").await;
    let response = api
        .deploy(json!({"service": "sh", "namespace": "team-a",
                       "image": "switchyard/function:latest", "envProcess": "sh"}))
        .await;
    assert_eq!(response.status(), 202);
    api.wait_available("sh.team-a", 1).await;
    common::eventually(
        Duration::from_secs(60),
        "Prometheus scrapes team-a's replica",
        || async {
            let answer = prometheus_query(&format!("{prometheus}/api/v1/targets")).await;
            answer["data"]["activeTargets"]
                .as_array()
                .is_some_and(|targets| {
                    targets
                        .iter()
                        .any(|t| t["labels"]["function_name"] == "sh.team-a" && t["health"] == "up")
                })
        },
    )
    .await;
    let network = format!("{}-team-a", stack.network);
    let address = common::docker::docker(&[
        "inspect",
        "-f",
        &format!("{{{{(index .NetworkSettings.Networks \"{network}\").IPAddress}}}}"),
        &format!("{}_prometheus_1", stack.project),
    ]);
    let script = format!(
        "(printf 'GET /api/v1/targets HTTP/1.0\\r\\n\\r\\n'; sleep 1) | nc -w 3 {} 9090 | head -1; echo done",
        address.trim()
    );
    let answer = api.invoke_text("sh.team-a", script).await;
    assert!(
        answer.contains("401") && answer.contains("done"),
        "team-a's function read Prometheus: {answer}"
    );

    // The blackbox exporter reaches the NATS node.
    common::eventually(
        Duration::from_secs(60),
        "the NATS node probed healthy",
        || async {
            let query =
                format!("{prometheus}/api/v1/query?query=probe_success%7Bjob%3D%22nats%22%7D");
            let answer = prometheus_query(&query).await;
            answer["data"]["result"][0]["value"][1] == "1"
                && answer["data"]["result"][0]["metric"]["nats_node"] == "nats"
        },
    )
    .await;

    // The always-firing pipeline alert: Prometheus → AlertManager → webhook → the function.
    common::eventually(
        Duration::from_secs(90),
        "the alert reaches the subscribed function",
        || {
            let api = api.clone();
            async move {
                let done = api
                    .admin_json("/system/jobs?function=alertsink&status=succeeded")
                    .await;
                for job in done.as_array().cloned().unwrap_or_default() {
                    let call_id = job["callId"].as_str().unwrap_or_default();
                    let result = api
                        .admin(
                            reqwest::Method::GET,
                            &format!("/system/jobs/{call_id}/result"),
                        )
                        .send()
                        .await;
                    if let Ok(result) = result {
                        if result
                            .text()
                            .await
                            .unwrap_or_default()
                            .contains("SwitchyardAlertingPipeline")
                        {
                            return true;
                        }
                    }
                }
                false
            }
        },
    )
    .await;
}

/// A Prometheus API answer, or null when it cannot be had (yet).
async fn prometheus_query(url: &str) -> serde_json::Value {
    let request = reqwest::Client::new()
        .get(url)
        .basic_auth("admin", Some(PASSWORD));
    let Ok(response) = request.send().await else {
        return serde_json::Value::Null;
    };
    response.json().await.unwrap_or_default()
}
