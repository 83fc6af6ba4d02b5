//! The gateway's side of its requests to the active provider (see
//! [`switchyard_broker::provider`]): preparing a deployment before it is stored, and reading a
//! function's logs.

use std::time::Duration;

use async_nats::{Client, RequestErrorKind};
use axum::body::{Body, Bytes};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use switchyard_broker::provider::{LogsReply, LogsRequest, PrepareReply, LOGS_END};
use switchyard_broker::records::FunctionDeployment;
use switchyard_broker::subjects;

use crate::error::ApiError;

/// How long a provider may take to prepare a deployment (an image pull included).
const PREPARE_TIMEOUT: Duration = Duration::from_secs(90);
/// How long a provider may take to start answering a logs request.
const LOGS_TIMEOUT: Duration = Duration::from_secs(10);
/// Log chunks buffered between the provider and a slow HTTP client.
const LOG_BUFFER: usize = 64;

const NO_PROVIDER: &str =
    "no provider is running: start `switchyard provider` (or `switchyard up`)";

/// Asks the active provider whether it can run `deployment`, and to get it ready.
pub(crate) async fn prepare(
    nats: &Client,
    deployment: &FunctionDeployment,
) -> Result<(), ApiError> {
    let payload = serde_json::to_vec(deployment).map_err(|e| ApiError::Internal(e.to_string()))?;
    let request = nats.request(subjects::PROVIDER_PREPARE, payload.into());
    let answer = tokio::time::timeout(PREPARE_TIMEOUT, request)
        .await
        .map_err(|_| ApiError::Unavailable("the provider did not answer in time".into()))?
        .map_err(unavailable)?;
    let reply: PrepareReply = serde_json::from_slice(&answer.payload)
        .map_err(|e| ApiError::Internal(format!("unreadable provider answer: {e}")))?;
    match reply.refused {
        Some(reason) => Err(ApiError::BadRequest(reason)),
        None => Ok(()),
    }
}

/// Streams the function's logs from the active provider as NDJSON.
pub(crate) async fn logs(nats: &Client, mut request: LogsRequest) -> Result<Response, ApiError> {
    request.inbox = nats.new_inbox();
    let mut chunks = nats
        .subscribe(request.inbox.clone())
        .await
        .map_err(|e| ApiError::Unavailable(format!("cannot read logs: {e}")))?;
    let payload = serde_json::to_vec(&request).map_err(|e| ApiError::Internal(e.to_string()))?;
    let answer = tokio::time::timeout(
        LOGS_TIMEOUT,
        nats.request(subjects::PROVIDER_LOGS, payload.into()),
    )
    .await
    .map_err(|_| ApiError::Unavailable("the provider did not answer in time".into()))?
    .map_err(unavailable)?;
    match serde_json::from_slice::<LogsReply>(&answer.payload) {
        Ok(LogsReply::Streaming) => {}
        Ok(LogsReply::NotSupported { message }) => {
            return Ok((StatusCode::NOT_IMPLEMENTED, format!("{message}\n")).into_response())
        }
        Ok(LogsReply::Failed { message }) => return Err(ApiError::Unavailable(message)),
        Err(e) => {
            return Err(ApiError::Internal(format!(
                "unreadable provider answer: {e}"
            )))
        }
    }
    // Each chunk is acknowledged once the HTTP body has taken it: when the client goes away,
    // the acknowledgements stop and so does the provider.
    let (sender, receiver) = tokio::sync::mpsc::channel::<Bytes>(LOG_BUFFER);
    let acks = nats.clone();
    tokio::spawn(async move {
        while let Some(chunk) = chunks.next().await {
            let end = chunk
                .headers
                .as_ref()
                .is_some_and(|h| h.get(LOGS_END).is_some());
            if !end && sender.send(chunk.payload.clone()).await.is_err() {
                break;
            }
            if let Some(reply) = chunk.reply {
                let _ = acks.publish(reply, Bytes::new()).await;
            }
            if end {
                break;
            }
        }
    });
    let body = futures::stream::unfold(receiver, |mut receiver| async move {
        let chunk = receiver.recv().await?;
        Some((Ok::<_, std::convert::Infallible>(chunk), receiver))
    });
    Ok((
        [("content-type", "application/x-ndjson")],
        Body::from_stream(body),
    )
        .into_response())
}

fn unavailable(error: async_nats::RequestError) -> ApiError {
    match error.kind() {
        RequestErrorKind::NoResponders => ApiError::Unavailable(NO_PROVIDER.into()),
        _ => ApiError::Unavailable(format!("cannot reach the provider: {error}")),
    }
}
