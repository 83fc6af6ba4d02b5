//! Serving a router over HTTP/1.1 (and HTTP/2 over TLS) with the bounds a public listener needs: a deadline for a
//! request's headers, a deadline between the chunks of its body, and a deadline for shutdown,
//! after which connections still open are closed. (`axum::serve` has none of these: one stalled
//! client kept the process from stopping.)

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use axum::Router;
use futures::StreamExt;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// What the error of a body that stalled says, so handlers can answer 408.
pub(crate) const BODY_TIMEOUT: &str = "request body stalled";

/// Time limits of an HTTP listener.
#[derive(Debug, Clone, Copy)]
pub struct ServerLimits {
    /// A client must send a request's headers within this.
    pub header_read: Duration,
    /// A client must send the next chunk of a body within this.
    pub body_idle: Duration,
    /// After shutdown starts, requests in flight get this long; then connections are closed.
    pub shutdown: Duration,
    /// Most headers one request may carry; more is refused (431) before any handler runs.
    pub max_headers: usize,
    /// Most bytes of a request line and headers together; more is refused (431).
    pub max_head_bytes: usize,
    /// Longest query string of an invocation; longer is a 414.
    pub max_query_bytes: usize,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            header_read: Duration::from_secs(10),
            body_idle: Duration::from_secs(30),
            shutdown: Duration::from_secs(10),
            max_headers: 100,
            max_head_bytes: 64 * 1024,
            max_query_bytes: 8 * 1024,
        }
    }
}

/// Serves `router` on `listener` until `shutdown`, then finishes requests in flight for at
/// most `limits.shutdown` and returns.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ServerLimits,
    shutdown: CancellationToken,
) {
    serve_with(listener, router, limits, None, shutdown).await;
}

/// As [`serve`], over TLS: HTTP/2 when the client offers it (ALPN), HTTP/1.1 otherwise. The
/// handshake must finish within `limits.header_read`.
pub async fn serve_tls(
    listener: TcpListener,
    router: Router,
    limits: ServerLimits,
    tls: Arc<rustls::ServerConfig>,
    shutdown: CancellationToken,
) {
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    serve_with(listener, router, limits, Some(acceptor), shutdown).await;
}

async fn serve_with(
    listener: TcpListener,
    router: Router,
    limits: ServerLimits,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shutdown: CancellationToken,
) {
    let router = router.layer(axum::middleware::from_fn_with_state(limits, stall_guard));
    let mut http = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    http.http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read)
        .max_headers(limits.max_headers)
        .max_buf_size(limits.max_head_bytes.max(8192));
    http.http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(limits.max_head_bytes).unwrap_or(u32::MAX))
        .max_concurrent_streams(256);
    // Plain listeners speak HTTP/1.1 only, as before; TLS ones negotiate.
    let http = if tls.is_some() {
        http
    } else {
        http.http1_only()
    };
    let graceful = GracefulShutdown::new();
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: pause instead of spinning.
                    tracing::warn!(%error, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = shutdown.cancelled() => break,
        };
        let service = TowerToHyperService::new(router.clone());
        let (http, watcher, tls) = (http.clone(), graceful.watcher(), tls.clone());
        tokio::spawn(async move {
            let outcome = match tls {
                None => {
                    watcher
                        .watch(
                            http.serve_connection(TokioIo::new(stream), service)
                                .into_owned(),
                        )
                        .await
                }
                Some(acceptor) => {
                    match tokio::time::timeout(limits.header_read, acceptor.accept(stream)).await {
                        Ok(Ok(stream)) => {
                            let connection = http.serve_connection(TokioIo::new(stream), service);
                            watcher.watch(connection.into_owned()).await
                        }
                        Ok(Err(error)) => {
                            tracing::debug!(%error, "TLS handshake failed");
                            return;
                        }
                        Err(_) => {
                            tracing::debug!("TLS handshake took too long");
                            return;
                        }
                    }
                }
            };
            if let Err(error) = outcome {
                tracing::debug!(%error, "connection ended with an error");
            }
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => tracing::debug!("every connection closed"),
        () = tokio::time::sleep(limits.shutdown) => {
            tracing::warn!(deadline = ?limits.shutdown, "connections still open at the shutdown deadline; closing them");
        }
    }
}

/// Refuses a request whose headers exceed the bounds (431), and gives the others a body that
/// fails when the client stops sending for `idle`.
async fn stall_guard(State(limits): State<ServerLimits>, request: Request, next: Next) -> Response {
    let idle = limits.body_idle;
    let headers = request.headers();
    let head_bytes: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum::<usize>()
        + request.uri().to_string().len();
    if headers.len() > limits.max_headers || head_bytes > limits.max_head_bytes {
        use axum::response::IntoResponse;
        return (
            axum::http::StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            format!(
                "{} headers, {head_bytes} bytes; the limits are {} headers and {} bytes\n",
                headers.len(),
                limits.max_headers,
                limits.max_head_bytes
            ),
        )
            .into_response();
    }
    let (parts, body) = request.into_parts();
    let chunks = futures::stream::unfold(Some(body.into_data_stream()), move |stream| async move {
        let mut stream = stream?;
        match tokio::time::timeout(idle, stream.next()).await {
            Ok(Some(chunk)) => Some((chunk.map_err(std::io::Error::other), Some(stream))),
            Ok(None) => None,
            Err(_) => Some((
                Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("{BODY_TIMEOUT}: nothing received for {idle:?}"),
                )),
                None,
            )),
        }
    });
    next.run(Request::from_parts(parts, Body::from_stream(chunks)))
        .await
}
