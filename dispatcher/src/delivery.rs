//! Delivering one invocation to one of the function's ready replicas, for sync calls and jobs.

use std::time::{Duration, Instant};

use switchyard_broker::invocation::{CallReply, Invocation};

use crate::endpoints::Directory;
use crate::forward::{ForwardError, Forwarder};
use crate::load::Load;

/// Replica choice plus pooled HTTP forwarding.
pub(crate) struct Delivery {
    pub(crate) directory: Directory,
    pub(crate) forwarder: Forwarder,
    /// Largest answer body accepted (it must fit in a NATS message).
    pub(crate) max_answer: usize,
    /// What is in flight and finished, per function, for the autoscaler.
    pub(crate) load: Load,
}

/// Why an invocation got no answer from the function.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DeliveryError {
    #[error("function `{0}` has no ready replica")]
    NoReplica(String),
    #[error(transparent)]
    Forward(#[from] ForwardError),
}

impl DeliveryError {
    /// The answer a caller gets instead of the function's.
    pub(crate) fn reply(&self, function: &str) -> CallReply {
        match self {
            DeliveryError::NoReplica(_) => CallReply::internal(503, format!("{self}\n")),
            DeliveryError::Forward(error) => error.reply(function),
        }
    }
}

impl Delivery {
    /// Sends `invocation` to a ready replica within `timeout` (waiting at most `replica_wait`
    /// of it for one to appear), trying the next replica when one cannot be reached.
    pub(crate) async fn deliver(
        &self,
        invocation: &Invocation,
        timeout: Duration,
        replica_wait: Duration,
    ) -> Result<CallReply, DeliveryError> {
        let _in_flight = self.load.start(&invocation.function);
        let deadline = Instant::now() + timeout;
        let replicas = self
            .directory
            .replicas(&invocation.function, replica_wait.min(timeout))
            .await;
        let mut last_error = DeliveryError::NoReplica(invocation.function.clone());
        for endpoint in &replicas {
            let remaining = deadline.saturating_duration_since(Instant::now());
            match self
                .forwarder
                .call(endpoint, invocation, remaining, self.max_answer)
                .await
            {
                Ok(reply) => {
                    tracing::debug!(status = reply.status, replica = %endpoint.replica, "function answered");
                    return Ok(reply);
                }
                Err(error @ ForwardError::Unreachable { .. }) => {
                    tracing::warn!(replica = %endpoint.replica, %error, "replica unreachable; trying another");
                    last_error = error.into();
                }
                Err(error) => return Err(error.into()),
            }
        }
        Err(last_error)
    }
}
