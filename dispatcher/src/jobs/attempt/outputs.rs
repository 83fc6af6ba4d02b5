//! What a finished attempt stores besides its record: the function's reply published as an
//! event, the callback queued for delivery, and the dead letter.

use std::time::Duration;

use async_nats::jetstream;
use cloudevents::AttributesReader;
use switchyard_broker::codec;
use switchyard_broker::errors::error_chain;
use switchyard_broker::events::{self, HOPS_EXTENSION, MAX_HOPS};
use switchyard_broker::invocation::CallReply;
use switchyard_broker::jobs::{DeadLetter, QueuedCallback};
use switchyard_broker::streams;

use super::Attempt;
use crate::jobs::context::JobContext;

impl Attempt {
    /// Publishes the function's answer to `SY_EVENTS` when the subscription asks for it and
    /// it is a CloudEvent (binary or structured), one hop further than the event it answered;
    /// at the hop limit it is dropped with a warning, which is what stops reply loops.
    pub(super) async fn publish_reply(&self, reply: &CallReply) -> Result<(), String> {
        if !self.policy.reply {
            return Ok(());
        }
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
        // A reply belongs to its function's namespace, and so to its organization.
        let namespace = switchyard_broker::records::split_qualified(&self.invocation.function).1;
        let (subject, headers, payload) =
            events::to_stored_message(events::REPLY_INGRESS, namespace, &event);
        streams::publish_acked(&self.context.js, subject, headers, payload)
            .await
            .map_err(|e| error_chain(&e))?;
        tracing::info!(
            id = event.id(),
            ty = event.ty(),
            hops,
            "reply event published"
        );
        Ok(())
    }

    /// Stores the callback in `SY_CALLBACKS`; the callback worker delivers it with retries.
    pub(super) async fn queue_callback(
        &self,
        reply: &CallReply,
        elapsed: Duration,
    ) -> Result<(), String> {
        let start_time = self
            .invocation
            .headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("x-start-time"))
            .map(|(_, value)| value.clone())
            .unwrap_or_default();
        let mut answer = reply.clone();
        // The watchdog sets some of these too (X-Duration-Seconds): each is said once, ours.
        const OURS: [&str; 7] = [
            "x-call-id",
            "x-function-name",
            "x-function-status",
            "x-duration-seconds",
            "x-start-time",
            "x-retry",
            "x-retry-max",
        ];
        answer
            .headers
            .retain(|(name, _)| !OURS.contains(&name.to_ascii_lowercase().as_str()));
        answer.headers.extend([
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
        let callback = QueuedCallback {
            function: self.invocation.function.clone(),
            call_id: self.invocation.call_id.clone(),
            url: self.invocation.callback_url.clone().unwrap_or_default(),
            reply: answer,
        };
        let (subject, headers, payload) = callback.to_message();
        streams::publish_acked(&self.context.js, subject, headers, payload)
            .await
            .map_err(|e| error_chain(&e))?;
        Ok(())
    }
}

/// Copies the invocation to `SY_DEAD` with headers saying why; true once stored.
pub(super) async fn dead_letter(
    context: &JobContext,
    message: &jetstream::Message,
    letter: &DeadLetter,
) -> bool {
    let (subject, headers, payload) =
        letter.to_message(message.headers.as_ref(), message.payload.clone());
    match streams::publish_acked(&context.js, subject, headers, payload).await {
        Ok(_) => {
            context
                .metrics
                .dead_letters
                .with_label_values(&[&letter.function])
                .inc();
            true
        }
        Err(error) => {
            tracing::error!(%error, "dead letter not stored");
            false
        }
    }
}
