//! The provider part: wait for the lease, then answer the gateway's requests and run the back
//! end and the external endpoints until shutdown (the lease is released) or until the lease is
//! lost (the back end stops and the provider stands by again).

use std::sync::Arc;

use async_nats::{Client, HeaderMap, Message};
use futures::StreamExt;
use switchyard_broker::provider::{LogsReply, LogsRequest, PrepareReply, LOGS_END};
use switchyard_broker::records::FunctionDeployment;
use switchyard_broker::{buckets, subjects};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::lease::{self, LeaseConfig};
use crate::{external, LogsError, Provider, ProviderError};

/// Runs `provider` as the active provider while it holds the lease, as a standby otherwise,
/// until `shutdown`. A provider that loses the lease (it could not renew it in time, or another
/// took it) stops running functions and stands by again.
pub async fn run<P: Provider>(
    provider: P,
    nats: Client,
    lease_config: LeaseConfig,
    outbound: switchyard_broker::networks::NetworkPolicy,
    shutdown: CancellationToken,
) -> Result<(), ProviderError> {
    let js = async_nats::jetstream::new(nats.clone());
    let store = buckets::provider_lease(&js, lease_config.ttl).await?;
    let provider = Arc::new(provider);
    loop {
        let acquired = lease::acquire(
            store.clone(),
            provider.kind(),
            lease_config.clone(),
            &shutdown,
        )
        .await;
        let Some(mut lease) = acquired else {
            return Ok(());
        };
        let active = shutdown.child_token();
        let requests = answer_requests(provider.clone(), nats.clone(), active.clone()).await?;
        let back_end = provider.run(nats.clone(), active.clone()).await?;
        let endpoints = external::run(nats.clone(), outbound.clone(), active.clone()).await?;
        tracing::info!(provider = provider.kind().name(), "running functions");
        let kept = lease.keep(&shutdown).await;
        active.cancel();
        let _ = tokio::join!(requests, back_end, endpoints);
        match kept {
            Ok(()) => {
                lease.release().await;
                return Ok(());
            }
            Err(error) => {
                tracing::error!(%error, "provider lease lost: stopped running functions; standing by");
            }
        }
    }
}

/// Answers prepare and logs requests until `stop`.
async fn answer_requests<P: Provider>(
    provider: Arc<P>,
    nats: Client,
    stop: CancellationToken,
) -> Result<tokio::task::JoinHandle<()>, ProviderError> {
    let mut prepares = nats.subscribe(subjects::PROVIDER_PREPARE).await?;
    let mut logs = nats.subscribe(subjects::PROVIDER_LOGS).await?;
    Ok(tokio::spawn(async move {
        loop {
            let (message, is_prepare) = tokio::select! {
                Some(m) = prepares.next() => (m, true),
                Some(m) = logs.next() => (m, false),
                () = stop.cancelled() => break,
                else => break,
            };
            let (provider, nats) = (provider.clone(), nats.clone());
            if is_prepare {
                tokio::spawn(prepare(provider, nats, message));
            } else {
                tokio::spawn(stream_logs(provider, nats, message));
            }
        }
    }))
}

async fn prepare<P: Provider>(provider: Arc<P>, nats: Client, message: Message) {
    let Some(reply_to) = message.reply.clone() else {
        return;
    };
    let refused = match serde_json::from_slice::<FunctionDeployment>(&message.payload) {
        Err(error) => Some(format!("invalid function deployment: {error}")),
        Ok(deployment) => {
            let span = tracing::info_span!("prepare", function = %deployment.id());
            match deployment.external_endpoints() {
                Some(urls) => urls.err(),
                None => provider.prepare(&deployment).instrument(span).await.err(),
            }
        }
    };
    let answer = serde_json::to_vec(&PrepareReply { refused }).unwrap_or_default();
    if let Err(error) = nats.publish(reply_to, answer.into()).await {
        tracing::warn!(%error, "prepare answer not sent");
    }
}

async fn stream_logs<P: Provider>(provider: Arc<P>, nats: Client, message: Message) {
    let Some(reply_to) = message.reply.clone() else {
        return;
    };
    let answer = |reply: LogsReply| serde_json::to_vec(&reply).unwrap_or_default();
    let request = match serde_json::from_slice::<LogsRequest>(&message.payload) {
        Ok(request) => request,
        Err(error) => {
            let failed = LogsReply::Failed {
                message: format!("invalid logs request: {error}"),
            };
            let _ = nats.publish(reply_to, answer(failed).into()).await;
            return;
        }
    };
    let lines = match provider.logs(&request).await {
        Ok(lines) => lines,
        Err(LogsError::NotSupported(message)) => {
            let _ = nats
                .publish(reply_to, answer(LogsReply::NotSupported { message }).into())
                .await;
            return;
        }
        Err(LogsError::Failed(message)) => {
            let _ = nats
                .publish(reply_to, answer(LogsReply::Failed { message }).into())
                .await;
            return;
        }
    };
    if nats
        .publish(reply_to, answer(LogsReply::Streaming).into())
        .await
        .is_err()
    {
        return;
    }
    // Each chunk waits for the gateway's acknowledgement: a gateway whose client went away
    // stops answering, and the stream ends.
    let mut lines = lines;
    while let Some(chunk) = lines.next().await {
        if nats.request(request.inbox.clone(), chunk).await.is_err() {
            tracing::debug!(function = %request.function, "log reader gone; stream ended");
            return;
        }
    }
    let mut end = HeaderMap::new();
    end.insert(LOGS_END, "true");
    let _ = nats
        .request_with_headers(request.inbox.clone(), end, bytes::Bytes::new())
        .await;
}
