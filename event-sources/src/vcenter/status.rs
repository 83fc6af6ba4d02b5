//! The status a poller reports in KV `sy_source_status`, written when its state changes and
//! after each batch of events stored.

use async_nats::jetstream::kv;
use chrono::Utc;
use switchyard_broker::records::{SourceState, SourceStatus};

use super::checkpoint::Checkpoint;

pub(crate) struct StatusReport {
    store: kv::Store,
    source: String,
    status: SourceStatus,
    written: bool,
}

impl StatusReport {
    pub(crate) fn new(store: kv::Store, source: &str) -> Self {
        Self {
            store,
            source: source.to_string(),
            status: SourceStatus {
                state: SourceState::Starting,
                last_error: None,
                last_error_at: None,
                reconnects: 0,
                events_published: 0,
                last_event_key: None,
                last_event_time: None,
                updated_at: Utc::now(),
            },
            written: false,
        }
    }

    pub(crate) async fn state(&mut self, state: SourceState) {
        if self.status.state != state || !self.written {
            self.status.state = state;
            self.write().await;
        }
    }

    pub(crate) async fn failed(&mut self, error: &str) {
        self.status.state = SourceState::Error;
        self.status.last_error = Some(error.to_string());
        self.status.last_error_at = Some(Utc::now());
        self.write().await;
    }

    pub(crate) fn reconnected(&mut self) {
        self.status.reconnects += 1;
    }

    pub(crate) async fn published(&mut self, count: usize, last: &Checkpoint) {
        self.status.events_published += count as u64;
        self.status.last_event_key = last.key.map(i64::from);
        self.status.last_event_time = Some(last.created_time);
        self.write().await;
    }

    /// Writes the status; a failure is only logged (the status is informative).
    pub(crate) async fn write(&mut self) {
        self.status.updated_at = Utc::now();
        self.written = true;
        let Ok(value) = serde_json::to_vec(&self.status) else {
            return;
        };
        if let Err(error) = self.store.put(&self.source, value.into()).await {
            tracing::warn!(source = %self.source, %error, "cannot write the source's status");
        }
    }
}
