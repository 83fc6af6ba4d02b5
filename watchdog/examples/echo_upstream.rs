//! A trivial HTTP server for http-mode tests and benchmarks: answers every request with its own
//! body and content type. Listens on 127.0.0.1:`$port`.

use axum::body::Bytes;
use axum::http::HeaderMap;

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let port = std::env::var("port").unwrap_or_else(|_| "8082".into());
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    let app = axum::Router::new().fallback(|headers: HeaderMap, body: Bytes| async move {
        let content_type = headers
            .get("content-type")
            .cloned()
            .unwrap_or_else(|| axum::http::HeaderValue::from_static("application/octet-stream"));
        ([("content-type", content_type)], body)
    });
    axum::serve(listener, app).await
}
