//! Callback delivery: a durable consumer on `SY_CALLBACKS`, POSTing each function answer to
//! its `X-Callback-Url` with retries and backoff, and recording the outcome in the job record.

use std::sync::Arc;

use async_nats::jetstream::consumer::{pull::Config as PullConfig, AckPolicy, Consumer};
use async_nats::jetstream::{self, AckKind};
use chrono::Utc;
use switchyard_broker::errors::error_chain;
use switchyard_broker::invocation::CallReply;
use switchyard_broker::jobs::{
    CallbackOutcome, CallbackStatus, JobStatus, QueuedCallback, Transition,
};
use switchyard_broker::networks::{guard, NetworkPolicy};
use switchyard_broker::{consumers, streams};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::jobs::context::JobContext;
use crate::jobs::{pull, MAX_ACK_PENDING};

/// Callbacks delivered at once by this dispatcher.
const CONCURRENCY: usize = 64;

pub(crate) async fn start(
    context: Arc<JobContext>,
    shutdown: CancellationToken,
) -> Result<JoinHandle<()>, async_nats::Error> {
    let first = queue_consumer(&context).await?;
    let grace = context.config.jobs.shutdown_grace;
    Ok(tokio::spawn(async move {
        let reopen_context = context.clone();
        pull::consume(
            consumers::CALLBACKS,
            first,
            || queue_consumer(&reopen_context),
            CONCURRENCY,
            shutdown,
            grace,
            move |message| deliver(context.clone(), message),
        )
        .await;
        tracing::info!("callback delivery stopped");
    }))
}

/// The callback queue's consumer, shared by every dispatcher.
async fn queue_consumer(context: &JobContext) -> Result<Consumer<PullConfig>, async_nats::Error> {
    let stream = context.js.get_stream(streams::CALLBACKS).await?;
    let name = consumers::CALLBACKS;
    let consumer = stream
        .get_or_create_consumer(
            name,
            PullConfig {
                durable_name: Some(name.to_string()),
                ack_policy: AckPolicy::Explicit,
                ack_wait: context.config.jobs.callback_timeout * 3,
                max_deliver: -1,
                max_ack_pending: MAX_ACK_PENDING,
                ..Default::default()
            },
        )
        .await?;
    Ok(consumer)
}

async fn deliver(context: Arc<JobContext>, message: jetstream::Message) {
    let callback = match QueuedCallback::from_message(
        &message.subject,
        message.headers.as_ref(),
        message.payload.clone(),
    ) {
        Ok(callback) => callback,
        Err(error) => {
            tracing::error!(subject = %message.subject, %error, "unreadable callback dropped");
            let _ = message.ack_with(AckKind::Term).await;
            return;
        }
    };
    let QueuedCallback {
        function,
        call_id,
        url,
        reply,
    } = callback;
    let attempt = message
        .info()
        .map(|i| i.delivered.max(1) as u32)
        .unwrap_or(1);
    let span = tracing::info_span!("callback", call_id = %call_id, function = %function, attempt);
    async {
        // Read first: a job cancelled while its function ran gets no callback, and the record
        // as read here is what the outcome is written over (one round trip, not two).
        let known = match context.jobs.get_versioned(&call_id).await {
            Ok(Some(record)) if record.value.status == JobStatus::Cancelled => {
                tracing::info!("job cancelled; no callback");
                let _ = message.ack().await;
                return;
            }
            Ok(record) => record,
            Err(error) => {
                tracing::debug!(%error, "job record not read");
                None
            }
        };
        let outcome = post(&context, &url, &reply).await;
        let jobs = &context.config.jobs;
        let (status, ack) = match &outcome {
            Ok(code) if (200..300).contains(code) => (CallbackStatus::Delivered, AckKind::Ack),
            _ if attempt >= jobs.callback_attempts => (CallbackStatus::Failed, AckKind::Ack),
            _ => (
                CallbackStatus::Pending,
                AckKind::Nak(Some(jobs.callback_backoff.delay(attempt))),
            ),
        };
        if status != CallbackStatus::Delivered {
            context
                .metrics
                .callback_failures
                .with_label_values(&[&function])
                .inc();
        }
        match &outcome {
            Ok(code) => tracing::info!(code, status = ?status, "callback answered"),
            Err(error) => tracing::warn!(%error, status = ?status, "callback failed"),
        }
        let recorded = Transition::Callback(CallbackOutcome {
            status,
            attempts: attempt,
            last_status_code: outcome.as_ref().ok().copied(),
            last_error: outcome.as_ref().err().cloned(),
            delivered_at: (status == CallbackStatus::Delivered).then(Utc::now),
        });
        if let Err(error) = context
            .jobs
            .apply_versioned(&call_id, &recorded, None, known)
            .await
        {
            tracing::warn!(%error, "callback outcome not recorded");
        }
        let _ = message.ack_with(ack).await;
    }
    .instrument(span)
    .await
}

/// The HTTP client callbacks are POSTed with: only to allowed networks, no redirects.
pub(crate) fn client(policy: NetworkPolicy) -> Result<reqwest::Client, reqwest::Error> {
    guard::guarded(policy).build()
}

/// POSTs the answer; the receiver's status code, or why there was none.
async fn post(context: &JobContext, url: &str, reply: &CallReply) -> Result<u16, String> {
    if let Some(refusal) = guard::literal_refusal(&context.config.jobs.callback_networks, url) {
        return Err(format!("callback refused: {refusal}"));
    }
    let mut request = context
        .http
        .post(url)
        .timeout(context.config.jobs.callback_timeout)
        .body(reply.body.clone());
    for (name, value) in &reply.headers {
        request = request.header(name.as_str(), value.as_str());
    }
    request
        .send()
        .await
        .map(|r| r.status().as_u16())
        .map_err(|e| error_chain(&e))
}
