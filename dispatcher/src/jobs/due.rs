//! Delayed jobs that came due: JetStream stores each on `sy.due.<function>` in `SY_DELAYED`
//! at the whole second before its due time (a message schedule; it is handed back until the
//! exact time); a consumer shared by every dispatcher moves it to
//! `SY_INVOCATIONS` as an ordinary job (with the job's deduplication id, so a move repeated
//! after a crash is one job), and acks it only once the queue has it.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::{pull::Config as PullConfig, AckPolicy, Consumer};
use async_nats::jetstream::{self, AckKind};
use chrono::Utc;
use switchyard_broker::errors::error_chain;
use switchyard_broker::invocation::Invocation;
use switchyard_broker::jobs::delay;
use switchyard_broker::{consumers, streams, subjects};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::context::JobContext;
use super::pull;

/// Jobs moved at once by this dispatcher.
const CONCURRENCY: usize = 32;
/// A job the queue did not take (full, or NATS away) is offered again after this.
const RETRY_AFTER: Duration = Duration::from_secs(1);
/// How long a move (one publish) may take before the job is offered again: short, since a
/// job held by a dispatcher that died waits this long (a move repeated meanwhile is the same
/// message, deduplicated by the queue).
const ACK_WAIT: Duration = Duration::from_secs(5);

pub(crate) async fn start(
    context: Arc<JobContext>,
    shutdown: CancellationToken,
) -> Result<JoinHandle<()>, async_nats::Error> {
    let first = due_consumer(&context.js).await?;
    let grace = context.config.jobs.shutdown_grace;
    Ok(tokio::spawn(async move {
        let js = context.js.clone();
        pull::consume(
            consumers::DUE,
            first,
            || due_consumer(&js),
            CONCURRENCY,
            shutdown,
            grace,
            move |message| move_due(context.clone(), message),
        )
        .await;
        tracing::info!("delayed jobs stopped");
    }))
}

/// The consumer of jobs come due, shared by every dispatcher.
async fn due_consumer(js: &jetstream::Context) -> Result<Consumer<PullConfig>, async_nats::Error> {
    let stream = js.get_stream(streams::DELAYED).await?;
    let name = consumers::DUE;
    let config = PullConfig {
        durable_name: Some(name.to_string()),
        filter_subject: subjects::ALL_DUE.to_string(),
        ack_policy: AckPolicy::Explicit,
        ack_wait: ACK_WAIT,
        max_deliver: -1,
        ..Default::default()
    };
    let consumer: Consumer<PullConfig> =
        stream.get_or_create_consumer(name, config.clone()).await?;
    // One made by an earlier version keeps its settings unless brought to these.
    if consumer.cached_info().config.ack_wait != ACK_WAIT {
        return Ok(stream.update_consumer(config).await?);
    }
    Ok(consumer)
}

async fn move_due(context: Arc<JobContext>, message: jetstream::Message) {
    // The server fires on the whole second before the due time: hand it back until then.
    if let Some(early) = message
        .headers
        .as_ref()
        .and_then(delay::not_before)
        .and_then(|due| (due - Utc::now()).to_std().ok())
        .filter(|early| !early.is_zero())
    {
        let _ = message.ack_with(AckKind::Nak(Some(early))).await;
        return;
    }
    let invocation = match Invocation::from_message(
        message.headers.as_ref(),
        message.payload.clone(),
    ) {
        Ok(invocation) => invocation,
        Err(error) => {
            tracing::error!(subject = %message.subject, %error, "unreadable delayed job dropped");
            let _ = message.ack_with(AckKind::Term).await;
            return;
        }
    };
    let span =
        tracing::info_span!("due", call_id = %invocation.call_id, function = %invocation.function);
    async {
        let (subject, headers, payload) = invocation.to_stored_message();
        match streams::publish_acked(&context.js, subject, headers, payload).await {
            Ok(_) => {
                tracing::info!("delayed job due; queued");
                let _ = message.ack().await;
            }
            Err(error) => {
                tracing::warn!(error = %error_chain(&error), "delayed job due but not queued; offered again");
                let _ = message.ack_with(AckKind::Nak(Some(RETRY_AFTER))).await;
            }
        }
    }
    .instrument(span)
    .await;
}
