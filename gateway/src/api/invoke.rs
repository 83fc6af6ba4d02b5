//! Synchronous invoke: `ANY /function/{name}[/{path}]` → a CloudEvent on NATS → the dispatchers.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::connection::State as ConnectionState;
use async_nats::{Request as NatsRequest, RequestErrorKind};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use switchyard_broker::invocation::{CallReply, Invocation};
use switchyard_broker::subjects;
use tracing::Instrument;

use super::invoke_docs::{FunctionPath, FunctionSubPath, InvokeAnswers};
use super::request::{
    caller_call_id, new_call_id, read_invocation, registered_function, split_path, unix_nanos,
    Target,
};
use super::AppState;
use crate::error::ApiError;
use crate::metrics::metric_name;

/// Time allowed past the upstream timeout for the dispatcher's own 504 to arrive first.
const REPLY_GRACE: Duration = Duration::from_secs(2);
/// How long a call waits for a dispatcher when none is subscribed: while dispatchers reconnect
/// (a NATS node lost, a dispatcher restarting) there is none for a few seconds. Sending again
/// is safe: nobody received the call.
const NO_DISPATCHER_HOLD: Duration = Duration::from_secs(10);
const NO_DISPATCHER_RETRY: Duration = Duration::from_millis(200);

/// The function and path a request invokes: `/function/NAME[/path]`, or `X-Function: NAME` on a
/// request to `/` (as the original OpenFaaS gateway routed them).
fn target_of(request: &Request<Body>) -> (String, String) {
    match request.headers().get(X_FUNCTION) {
        Some(name) if request.uri().path() == "/" => (
            String::from_utf8_lossy(name.as_bytes()).into_owned(),
            "/".to_string(),
        ),
        _ => split_path("/function/", request.uri().path()),
    }
}

/// The header that names the function on a request to `/`.
const X_FUNCTION: &str = "x-function";

#[utoipa::path(method(get, post, put, delete, patch, head, options), path = "/function/{name}", tag = "invoke", security(()),
    description = "Synchronous invoke: the request goes to a replica as a CloudEvent over NATS and its answer comes back.",
    params(FunctionPath), request_body(content = Vec<u8>, content_type = "*/*", description = "Passed to the function as is"),
    responses(InvokeAnswers))]
pub(crate) async fn invoke(state: State<Arc<AppState>>, request: Request<Body>) -> Response {
    invoke_any(state, request).await
}

#[utoipa::path(method(get, post, put, delete, patch, head, options), path = "/function/{name}/", tag = "invoke", security(()),
    description = "As `/function/{name}`, with the path `/`.",
    params(FunctionPath), request_body(content = Vec<u8>, content_type = "*/*"), responses(InvokeAnswers))]
pub(crate) async fn invoke_slash(state: State<Arc<AppState>>, request: Request<Body>) -> Response {
    invoke_any(state, request).await
}

#[utoipa::path(method(get, post, put, delete, patch, head, options), path = "/function/{name}/{*path}", tag = "invoke", security(()),
    description = "As `/function/{name}`; the function sees `/{path}` and the query.",
    params(FunctionSubPath), request_body(content = Vec<u8>, content_type = "*/*"), responses(InvokeAnswers))]
pub(crate) async fn invoke_path(state: State<Arc<AppState>>, request: Request<Body>) -> Response {
    invoke_any(state, request).await
}

#[utoipa::path(method(get, post, put, delete, patch, head, options), path = "/", tag = "invoke", security(()),
    description = "Synchronous invoke of the function named by `X-Function` (the original OpenFaaS gateway's routing).",
    params(("X-Function" = String, Header, description = "`name` or `name.namespace`")),
    request_body(content = Vec<u8>, content_type = "*/*"), responses(InvokeAnswers))]
pub(crate) async fn invoke_root(state: State<Arc<AppState>>, request: Request<Body>) -> Response {
    invoke_any(state, request).await
}

/// Every synchronous invoke route: the target comes from the request's own path or header.
async fn invoke_any(State(state): State<Arc<AppState>>, request: Request<Body>) -> Response {
    let (name, path) = target_of(&request);
    let mut response = invoke_function(state, request, name, path).await;
    sandbox(response.headers_mut());
    response
}

/// A function's answer served on the gateway's origin runs in a sandbox of its own origin: a
/// page it returns cannot act as the UI or call `/system` with the browser's credentials
/// (scripts, forms and pop-ups still work, so a function's own web page does).
pub(crate) fn sandbox(headers: &mut axum::http::HeaderMap) {
    headers.append(
        axum::http::header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("sandbox allow-scripts allow-forms allow-popups allow-downloads"),
    );
    headers.insert(
        axum::http::header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
}

/// Invokes function `name` (a reference: `name` or `name.namespace`) with `request`, the
/// function seeing `path`: what `/function/NAME/path` and API routes do.
pub(crate) async fn invoke_function(
    state: Arc<AppState>,
    request: Request<Body>,
    name: String,
    path: String,
) -> Response {
    let mut request = request;
    if let Err(refused) = crate::access::check_invoke(&state, &name, request.headers_mut()).await {
        return refused;
    }
    let started = Instant::now();
    let start_time = unix_nanos();
    // A sync call id only labels logs and headers, so any printable caller value is echoed.
    let call_id = caller_call_id(request.headers())
        .filter(|id| !id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_graphic()))
        .unwrap_or_else(new_call_id);
    let span = tracing::info_span!("invoke", call_id = %call_id, function = %name);
    let outcome = async {
        let function = registered_function(&state, &name).await?.id();
        state
            .metrics
            .started
            .with_label_values(&[&metric_name(&function)])
            .inc();
        let target = Target {
            call_id: call_id.clone(),
            function: function.clone(),
            path,
            start_time,
            callback_url: None,
        };
        let invocation = read_invocation(&state, request, target).await?;
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

/// Sends the invocation to a dispatcher and waits for the reply.
async fn send(state: &AppState, invocation: &Invocation) -> Result<CallReply, ApiError> {
    if state.nats.connection_state() != ConnectionState::Connected {
        return Err(ApiError::Unavailable(
            "NATS is unreachable; try again shortly".into(),
        ));
    }
    let (headers, payload) = invocation.to_message();
    let held_since = Instant::now();
    let answer = loop {
        let request = NatsRequest::new()
            .headers(headers.clone())
            .payload(payload.clone())
            .timeout(Some(state.config.upstream_timeout + REPLY_GRACE));
        let answer = state
            .nats
            .send_request(subjects::call(&invocation.function), request)
            .await;
        match &answer {
            Err(e)
                if e.kind() == RequestErrorKind::NoResponders
                    && held_since.elapsed() < NO_DISPATCHER_HOLD =>
            {
                tokio::time::sleep(NO_DISPATCHER_RETRY).await;
            }
            _ => break answer,
        }
    };
    let message = answer.map_err(|e| match e.kind() {
        RequestErrorKind::NoResponders => ApiError::Unavailable(format!(
            "no dispatcher is running to take the call (waited {NO_DISPATCHER_HOLD:?})"
        )),
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
    super::append_headers(headers, &reply.headers);
    if reply.internal {
        headers.insert(
            "x-openfaas-internal",
            HeaderValue::from_static("switchyard"),
        );
    }
    response
}
