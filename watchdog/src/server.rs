//! The watchdog's HTTP server: routes, limits, deadlines, metrics and the SIGTERM drain.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::config::{Config, Mode};
use crate::duration::parse_duration;
use crate::metrics::Metrics;
use crate::proxy::Proxy;
use crate::upstream::Upstream;
use crate::{fork, proxy};

/// Extra time allowed past `write_timeout` for in-flight requests to finish on SIGTERM.
const DRAIN_SLACK: Duration = Duration::from_secs(1);

/// A bound, not yet serving, watchdog.
pub struct Watchdog {
    listener: TcpListener,
    config: Config,
}

struct Shared {
    config: Config,
    proxy: Option<Proxy>,
    upstream: Option<Upstream>,
    inflight: Option<Arc<Semaphore>>,
    metrics: Metrics,
    draining: AtomicBool,
}

/// Why the watchdog could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum WatchdogError {
    #[error("cannot listen on {address}: {source}")]
    Bind {
        address: String,
        source: std::io::Error,
    },
    #[error("`upstream_url` `{0}` is not a valid URL")]
    Upstream(String),
}

impl Watchdog {
    /// Binds the listening socket (port 0 picks a free one).
    pub async fn bind(config: Config) -> Result<Self, WatchdogError> {
        let address = format!("{}:{}", config.listen_host, config.port);
        let listener = TcpListener::bind(&address)
            .await
            .map_err(|source| WatchdogError::Bind { address, source })?;
        Ok(Watchdog { listener, config })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound TCP listener has an address")
    }

    /// Serves until `shutdown` completes, then drains: `/_/ready` answers 503 for
    /// `healthcheck_interval`, the listener closes, in-flight requests get up to `write_timeout`
    /// to finish, and the http-mode upstream is stopped.
    pub async fn run(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<(), WatchdogError> {
        let config = self.config;
        let stop_upstream = CancellationToken::new();
        let (proxy, upstream, upstream_task) = match config.mode {
            Mode::Fork => (None, None, None),
            Mode::Http => {
                let url = config.upstream_url.clone().unwrap_or_default();
                let uri: axum::http::Uri = url
                    .parse()
                    .map_err(|_| WatchdogError::Upstream(url.clone()))?;
                let address = uri.authority().and_then(|a| {
                    let port = a.port_u16().unwrap_or(80);
                    format!("{}:{port}", a.host()).parse::<SocketAddr>().ok()
                });
                let (upstream, task) =
                    Upstream::start(config.fprocess.clone(), address, stop_upstream.clone());
                (Some(Proxy::new(uri)), Some(upstream), Some(task))
            }
        };
        let shared = Arc::new(Shared {
            inflight: (config.max_inflight > 0)
                .then(|| Arc::new(Semaphore::new(config.max_inflight))),
            config,
            proxy,
            upstream,
            metrics: Metrics::new(),
            draining: AtomicBool::new(false),
        });
        let router = Router::new()
            .route("/_/health", get(health))
            .route("/_/ready", get(ready))
            .route("/_/metrics", get(metrics))
            .fallback(invoke)
            .layer(middleware::from_fn(duration_header))
            .layer(middleware::from_fn_with_state(
                shared.clone(),
                replica_token,
            ))
            .with_state(shared.clone());

        let drain_started = CancellationToken::new();
        let on_shutdown = {
            let shared = shared.clone();
            let drain_started = drain_started.clone();
            async move {
                shutdown.await;
                shared.draining.store(true, Ordering::Relaxed);
                tracing::info!("draining: no new requests; finishing in-flight ones");
                tokio::time::sleep(shared.config.healthcheck_interval).await;
                drain_started.cancel();
            }
        };
        let grace = shared
            .config
            .write_timeout
            .unwrap_or(Duration::from_secs(30))
            + DRAIN_SLACK;
        let header_read = shared.config.read_timeout.unwrap_or(HEADER_READ_DEFAULT);
        let server = crate::listen::serve(self.listener, router, header_read, on_shutdown);
        let result = tokio::select! {
            () = server => Ok(()),
            () = async { drain_started.cancelled().await; tokio::time::sleep(grace).await } => {
                tracing::warn!(?grace, "in-flight requests did not finish in time; stopping anyway");
                Ok(())
            }
        };
        stop_upstream.cancel();
        if let Some(task) = upstream_task {
            let _ = task.await;
        }
        result
    }
}

/// How long a client may take to send a request's headers when `read_timeout` is 0.
const HEADER_READ_DEFAULT: Duration = Duration::from_secs(10);

/// Completes on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = terminate => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

/// Healthy: not draining, and the upstream (HTTP mode) started and accepting connections.
/// Providers probe this path, as OpenFaaS's do.
async fn health(State(shared): State<Arc<Shared>>) -> Response {
    if shared.draining.load(Ordering::Relaxed) {
        return status_text(false, StatusCode::SERVICE_UNAVAILABLE);
    }
    let healthy = match &shared.upstream {
        Some(upstream) => upstream.is_ready().await,
        None => true,
    };
    status_text(healthy, StatusCode::SERVICE_UNAVAILABLE)
}

async fn ready(State(shared): State<Arc<Shared>>) -> Response {
    if shared.draining.load(Ordering::Relaxed) {
        return status_text(false, StatusCode::SERVICE_UNAVAILABLE);
    }
    if let Some(upstream) = &shared.upstream {
        if !upstream.is_ready().await {
            return status_text(false, StatusCode::SERVICE_UNAVAILABLE);
        }
    }
    let full = shared
        .inflight
        .as_ref()
        .is_some_and(|s| s.available_permits() == 0);
    status_text(!full, StatusCode::TOO_MANY_REQUESTS)
}

fn status_text(ok: bool, failure: StatusCode) -> Response {
    if ok {
        (StatusCode::OK, "OK").into_response()
    } else {
        (failure, failure.canonical_reason().unwrap_or("unavailable")).into_response()
    }
}

async fn metrics(State(shared): State<Arc<Shared>>) -> Response {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        shared.metrics.render(),
    )
        .into_response()
}

/// Every other path is a call to the function.
/// With a replica token configured, only requests that carry it pass, without it.
async fn replica_token(
    State(shared): State<Arc<Shared>>,
    mut request: Request<Body>,
    next: Next,
) -> Response {
    if let Some(expected) = &shared.config.replica_token {
        let shown = request
            .headers()
            .get(crate::config::REPLICA_TOKEN_HEADER)
            .map(|v| v.as_bytes());
        if !shown.is_some_and(|s| constant_time_eq(s, expected.as_bytes())) {
            return (
                StatusCode::FORBIDDEN,
                "this replica answers only the Switchyard parts that started it\n",
            )
                .into_response();
        }
        request
            .headers_mut()
            .remove(crate::config::REPLICA_TOKEN_HEADER);
    }
    next.run(request).await
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn invoke(State(shared): State<Arc<Shared>>, request: Request<Body>) -> Response {
    let _permit = match &shared.inflight {
        Some(semaphore) => match semaphore.clone().try_acquire_owned() {
            Ok(permit) => Some(permit),
            Err(_) => {
                return (
                    StatusCode::TOO_MANY_REQUESTS,
                    format!(
                        "concurrent request limit (max_inflight={}) reached\n",
                        shared.config.max_inflight
                    ),
                )
                    .into_response()
            }
        },
        None => None,
    };
    let method = method_label(request.method());
    // For the call's log line: the path without the query, which may hold credentials.
    let call_line = format!("{} {}", request.method(), request.uri().path());
    let started = Instant::now();
    shared.metrics.in_flight.inc();
    let requested = request
        .headers()
        .get("x-timeout")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_duration(v).ok());
    let deadline = shared.config.deadline(requested);
    // The gateway's call id ties the watchdog's log lines to the caller's request.
    let call_id = request
        .headers()
        .get("x-call-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let span = tracing::info_span!("request", call_id = %call_id);
    let response = async {
        match &shared.proxy {
            Some(proxy) => proxy::Proxy::forward(proxy, request, deadline).await,
            None => fork::handle(&shared.config, request, deadline).await,
        }
    }
    .instrument(span.clone())
    .await;
    // One line per call, as OpenFaaS's of-watchdog prints it, with the call id of the span.
    let length = response
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    span.in_scope(|| {
        tracing::info!(
            "{call_line} - {} - ContentLength: {length}B ({:.4}s)",
            response.status(),
            started.elapsed().as_secs_f64()
        )
    });
    shared.metrics.in_flight.dec();
    let code = response.status().as_u16().to_string();
    shared
        .metrics
        .requests_total
        .with_label_values(&[&code, &method])
        .inc();
    shared
        .metrics
        .request_duration
        .with_label_values(&[&code, &method])
        .observe(started.elapsed().as_secs_f64());
    response
}

/// `X-Duration-Seconds` on every answer.
async fn duration_header(request: Request<Body>, next: Next) -> Response {
    let started = Instant::now();
    let mut response = next.run(request).await;
    let seconds = format!("{:.6}", started.elapsed().as_secs_f64());
    if let Ok(value) = HeaderValue::from_str(&seconds) {
        response.headers_mut().insert("x-duration-seconds", value);
    }
    response
}

/// The `method` metric label: the standard methods, everything else `other`, so a client
/// cannot create unbounded series with made-up methods.
fn method_label(method: &axum::http::Method) -> String {
    const KNOWN: [&str; 7] = ["get", "post", "put", "patch", "delete", "head", "options"];
    let lower = method.as_str().to_ascii_lowercase();
    if KNOWN.contains(&lower.as_str()) {
        lower
    } else {
        "other".to_string()
    }
}
