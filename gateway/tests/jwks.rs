//! Fetching issuers' key sets (finding 10 of the tenancy issue): one fetch per URL at a time,
//! however many callers wait for it; a slow issuer holds up no other issuer; a failure is
//! remembered briefly instead of fetched again by every anonymous call. Against a real HTTP
//! server that answers only when the test lets it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::routing::get;
use axum::Router;
use base64::Engine;
use switchyard_broker::networks::NetworkPolicy;
use switchyard_gateway::identity::jwt::JwtVerifier;
use tokio::sync::Notify;

#[derive(Default)]
struct Issuer {
    slow_fetches: AtomicUsize,
    failing_fetches: AtomicUsize,
    release_slow: Notify,
}

async fn serve(issuer: Arc<Issuer>) -> String {
    let slow = issuer.clone();
    let failing = issuer.clone();
    let app = Router::new()
        .route(
            "/slow",
            get(move || {
                let issuer = slow.clone();
                async move {
                    issuer.slow_fetches.fetch_add(1, Ordering::SeqCst);
                    issuer.release_slow.notified().await;
                    r#"{"keys":[]}"#
                }
            }),
        )
        .route(
            "/failing",
            get(move || {
                let issuer = failing.clone();
                async move {
                    issuer.failing_fetches.fetch_add(1, Ordering::SeqCst);
                    (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "down")
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{address}")
}

/// A token whose header names an RS256 key `k` (the signature is never reached).
fn token() -> String {
    let encode = |v: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
    format!(
        "{}.{}.c2ln",
        encode(r#"{"alg":"RS256","kid":"k","typ":"JWT"}"#),
        encode(r#"{"iss":"i","aud":"a","exp":4102444800}"#)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_sets_are_fetched_once_per_issuer_and_failures_remembered() {
    let issuer = Arc::new(Issuer::default());
    let base = serve(issuer.clone()).await;
    let verifier = Arc::new(JwtVerifier::new(NetworkPolicy::default()));

    // Ten callers of the slow issuer: one fetch between them.
    let mut waiting = Vec::new();
    for _ in 0..10 {
        let verifier = verifier.clone();
        let url = format!("{base}/slow");
        waiting.push(tokio::spawn(async move {
            verifier.verify(&token(), "i", "a", &url).await
        }));
    }
    while issuer.slow_fetches.load(Ordering::SeqCst) == 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // Meanwhile another issuer answers (here: fails) without waiting for the slow one.
    let failing = format!("{base}/failing");
    for _ in 0..5 {
        let answer = tokio::time::timeout(
            Duration::from_secs(10),
            verifier.verify(&token(), "i", "a", &failing),
        )
        .await
        .expect("another issuer's slow fetch holds nobody up");
        let error = answer.expect_err("the issuer is down").to_string();
        assert!(error.contains("500"), "{error}");
    }
    assert_eq!(
        issuer.failing_fetches.load(Ordering::SeqCst),
        1,
        "a failure is remembered, not fetched again by each caller"
    );

    // One permit: a second fetch (no single flight) would wait forever and time out here.
    issuer.release_slow.notify_one();
    for caller in waiting {
        let error = tokio::time::timeout(Duration::from_secs(20), caller)
            .await
            .expect("every caller is answered by the one fetch")
            .expect("joins")
            .expect_err("no key k");
        assert!(error.to_string().contains("no key"), "{error}");
    }
    assert_eq!(
        issuer.slow_fetches.load(Ordering::SeqCst),
        1,
        "single flight"
    );
}
