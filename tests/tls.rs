//! The HTTPS listener against `switchyard up` (issue 15): the certificate generated for a
//! first run, verified against its CA by a real TLS client; certificates per host from files
//! and uploaded through the API, picked by SNI; HTTP/2 when offered, HTTP/1.1 otherwise.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use common::{free_port, Nats, Switchyard, TempDir};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use reqwest::{Method, StatusCode, Version};
use serde_json::json;

/// A certificate authority made in the test, and certificates it signs.
struct TestCa {
    certificate: rcgen::Certificate,
    key: KeyPair,
}

impl TestCa {
    fn new(name: &str) -> Self {
        let key = KeyPair::generate().expect("CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        TestCa {
            certificate: params.self_signed(&key).expect("CA certificate"),
            key,
        }
    }

    /// A certificate for `host` and its key, PEM.
    fn issue(&self, host: &str) -> (String, String) {
        let key = KeyPair::generate().expect("key");
        let params = CertificateParams::new(vec![host.to_string()]).expect("params");
        let certificate = params
            .signed_by(&key, &self.certificate, &self.key)
            .expect("certificate");
        (certificate.pem(), key.serialize_pem())
    }

    fn pem(&self) -> String {
        self.certificate.pem()
    }
}

/// A client that trusts only `ca_pem`, resolving `host` to `address`.
fn client(ca_pem: &str, host: &str, address: SocketAddr, http1_only: bool) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(ca_pem.as_bytes()).expect("a PEM CA");
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(ca)
        .resolve(host, address)
        .timeout(Duration::from_secs(10));
    if http1_only {
        builder = builder.http1_only();
    }
    builder.build().expect("a client")
}

async fn healthz(
    client: &reqwest::Client,
    host: &str,
    port: u16,
) -> Result<Version, reqwest::Error> {
    let response = client
        .get(format!("https://{host}:{port}/healthz"))
        .send()
        .await?;
    assert_eq!(response.status(), StatusCode::OK);
    Ok(response.version())
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path.display().to_string()
}

#[tokio::test]
async fn the_generated_certificate_verifies_against_its_ca_and_http2_is_negotiated() {
    let nats = Nats::start();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let switchyard = Switchyard::up_with(&nats, &[("SWITCHYARD_TLS_LISTEN", &listen)]);
    let ca = std::fs::read_to_string(switchyard.dir.0.join("data/tls/ca.crt"))
        .expect("the generated CA in the data directory");
    let address: SocketAddr = listen.parse().expect("address");

    let version = healthz(&client(&ca, "localhost", address, false), "localhost", port)
        .await
        .expect("verified against the generated CA");
    assert_eq!(version, Version::HTTP_2, "HTTP/2 when the client offers it");
    let version = healthz(&client(&ca, "localhost", address, true), "localhost", port)
        .await
        .expect("HTTP/1.1 client");
    assert_eq!(version, Version::HTTP_11);

    // Another CA's client refuses the certificate.
    let stranger = TestCa::new("stranger");
    let refused = healthz(
        &client(&stranger.pem(), "localhost", address, false),
        "localhost",
        port,
    )
    .await;
    assert!(refused.is_err(), "a client not trusting the CA refuses");

    // The API works over it: deploy over HTTPS, then invoke.
    let https = client(&ca, "localhost", address, false);
    let response = https
        .post(format!("https://localhost:{port}/system/functions"))
        .basic_auth("admin", Some(common::ADMIN_PASSWORD))
        .json(&json!({"service": "echo", "envProcess": "cat"}))
        .send()
        .await
        .expect("deploy over TLS");
    assert_eq!(response.status(), 202);
    switchyard.api().wait_available("echo", 1).await;
    let answer = https
        .post(format!("https://localhost:{port}/function/echo"))
        .body("over h2")
        .send()
        .await
        .expect("invoke over TLS");
    assert_eq!(answer.version(), Version::HTTP_2);
    assert_eq!(answer.text().await.expect("body"), "over h2");

    // The banner says where the CA is.
    let log = switchyard.logs();
    assert!(log.contains(&format!("https://{listen}")), "{log}");
}

#[tokio::test]
async fn sni_picks_each_hosts_certificate_from_files_and_from_uploads() {
    let nats = Nats::start();
    let dir = TempDir::new("tls-hosts");
    let (ca_a, ca_b, ca_c) = (TestCa::new("a"), TestCa::new("b"), TestCa::new("c"));
    let (cert_a, key_a) = ca_a.issue("a.test");
    let (cert_b, key_b) = ca_b.issue("*.b.test");
    let hosts = format!(
        "a.test={}:{},*.b.test={}:{}",
        write(&dir.0, "a.crt", &cert_a),
        write(&dir.0, "a.key", &key_a),
        write(&dir.0, "b.crt", &cert_b),
        write(&dir.0, "b.key", &key_b)
    );
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let switchyard = Switchyard::up_with(
        &nats,
        &[
            ("SWITCHYARD_TLS_LISTEN", &listen),
            ("SWITCHYARD_TLS_HOSTS", &hosts),
        ],
    );
    let address: SocketAddr = listen.parse().expect("address");
    healthz(
        &client(&ca_a.pem(), "a.test", address, false),
        "a.test",
        port,
    )
    .await
    .expect("a.test gets a.test's certificate");
    healthz(
        &client(&ca_b.pem(), "x.b.test", address, false),
        "x.b.test",
        port,
    )
    .await
    .expect("x.b.test gets the *.b.test certificate");
    let wrong = healthz(
        &client(&ca_a.pem(), "x.b.test", address, false),
        "x.b.test",
        port,
    )
    .await;
    assert!(wrong.is_err(), "b's certificate is not signed by a's CA");

    // Uploaded through the API: served once every gateway has it.
    let api = switchyard.api();
    let (cert_c, key_c) = ca_c.issue("c.test");
    let upload = |body: serde_json::Value| {
        api.admin(Method::POST, "/system/certificates")
            .json(&body)
            .send()
    };
    let response = upload(
        json!({"name": "c", "hosts": ["c.test"], "certificate": cert_c, "privateKey": key_c}),
    )
    .await
    .expect("answers");
    assert_eq!(response.status(), 201);
    let shown = response.text().await.expect("body");
    assert!(
        !shown.contains("PRIVATE KEY") && shown.contains("fingerprint"),
        "{shown}"
    );
    let c_client = client(&ca_c.pem(), "c.test", address, false);
    common::eventually(
        Duration::from_secs(10),
        "c.test served its uploaded certificate",
        || async { healthz(&c_client, "c.test", port).await.is_ok() },
    )
    .await;
    let listed = api.admin_json("/system/certificates").await;
    assert_eq!(listed[0]["hosts"], json!(["c.test"]));
    assert!(!listed.to_string().contains("PRIVATE KEY"));
    // The private key is in no NATS file in the clear.
    let stored = common::files_holding(&nats.store_dir(), b"PRIVATE KEY");
    assert!(stored.is_empty(), "private key found in {stored:?}");

    // Wrong uploads are refused by reason.
    let (other_cert, _) = ca_c.issue("d.test");
    for (body, expected) in [
        (
            json!({"name": "d", "hosts": ["d.test"], "certificate": other_cert, "privateKey": key_a}),
            "does not belong",
        ),
        (
            json!({"name": "e", "hosts": ["e.test"], "certificate": cert_a, "privateKey": key_a}),
            "e.test",
        ),
        (
            json!({"name": "f", "hosts": ["f.test"], "certificate": "junk", "privateKey": "junk"}),
            "certificate",
        ),
    ] {
        let response = upload(body).await.expect("answers");
        assert_eq!(response.status(), 400);
        let message = response.text().await.expect("body");
        assert!(message.contains(expected), "{message}");
    }
    let removed = api
        .admin(Method::DELETE, "/system/certificates/c")
        .send()
        .await
        .expect("answers");
    assert_eq!(removed.status(), 204);
}
