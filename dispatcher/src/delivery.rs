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
    /// Sends `invocation` to a ready replica within `timeout`, trying the next replica when one
    /// cannot be reached. For at most `replica_wait` of it, it waits for a replica to appear: a
    /// function just deployed, restarting or scaled to zero, or one whose listed replica has
    /// just gone (a scale-down the directory has not caught up with yet).
    pub(crate) async fn deliver(
        &self,
        invocation: &Invocation,
        timeout: Duration,
        replica_wait: Duration,
    ) -> Result<CallReply, DeliveryError> {
        let _in_flight = self.load.start(&invocation.function);
        let deadline = Instant::now() + timeout;
        let wait_until = Instant::now() + replica_wait.min(timeout);
        let mut unreachable: Vec<String> = Vec::new();
        let mut last_error = DeliveryError::NoReplica(invocation.function.clone());
        loop {
            let wait = wait_until.saturating_duration_since(Instant::now());
            let replicas = self.directory.replicas(&invocation.function, wait).await;
            let untried: Vec<_> = replicas
                .iter()
                .filter(|e| !unreachable.contains(&e.url))
                .collect();
            if untried.is_empty() {
                if Instant::now() >= wait_until {
                    return Err(last_error);
                }
                tokio::time::sleep(RECHECK).await;
                continue;
            }
            for endpoint in untried {
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
                        unreachable.push(endpoint.url.clone());
                        last_error = error.into();
                    }
                    Err(error) => return Err(error.into()),
                }
            }
        }
    }
}

/// How often the directory is looked at again while every listed replica is unreachable.
const RECHECK: Duration = Duration::from_millis(100);
