//! A trivial HTTP server for http-mode tests and benchmarks: answers every request with its own
//! body and content type. Listens where `upstream_url` points (so it can run behind a watchdog,
//! whose own `port` it inherits), else on 127.0.0.1:`$port`.

use axum::body::Bytes;
use axum::http::HeaderMap;

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let address = match std::env::var("upstream_url") {
        Ok(url) => url
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string(),
        Err(_) => format!(
            "127.0.0.1:{}",
            std::env::var("port").unwrap_or_else(|_| "8082".into())
        ),
    };
    let listener = tokio::net::TcpListener::bind(&address).await?;
    let app = axum::Router::new().fallback(|headers: HeaderMap, body: Bytes| async move {
        let content_type = headers
            .get("content-type")
            .cloned()
            .unwrap_or_else(|| axum::http::HeaderValue::from_static("application/octet-stream"));
        ([("content-type", content_type)], body)
    });
    axum::serve(listener, app).await
}
