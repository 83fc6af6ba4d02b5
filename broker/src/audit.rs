//! The audit log: every change made through the API (who, what, when, outcome), one message
//! each in the stream `SY_AUDIT` (subject `sy.audit`), kept 90 days or 256 MiB.

use std::time::Duration;

use async_nats::jetstream::{self, stream};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::streams::{StreamError, StreamInfoError};

/// The audit stream.
pub const AUDIT: &str = "SY_AUDIT";
/// Its one subject.
pub const AUDIT_SUBJECT: &str = "sy.audit";
const KEEP_FOR: Duration = Duration::from_secs(90 * 24 * 3600);
const MAX_BYTES: i64 = 256 * 1024 * 1024;

/// One change attempted through the API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    pub time: DateTime<Utc>,
    /// Who: `admin` (the bootstrap super-user), `user:<name>`, `serviceaccount:<org>/<name>`.
    pub who: String,
    pub method: String,
    pub path: String,
    /// What the request was authorized (or refused) on, as resolved: `write function
    /// `f.team-b` in namespace `team-b` of organization `b``.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<String>,
    /// The HTTP status answered.
    pub status: u16,
    /// `done` (2xx), `denied` (401/403) or `failed` (anything else).
    pub outcome: String,
    /// The request's call id, to find its log lines.
    pub call_id: String,
}

impl AuditEntry {
    pub fn outcome_of(status: u16) -> &'static str {
        match status {
            200..=299 => "done",
            401 | 403 => "denied",
            _ => "failed",
        }
    }
}

/// Creates (or updates) the audit stream.
pub async fn ensure(js: &jetstream::Context) -> Result<(), StreamError> {
    js.get_or_create_stream(stream::Config {
        name: AUDIT.to_string(),
        subjects: vec![AUDIT_SUBJECT.to_string()],
        retention: stream::RetentionPolicy::Limits,
        storage: stream::StorageType::File,
        max_age: KEEP_FOR,
        max_bytes: MAX_BYTES,
        num_replicas: crate::replication::replicas(),
        ..Default::default()
    })
    .await
    .map(drop)
    .map_err(|e| StreamError::new(AUDIT, e.into()))
}

/// Records `entry`; waits for JetStream to store it.
pub async fn record(js: &jetstream::Context, entry: &AuditEntry) -> Result<(), async_nats::Error> {
    let payload = serde_json::to_vec(entry)?;
    js.publish(AUDIT_SUBJECT, payload.into()).await?.await?;
    Ok(())
}

/// The latest `count` entries, newest first.
pub async fn recent(
    js: &jetstream::Context,
    count: u64,
) -> Result<Vec<AuditEntry>, StreamInfoError> {
    Ok(crate::streams::recent(js, AUDIT, count)
        .await?
        .into_iter()
        .filter_map(|m| serde_json::from_slice(&m.payload).ok())
        .collect())
}
