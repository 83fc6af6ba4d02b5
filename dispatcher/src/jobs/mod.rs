//! Asynchronous jobs. A function's jobs wait in `SY_INVOCATIONS` on its own subject and are
//! taken through a durable pull consumer of that subject, shared by every dispatcher, each with
//! its own concurrency limit, so that a slow or failing function never holds back another's
//! jobs. A consumer exists only while its function has work ([`workers`]; which functions are
//! served is decided in [`demand`]), so the number of consumers follows the work, not the
//! number of functions deployed. Delayed jobs wait in `SY_DELAYED` until due, then [`due`]
//! moves them here.

mod attempt;
pub(crate) mod context;
mod decision;
mod demand;
mod discovery;
pub(crate) mod due;
pub(crate) mod policy;
pub(crate) mod pull;
mod workers;

use std::sync::Arc;

use futures::StreamExt;
use switchyard_broker::cache::KvCache;
use switchyard_broker::records::FunctionSpec;
use switchyard_broker::subjects;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use context::JobContext;

/// The consumers' limit on unacknowledged messages, across all dispatchers.
pub(crate) const MAX_ACK_PENDING: i64 = 20_000;

/// Runs the job workers until `shutdown`; also aborts running jobs that are cancelled.
pub(crate) async fn start(
    context: Arc<JobContext>,
    registry: KvCache<FunctionSpec>,
    shutdown: CancellationToken,
) -> Result<JoinHandle<()>, async_nats::SubscribeError> {
    let mut cancels = context.nats.subscribe(subjects::all_cancels()).await?;
    let announced = discovery::Announcements::subscribe(&context.nats).await?;
    let canceller = context.clone();
    let stop_cancels = shutdown.clone();
    tokio::spawn(async move {
        loop {
            let message = tokio::select! {
                message = cancels.next() => message,
                () = stop_cancels.cancelled() => break,
            };
            let Some(message) = message else { break };
            if let Some(call_id) = subjects::parse_cancel(&message.subject) {
                canceller.cancel(call_id);
            }
        }
    });
    Ok(tokio::spawn(workers::run(
        context, registry, announced, shutdown,
    )))
}
