//! Failures and restarts: NATS going away and coming back, Switchyard restarting, watchdogs
//! dying, parts running as separate processes, and clean shutdown.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::{alive, children, eventually, free_port, Nats, Switchyard};
use serde_json::json;

#[tokio::test]
async fn nats_outage_gives_503_and_service_returns_with_nats() {
    let mut nats = Nats::start();
    let switchyard = Switchyard::up(&nats);
    let api = switchyard.api();
    api.deploy_ready("echo", "cat", json!({})).await;
    assert_eq!(
        api.invoke("echo", "before")
            .await
            .text()
            .await
            .expect("body"),
        "before"
    );

    nats.stop();
    eventually(
        Duration::from_secs(10),
        "503 while NATS is down",
        || async {
            let response = api.invoke("echo", "during").await;
            response.status() == 503 && response.text().await.unwrap_or_default().contains("NATS")
        },
    )
    .await;

    nats.restart();
    eventually(
        Duration::from_secs(30),
        "invokes to work again after NATS restarted",
        || async {
            let response = api.invoke("echo", "after").await;
            response.status() == 200 && response.text().await.unwrap_or_default() == "after"
        },
    )
    .await;
    // The registry survived in JetStream and is still served, and async intake works again.
    assert!(api.status("echo").await.is_some());
    eventually(
        Duration::from_secs(30),
        "async intake to work again",
        || async {
            api.enqueue("echo")
                .body("accepted")
                .send()
                .await
                .is_ok_and(|r| r.status() == 202)
        },
    )
    .await;
}

#[tokio::test]
async fn functions_run_again_after_switchyard_restarts() {
    let nats = Nats::start();
    let mut switchyard = Switchyard::up(&nats);
    let api = switchyard.api();
    api.deploy_ready("echo", "cat", json!({})).await;
    assert_eq!(api.scale("echo", 2).await.status(), 202);
    api.wait_available("echo", 2).await;
    let old_watchdogs = children(switchyard.pid(), "watchdog");
    assert_eq!(old_watchdogs.len(), 2);

    let status = switchyard
        .stop(Duration::from_secs(30))
        .expect("stops within the grace period");
    assert!(status.success(), "exit status {status}");
    for pid in &old_watchdogs {
        assert!(!alive(*pid), "watchdog {pid} outlived switchyard");
    }

    switchyard.restart();
    let api = switchyard.api();
    api.wait_available("echo", 2).await;
    assert_eq!(
        api.invoke("echo", "again")
            .await
            .text()
            .await
            .expect("body"),
        "again"
    );
    assert_eq!(
        children(switchyard.pid(), "watchdog").len(),
        2,
        "no duplicate replicas"
    );
}

#[tokio::test]
async fn a_dead_watchdog_is_restarted() {
    let nats = Nats::start();
    let switchyard = Switchyard::up(&nats);
    let api = switchyard.api();
    api.deploy_ready("echo", "cat", json!({})).await;
    let before = children(switchyard.pid(), "watchdog");
    assert_eq!(before.len(), 1);
    // SAFETY: killing a process this test's switchyard started.
    unsafe { libc::kill(before[0] as i32, libc::SIGKILL) };
    eventually(Duration::from_secs(20), "a new watchdog", || async {
        let now = children(switchyard.pid(), "watchdog");
        now.len() == 1 && now != before
    })
    .await;
    api.wait_available("echo", 1).await;
    assert_eq!(
        api.invoke("echo", "revived")
            .await
            .text()
            .await
            .expect("body"),
        "revived"
    );
}

#[tokio::test]
async fn gateway_and_dispatcher_run_as_separate_processes() {
    let nats = Nats::start();
    let url = nats.url();
    let gateway = Switchyard::start("gateway", &[("SWITCHYARD_NATS_URL", &url)]);
    let _provider = Switchyard::start("provider", &[("SWITCHYARD_NATS_URL", &url)]);
    let api = gateway.api();
    api.deploy_ready("echo", "cat", json!({})).await;

    // A call made while no dispatcher runs is held (up to 10 s) until one does.
    let held = tokio::spawn({
        let api = api.clone();
        async move { api.invoke("echo", "held").await.text().await }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!held.is_finished(), "the call was not held");
    let mut first = Switchyard::start("dispatcher", &[("SWITCHYARD_NATS_URL", &url)]);
    let _second = Switchyard::start("dispatcher", &[("SWITCHYARD_NATS_URL", &url)]);
    assert_eq!(held.await.expect("call").expect("body"), "held");
    eventually(
        Duration::from_secs(20),
        "a dispatcher to take calls",
        || async {
            api.invoke("echo", "split")
                .await
                .text()
                .await
                .unwrap_or_default()
                == "split"
        },
    )
    .await;
    // One dispatcher of the queue group leaving does not interrupt service.
    let status = first
        .stop(Duration::from_secs(10))
        .expect("dispatcher stops on SIGTERM");
    assert!(status.success());
    for _ in 0..20 {
        assert_eq!(
            api.invoke("echo", "still")
                .await
                .text()
                .await
                .expect("body"),
            "still"
        );
    }
}

#[tokio::test]
async fn up_starts_its_own_nats_and_stops_it() {
    let nats_port = free_port().to_string();
    let mut switchyard = Switchyard::start(
        "up",
        &[("SWITCHYARD_NATS_LISTEN", &format!("127.0.0.1:{nats_port}"))],
    );
    let api = switchyard.api();
    api.deploy_ready("echo", "cat", json!({})).await;
    assert_eq!(
        api.invoke("echo", "own nats")
            .await
            .text()
            .await
            .expect("body"),
        "own nats"
    );
    let nats_children = children(switchyard.pid(), "nats-server");
    assert_eq!(nats_children.len(), 1, "one nats-server child");
    assert!(
        switchyard
            .logs()
            .contains(&format!("NATS:     nats://127.0.0.1:{nats_port}")),
        "{}",
        switchyard.logs()
    );

    // Hardening issue, finding 13: that server takes only Switchyard's own credentials, kept in
    // a file only its owner can read.
    let url = format!("nats://127.0.0.1:{nats_port}");
    let anonymous = tokio::time::timeout(Duration::from_secs(5), async_nats::connect(&url)).await;
    assert!(
        !matches!(anonymous, Ok(Ok(_))),
        "an anonymous client connected to up's NATS"
    );
    let password_file = switchyard.dir.0.join("data").join("nats-password");
    let mode = std::fs::metadata(&password_file)
        .expect("the password file")
        .permissions();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
        0o600
    );
    let password = std::fs::read_to_string(&password_file).expect("readable by us");
    let with_password = async_nats::ConnectOptions::with_user_and_password(
        "switchyard".into(),
        password.trim().into(),
    )
    .connect(&url)
    .await;
    assert!(with_password.is_ok(), "the documented credentials work");
    assert!(
        !switchyard.logs().contains(password.trim()),
        "the NATS password reached the log"
    );

    let status = switchyard.stop(Duration::from_secs(30)).expect("stops");
    assert!(status.success(), "exit status {status}");
    assert!(!alive(nats_children[0]), "nats-server outlived switchyard");
}

#[tokio::test]
async fn sigterm_finishes_a_call_in_flight() {
    let nats = Nats::start();
    let mut switchyard = Switchyard::up(&nats);
    let api = switchyard.api();
    let dir = common::TempDir::new("slow");
    let slow = common::script(&dir.0, "slow.sh", "sleep 1; echo done");
    api.deploy_ready("slow", &slow, json!({})).await;
    let call = tokio::spawn(api.http.post(api.url("/function/slow")).send());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let status = tokio::task::spawn_blocking(move || switchyard.stop(Duration::from_secs(30)))
        .await
        .expect("joins")
        .expect("stops");
    assert!(status.success(), "exit status {status}");
    let response = call
        .await
        .expect("joins")
        .expect("the call in flight was answered");
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.expect("body"), "done\n");
}

#[test]
fn refuses_to_listen_beyond_loopback_without_a_password() {
    let dir = common::TempDir::new("open");
    let output = Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .arg("up")
        .env("SWITCHYARD_LISTEN", format!("0.0.0.0:{}", free_port()))
        .env("SWITCHYARD_DATA_DIR", &dir.0)
        .env_remove("SWITCHYARD_ADMIN_PASSWORD")
        .stdin(Stdio::null())
        .output()
        .expect("runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("refusing to listen on 0.0.0.0"), "{stderr}");
}

#[test]
fn config_file_settings_apply_and_unknown_keys_are_refused() {
    let dir = common::TempDir::new("config");
    let bad = dir.0.join("bad.toml");
    std::fs::write(&bad, "listen = \"127.0.0.1:1\"\nno_such_setting = 1\n").expect("write");
    let output = Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(["up", "--config"])
        .arg(&bad)
        .output()
        .expect("runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("unknown setting `no_such_setting`"),
        "{stderr}"
    );

    // A file value is used, and a flag overrides it: --help shows the resulting defaults.
    let good = dir.0.join("good.toml");
    std::fs::write(
        &good,
        "admin_user = \"from-file\"\nupstream_timeout = \"5s\"\n",
    )
    .expect("write");
    let help = Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(["up", "--help"])
        .env("SWITCHYARD_CONFIG", &good)
        .output()
        .expect("runs");
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("SWITCHYARD_ADMIN_USER=from-file"), "{help}");
}
