//! The gateway's side of its requests to the active provider (see
//! [`switchyard_broker::provider`]): preparing a deployment before it is stored, and reading a
//! function's logs.

use std::time::{Duration, Instant};

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

/// How long a request waits for a provider to be there: longer than a standby's takeover.
const NO_PROVIDER_WAIT: Duration = Duration::from_secs(15);

const NO_PROVIDER: &str =
    "no provider is running: start `switchyard provider` (or `switchyard up`)";

/// Asks the active provider whether it can run `deployment`, and to get it ready.
pub(crate) async fn prepare(
    nats: &Client,
    deployment: &FunctionDeployment,
) -> Result<(), ApiError> {
    let payload = serde_json::to_vec(deployment).map_err(|e| ApiError::Internal(e.to_string()))?;
    let answer = ask(
        nats,
        subjects::PROVIDER_PREPARE,
        payload.into(),
        PREPARE_TIMEOUT,
    )
    .await?;
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
    let answer = ask(nats, subjects::PROVIDER_LOGS, payload.into(), LOGS_TIMEOUT).await?;
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

/// A request to the active provider. While there is none (a provider starting, or a standby
/// taking over) it is asked again for up to [`NO_PROVIDER_WAIT`].
async fn ask(
    nats: &Client,
    subject: &'static str,
    payload: Bytes,
    timeout: Duration,
) -> Result<async_nats::Message, ApiError> {
    let waiting_since = Instant::now();
    loop {
        let answer = tokio::time::timeout(timeout, nats.request(subject, payload.clone()))
            .await
            .map_err(|_| ApiError::Unavailable("the provider did not answer in time".into()))?;
        match answer {
            Ok(message) => return Ok(message),
            Err(error) if error.kind() == RequestErrorKind::NoResponders => {
                if waiting_since.elapsed() >= NO_PROVIDER_WAIT {
                    return Err(ApiError::Unavailable(NO_PROVIDER.into()));
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(error) => {
                return Err(ApiError::Unavailable(format!(
                    "cannot reach the provider: {error}"
                )))
            }
        }
    }
}
