//! Http mode: requests are proxied to the long-running upstream, bodies streamed both ways.

use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderMap, Request, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;

/// A pooled keep-alive client to the upstream.
pub(crate) struct Proxy {
    client: Client<HttpConnector, Body>,
    upstream: Uri,
}

const HOP_BY_HOP: [header::HeaderName; 7] = [
    header::CONNECTION,
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

impl Proxy {
    pub(crate) fn new(upstream: Uri) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .build(connector);
        Proxy { client, upstream }
    }

    pub(crate) async fn forward(
        &self,
        request: Request<Body>,
        deadline: Option<Duration>,
    ) -> Response {
        let (mut parts, body) = request.into_parts();
        let path_and_query = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/");
        let mut uri = self.upstream.clone().into_parts();
        uri.path_and_query = match path_and_query.parse() {
            Ok(p) => Some(p),
            Err(_) => return (StatusCode::BAD_REQUEST, "invalid request path\n").into_response(),
        };
        parts.uri = match Uri::from_parts(uri) {
            Ok(uri) => uri,
            Err(e) => {
                return (
                    StatusCode::BAD_REQUEST,
                    format!("invalid request path: {e}\n"),
                )
                    .into_response()
            }
        };
        strip_hop_by_hop(&mut parts.headers);
        parts.headers.remove(header::HOST);
        let call = self.client.request(Request::from_parts(parts, body));
        let result = match deadline {
            Some(deadline) => match tokio::time::timeout(deadline, call).await {
                Ok(result) => result,
                Err(_) => {
                    return (
                        StatusCode::GATEWAY_TIMEOUT,
                        format!("upstream did not answer within exec_timeout ({deadline:?})\n"),
                    )
                        .into_response()
                }
            },
            None => call.await,
        };
        match result {
            Ok(response) => {
                let (mut parts, body) = response.into_parts();
                strip_hop_by_hop(&mut parts.headers);
                Response::from_parts(parts, Body::new(body))
            }
            Err(e) => (
                StatusCode::BAD_GATEWAY,
                format!("upstream unreachable: {e}\n"),
            )
                .into_response(),
        }
    }
}

fn strip_hop_by_hop(headers: &mut HeaderMap) {
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
}
