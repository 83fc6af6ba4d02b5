//! Synchronous calls: NATS request/reply on `sy.call.*`, one queue group for all dispatchers.

use std::sync::Arc;

use async_nats::{Client, Message, Subscriber};
use futures::StreamExt;
use switchyard_broker::invocation::{CallReply, Invocation};
use switchyard_broker::subjects;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::config::DispatcherConfig;
use crate::delivery::Delivery;

struct Context {
    nats: Client,
    config: DispatcherConfig,
    delivery: Arc<Delivery>,
}

/// Subscribes to calls and serves them until `shutdown`; then stops taking calls and finishes
/// those in flight before the task ends.
pub(crate) async fn start(
    nats: Client,
    config: DispatcherConfig,
    delivery: Arc<Delivery>,
    shutdown: CancellationToken,
) -> Result<JoinHandle<()>, async_nats::SubscribeError> {
    let subscriber = nats
        .queue_subscribe(
            subjects::all_calls(),
            subjects::DISPATCHER_QUEUE_GROUP.to_string(),
        )
        .await?;
    tracing::info!(subject = %subjects::all_calls(), group = subjects::DISPATCHER_QUEUE_GROUP, "taking sync calls");
    let context = Arc::new(Context {
        nats,
        config,
        delivery,
    });
    Ok(tokio::spawn(serve(context, subscriber, shutdown)))
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
        tracing::info!(in_flight, "finishing sync calls in flight");
    }
    let _ = permits.acquire_many(limit as u32).await;
    tracing::info!("sync calls stopped");
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

/// Delivers one call; failures become the caller's answer.
async fn call(context: &Context, invocation: &Invocation) -> CallReply {
    let config = &context.config;
    match context
        .delivery
        .deliver(invocation, config.upstream_timeout, config.replica_wait)
        .await
    {
        Ok(reply) => reply,
        Err(error) => {
            tracing::warn!(%error, "call failed");
            error.reply(&invocation.function)
        }
    }
}
