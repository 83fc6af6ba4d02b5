//! The Docker provider against the real Docker engine: function images built here from
//! `switchyard/function` (itself built by `compose/build-images.sh`), run as containers.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::docker::{build_function_image, clean_up, containers, docker};
use common::{free_port, Nats, Switchyard, TempDir};
use reqwest::Method;
use serde_json::json;

const WAIT: Duration = Duration::from_secs(60);

/// A network of its own per test; its containers and itself are removed at the end.
struct Network(String);

impl Network {
    fn new() -> Self {
        Network(format!("sy-test-{}", free_port()))
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        clean_up(&self.0);
    }
}

fn docker_switchyard(nats: &Nats, network: &Network) -> Switchyard {
    common::docker::up_with_docker(nats, &network.0, &[])
}

const HANDLER: &str = "echo \"$(hostname) ${GREETING:-hello} $(cat)\"\n";

async fn wait_containers(network: &Network, function: &str, count: usize) -> Vec<String> {
    common::eventually(
        WAIT,
        &format!("{count} containers of {function}"),
        || async { containers(&network.0, function).len() == count },
    )
    .await;
    containers(&network.0, function)
}

#[tokio::test]
async fn containers_run_scale_get_replaced_update_and_go() {
    let dir = TempDir::new("docker-fn");
    build_function_image("sy-test/echo:1", HANDLER, &dir.0);
    let network = Network::new();
    let nats = Nats::start();
    let switchyard = docker_switchyard(&nats, &network);
    let api = switchyard.api();

    let response = api
        .deploy(json!({"service": "echo", "image": "sy-test/echo:1"}))
        .await;
    assert_eq!(
        response.status(),
        202,
        "{}",
        response.text().await.unwrap_or_default()
    );
    api.wait_available("echo", 1).await;
    let answer = api.invoke("echo", "ping").await;
    assert_eq!(answer.status(), 200);
    let call_id = answer.headers()["x-call-id"]
        .to_str()
        .expect("text")
        .to_string();
    let text = answer.text().await.expect("body");
    assert!(text.trim_end().ends_with("hello ping"), "{text}");

    // Its logs, as OpenFaaS streams them, with a line per call naming the call.
    let logs = api
        .admin(Method::GET, "/system/logs?name=echo&tail=20")
        .send()
        .await
        .expect("answers");
    assert_eq!(logs.status(), 200);
    assert_eq!(logs.headers()["content-type"], "application/x-ndjson");
    let logs = logs.text().await.expect("body");
    let first: serde_json::Value =
        serde_json::from_str(logs.lines().next().unwrap_or_default()).expect("a JSON line");
    assert_eq!(first["name"], "echo", "{logs}");
    assert!(logs.contains("watchdog listening"), "{logs}");
    let call_line = logs
        .lines()
        .find(|line| line.contains(&call_id))
        .unwrap_or_else(|| panic!("no line names call {call_id}: {logs}"));
    assert!(
        call_line.contains("POST / - 200 OK - ContentLength"),
        "{call_line}"
    );

    // What the engine would refuse is refused at deploy, naming the field, not retried forever.
    let tiny = api
        .deploy(json!({"service": "tiny", "image": "sy-test/echo:1", "limits": {"memory": "5Mi"}}))
        .await;
    assert_eq!(tiny.status(), 400);
    let said = tiny.text().await.unwrap_or_default();
    assert!(said.contains("limits.memory `5Mi`"), "{said}");

    // Async through the same container.
    api.run_job("echo", "async", WAIT).await;

    // Scale to 3: calls spread over the containers (their host names).
    assert_eq!(api.scale("echo", 3).await.status(), 202);
    api.wait_available("echo", 3).await;
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

    // A killed container is replaced.
    let before = wait_containers(&network, "echo", 3).await;
    docker(&["kill", &before[0]]);
    common::eventually(WAIT, "the killed container to be replaced", || async {
        let now = containers(&network.0, "echo");
        now.len() == 3 && !now.contains(&before[0])
    })
    .await;
    api.wait_available("echo", 3).await;

    // An update rolls every container to the new spec.
    let before: HashSet<String> = containers(&network.0, "echo").into_iter().collect();
    let response = api
        .admin(Method::PUT, "/system/functions")
        .json(&json!({"service": "echo", "image": "sy-test/echo:1", "envVars": {"GREETING": "hi"}}))
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), 202);
    common::eventually(WAIT, "the update to roll out", || async {
        let now: HashSet<String> = containers(&network.0, "echo").into_iter().collect();
        now.len() == 3 && now.is_disjoint(&before)
    })
    .await;
    common::eventually(WAIT, "the new greeting", || async {
        api.invoke("echo", "x")
            .await
            .text()
            .await
            .unwrap_or_default()
            .contains(" hi x")
    })
    .await;

    // Removal deletes the containers.
    let response = api
        .admin(Method::DELETE, "/system/functions")
        .json(&json!({"functionName": "echo"}))
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), 202);
    wait_containers(&network, "echo", 0).await;
}

#[tokio::test]
async fn a_restarted_gateway_adopts_its_containers() {
    let dir = TempDir::new("docker-adopt");
    build_function_image("sy-test/echo:1", HANDLER, &dir.0);
    let network = Network::new();
    let nats = Nats::start();
    let mut switchyard = docker_switchyard(&nats, &network);
    let api = switchyard.api();
    let response = api
        .deploy(json!({"service": "adopt", "image": "sy-test/echo:1"}))
        .await;
    assert_eq!(response.status(), 202);
    assert_eq!(api.scale("adopt", 2).await.status(), 202);
    api.wait_available("adopt", 2).await;
    let before = wait_containers(&network, "adopt", 2).await;

    switchyard.restart();
    let api = switchyard.api();
    api.wait_available("adopt", 2).await;
    tokio::time::sleep(Duration::from_secs(5)).await; // a few reconcile rounds
    assert_eq!(
        containers(&network.0, "adopt"),
        before,
        "the same containers, none added"
    );
    assert_eq!(api.invoke("adopt", "again").await.status(), 200);
}

#[tokio::test]
async fn an_image_that_cannot_be_had_is_refused_and_leaves_nothing() {
    common::docker::build_images();
    let network = Network::new();
    let nats = Nats::start();
    let switchyard = docker_switchyard(&nats, &network);
    let api = switchyard.api();
    let response = api
        .deploy(json!({"service": "ghost", "image": "sy-test/no-such-image:1"}))
        .await;
    assert_eq!(response.status(), 400);
    let message = response.text().await.expect("body");
    assert!(
        message.contains("sy-test/no-such-image:1") && message.contains("cannot be pulled"),
        "{message}"
    );
    assert!(api.status("ghost").await.is_none(), "nothing stored");
    let missing = api
        .deploy(json!({"service": "noimage", "envProcess": "cat"}))
        .await;
    assert_eq!(missing.status(), 400);
    assert!(missing
        .text()
        .await
        .expect("body")
        .contains("image is required"));
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(containers(&network.0, "ghost").is_empty());
}

#[tokio::test]
async fn a_container_gets_its_secrets_limits_labels_and_a_read_only_root() {
    let dir = TempDir::new("docker-secret");
    let handler = "cat /var/openfaas/secrets/token; if touch /rootfs-write 2>/dev/null; then echo ' writable'; else echo ' read-only'; fi\n";
    build_function_image("sy-test/secret:1", handler, &dir.0);
    let network = Network::new();
    let nats = Nats::start();
    let switchyard = docker_switchyard(&nats, &network);
    let api = switchyard.api();
    let created = api
        .admin(reqwest::Method::POST, "/system/secrets")
        .json(&json!({"name": "token", "value": "s3cret"}))
        .send()
        .await
        .expect("answers");
    assert_eq!(created.status(), 201);
    let response = api
        .deploy(
            json!({"service": "secretive", "image": "sy-test/secret:1", "secrets": ["token"],
            "labels": {"team": "blue"}, "limits": {"memory": "64Mi", "cpu": "0.5"}}),
        )
        .await;
    assert_eq!(
        response.status(),
        202,
        "{}",
        response.text().await.unwrap_or_default()
    );
    api.wait_available("secretive", 1).await;
    let text = api
        .invoke("secretive", "")
        .await
        .text()
        .await
        .expect("body");
    assert_eq!(text.trim(), "s3cret read-only");
    let id = containers(&network.0, "secretive")
        .pop()
        .expect("a container");
    let inspected = docker(&[
        "inspect", "-f",
        "{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.HostConfig.ReadonlyRootfs}} {{index .Config.Labels \"team\"}}",
        &id,
    ]);
    assert_eq!(
        inspected.trim(),
        format!("{} 500000000 true blue", 64 * 1024 * 1024)
    );

    // A replica that cannot start (its secret deleted since the deploy) is tried again after a
    // backoff, and the function's status says why until it runs.
    let secret = |method: Method, body: serde_json::Value| {
        let api = &api;
        async move {
            let answer = api
                .admin(method, "/system/secrets")
                .json(&body)
                .send()
                .await;
            answer.expect("answers").status().as_u16()
        }
    };
    assert_eq!(secret(Method::DELETE, json!({"name": "token"})).await, 202);
    assert_eq!(api.scale("secretive", 2).await.status(), 202);
    common::eventually(WAIT, "the start failure in the status", || async {
        api.status("secretive").await.is_some_and(|s| {
            s["startFailure"]
                .as_str()
                .is_some_and(|f| f.contains("secret `token` does not exist"))
        })
    })
    .await;
    assert_eq!(
        secret(Method::POST, json!({"name": "token", "value": "again"})).await,
        201
    );
    api.wait_available("secretive", 2).await;
    common::eventually(WAIT, "the start failure cleared", || async {
        api.status("secretive")
            .await
            .is_some_and(|s| s.get("startFailure").is_none())
    })
    .await;
}

/// Tenancy on the Docker provider: each namespace's functions are on a network of their own,
/// so a function reaches its own namespace's containers and not another's.
#[tokio::test]
async fn namespaces_containers_cannot_reach_each_other() {
    let dir = TempDir::new("docker-shell");
    build_function_image("sy-test/shell:1", "sh -c \"$(cat)\"\n", &dir.0);
    let network = Network::new();
    let nats = Nats::start();
    let switchyard = docker_switchyard(&nats, &network);
    let api = switchyard.api();
    for namespace in ["team-a", "team-b"] {
        api.create_namespace(namespace).await;
    }
    for (name, namespace) in [("a", "team-a"), ("a2", "team-a"), ("b", "team-b")] {
        let response = api
            .deploy(json!({"service": name, "namespace": namespace, "image": "sy-test/shell:1"}))
            .await;
        assert_eq!(response.status(), 202, "{name}");
        api.wait_available(&format!("{name}.{namespace}"), 1).await;
    }
    let address = |function: &str| {
        let ids = containers(&network.0, function);
        let id = ids.first().expect("a container");
        docker(&[
            "inspect",
            "-f",
            "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
            id,
        ])
        .trim()
        .to_string()
    };
    let reach = |from: &'static str, to: String| {
        let api = &api;
        async move {
            api.http
                .post(api.url(&format!("/function/{from}")))
                .body(format!(
                    "(printf 'GET /_/health HTTP/1.0\\r\\n\\r\\n'; sleep 1) | nc -w 3 {to} 8080 | grep -q 200 && echo reached; echo done"
                ))
                .send()
                .await
                .expect("answers")
                .text()
                .await
                .unwrap_or_default()
        }
    };
    let same = reach("a2.team-a", address("a.team-a")).await;
    assert!(
        same.contains("reached"),
        "a function reaches its own namespace: {same}"
    );
    let other = reach("a.team-a", address("b.team-b")).await;
    assert!(
        other.contains("done") && !other.contains("reached"),
        "team-a reached team-b: {other}"
    );
}

/// OpenFaaS's classic watchdog runs the function for every path but `/_/health`. A stand-in
/// that answers every request and records its path shows what the provider's probes ask for:
/// `/_/health` only, so an idle function is never run by them.
#[tokio::test]
async fn readiness_probes_run_no_user_code_on_a_classic_watchdog() {
    common::docker::build_images();
    let dir = TempDir::new("classic-watchdog");
    std::fs::write(
        dir.0.join("answer.sh"),
        "read -r method path version\necho \"$path\" >> /tmp/paths\n\
         printf 'HTTP/1.0 200 OK\\r\\nContent-Length: 2\\r\\n\\r\\nok'\n",
    )
    .expect("answer.sh");
    std::fs::write(
        dir.0.join("classic.sh"),
        "touch /tmp/paths\nwhile true; do nc -l -p 8080 -e sh /home/app/answer.sh; done\n",
    )
    .expect("classic.sh");
    std::fs::write(
        dir.0.join("Dockerfile"),
        "FROM switchyard/function:latest\nCOPY answer.sh classic.sh /home/app/\n\
         ENTRYPOINT [\"sh\", \"/home/app/classic.sh\"]\n",
    )
    .expect("Dockerfile");
    docker(&[
        "build",
        "-q",
        "-t",
        "sy-test/classic:1",
        &dir.0.display().to_string(),
    ]);
    let network = Network::new();
    let nats = Nats::start();
    let switchyard = docker_switchyard(&nats, &network);
    let api = switchyard.api();
    let response = api
        .deploy(json!({"service": "classic", "image": "sy-test/classic:1"}))
        .await;
    assert_eq!(response.status(), 202);
    api.wait_available("classic", 1).await;
    let container = containers(&network.0, "classic")
        .pop()
        .expect("its container");
    // Several probe rounds (one every 2 s while idle).
    let paths = || docker(&["exec", &container, "cat", "/tmp/paths"]);
    common::eventually(WAIT, "three probes", || async {
        paths().lines().count() >= 3
    })
    .await;
    let paths = paths();
    assert!(
        paths.lines().all(|path| path == "/_/health"),
        "the probes asked for {paths}"
    );
}
