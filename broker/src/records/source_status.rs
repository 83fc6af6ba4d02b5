//! What an event source adapter reports about itself, in KV `sy_source_status` (key = source
//! name), so that the gateway can show it whichever process runs the adapter.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SourceState {
    /// Connecting or logging in.
    Starting,
    /// Following events.
    Running,
    /// Failing; retried with backoff (`lastError` says why).
    Error,
    /// Its adapter was shut down; nothing follows this source until one starts again.
    Stopped,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SourceStatus {
    pub state: SourceState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error_at: Option<DateTime<Utc>>,
    /// Sessions opened again after a failure.
    #[serde(default)]
    pub reconnects: u64,
    /// Events stored in `SY_EVENTS` by this adapter since it started.
    #[serde(default)]
    pub events_published: u64,
    /// The key of the last event stored, and when vCenter created it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_event_key: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_event_time: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}
