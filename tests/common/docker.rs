//! The real Docker engine: Switchyard's images built once per test binary by
//! `compose/build-images.sh`, function images built on top of them, and container queries.

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

/// Runs `docker` with `args`; panics with its output when it fails.
pub fn docker(args: &[&str]) -> String {
    let output = Command::new("docker")
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("docker not runnable ({e}): these tests need the real Docker engine")
        });
    assert!(
        output.status.success(),
        "docker {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Builds `switchyard/function` and `switchyard/switchyard` from this build's binaries, once.
pub fn build_images() {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        docker(&["version", "--format", "{{.Server.Version}}"]);
        let bin_dir = Path::new(env!("CARGO_BIN_EXE_switchyard"))
            .parent()
            .expect("binary dir");
        let status = Command::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/compose/build-images.sh"
        ))
        .env("BIN_DIR", bin_dir)
        .env("NATS_SERVER", super::nats_server_program_path())
        .status()
        .expect("run compose/build-images.sh");
        assert!(status.success(), "compose/build-images.sh failed");
    });
}

/// Builds a function image `tag` from `switchyard/function` with `handler` (a shell script)
/// as its process, the OpenFaaS way (watchdog entry point + fprocess).
pub fn build_function_image(tag: &str, handler: &str, dir: &Path) {
    build_images();
    std::fs::write(dir.join("handler.sh"), handler).expect("handler");
    std::fs::write(
        dir.join("Dockerfile"),
        "FROM switchyard/function:latest\nCOPY handler.sh /home/app/handler.sh\nENV fprocess=\"sh /home/app/handler.sh\"\n",
    )
    .expect("Dockerfile");
    docker(&["build", "-q", "-t", tag, &dir.display().to_string()]);
}

/// Ids of the containers of `function` on `network`, running or not.
pub fn containers(network: &str, function: &str) -> Vec<String> {
    let mut ids: Vec<String> = docker(&[
        "ps",
        "-a",
        "-q",
        "--no-trunc",
        "--filter",
        &format!("label=dev.switchyard.function={function}"),
        "--filter",
        &format!("label=dev.switchyard.network={network}"),
    ])
    .lines()
    .map(str::to_string)
    .collect();
    ids.sort();
    ids
}

/// Removes every container on `network` and the network itself.
pub fn clean_up(network: &str) {
    let ids = docker(&[
        "ps",
        "-a",
        "-q",
        "--filter",
        &format!("label=dev.switchyard.network={network}"),
    ]);
    for id in ids.lines() {
        let _ = Command::new("docker").args(["rm", "-f", id]).output();
    }
    // The namespaces' networks the provider made, then its own.
    let namespaces = docker(&[
        "network",
        "ls",
        "-q",
        "--filter",
        &format!("label=dev.switchyard.network={network}"),
    ]);
    for id in namespaces.lines() {
        let _ = Command::new("docker").args(["network", "rm", id]).output();
    }
    let _ = Command::new("docker")
        .args(["network", "rm", network])
        .output();
}

/// `switchyard up` on `nats` with the Docker provider, its function containers on `network`,
/// plus `extra` environment.
pub fn up_with_docker(
    nats: &super::Nats,
    network: &str,
    extra: &[(&str, &str)],
) -> super::Switchyard {
    let mut env = vec![
        ("SWITCHYARD_PROVIDER", "docker"),
        ("SWITCHYARD_DOCKER_NETWORK", network),
    ];
    env.extend_from_slice(extra);
    super::Switchyard::up_with(nats, &env)
}

/// `switchyard up` on `nats` with the Swarm provider, its services on the overlay `network`.
pub fn up_with_swarm(
    nats: &super::Nats,
    network: &str,
    extra: &[(&str, &str)],
) -> super::Switchyard {
    let mut env = vec![
        ("SWITCHYARD_PROVIDER", "swarm"),
        ("SWITCHYARD_SWARM_NETWORK", network),
    ];
    env.extend_from_slice(extra);
    super::Switchyard::up_with(nats, &env)
}
