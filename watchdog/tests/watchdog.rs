//! Black-box tests of the watchdog against real processes (`cat`, `wc`, `env`, `sleep`, shell
//! scripts) and a real HTTP upstream.
//!
//! Over 400 lines on purpose: one file holds every end-to-end scenario of one path, so that
//! its set-up and helpers are read once; each test is one scenario.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use switchyard_watchdog::{Config, Watchdog};

/// Starts an in-process watchdog with these environment variables on a free port.
async fn start(vars: &[(&str, &str)]) -> (SocketAddr, tokio_util::sync::CancellationToken) {
    let mut vars: Vec<(String, String)> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    vars.push(("port".into(), "0".into()));
    vars.push(("listen_host".into(), "127.0.0.1".into()));
    let config =
        Config::from_lookup(|name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
            .expect("valid config");
    let watchdog = Watchdog::bind(config).await.expect("binds");
    let address = watchdog.local_addr();
    let stop = tokio_util::sync::CancellationToken::new();
    let stopped = stop.clone();
    tokio::spawn(watchdog.run(async move { stopped.cancelled().await }));
    (address, stop)
}

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

fn url(address: SocketAddr, path: &str) -> String {
    format!("http://{address}{path}")
}

/// A shell script in a fresh temporary directory.
fn script(name: &str, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("sy-wd-{}-{}", std::process::id(), uuid_like()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("write script");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path
}

fn uuid_like() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

fn process_alive(pid: u32) -> bool {
    // A zombie still has a /proc entry; look at its state.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .split_whitespace()
            .nth(2)
            .is_none_or(|state| state != "Z"),
        Err(_) => false,
    }
}

#[tokio::test]
async fn fork_mode_cat_echoes_the_body_with_duration_header() {
    let (address, _stop) = start(&[("fprocess", "cat")]).await;
    let response = client()
        .post(url(address, "/"))
        .header("content-type", "text/plain")
        .body("hello, watchdog")
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), 200);
    assert!(response.headers().contains_key("x-duration-seconds"));
    assert_eq!(response.headers()["content-type"], "text/plain");
    assert_eq!(response.text().await.expect("body"), "hello, watchdog");
}

#[tokio::test]
async fn fork_mode_wc_counts_bytes() {
    let (address, _stop) = start(&[("fprocess", "wc -c")]).await;
    let body = client()
        .post(url(address, "/"))
        .body("12345678901")
        .send()
        .await
        .expect("answers")
        .text()
        .await
        .expect("body");
    assert_eq!(body.trim(), "11");
}

#[tokio::test]
async fn fork_mode_sets_cgi_variables() {
    let (address, _stop) = start(&[("fprocess", "env")]).await;
    let body = client()
        .put(url(address, "/some/path?a=1&b=two"))
        .header("X-Custom-Thing", "yes")
        .header("Content-Type", "application/json")
        .body("{}")
        .send()
        .await
        .expect("answers")
        .text()
        .await
        .expect("body");
    for expected in [
        "Http_Method=PUT",
        "Http_Path=/some/path",
        "Http_Query=a=1&b=two",
        "Http_X_Custom_Thing=yes",
        "Http_Content_Type=application/json",
    ] {
        assert!(
            body.lines().any(|l| l == expected),
            "{expected} missing from:\n{body}"
        );
    }
}

#[tokio::test]
async fn non_zero_exit_answers_500_with_stderr() {
    let fail = script("fail.sh", "echo partial; echo 'it broke' >&2; exit 3");
    let (address, _stop) = start(&[
        ("fprocess", fail.to_str().unwrap_or_default()),
        ("combine_output", "false"),
    ])
    .await;
    let response = client()
        .post(url(address, "/"))
        .body("x")
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), 500);
    let body = response.text().await.expect("body");
    assert!(body.contains("exit status 3"), "{body}");
    assert!(body.contains("it broke"), "{body}");
    assert!(
        !body.contains("partial"),
        "stdout is not an error message: {body}"
    );
}

#[tokio::test]
async fn combine_output_decides_whether_stderr_joins_the_response() {
    let noisy = script("noisy.sh", "echo out; echo err >&2");
    let path = noisy.to_str().unwrap_or_default().to_string();
    let (combined, _a) = start(&[("fprocess", &path)]).await;
    let (separate, _b) = start(&[("fprocess", &path), ("combine_output", "false")]).await;
    let body = client()
        .post(url(combined, "/"))
        .send()
        .await
        .expect("answers")
        .text()
        .await
        .expect("body");
    assert_eq!(body, "out\nerr\n");
    let body = client()
        .post(url(separate, "/"))
        .send()
        .await
        .expect("answers")
        .text()
        .await
        .expect("body");
    assert_eq!(body, "out\n");
}

#[tokio::test]
async fn content_type_setting_forces_the_response_type() {
    let (address, _stop) =
        start(&[("fprocess", "cat"), ("content_type", "application/json")]).await;
    let response = client()
        .post(url(address, "/"))
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .expect("answers");
    assert_eq!(response.headers()["content-type"], "application/json");
}

#[tokio::test]
async fn exec_timeout_kills_the_whole_process_group_and_answers_504() {
    let pid_file = std::env::temp_dir().join(format!("sy-wd-grandchild-{}", uuid_like()));
    let sleeper = script(
        "sleeper.sh",
        &format!("sleep 30 &\necho $! > {}\nwait", pid_file.display()),
    );
    let (address, _stop) = start(&[
        ("fprocess", sleeper.to_str().unwrap_or_default()),
        ("exec_timeout", "1s"),
    ])
    .await;
    let started = Instant::now();
    let response = client()
        .post(url(address, "/"))
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), 504);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    assert!(response
        .text()
        .await
        .expect("body")
        .contains("exec_timeout"));
    let grandchild: u32 = std::fs::read_to_string(&pid_file)
        .expect("pid file")
        .trim()
        .parse()
        .expect("pid");
    let deadline = Instant::now() + Duration::from_secs(3);
    while process_alive(grandchild) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        !process_alive(grandchild),
        "the function's child {grandchild} survived the timeout"
    );
}

#[tokio::test]
async fn x_timeout_header_shortens_the_deadline() {
    let (address, _stop) = start(&[
        ("fprocess", "sleep 5"),
        ("exec_timeout", "30s"),
        ("write_timeout", "30s"),
    ])
    .await;
    let started = Instant::now();
    let response = client()
        .post(url(address, "/"))
        .header("X-Timeout", "500ms")
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), 504);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn read_timeout_answers_408_to_a_slow_body() {
    let (address, _stop) = start(&[("fprocess", "cat"), ("read_timeout", "500ms")]).await;
    let answer = tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(address).expect("connects");
        stream
            .write_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab")
            .expect("writes");
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let mut answer = vec![0u8; 512];
        let n = stream.read(&mut answer).expect("reads an answer");
        String::from_utf8_lossy(&answer[..n]).into_owned()
    })
    .await
    .expect("joins");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
}

#[tokio::test]
async fn max_inflight_answers_429_and_ready_says_so() {
    let (address, _stop) = start(&[("fprocess", "sleep 1"), ("max_inflight", "1")]).await;
    let busy = tokio::spawn(client().post(url(address, "/")).send());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let second = client()
        .post(url(address, "/"))
        .send()
        .await
        .expect("answers");
    assert_eq!(second.status(), 429);
    let ready = client()
        .get(url(address, "/_/ready"))
        .send()
        .await
        .expect("answers");
    assert_eq!(ready.status(), 429);
    assert_eq!(busy.await.expect("joins").expect("answers").status(), 200);
    let ready = client()
        .get(url(address, "/_/ready"))
        .send()
        .await
        .expect("answers");
    assert_eq!(ready.status(), 200);
}

#[tokio::test]
async fn health_ready_and_metrics_use_openfaas_names() {
    let (address, _stop) = start(&[("fprocess", "cat")]).await;
    assert_eq!(
        client()
            .get(url(address, "/_/health"))
            .send()
            .await
            .expect("answers")
            .status(),
        200
    );
    assert_eq!(
        client()
            .get(url(address, "/_/ready"))
            .send()
            .await
            .expect("answers")
            .status(),
        200
    );
    client()
        .post(url(address, "/"))
        .body("x")
        .send()
        .await
        .expect("answers");
    let metrics = client()
        .get(url(address, "/_/metrics"))
        .send()
        .await
        .expect("answers")
        .text()
        .await
        .expect("body");
    assert!(
        metrics.contains(r#"http_requests_total{code="200",method="post"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains("http_request_duration_seconds_bucket"),
        "{metrics}"
    );
    assert!(metrics.contains("http_requests_in_flight 0"), "{metrics}");
}

/// The echo server built from this crate's examples.
fn echo_upstream() -> PathBuf {
    let test_exe = std::env::current_exe().expect("test binary path");
    let profile_dir = test_exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>");
    let path = profile_dir.join("examples").join("echo_upstream");
    assert!(
        path.exists(),
        "{} is missing: run the tests with cargo test, which builds examples",
        path.display()
    );
    path
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

#[tokio::test]
async fn http_mode_proxies_and_restarts_a_dead_upstream() {
    let upstream_port = free_port();
    let pid_file = std::env::temp_dir().join(format!("sy-wd-upstream-{}", uuid_like()));
    let launcher = script(
        "upstream.sh",
        &format!(
            "echo $$ > {}\nexec env port={upstream_port} {}",
            pid_file.display(),
            echo_upstream().display()
        ),
    );
    let upstream_url = format!("http://127.0.0.1:{upstream_port}");
    let (address, stop) = start(&[
        ("fprocess", launcher.to_str().unwrap_or_default()),
        ("mode", "http"),
        ("upstream_url", &upstream_url),
    ])
    .await;
    let call = || async {
        client()
            .post(url(address, "/echo?q=1"))
            .header("content-type", "application/x-test")
            .body("streamed both ways")
            .send()
            .await
    };
    let wait_ready = || async {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let ready = client()
                .get(url(address, "/_/ready"))
                .send()
                .await
                .map(|r| r.status().as_u16());
            if matches!(ready, Ok(200)) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "upstream never became ready: {ready:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    wait_ready().await;
    let response = call().await.expect("answers");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/x-test");
    assert_eq!(response.text().await.expect("body"), "streamed both ways");

    let first_pid: i32 = std::fs::read_to_string(&pid_file)
        .expect("pid")
        .trim()
        .parse()
        .expect("pid");
    // SAFETY: signalling a process this test started.
    unsafe { libc::kill(first_pid, libc::SIGKILL) };
    tokio::time::sleep(Duration::from_millis(100)).await;
    wait_ready().await;
    let second_pid: i32 = std::fs::read_to_string(&pid_file)
        .expect("pid")
        .trim()
        .parse()
        .expect("pid");
    assert_ne!(first_pid, second_pid, "upstream was not restarted");
    assert_eq!(
        call().await.expect("answers").text().await.expect("body"),
        "streamed both ways"
    );

    stop.cancel();
    let deadline = Instant::now() + Duration::from_secs(8);
    while process_alive(second_pid as u32) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        !process_alive(second_pid as u32),
        "upstream outlived the watchdog's shutdown"
    );
}

#[tokio::test]
async fn http_mode_times_out_with_504() {
    let upstream_port = free_port();
    // A "server" that accepts connections but never answers.
    let listener = std::net::TcpListener::bind(("127.0.0.1", upstream_port)).expect("binds");
    let (address, _stop) = start(&[
        ("fprocess", "sleep 60"),
        ("mode", "http"),
        ("upstream_url", &format!("http://127.0.0.1:{upstream_port}")),
        ("exec_timeout", "500ms"),
    ])
    .await;
    let response = client()
        .post(url(address, "/"))
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), 504);
    drop(listener);
}

struct Spawned(Child);

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn sigterm_drains_in_flight_requests_then_exits() {
    let port = free_port();
    let mut child = Spawned(
        Command::new(env!("CARGO_BIN_EXE_switchyard-watchdog"))
            .env("fprocess", "sleep 1")
            .env("port", port.to_string())
            .env("listen_host", "127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starts"),
    );
    let address: SocketAddr = ([127, 0, 0, 1], port).into();
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(address).is_err() {
        assert!(Instant::now() < deadline, "watchdog never listened");
        std::thread::sleep(Duration::from_millis(20));
    }
    let in_flight = std::thread::spawn(move || raw_post(address));
    std::thread::sleep(Duration::from_millis(300));
    // SAFETY: signalling the child this test started.
    unsafe { libc::kill(child.0.id() as i32, libc::SIGTERM) };
    let answer = in_flight.join().expect("joins");
    assert!(
        answer.starts_with("HTTP/1.1 200"),
        "in-flight request was not finished: {answer}"
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    let status = loop {
        if let Some(status) = child.0.try_wait().expect("waits") {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "watchdog did not exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "exit status {status}");
    assert!(
        TcpStream::connect(address).is_err(),
        "still accepting after drain"
    );
}

/// A blocking HTTP POST over a raw socket (no client pool that could hide a closed listener).
fn raw_post(address: SocketAddr) -> String {
    let mut stream = TcpStream::connect(address).expect("connects");
    stream
        .write_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        .expect("writes");
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer
}

/// Hardening issue, finding 9: unbounded metric labels and unbounded fork-mode bodies.
#[tokio::test]
async fn fork_mode_bounds_bodies_and_metric_labels() {
    let flood = script("flood.sh", "head -c 5000 /dev/zero");
    let (address, stop) = start(&[
        ("fprocess", "cat"),
        ("max_request_bytes", "1000"),
        ("max_response_bytes", "4000"),
    ])
    .await;
    let too_big = client()
        .post(url(address, "/"))
        .body(vec![b'x'; 1001])
        .send()
        .await
        .expect("answers");
    assert_eq!(too_big.status(), 413);
    assert!(too_big
        .text()
        .await
        .expect("body")
        .contains("max_request_bytes"));
    let fits = client()
        .post(url(address, "/"))
        .body(vec![b'x'; 1000])
        .send()
        .await
        .expect("answers");
    assert_eq!(fits.status(), 200);
    assert_eq!(fits.bytes().await.expect("body").len(), 1000);
    for made_up in ["FOO", "BAR", "BAZ"] {
        let method = reqwest::Method::from_bytes(made_up.as_bytes()).expect("method");
        let _ = client()
            .request(method, url(address, "/"))
            .send()
            .await
            .expect("answers");
    }
    let metrics = client()
        .get(url(address, "/_/metrics"))
        .send()
        .await
        .expect("answers")
        .text()
        .await
        .expect("body");
    assert!(metrics.contains("method=\"other\""), "{metrics}");
    assert!(
        !metrics.contains("foo") && !metrics.contains("FOO"),
        "{metrics}"
    );
    stop.cancel();

    let (address, stop) = start(&[
        ("fprocess", flood.to_str().expect("path")),
        ("max_response_bytes", "4000"),
    ])
    .await;
    let flooded = client()
        .post(url(address, "/"))
        .send()
        .await
        .expect("answers");
    assert_eq!(flooded.status(), 502);
    assert!(flooded
        .text()
        .await
        .expect("body")
        .contains("max_response_bytes"));
    stop.cancel();
}

/// Hardening issue, finding 3 for the watchdog's own listener: a client that stalls in its
/// headers is cut off after `read_timeout`.
#[tokio::test]
async fn a_client_stalled_in_its_headers_is_cut_off() {
    let (address, stop) = start(&[("fprocess", "cat"), ("read_timeout", "1s")]).await;
    let stalled = tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(address).expect("connects");
        stream
            .write_all(b"POST / HTTP/1.1\r\nHost: x\r\n")
            .expect("writes");
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .expect("timeout");
        let started = std::time::Instant::now();
        let mut buffer = [0u8; 256];
        // Closed (0 bytes) or answered with an error, either way well before 10 s.
        let _ = stream.read(&mut buffer);
        started.elapsed()
    })
    .await
    .expect("client");
    assert!(
        stalled < std::time::Duration::from_secs(5),
        "held for {stalled:?}"
    );
    stop.cancel();
}

/// Providers probe `/_/health` (the only path OpenFaaS's classic watchdog does not hand to the
/// function): in http mode it says healthy only once the upstream accepts connections.
#[tokio::test]
async fn health_waits_for_an_http_upstream_that_listens() {
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("binds");
    let port = silent.local_addr().expect("address").port();
    drop(silent);
    let upstream_url = format!("http://127.0.0.1:{port}");
    let (address, _stop) = start(&[
        ("fprocess", "sleep 30"),
        ("mode", "http"),
        ("upstream_url", &upstream_url),
    ])
    .await;
    let health = client()
        .get(url(address, "/_/health"))
        .send()
        .await
        .expect("answers");
    assert_eq!(
        health.status(),
        503,
        "the upstream runs but does not listen"
    );
}
