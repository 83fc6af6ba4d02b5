//! One delivery of a job: take it, run it with progress acks, then finish, retry or give up.
//!
//! The order of the final steps is what makes a crash safe: result, dead letter and callback
//! are stored first, then the record is marked final, then the message is acked. A redelivery
//! after a crash finds a final record and skips the job instead of running it again.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, AckKind};
use chrono::Utc;
use cloudevents::AttributesReader;
use switchyard_broker::codec::{self, percent};
use switchyard_broker::events::{self, HOPS_EXTENSION, MAX_HOPS};
use switchyard_broker::invocation::{CallReply, Invocation};
use switchyard_broker::jobs::{CallbackOutcome, CallbackStatus, JobRecord, JobStatus};
use switchyard_broker::{streams, subjects};
use tracing::Instrument;

use super::context::JobContext;
use super::policy::{retry_after, JobPolicy};
use crate::delivery::DeliveryError;

/// Wait before retrying when the job store itself is unavailable.
const STORE_RETRY: Duration = Duration::from_secs(1);

pub(crate) async fn run(
    context: Arc<JobContext>,
    policy: Arc<JobPolicy>,
    message: jetstream::Message,
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
            let function = message.subject.trim_start_matches("sy.invoke.").to_string();
            let _ = dead_letter(
                &context,
                &message,
                &function,
                "malformed",
                0,
                attempt,
                &error.to_string(),
            )
            .await;
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
    .run()
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

/// What happens after the function answered (or could not be reached).
enum Decision {
    Succeed(CallReply),
    Retry {
        delay: Duration,
        status: u16,
        error: String,
    },
    Fail {
        reply: CallReply,
        reason: &'static str,
        error: String,
    },
}

impl Attempt {
    async fn run(self) {
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
            .started_at
            .map(|t| (Utc::now() - t).to_std().unwrap_or_default())
            .unwrap_or(elapsed);
        match self.decide(result) {
            Decision::Succeed(reply) => {
                if self.policy.reply {
                    if let Err(error) = self.publish_reply(&reply).await {
                        let error = format!("reply event not stored: {error}");
                        if self.attempt < self.policy.attempts {
                            self.retry(self.policy.delay(self.attempt), reply.status, error)
                                .await;
                        } else if self
                            .finish(
                                JobStatus::Failed,
                                &reply,
                                Some(("reply not stored", error)),
                                elapsed,
                            )
                            .await
                        {
                            metrics
                                .finished
                                .with_label_values(&[&label, "failed"])
                                .inc();
                        }
                        return;
                    }
                }
                if self
                    .finish(JobStatus::Succeeded, &reply, None, elapsed)
                    .await
                {
                    metrics
                        .finished
                        .with_label_values(&[&label, "succeeded"])
                        .inc();
                    metrics
                        .duration
                        .with_label_values(&[&label, "succeeded"])
                        .observe(total.as_secs_f64());
                }
            }
            Decision::Retry {
                delay,
                status,
                error,
            } => self.retry(delay, status, error).await,
            Decision::Fail {
                reply,
                reason,
                error,
            } => {
                if self
                    .finish(JobStatus::Failed, &reply, Some((reason, error)), elapsed)
                    .await
                {
                    metrics
                        .finished
                        .with_label_values(&[&label, "failed"])
                        .inc();
                    metrics
                        .duration
                        .with_label_values(&[&label, "failed"])
                        .observe(total.as_secs_f64());
                }
            }
        }
    }

    /// Marks the job running, unless it is already final (finished before a crash, or
    /// cancelled while queued): then the message is acked and the job skipped.
    async fn take(&self) -> Option<JobRecord> {
        let (call_id, attempt, max) =
            (&self.invocation.call_id, self.attempt, self.policy.attempts);
        let updated = self
            .context
            .jobs
            .update(call_id, |current| {
                let mut record = current.unwrap_or_else(|| {
                    JobRecord::queued(
                        call_id,
                        &self.invocation.function,
                        self.invocation.callback_url.clone(),
                    )
                });
                if record.status.is_final() {
                    return None;
                }
                record.status = JobStatus::Running;
                record.attempts = attempt;
                record.max_attempts = Some(max);
                record.started_at.get_or_insert_with(Utc::now);
                Some(record)
            })
            .await;
        match updated {
            Ok(Some(record)) if record.status == JobStatus::Running => Some(record),
            Ok(Some(record)) => {
                tracing::info!(
                    status = record.status.as_str(),
                    "job already final; skipped"
                );
                let _ = self.message.ack().await;
                None
            }
            Ok(None) => None,
            Err(error) => {
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

    fn decide(&self, result: Result<CallReply, DeliveryError>) -> Decision {
        let last = self.attempt >= self.policy.attempts;
        match result {
            Ok(reply) if reply.status < 400 => Decision::Succeed(reply),
            Ok(reply) if self.policy.retries_status(reply.status) && !last => Decision::Retry {
                delay: self.policy.backoff.honour_retry_after(
                    self.policy.delay(self.attempt),
                    retry_after(&reply.headers),
                ),
                status: reply.status,
                error: format!("function answered {}", reply.status),
            },
            Ok(reply) => {
                let reason = if self.policy.retries_status(reply.status) {
                    "attempts exhausted"
                } else {
                    "not retriable"
                };
                let error = format!("function answered {}", reply.status);
                Decision::Fail {
                    reply,
                    reason,
                    error,
                }
            }
            // Network-level failures are always worth another attempt.
            Err(error) if !last => Decision::Retry {
                delay: self.policy.delay(self.attempt),
                status: 503,
                error: error.to_string(),
            },
            Err(error) => {
                let mut reply = error.reply(&self.invocation.function);
                // OpenFaaS's convention for a call that failed at the network level.
                reply.status = 503;
                Decision::Fail {
                    reply,
                    reason: "attempts exhausted",
                    error: error.to_string(),
                }
            }
        }
    }

    async fn retry(&self, delay: Duration, status: u16, error: String) {
        tracing::info!(?delay, status, %error, "attempt failed; retrying");
        self.context
            .metrics
            .retries
            .with_label_values(&[&self.invocation.function])
            .inc();
        let _ = self
            .context
            .jobs
            .update(&self.invocation.call_id, |current| {
                let mut record = current?;
                if record.status.is_final() {
                    return None;
                }
                record.status = JobStatus::Queued;
                record.last_status_code = Some(status);
                record.last_error = Some(error.clone());
                Some(record)
            })
            .await;
        let _ = self.message.ack_with(AckKind::Nak(Some(delay))).await;
    }

    /// Stores the result, the dead letter and the callback, then the final record, then acks.
    /// Returns false when the job was handed back instead (NATS could not take the outputs).
    async fn finish(
        &self,
        status: JobStatus,
        reply: &CallReply,
        failure: Option<(&'static str, String)>,
        elapsed: Duration,
    ) -> bool {
        let call_id = &self.invocation.call_id;
        let function = &self.invocation.function;
        let stored = match self.context.results.put(call_id, reply).await {
            Ok(stored) => stored,
            Err(error) => {
                tracing::warn!(%error, "result not stored");
                false
            }
        };
        let dead_lettered = match &failure {
            Some((reason, error)) if self.policy.dead_letter => {
                let stored = dead_letter(
                    &self.context,
                    &self.message,
                    function,
                    reason,
                    reply.status,
                    self.attempt,
                    error,
                )
                .await;
                if stored {
                    self.context
                        .metrics
                        .dead_letters
                        .with_label_values(&[function])
                        .inc();
                }
                stored
            }
            _ => false,
        };
        // A job cancelled after its function answered gets no callback.
        let cancelled = self.invocation.callback_url.is_some()
            && matches!(
                self.context.jobs.get(call_id).await,
                Ok(Some(record)) if record.status == JobStatus::Cancelled
            );
        if cancelled {
            tracing::info!("cancelled before it finished; no callback");
            let _ = self.message.ack().await;
            return false;
        }
        if self.invocation.callback_url.is_some() {
            if let Err(error) = self.queue_callback(reply, elapsed).await {
                tracing::warn!(%error, "callback could not be queued; job handed back");
                let _ = self.message.ack_with(AckKind::Nak(Some(STORE_RETRY))).await;
                return false;
            }
        }
        let error = failure.map(|(_, error)| error);
        let has_callback = self.invocation.callback_url.is_some();
        let updated = self
            .context
            .jobs
            .update(call_id, |current| {
                let mut record = current?;
                if record.status.is_final() {
                    return None;
                }
                record.status = status;
                record.finished_at = Some(Utc::now());
                record.last_status_code = Some(reply.status);
                record.last_error = error.clone();
                record.result_stored = stored;
                record.dead_lettered = dead_lettered;
                if has_callback && record.callback.is_none() {
                    record.callback = Some(CallbackOutcome {
                        status: CallbackStatus::Pending,
                        attempts: 0,
                        last_status_code: None,
                        last_error: None,
                        delivered_at: None,
                    });
                }
                Some(record)
            })
            .await;
        if let Err(error) = updated {
            tracing::warn!(%error, "final record not written");
        }
        tracing::info!(
            status = status.as_str(),
            code = reply.status,
            "job finished"
        );
        let _ = self.message.ack().await;
        true
    }

    /// Publishes the function's answer to `SY_EVENTS` when it is a CloudEvent (binary or
    /// structured), one hop further than the event it answered; at the hop limit it is dropped
    /// with a warning, which is what stops reply loops.
    async fn publish_reply(&self, reply: &CallReply) -> Result<(), String> {
        let mut headers = async_nats::HeaderMap::new();
        for (name, value) in &reply.headers {
            if name.parse::<async_nats::HeaderName>().is_ok() {
                headers.append(name.as_str(), value.as_str());
            }
        }
        let Ok(mut event) = codec::decode(Some(&headers), &reply.body) else {
            tracing::debug!("answer is not a CloudEvent; no reply published");
            return Ok(());
        };
        let hops = self.invocation.hops + 1;
        if i64::from(hops) > MAX_HOPS {
            tracing::warn!(hops, "hop limit reached; reply event dropped");
            return Ok(());
        }
        event.set_extension(HOPS_EXTENSION, i64::from(hops));
        let (mut headers, payload) = codec::encode_binary(&event);
        headers.insert(
            "Nats-Msg-Id",
            events::message_id(event.source(), event.id()).as_str(),
        );
        streams::publish_acked(
            &self.context.js,
            events::subject(event.ty()),
            headers,
            payload,
        )
        .await
        .map_err(|e| e.to_string())?;
        tracing::info!(
            id = event.id(),
            ty = event.ty(),
            hops,
            "reply event published"
        );
        Ok(())
    }

    /// Stores the callback in `SY_CALLBACKS`; the callback worker delivers it with retries.
    async fn queue_callback(&self, reply: &CallReply, elapsed: Duration) -> Result<(), String> {
        let url = self.invocation.callback_url.clone().unwrap_or_default();
        let start_time = self
            .invocation
            .headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("x-start-time"))
            .map(|(_, value)| value.clone())
            .unwrap_or_default();
        let mut callback = reply.clone();
        callback.headers.extend([
            ("X-Call-Id".to_string(), self.invocation.call_id.clone()),
            (
                "X-Function-Name".to_string(),
                self.invocation.function.clone(),
            ),
            ("X-Function-Status".to_string(), reply.status.to_string()),
            (
                "X-Duration-Seconds".to_string(),
                format!("{:.6}", elapsed.as_secs_f64()),
            ),
            ("X-Start-Time".to_string(), start_time),
            ("X-Retry".to_string(), (self.attempt - 1).to_string()),
            (
                "X-Retry-Max".to_string(),
                (self.policy.attempts - 1).to_string(),
            ),
        ]);
        let (mut headers, payload) = callback.to_message();
        headers.insert(CALLBACK_URL, percent::encode(&url).as_ref());
        headers.insert(CALLBACK_CALL_ID, self.invocation.call_id.as_str());
        headers.insert("Nats-Msg-Id", self.invocation.call_id.as_str());
        streams::publish_acked(
            &self.context.js,
            subjects::callback(&self.invocation.function),
            headers,
            payload,
        )
        .await
        .map_err(|e| e.to_string())?;
        Ok(())
    }
}

/// NATS header of a queued callback: where to POST it.
pub(crate) const CALLBACK_URL: &str = "sy-callback-url";
/// NATS header of a queued callback: whose job it is.
pub(crate) const CALLBACK_CALL_ID: &str = "sy-call-id";

/// Copies the invocation to `SY_DEAD` with headers saying why; true once stored.
async fn dead_letter(
    context: &JobContext,
    message: &jetstream::Message,
    function: &str,
    reason: &str,
    status: u16,
    attempts: u32,
    error: &str,
) -> bool {
    let mut headers = message.headers.clone().unwrap_or_default();
    if let Some(call_id) = message
        .headers
        .as_ref()
        .and_then(|h| h.get("ce-id"))
        .map(|v| v.as_str().to_string())
    {
        headers.insert("Nats-Msg-Id", call_id.as_str());
    }
    headers.insert("sy-dead-reason", reason);
    headers.insert("sy-dead-status", status.to_string());
    headers.insert("sy-dead-attempts", attempts.to_string());
    headers.insert("sy-dead-error", percent::encode(error).as_ref());
    headers.insert("sy-dead-time", Utc::now().to_rfc3339());
    match streams::publish_acked(
        &context.js,
        subjects::dead(function),
        headers,
        message.payload.clone(),
    )
    .await
    {
        Ok(_) => true,
        Err(error) => {
            tracing::error!(%error, "dead letter not stored");
            false
        }
    }
}
