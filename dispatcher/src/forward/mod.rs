//! Forwarding an invocation to a watchdog over HTTP, and deciding what the caller hears.

mod guard;

use std::time::Duration;

use bytes::Bytes;
use http::{header, HeaderName, HeaderValue, Method, Request, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use switchyard_broker::invocation::{CallReply, Invocation};
use switchyard_broker::networks::NetworkPolicy;
use switchyard_broker::records::{Endpoint, REPLICA_TOKEN_HEADER};

use guard::GuardedResolver;

/// Pooled keep-alive HTTP clients: to the watchdogs Switchyard runs, and to external
/// functions' endpoints (addresses a tenant chose) under the outbound network policy.
pub(crate) struct Forwarder {
    watchdogs: Client<HttpConnector, Full<Bytes>>,
    external: Client<HttpConnector<GuardedResolver>, Full<Bytes>>,
}

/// What went wrong delivering a call to one replica.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ForwardError {
    /// The replica could not be reached at all: another replica may do.
    #[error("cannot connect to {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("function did not answer within the upstream timeout")]
    Timeout,
    #[error("function's answer could not be read: {0}")]
    Broken(String),
    #[error("function's answer exceeds the {0}-byte limit")]
    TooLarge(usize),
    #[error("invalid request: {0}")]
    BadRequest(String),
}

impl ForwardError {
    /// The answer the caller gets.
    pub(crate) fn reply(&self, function: &str) -> CallReply {
        let status = match self {
            ForwardError::Unreachable { .. } => 502,
            ForwardError::Timeout => 504,
            ForwardError::Broken(_) | ForwardError::TooLarge(_) => 502,
            ForwardError::BadRequest(_) => 400,
        };
        CallReply::internal(status, format!("function `{function}`: {self}\n"))
    }
}

const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
];

impl Forwarder {
    /// `outbound`: where external functions' endpoints may be (the callbacks' policy).
    pub(crate) fn new(outbound: NetworkPolicy) -> Self {
        Forwarder {
            watchdogs: pooled(HttpConnector::new()),
            external: pooled(HttpConnector::new_with_resolver(GuardedResolver::new(
                outbound,
            ))),
        }
    }

    /// Sends `invocation` to `endpoint`; the answer body may be at most `max_answer` bytes.
    pub(crate) async fn call(
        &self,
        endpoint: &Endpoint,
        invocation: &Invocation,
        timeout: Duration,
        max_answer: usize,
    ) -> Result<CallReply, ForwardError> {
        let request = build_request(endpoint, invocation)?;
        let exchange = async {
            let sent = if endpoint.is_external() {
                self.external.request(request).await
            } else {
                self.watchdogs.request(request).await
            };
            let response = sent.map_err(|e| {
                if e.is_connect() {
                    ForwardError::Unreachable {
                        url: endpoint.url.clone(),
                        reason: source_text(&e),
                    }
                } else {
                    ForwardError::Broken(source_text(&e))
                }
            })?;
            let (parts, body) = response.into_parts();
            let body = Limited::new(body, max_answer)
                .collect()
                .await
                .map_err(|e| {
                    if e.is::<http_body_util::LengthLimitError>() {
                        ForwardError::TooLarge(max_answer)
                    } else {
                        ForwardError::Broken(e.to_string())
                    }
                })?
                .to_bytes();
            let headers = parts
                .headers
                .iter()
                .filter(|(name, _)| !HOP_BY_HOP.contains(&name.as_str()))
                .map(|(name, value)| {
                    (
                        name.as_str().to_string(),
                        String::from_utf8_lossy(value.as_bytes()).into_owned(),
                    )
                })
                .collect();
            Ok(CallReply {
                status: parts.status.as_u16(),
                headers,
                body,
                internal: false,
            })
        };
        tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| ForwardError::Timeout)?
    }
}

fn pooled<R>(mut connector: HttpConnector<R>) -> Client<HttpConnector<R>, Full<Bytes>>
where
    R: Clone + Send + Sync + 'static,
    HttpConnector<R>: hyper_util::client::legacy::connect::Connect,
{
    connector.set_nodelay(true);
    connector.set_connect_timeout(Some(Duration::from_secs(2)));
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(90))
        .build(connector)
}

/// The replica's base URL with the invocation's path. An endpoint that is itself a path (an
/// external function such as `http://gw:8080/function/resize`) is called as it is for `/`,
/// rather than with a trailing slash.
fn target_url(base: &str, path: &str) -> String {
    let base = base.trim_end_matches('/');
    let base_has_path = base
        .split_once("://")
        .is_some_and(|(_, rest)| rest.contains('/'));
    if path == "/" && base_has_path {
        base.to_string()
    } else {
        format!("{base}{path}")
    }
}

fn build_request(
    endpoint: &Endpoint,
    invocation: &Invocation,
) -> Result<Request<Full<Bytes>>, ForwardError> {
    let bad = |e: &dyn std::fmt::Display| ForwardError::BadRequest(e.to_string());
    let mut target = target_url(&endpoint.url, &invocation.path);
    if let Some(query) = &invocation.query {
        target.push('?');
        target.push_str(query);
    }
    let uri: Uri = target.parse().map_err(|e| bad(&e))?;
    let method = Method::from_bytes(invocation.method.as_bytes()).map_err(|e| bad(&e))?;
    let mut request = Request::builder().method(method).uri(uri);
    let headers = request
        .headers_mut()
        .ok_or_else(|| bad(&"invalid request"))?;
    for (name, value) in &invocation.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            headers.append(name, value);
        }
    }
    if let Some(content_type) = &invocation.content_type {
        if let Ok(value) = HeaderValue::from_str(content_type) {
            headers.insert(header::CONTENT_TYPE, value);
        }
    }
    // The replica's token is ours to send: a caller's is never passed on.
    headers.remove(REPLICA_TOKEN_HEADER);
    if let Some(token) = &endpoint.token {
        let value = HeaderValue::from_str(token).map_err(|e| bad(&e))?;
        headers.insert(REPLICA_TOKEN_HEADER, value);
    }
    request
        .body(Full::new(invocation.body.clone()))
        .map_err(|e| bad(&e))
}

/// The innermost cause, which says what actually happened (hyper's outer message does not).
fn source_text(error: &(dyn std::error::Error + 'static)) -> String {
    let mut current = error;
    while let Some(source) = current.source() {
        current = source;
    }
    current.to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn paths_join_the_endpoint_url() {
        use super::target_url;
        assert_eq!(
            target_url("http://10.0.0.2:8080", "/"),
            "http://10.0.0.2:8080/"
        );
        assert_eq!(
            target_url("http://10.0.0.2:8080/", "/a/b"),
            "http://10.0.0.2:8080/a/b"
        );
        assert_eq!(
            target_url("http://gw:8080/function/resize", "/"),
            "http://gw:8080/function/resize"
        );
        assert_eq!(
            target_url("http://gw:8080/function/resize", "/x"),
            "http://gw:8080/function/resize/x"
        );
    }
}
