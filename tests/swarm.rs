//! The Swarm provider against a real one-node Docker Swarm made by the test on loopback (and
//! left again at the end): functions as services whose running tasks are the replicas.

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::docker::{build_function_image, docker, up_with_swarm};
use common::swarm::Swarm;
use common::{Nats, TempDir};
use reqwest::Method;
use serde_json::json;

const WAIT: Duration = Duration::from_secs(90);

const HANDLER: &str =
    "echo \"$(hostname) ${GREETING:-hello} $(cat) $(cat /var/openfaas/secrets/token 2>/dev/null)\"\n";

#[tokio::test]
async fn services_deploy_invoke_scale_update_mount_secrets_and_go() {
    let dir = TempDir::new("swarm-fn");
    build_function_image("sy-test/swarm-echo:1", HANDLER, &dir.0);
    let swarm = Swarm::join();
    let nats = Nats::start();
    let switchyard = up_with_swarm(&nats, &swarm.network, &[]);
    let api = switchyard.api();

    let created = api
        .admin(Method::POST, "/system/secrets")
        .json(&json!({"name": "token", "value": "s3cret"}))
        .send()
        .await
        .expect("answers");
    assert_eq!(created.status(), 201);
    let response = api
        .deploy(
            json!({"service": "echo", "image": "sy-test/swarm-echo:1", "secrets": ["token"],
                       "labels": {"team": "blue"}, "limits": {"memory": "64Mi", "cpu": "0.5"}}),
        )
        .await;
    assert_eq!(
        response.status(),
        202,
        "{}",
        response.text().await.unwrap_or_default()
    );
    api.wait_available("echo", 1).await;
    let services = swarm.services("echo");
    assert_eq!(services.len(), 1, "one service for the function");
    let service = &services[0];
    let inspected = docker(&[
        "service", "inspect", "-f",
        "{{.Spec.TaskTemplate.Resources.Limits.MemoryBytes}} {{.Spec.TaskTemplate.Resources.Limits.NanoCPUs}} {{.Spec.TaskTemplate.ContainerSpec.ReadOnly}} {{index .Spec.Labels \"team\"}} {{(index .Spec.TaskTemplate.Networks 0).Target}}",
        service,
    ]);
    let network_id = docker(&["network", "inspect", "-f", "{{.Id}}", &swarm.network]);
    assert_eq!(
        inspected.trim(),
        format!(
            "{} 500000000 true blue {}",
            64 * 1024 * 1024,
            network_id.trim()
        ),
        "limits, read-only root, labels and the overlay network"
    );

    // Sync, with the secret Swarm mounted; then async through the same service.
    let text = api.invoke("echo", "ping").await.text().await.expect("body");
    assert!(text.trim_end().ends_with("hello ping s3cret"), "{text}");
    assert_eq!(swarm.secrets().len(), 1, "the secret as one Swarm secret");
    api.run_job("echo", "async", WAIT).await;

    // Scale to 3: three running tasks, calls spread over them.
    assert_eq!(api.scale("echo", 3).await.status(), 202);
    api.wait_available("echo", 3).await;
    assert_eq!(swarm.running_tasks(service).len(), 3);
    let mut hosts = HashSet::new();
    for _ in 0..30 {
        let text = api.invoke("echo", "x").await.text().await.expect("body");
        hosts.insert(
            text.split_whitespace()
                .next()
                .unwrap_or_default()
                .to_string(),
        );
    }
    assert!(hosts.len() >= 2, "calls went to {hosts:?}");

    // An update is rolled by Swarm: the same service, new tasks with the new environment.
    let before: HashSet<String> = swarm.running_tasks(service).into_iter().collect();
    let response = api
        .admin(Method::PUT, "/system/functions")
        .json(
            &json!({"service": "echo", "image": "sy-test/swarm-echo:1", "secrets": ["token"],
                      "envVars": {"GREETING": "hi"}}),
        )
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), 202);
    common::eventually(WAIT, "the update to roll out to 3 new tasks", || async {
        let now: HashSet<String> = swarm.running_tasks(service).into_iter().collect();
        now.len() == 3 && now.is_disjoint(&before)
    })
    .await;
    assert_eq!(swarm.services("echo"), services, "updated in place");
    common::eventually(WAIT, "the new greeting", || async {
        api.invoke("echo", "x")
            .await
            .text()
            .await
            .unwrap_or_default()
            .contains(" hi x s3cret")
    })
    .await;

    // Removal deletes the service, and then its Swarm secret.
    let response = api
        .admin(Method::DELETE, "/system/functions")
        .json(&json!({"functionName": "echo"}))
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), 202);
    common::eventually(WAIT, "the service and its secret to go", || async {
        swarm.services("echo").is_empty() && swarm.secrets().is_empty()
    })
    .await;
}

#[tokio::test]
async fn the_autoscaler_scales_a_swarm_service_with_its_load() {
    let dir = TempDir::new("swarm-slow");
    build_function_image("sy-test/swarm-slow:1", "sleep 0.5; cat\n", &dir.0);
    let swarm = Swarm::join();
    let nats = Nats::start();
    let switchyard = up_with_swarm(
        &nats,
        &swarm.network,
        &[("SWITCHYARD_SCALE_DOWN_WINDOW", "3s")],
    );
    let api = switchyard.api();
    let response = api
        .deploy(json!({"service": "slow", "image": "sy-test/swarm-slow:1",
            "labels": {"com.openfaas.scale.type": "capacity", "com.openfaas.scale.target": "2",
                       "com.openfaas.scale.min": "1", "com.openfaas.scale.max": "3"}}))
        .await;
    assert_eq!(response.status(), 202);
    api.wait_available("slow", 1).await;
    let service = swarm.services("slow").pop().expect("the service");

    let running = Arc::new(AtomicBool::new(true));
    for _ in 0..12 {
        let (api, running) = (api.clone(), running.clone());
        tokio::spawn(async move {
            while running.load(Ordering::Relaxed) {
                let _ = api.invoke("slow", "x").await;
            }
        });
    }
    common::eventually(
        WAIT,
        "12 calls in flight at target 2 → 3 running tasks",
        || async { swarm.running_tasks(&service).len() == 3 },
    )
    .await;
    api.wait_available("slow", 3).await;
    running.store(false, Ordering::Relaxed);
    common::eventually(WAIT, "back to 1 task after the window", || async {
        swarm.running_tasks(&service).len() == 1
    })
    .await;
}

/// Tenancy on Swarm: each namespace's services join an overlay of their own, and a task's
/// published port (reachable from every container on the node) answers only the dispatcher,
/// which shows the token the provider gave the task.
#[tokio::test]
async fn a_function_cannot_call_another_namespaces_task_directly() {
    let dir = TempDir::new("swarm-shell");
    build_function_image("sy-test/swarm-shell:1", "sh -c \"$(cat)\"\n", &dir.0);
    let swarm = Swarm::join();
    let nats = Nats::start();
    let switchyard = up_with_swarm(&nats, &swarm.network, &[]);
    let api = switchyard.api();
    for namespace in ["team-a", "team-b"] {
        api.create_namespace(namespace).await;
        let response = api
            .deploy(json!({"service": "sh", "namespace": namespace,
                           "image": "sy-test/swarm-shell:1"}))
            .await;
        assert_eq!(response.status(), 202, "{namespace}");
        api.wait_available(&format!("sh.{namespace}"), 1).await;
    }
    let service_b = swarm.services("sh.team-b").pop().expect("team-b's service");
    let network_b = docker(&[
        "service",
        "inspect",
        "-f",
        "{{(index .Spec.TaskTemplate.Networks 0).Target}}",
        &service_b,
    ]);
    let expected = docker(&[
        "network",
        "inspect",
        "-f",
        "{{.Id}}",
        &format!("{}-team-b", swarm.network),
    ]);
    assert_eq!(network_b.trim(), expected.trim(), "team-b's own overlay");

    let task_b = swarm
        .running_tasks(&service_b)
        .pop()
        .expect("team-b's task");
    let port = docker(&[
        "inspect",
        "-f",
        "{{(index .Status.PortStatus.Ports 0).PublishedPort}}",
        &task_b,
    ]);
    // From team-a's task: team-b's published port on the node, through the default route.
    let script = format!(
        "gw=$(ip route | awk '/default/ {{print $3}}'); \
         (printf 'POST / HTTP/1.0\\r\\nContent-Length: 4\\r\\n\\r\\necho'; sleep 1) \
         | nc -w 3 $gw {} | head -1; echo done",
        port.trim()
    );
    let answer = api.invoke_text("sh.team-a", script).await;
    assert!(
        answer.contains("403") && answer.contains("done"),
        "team-a's function reached team-b's task without its token: {answer}"
    );
    // The dispatcher, which has the token, still reaches it.
    let text = api
        .invoke("sh.team-b", "echo hi")
        .await
        .text()
        .await
        .expect("body");
    assert_eq!(text.trim(), "hi");
}
