//! Synchronous invoke: `ANY /function/{name}[/{path}]` → a CloudEvent on NATS → the dispatchers.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_nats::connection::State as ConnectionState;
use async_nats::{Request as NatsRequest, RequestErrorKind};
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use switchyard_broker::invocation::{CallReply, Invocation};
use switchyard_broker::records::resolve_function_name;
use switchyard_broker::subjects;
use tracing::Instrument;

use super::AppState;
use crate::error::ApiError;
use crate::metrics::metric_name;

/// Time allowed past the upstream timeout for the dispatcher's own 504 to arrive first.
const REPLY_GRACE: Duration = Duration::from_secs(2);

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

pub(crate) async fn invoke(State(state): State<Arc<AppState>>, request: Request<Body>) -> Response {
    let started = Instant::now();
    let start_time = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let call_id = call_id(request.headers());
    let (function, path) = split_path(request.uri().path());
    let span = tracing::info_span!("invoke", call_id = %call_id, function = %function);
    let outcome = async {
        let function = resolve_function_name(&function)
            .filter(|name| state.registry.contains(name))
            .ok_or_else(|| ApiError::FunctionNotFound(function.clone()))?
            .to_string();
        state
            .metrics
            .started
            .with_label_values(&[&metric_name(&function)])
            .inc();
        let invocation = invocation(&state, request, &call_id, &function, path, start_time).await?;
        let reply = send(&state, &invocation).await;
        Ok::<_, ApiError>((function, reply))
    }
    .instrument(span.clone())
    .await;

    let (mut response, function) = match outcome {
        Ok((function, Ok(reply))) => (reply_response(reply), Some(function)),
        Ok((function, Err(error))) => (error.into_response(), Some(function)),
        Err(error) => (error.into_response(), None),
    };
    let elapsed = started.elapsed();
    if let Some(function) = function {
        let code = response.status().as_u16().to_string();
        let label = metric_name(&function);
        state
            .metrics
            .invocations
            .with_label_values(&[&label, &code])
            .inc();
        state
            .metrics
            .seconds
            .with_label_values(&[&label, &code])
            .observe(elapsed.as_secs_f64());
    }
    span.in_scope(|| {
        tracing::debug!(
            status = response.status().as_u16(),
            ?elapsed,
            "invoke answered"
        )
    });
    let headers = response.headers_mut();
    for (name, value) in [
        ("x-call-id", call_id),
        ("x-start-time", start_time.to_string()),
        (
            "x-duration-seconds",
            format!("{:.6}", elapsed.as_secs_f64()),
        ),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    response
}

/// The caller's `X-Call-Id` when it is a sane token, else a new UUID.
fn call_id(headers: &HeaderMap) -> String {
    headers
        .get("x-call-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

/// `/function/echo/a/b` → (`echo`, `/a/b`); `/function/echo` → (`echo`, `/`).
fn split_path(path: &str) -> (String, String) {
    let rest = path.strip_prefix("/function/").unwrap_or_default();
    match rest.split_once('/') {
        Some((name, tail)) => (name.to_string(), format!("/{tail}")),
        None => (rest.to_string(), "/".to_string()),
    }
}

async fn invocation(
    state: &AppState,
    request: Request<Body>,
    call_id: &str,
    function: &str,
    path: String,
    start_time: u128,
) -> Result<Invocation, ApiError> {
    let limit = state.config.max_body_bytes;
    let (parts, body) = request.into_parts();
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(ApiError::TooLarge(limit));
    }
    let body: Bytes = Limited::new(body, limit)
        .collect()
        .await
        .map_err(|e| {
            if e.is::<LengthLimitError>() {
                ApiError::TooLarge(limit)
            } else {
                ApiError::BadRequest(format!("cannot read request body: {e}"))
            }
        })?
        .to_bytes();
    let mut headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .filter(|(name, _)| {
            !NOT_FORWARDED.contains(name) && *name != "x-call-id" && *name != "x-start-time"
        })
        .map(|(name, value)| {
            (
                name.as_str().to_string(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    headers.push(("X-Call-Id".into(), call_id.to_string()));
    headers.push(("X-Start-Time".into(), start_time.to_string()));
    Ok(Invocation {
        call_id: call_id.to_string(),
        function: function.to_string(),
        method: parts.method.to_string(),
        path,
        query: parts.uri.query().map(str::to_string),
        content_type: parts
            .headers
            .get(header::CONTENT_TYPE)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()),
        headers,
        body,
        time: Utc::now(),
    })
}

/// Sends the invocation to a dispatcher and waits for the reply.
async fn send(state: &AppState, invocation: &Invocation) -> Result<CallReply, ApiError> {
    if state.nats.connection_state() != ConnectionState::Connected {
        return Err(ApiError::Unavailable(
            "NATS is unreachable; try again shortly".into(),
        ));
    }
    let (headers, payload) = invocation.to_message();
    let request = NatsRequest::new()
        .headers(headers)
        .payload(payload)
        .timeout(Some(state.config.upstream_timeout + REPLY_GRACE));
    let message = state
        .nats
        .send_request(subjects::call(&invocation.function), request)
        .await
        .map_err(|e| match e.kind() {
            RequestErrorKind::NoResponders => {
                ApiError::Unavailable("no dispatcher is running to take the call".into())
            }
            RequestErrorKind::MaxPayloadExceeded => ApiError::TooLarge(state.config.max_body_bytes),
            RequestErrorKind::TimedOut
                if state.nats.connection_state() == ConnectionState::Connected =>
            {
                ApiError::Timeout(format!(
                    "function `{}` did not answer in time",
                    invocation.function
                ))
            }
            _ => ApiError::Unavailable(format!("NATS is unreachable ({e}); try again shortly")),
        })?;
    CallReply::from_message(message.headers.as_ref(), message.payload)
        .map_err(|e| ApiError::Internal(format!("dispatcher sent an unreadable reply: {e}")))
}

fn reply_response(reply: CallReply) -> Response {
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut response = Response::new(Body::from(reply.body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    for (name, value) in &reply.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            headers.append(name, value);
        }
    }
    if reply.internal {
        headers.insert(
            "x-openfaas-internal",
            HeaderValue::from_static("switchyard"),
        );
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_split_into_function_and_rest() {
        assert_eq!(split_path("/function/echo"), ("echo".into(), "/".into()));
        assert_eq!(split_path("/function/echo/"), ("echo".into(), "/".into()));
        assert_eq!(
            split_path("/function/echo.openfaas-fn/a/b"),
            ("echo.openfaas-fn".into(), "/a/b".into())
        );
    }

    #[test]
    fn call_ids_are_echoed_when_sane() {
        let mut headers = HeaderMap::new();
        headers.insert("x-call-id", HeaderValue::from_static("abc-123"));
        assert_eq!(call_id(&headers), "abc-123");
        headers.insert("x-call-id", HeaderValue::from_static("has space"));
        assert_ne!(call_id(&headers), "has space");
    }
}
