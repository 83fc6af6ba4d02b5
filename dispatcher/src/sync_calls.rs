//! Synchronous calls: NATS request/reply on `sy.call.*`, one queue group for all dispatchers.

use std::sync::Arc;
use std::time::Instant;

use async_nats::{jetstream, Client, Message, Subscriber};
use futures::StreamExt;
use switchyard_broker::buckets;
use switchyard_broker::cache::KvCache;
use switchyard_broker::invocation::{CallReply, Invocation};
use switchyard_broker::subjects;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::config::DispatcherConfig;
use crate::endpoints::Directory;
use crate::forward::{ForwardError, Forwarder};

/// Why the dispatcher could not start.
#[derive(Debug, thiserror::Error)]
pub enum DispatcherError {
    #[error(transparent)]
    Bucket(#[from] buckets::BucketError),
    #[error("cannot subscribe to calls: {0}")]
    Subscribe(#[from] async_nats::SubscribeError),
}

/// A running dispatcher.
pub struct Dispatcher {
    task: JoinHandle<()>,
}

struct Context {
    nats: Client,
    config: DispatcherConfig,
    directory: Directory,
    forwarder: Forwarder,
}

impl Dispatcher {
    /// Subscribes to calls and serves them until `shutdown` fires; then it stops taking calls,
    /// finishes those in flight, and [`Dispatcher::wait`] returns.
    pub async fn start(
        nats: Client,
        config: DispatcherConfig,
        shutdown: CancellationToken,
    ) -> Result<Self, DispatcherError> {
        let js = jetstream::new(nats.clone());
        let endpoints = KvCache::start(buckets::endpoints(&js).await?, shutdown.clone()).await;
        let subscriber = nats
            .queue_subscribe(
                subjects::all_calls(),
                subjects::DISPATCHER_QUEUE_GROUP.to_string(),
            )
            .await?;
        let context = Arc::new(Context {
            nats,
            directory: Directory::new(endpoints),
            forwarder: Forwarder::new(),
            config,
        });
        tracing::info!(subject = %subjects::all_calls(), group = subjects::DISPATCHER_QUEUE_GROUP, "dispatcher taking calls");
        let task = tokio::spawn(serve(context, subscriber, shutdown));
        Ok(Dispatcher { task })
    }

    /// Waits until the dispatcher has stopped after shutdown.
    pub async fn wait(self) {
        let _ = self.task.await;
    }
}

async fn serve(context: Arc<Context>, mut subscriber: Subscriber, shutdown: CancellationToken) {
    let limit = context.config.max_concurrent_calls;
    let permits = Arc::new(Semaphore::new(limit));
    loop {
        let message = tokio::select! {
            message = subscriber.next() => message,
            () = shutdown.cancelled() => break,
        };
        let Some(message) = message else { break };
        let Ok(permit) = permits.clone().acquire_owned().await else {
            break;
        };
        let context = context.clone();
        tokio::spawn(async move {
            handle(&context, message).await;
            drop(permit);
        });
    }
    // Stop taking calls: the server routes new ones to the other dispatchers of the group.
    let _ = subscriber.unsubscribe().await;
    let in_flight = limit - permits.available_permits();
    if in_flight > 0 {
        tracing::info!(in_flight, "finishing calls in flight");
    }
    let _ = permits.acquire_many(limit as u32).await;
    tracing::info!("dispatcher stopped");
}

async fn handle(context: &Context, message: Message) {
    let Some(reply_to) = message.reply.clone() else {
        tracing::warn!(subject = %message.subject, "call without a reply subject ignored");
        return;
    };
    let reply = match Invocation::from_message(message.headers.as_ref(), message.payload) {
        Ok(invocation) => {
            let span = tracing::info_span!("call", call_id = %invocation.call_id, function = %invocation.function);
            call(context, &invocation).instrument(span).await
        }
        Err(error) => {
            tracing::warn!(subject = %message.subject, %error, "malformed call");
            CallReply::internal(400, format!("malformed invocation: {error}\n"))
        }
    };
    let (headers, payload) = reply.to_message();
    if let Err(error) = context
        .nats
        .publish_with_headers(reply_to.clone(), headers, payload)
        .await
    {
        tracing::warn!(%error, "cannot send the reply; telling the caller");
        let (headers, payload) = CallReply::internal(
            502,
            format!("function answer could not be relayed: {error}\n"),
        )
        .to_message();
        let _ = context
            .nats
            .publish_with_headers(reply_to, headers, payload)
            .await;
    }
}

/// Delivers one call, trying the next replica when one cannot be reached.
async fn call(context: &Context, invocation: &Invocation) -> CallReply {
    // One deadline for the whole call, waiting for a replica included.
    let deadline = Instant::now() + context.config.upstream_timeout;
    let wait = context
        .config
        .replica_wait
        .min(context.config.upstream_timeout);
    let replicas = context.directory.replicas(&invocation.function, wait).await;
    if replicas.is_empty() {
        tracing::warn!("no ready replica");
        return CallReply::internal(
            503,
            format!("function `{}` has no ready replica\n", invocation.function),
        );
    }
    // Leave room in the reply message for the headers.
    let max_answer = context
        .nats
        .server_info()
        .max_payload
        .saturating_sub(64 * 1024);
    let mut last_error = None;
    for endpoint in &replicas {
        let remaining = deadline.saturating_duration_since(Instant::now());
        match context
            .forwarder
            .call(endpoint, invocation, remaining, max_answer)
            .await
        {
            Ok(reply) => {
                tracing::debug!(status = reply.status, replica = %endpoint.replica, "function answered");
                return reply;
            }
            Err(error @ ForwardError::Unreachable { .. }) => {
                tracing::warn!(replica = %endpoint.replica, %error, "replica unreachable; trying another");
                last_error = Some(error);
            }
            Err(error) => {
                tracing::warn!(replica = %endpoint.replica, %error, "call failed");
                return error.reply(&invocation.function);
            }
        }
    }
    match last_error {
        Some(error) => error.reply(&invocation.function),
        None => CallReply::internal(
            503,
            format!("function `{}` has no ready replica\n", invocation.function),
        ),
    }
}
