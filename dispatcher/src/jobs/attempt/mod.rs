//! One delivery of a job: take it, run it with progress acks, then finish, retry or give up.
//!
//! Every change of the job's record is a [`Transition`] of its state machine. The order of the
//! final steps is what makes a crash safe: result, dead letter and callback are stored first,
//! then the record is marked final, then the message is acked. A redelivery after a crash finds
//! a final record and skips the job instead of running it again.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, AckKind};
use chrono::Utc;
use switchyard_broker::invocation::{CallReply, Invocation};
use switchyard_broker::jobs::{
    DeadLetter, DeadReason, Finish, JobRecord, JobStatus, Refused, Transition, TransitionError,
};
use switchyard_broker::subjects;
use switchyard_broker::table::Versioned;
use tracing::Instrument;

mod outputs;

use outputs::dead_letter;

use super::context::JobContext;
use super::decision::{decide, Decision};
use super::policy::JobPolicy;
use super::pull::Slot;

/// Wait before retrying when the job store itself is unavailable.
const STORE_RETRY: Duration = Duration::from_secs(1);
/// How long a finished job's record is retried while the store is unavailable (a NATS node
/// lost and JetStream electing leaders can take well over ten seconds on a loaded machine);
/// progress acks keep the message ours meanwhile, so the function does not run again.
const FINAL_RECORD_PATIENCE: Duration = Duration::from_secs(600);
/// Waits between those tries.
const FINAL_RECORD_BACKOFF: switchyard_broker::backoff::Backoff =
    switchyard_broker::backoff::Backoff {
        min: STORE_RETRY,
        max: Duration::from_secs(5),
    };

/// Runs one delivery of a job, holding `slot` (one of the function's calls at once) until the
/// function has answered; the records after that are written outside it.
pub(crate) async fn run(
    context: Arc<JobContext>,
    policy: Arc<JobPolicy>,
    message: jetstream::Message,
    slot: Slot,
) {
    let attempt = message
        .info()
        .map(|i| i.delivered.max(1) as u32)
        .unwrap_or(1);
    let invocation = match Invocation::from_message(
        message.headers.as_ref(),
        message.payload.clone(),
    ) {
        Ok(invocation) => invocation,
        Err(error) => {
            tracing::error!(subject = %message.subject, %error, "malformed invocation: dead-lettered");
            let function = subjects::parse_invoke(&message.subject).unwrap_or_default();
            let letter = DeadLetter {
                function: function.to_string(),
                reason: DeadReason::Malformed,
                status: 0,
                attempts: attempt,
                error: error.to_string(),
                time: Utc::now(),
            };
            let _ = dead_letter(&context, &message, &letter).await;
            let _ = message.ack_with(AckKind::Term).await;
            return;
        }
    };
    // An event delivery follows its subscription's delivery policy.
    let policy = match invocation
        .subscription
        .as_deref()
        .and_then(|name| context.subscriptions.get(name))
    {
        Some(subscription) => Arc::new(policy.for_subscription(&subscription)),
        None => policy,
    };
    let span = tracing::info_span!("job", call_id = %invocation.call_id, function = %invocation.function, attempt);
    Attempt {
        context,
        policy,
        message,
        invocation,
        attempt,
    }
    .run(slot)
    .instrument(span)
    .await
}

struct Attempt {
    context: Arc<JobContext>,
    policy: Arc<JobPolicy>,
    message: jetstream::Message,
    invocation: Invocation,
    attempt: u32,
}

/// How a job ended, as far as this attempt is concerned.
struct Ending {
    status: JobStatus,
    reply: CallReply,
    failure: Option<(DeadReason, String)>,
}

impl Attempt {
    async fn run(self, mut slot: Slot) {
        let Some(record) = self.take().await else {
            return;
        };
        let label = self.invocation.function.clone();
        let metrics = &self.context.metrics;
        let cancelled = self.context.running(&self.invocation.call_id);
        metrics.in_flight.with_label_values(&[&label]).inc();
        let progress = self.keep_alive();
        let started = Instant::now();
        let outcome = tokio::select! {
            result = self.context.delivery.deliver(&self.invocation, self.policy.timeout, self.context.config.replica_wait) => Some(result),
            () = cancelled.cancelled() => None,
        };
        progress.abort();
        slot.release();
        self.context.finished(&self.invocation.call_id);
        metrics.in_flight.with_label_values(&[&label]).dec();

        let Some(result) = outcome else {
            tracing::info!("cancelled while running");
            metrics
                .finished
                .with_label_values(&[&label, "cancelled"])
                .inc();
            let _ = self.message.ack().await;
            return;
        };
        let elapsed = started.elapsed();
        let total = record
            .value
            .started_at
            .map(|t| (Utc::now() - t).to_std().unwrap_or_default())
            .unwrap_or(elapsed);
        let ending = match decide(result, self.attempt, &self.policy, &label) {
            Decision::Retry {
                delay,
                status,
                error,
            } => return self.retry(record, delay, status, error).await,
            Decision::Fail {
                reply,
                reason,
                error,
            } => Ending {
                status: JobStatus::Failed,
                reply,
                failure: Some((reason, error)),
            },
            Decision::Succeed(reply) => match self.publish_reply(&reply).await {
                Ok(()) => Ending {
                    status: JobStatus::Succeeded,
                    reply,
                    failure: None,
                },
                Err(error) if self.attempt < self.policy.attempts => {
                    let error = format!("reply event not stored: {error}");
                    return self
                        .retry(record, self.policy.delay(self.attempt), reply.status, error)
                        .await;
                }
                Err(error) => Ending {
                    status: JobStatus::Failed,
                    reply,
                    failure: Some((
                        DeadReason::ReplyNotStored,
                        format!("reply event not stored: {error}"),
                    )),
                },
            },
        };
        // Metrics count what the record says, which a cancel may have decided meanwhile.
        if let Some(status) = self.finish(record, ending, elapsed).await {
            metrics
                .finished
                .with_label_values(&[&label, status.as_str()])
                .inc();
            if status != JobStatus::Cancelled {
                metrics
                    .duration
                    .with_label_values(&[&label, status.as_str()])
                    .observe(total.as_secs_f64());
            }
        }
    }

    /// Marks the job running, unless it is already final (finished before a crash, or
    /// cancelled while queued): then the message is acked and the job skipped.
    async fn take(&self) -> Option<Versioned<JobRecord>> {
        let start = Transition::Start {
            attempt: self.attempt,
            max_attempts: self.policy.attempts,
            at: Utc::now(),
        };
        // The intake's queued record may be missing (its write failed after the 202).
        let seed = JobRecord::queued(
            &self.invocation.call_id,
            &self.invocation.function,
            self.invocation.callback_url.clone(),
        );
        match self
            .context
            .jobs
            .apply_versioned(&self.invocation.call_id, &start, Some(&seed), None)
            .await
        {
            Ok(record) => Some(record),
            Err(TransitionError::Refused { refused, .. }) => {
                tracing::info!(%refused, "job skipped");
                let _ = self.message.ack().await;
                None
            }
            Err(TransitionError::Store(error)) => {
                tracing::warn!(%error, "job store unavailable; job handed back");
                let _ = self.message.ack_with(AckKind::Nak(Some(STORE_RETRY))).await;
                None
            }
        }
    }

    /// Progress acks at a third of the ack wait, so a long job is never redelivered meanwhile.
    fn keep_alive(&self) -> tokio::task::JoinHandle<()> {
        let every = self.context.config.jobs.ack_wait / 3;
        let message = self.message.clone();
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(every);
            ticker.tick().await;
            loop {
                ticker.tick().await;
                if let Err(error) = message.ack_with(AckKind::Progress).await {
                    tracing::warn!(%error, "progress ack failed");
                }
            }
        })
    }

    async fn retry(
        &self,
        record: Versioned<JobRecord>,
        delay: Duration,
        status: u16,
        error: String,
    ) {
        tracing::info!(?delay, status, %error, "attempt failed; retrying");
        self.context
            .metrics
            .retries
            .with_label_values(&[&self.invocation.function])
            .inc();
        let retry = Transition::Retry {
            status,
            error,
            at: chrono::Utc::now(),
        };
        if let Err(error) = self
            .context
            .jobs
            .apply_versioned(&self.invocation.call_id, &retry, None, Some(record))
            .await
        {
            tracing::info!(%error, "retry not recorded");
        }
        let _ = self.message.ack_with(AckKind::Nak(Some(delay))).await;
    }

    /// Stores the result, the dead letter and the callback, then the final record (from the
    /// record as this attempt wrote it, unless someone wrote it since), then acks. Returns the
    /// status the record holds afterwards, or `None` when the job was handed back instead (NATS
    /// could not take the outputs). A callback is not held back here for a job cancelled
    /// meanwhile: the callback worker reads the record before it posts, and drops it then.
    async fn finish(
        &self,
        record: Versioned<JobRecord>,
        ending: Ending,
        elapsed: Duration,
    ) -> Option<JobStatus> {
        let call_id = &self.invocation.call_id;
        let reply = &ending.reply;
        let result_stored = match self.context.results.put(call_id, reply).await {
            Ok(stored) => stored,
            Err(error) => {
                tracing::warn!(%error, "result not stored");
                false
            }
        };
        let dead_lettered = match &ending.failure {
            Some((reason, error)) if self.policy.dead_letter => {
                let letter = DeadLetter {
                    function: self.invocation.function.clone(),
                    reason: *reason,
                    status: reply.status,
                    attempts: self.attempt,
                    error: error.clone(),
                    time: Utc::now(),
                };
                dead_letter(&self.context, &self.message, &letter).await
            }
            _ => false,
        };
        let has_callback = self.invocation.callback_url.is_some();
        if has_callback {
            if let Err(error) = self.queue_callback(reply, elapsed).await {
                tracing::warn!(%error, "callback could not be queued; job handed back");
                let _ = self.message.ack_with(AckKind::Nak(Some(STORE_RETRY))).await;
                return None;
            }
        }
        let finish = Transition::Finish(Finish {
            status: ending.status,
            status_code: reply.status,
            error: ending.failure.map(|(_, error)| error),
            result_stored,
            dead_lettered,
            callback: has_callback,
            at: Utc::now(),
        });
        // The store may be unavailable for a while (a NATS node lost, leaders being
        // elected): keep trying rather than leave a finished job saying it runs.
        let started = Instant::now();
        let mut tries = 1;
        let mut known = Some(record);
        loop {
            match self
                .context
                .jobs
                .apply_versioned(call_id, &finish, None, known.take())
                .await
                .map(|stored| stored.value)
            {
                Ok(record) => {
                    tracing::info!(
                        status = record.status.as_str(),
                        code = reply.status,
                        "job finished"
                    );
                    let _ = self.message.ack().await;
                    return Some(record.status);
                }
                Err(TransitionError::Refused {
                    refused: Refused::Final(stored),
                    ..
                }) => return self.already_final(stored).await,
                Err(TransitionError::Store(error)) if started.elapsed() < FINAL_RECORD_PATIENCE => {
                    tracing::warn!(%error, tries, "final record not written yet; trying again");
                    // Still ours: no redelivery while we try.
                    let _ = self.message.ack_with(AckKind::Progress).await;
                    let wait = FINAL_RECORD_BACKOFF
                        .delay(tries)
                        .min(self.context.config.jobs.ack_wait / 3);
                    tries += 1;
                    tokio::time::sleep(wait).await;
                }
                Err(error) => {
                    // The outputs are stored; a redelivery would run the function again, so
                    // the job ends here even though its record could not say so.
                    tracing::error!(%error, "final record not written");
                    let _ = self.message.ack().await;
                    return Some(ending.status);
                }
            }
        }
    }

    /// The record became final while this attempt ran (a cancel): it stays as it is.
    async fn already_final(&self, stored: JobStatus) -> Option<JobStatus> {
        tracing::info!(
            stored = stored.as_str(),
            "job already final; this attempt's outcome is not recorded"
        );
        let _ = self.message.ack().await;
        Some(stored)
    }
}
