//! Turning an HTTP request to a function into an [`Invocation`], for sync and async intake.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderName};
use chrono::Utc;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use switchyard_broker::errors::error_chain;
use switchyard_broker::invocation::Invocation;

use super::AppState;
use crate::access::resolve::{split_reference, Kind, Named};
use crate::error::ApiError;

/// Request headers not forwarded to the function.
const NOT_FORWARDED: [HeaderName; 9] = [
    header::HOST,
    header::CONNECTION,
    header::CONTENT_LENGTH,
    header::CONTENT_TYPE,
    header::TRANSFER_ENCODING,
    header::TE,
    header::TRAILER,
    header::UPGRADE,
    header::PROXY_AUTHORIZATION,
];

/// Headers the gateway sets itself on the way to the function.
const REPLACED: [&str; 3] = ["x-call-id", "x-start-time", "x-callback-url"];

/// The caller's call id (`X-Call-Id`, else `Idempotency-Key`), if any.
pub(crate) fn caller_call_id(headers: &HeaderMap) -> Option<String> {
    ["x-call-id", "idempotency-key"]
        .iter()
        .find_map(|name| headers.get(*name))
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

pub(crate) fn new_call_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Unix time in nanoseconds, OpenFaaS's `X-Start-Time`.
pub(crate) fn unix_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default()
}

/// `/function/echo/a/b` with prefix `/function/` → (`echo`, `/a/b`); no tail → `/`.
pub(crate) fn split_path(prefix: &str, path: &str) -> (String, String) {
    let rest = path.strip_prefix(prefix).unwrap_or_default();
    match rest.split_once('/') {
        Some((name, tail)) => (name.to_string(), format!("/{tail}")),
        None => (rest.to_string(), "/".to_string()),
    }
}

/// The registered function `name` or `name.namespace` refers to, or 404 (also for a reference
/// that names no function at all, as faas-netes answers `echo.team-b.openfaas-fn`). A
/// function another gateway has just deployed may not be in this one's copy yet: then the
/// registry itself is asked.
pub(crate) async fn registered_function(state: &AppState, name: &str) -> Result<Named, ApiError> {
    let not_found = || ApiError::FunctionNotFound(name.to_string());
    let function = split_reference(Kind::Function, name, None).map_err(|_| not_found())?;
    let id = function.id();
    if state.registry.contains(&id) {
        return Ok(function);
    }
    match state.registry.fetch(&id).await {
        Ok(Some(_)) => Ok(function),
        _ => Err(not_found()),
    }
}

/// What an invocation needs besides the HTTP request itself.
pub(crate) struct Target {
    pub(crate) call_id: String,
    pub(crate) function: String,
    pub(crate) path: String,
    pub(crate) start_time: u128,
    pub(crate) callback_url: Option<String>,
}

/// The largest over-limit body read (and dropped) before answering 413.
const DRAIN_AT_MOST: usize = 16 * 1024 * 1024;

/// Reads the request (body under the configured limit, else 413) into an invocation.
pub(crate) async fn read_invocation(
    state: &AppState,
    request: Request<Body>,
    target: Target,
) -> Result<Invocation, ApiError> {
    let limit = state.config.max_body_bytes;
    let (parts, body) = request.into_parts();
    let query_bytes = parts.uri.query().map_or(0, str::len);
    let most = state.config.server.max_query_bytes;
    if query_bytes > most {
        return Err(ApiError::UriTooLong(format!(
            "query string is {query_bytes} bytes; the limit is {most}"
        )));
    }
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if let Some(declared) = declared.filter(|n| *n > limit) {
        // Read and drop a body that is not much too large, so that the client reads our 413
        // instead of failing to write into a connection we closed; a huge one is not worth it.
        if declared <= DRAIN_AT_MOST {
            let mut chunks = body.into_data_stream();
            while let Some(Ok(_)) = futures::StreamExt::next(&mut chunks).await {}
        }
        return Err(ApiError::TooLarge(limit));
    }
    let body: Bytes = Limited::new(body, limit)
        .collect()
        .await
        .map_err(|e| {
            if e.is::<LengthLimitError>() {
                ApiError::TooLarge(limit)
            } else if error_chain(&*e).contains(crate::server::BODY_TIMEOUT) {
                ApiError::RequestTimeout(error_chain(&*e))
            } else {
                ApiError::BadRequest(format!("cannot read request body: {e}"))
            }
        })?
        .to_bytes();
    let mut headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .filter(|(name, _)| !NOT_FORWARDED.contains(name) && !REPLACED.contains(&name.as_str()))
        .map(|(name, value)| {
            (
                name.as_str().to_string(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    headers.push(("X-Call-Id".into(), target.call_id.clone()));
    headers.push(("X-Start-Time".into(), target.start_time.to_string()));
    Ok(Invocation {
        call_id: target.call_id,
        function: target.function,
        method: parts.method.to_string(),
        path: target.path,
        query: parts.uri.query().map(str::to_string),
        content_type: parts
            .headers
            .get(header::CONTENT_TYPE)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()),
        headers,
        body,
        time: Utc::now(),
        callback_url: target.callback_url,
        subscription: None,
        hops: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn paths_split_into_function_and_rest() {
        assert_eq!(
            split_path("/function/", "/function/echo"),
            ("echo".into(), "/".into())
        );
        assert_eq!(
            split_path("/function/", "/function/echo/"),
            ("echo".into(), "/".into())
        );
        assert_eq!(
            split_path("/async-function/", "/async-function/echo.openfaas-fn/a/b"),
            ("echo.openfaas-fn".into(), "/a/b".into())
        );
    }

    #[test]
    fn call_id_comes_from_x_call_id_then_idempotency_key() {
        let mut headers = HeaderMap::new();
        assert_eq!(caller_call_id(&headers), None);
        headers.insert("idempotency-key", HeaderValue::from_static("key-1"));
        assert_eq!(caller_call_id(&headers).as_deref(), Some("key-1"));
        headers.insert("x-call-id", HeaderValue::from_static("call-1"));
        assert_eq!(caller_call_id(&headers).as_deref(), Some("call-1"));
    }
}
