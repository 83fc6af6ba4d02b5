//! Where a poller resumes: the last event it stored, kept in KV `sy_checkpoints`.

use async_nats::jetstream::kv;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::event::{key_after, VsphereEvent};

/// The newest event stored in `SY_EVENTS`, or, before the first one, the vCenter time the
/// poller started following from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Checkpoint {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<i32>,
    pub created_time: DateTime<Utc>,
}

impl Checkpoint {
    /// Whether `event` comes after this checkpoint and is not older than `oldest`.
    pub fn precedes(&self, event: &VsphereEvent, oldest: DateTime<Utc>) -> bool {
        if event.created_time < oldest {
            return false;
        }
        match self.key {
            Some(key) => key_after(event.key, key),
            None => event.created_time >= self.created_time,
        }
    }

    pub fn after(event: &VsphereEvent) -> Self {
        Self {
            key: Some(event.key),
            created_time: event.created_time,
        }
    }
}

/// A checkpoint store failure.
#[derive(Debug, thiserror::Error)]
#[error("checkpoint of `{source_name}`: {reason}")]
pub struct CheckpointError {
    source_name: String,
    reason: String,
}

/// The checkpoints of one source.
#[derive(Clone)]
pub struct Checkpoints {
    store: kv::Store,
    source: String,
}

impl Checkpoints {
    pub fn new(store: kv::Store, source: &str) -> Self {
        Self {
            store,
            source: source.to_string(),
        }
    }

    pub async fn load(&self) -> Result<Option<Checkpoint>, CheckpointError> {
        let Some(bytes) = self
            .store
            .get(&self.source)
            .await
            .map_err(|e| self.error(e))?
        else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| self.error(e))
    }

    /// Stores `checkpoint`; call it only once every event up to it is stored.
    pub async fn save(&self, checkpoint: &Checkpoint) -> Result<(), CheckpointError> {
        let value = serde_json::to_vec(checkpoint).map_err(|e| self.error(e))?;
        self.store
            .put(&self.source, value.into())
            .await
            .map(drop)
            .map_err(|e| self.error(e))
    }

    fn error(&self, reason: impl ToString) -> CheckpointError {
        CheckpointError {
            source_name: self.source.clone(),
            reason: reason.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn event(key: i32, second: u32) -> VsphereEvent {
        VsphereEvent {
            class: "VmPoweredOnEvent".into(),
            family: "event",
            key,
            created_time: Utc
                .with_ymd_and_hms(2026, 1, 1, 0, 0, second)
                .single()
                .expect("time"),
            data: serde_json::Value::Null,
            mapping: crate::vcenter::event::TYPED,
            xml: String::new(),
        }
    }

    #[test]
    fn only_later_events_inside_the_replay_window_pass() {
        let at = |s| {
            Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, s)
                .single()
                .expect("time")
        };
        let checkpoint = Checkpoint {
            key: Some(10),
            created_time: at(10),
        };
        assert!(checkpoint.precedes(&event(11, 11), at(0)));
        assert!(!checkpoint.precedes(&event(10, 10), at(0)));
        assert!(
            !checkpoint.precedes(&event(11, 11), at(20)),
            "outside the replay window"
        );
        let start = Checkpoint {
            key: None,
            created_time: at(30),
        };
        assert!(start.precedes(&event(3, 30), at(0)));
        assert!(
            !start.precedes(&event(4, 29), at(0)),
            "before the poller started"
        );
        let wrapped = Checkpoint {
            key: Some(i32::MAX),
            created_time: at(10),
        };
        assert!(wrapped.precedes(&event(i32::MIN, 12), at(0)));
    }
}
