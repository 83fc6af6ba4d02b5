//! What the gateway and the provider say to each other over NATS, and the provider lease.
//!
//! - **Prepare**: before it writes the registry, the gateway sends the deployment as JSON on
//!   [`subjects::PROVIDER_PREPARE`](crate::subjects::PROVIDER_PREPARE); the active provider
//!   checks that it can run it (a command that exists, an image it can get, endpoint URLs that
//!   parse) and answers a [`PrepareReply`]. No responder means no provider is running.
//! - **Logs**: the gateway subscribes to an inbox, then sends a [`LogsRequest`] naming it on
//!   [`subjects::PROVIDER_LOGS`](crate::subjects::PROVIDER_LOGS); the provider answers a
//!   [`LogsReply`] and then sends NDJSON chunks to the inbox as requests, each acknowledged by
//!   the gateway, and a last one marked by [`LOGS_END`]. A chunk nobody acknowledges (the
//!   client went away) stops the stream.
//! - **Lease**: exactly one process or Docker provider is active per NATS. It holds the key
//!   [`LEASE_KEY`] in the bucket [`crate::buckets::PROVIDER_LEASE`], renewing it well within
//!   the bucket's age limit; a standby takes the key when it ages out.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The key of the active provider's lease.
pub const LEASE_KEY: &str = "active";

/// Header marking the last chunk of a log stream.
pub const LOGS_END: &str = "sy-logs-end";

/// The value of the lease: who holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Lease {
    /// Unique per provider process.
    pub holder: String,
    /// `process` or `docker`.
    pub kind: String,
    pub since: DateTime<Utc>,
}

/// The provider's answer to a prepare request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PrepareReply {
    /// Why the deployment cannot run, for the API's 400; `None` when it can.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
}

/// `GET /system/logs` as the gateway asks the provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogsRequest {
    pub function: String,
    /// Only this replica (a container id prefix or host name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<DateTime<Utc>>,
    /// The last lines of each replica.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tail: Option<u32>,
    #[serde(default)]
    pub follow: bool,
    /// Where the chunks go.
    pub inbox: String,
}

/// The provider's first answer to a logs request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "outcome")]
pub enum LogsReply {
    /// Chunks follow on the inbox.
    Streaming,
    /// This provider keeps no logs (the process provider: functions log to its own output).
    NotSupported {
        message: String,
    },
    Failed {
        message: String,
    },
}

/// Who holds the lease now (`None`: no provider is active), without creating the bucket.
pub async fn active(js: &async_nats::jetstream::Context) -> Option<Lease> {
    let store = js
        .get_key_value(crate::buckets::PROVIDER_LEASE)
        .await
        .ok()?;
    let entry = store.entry(LEASE_KEY).await.ok()??;
    if entry.operation != async_nats::jetstream::kv::Operation::Put {
        return None;
    }
    serde_json::from_slice(&entry.value).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip<T: Serialize + for<'de> Deserialize<'de> + PartialEq + std::fmt::Debug>(
        value: T,
    ) {
        let json = serde_json::to_vec(&value).expect("encodes");
        assert_eq!(serde_json::from_slice::<T>(&json).expect("decodes"), value);
    }

    #[test]
    fn provider_messages_round_trip() {
        round_trip(Lease {
            holder: "h-1".into(),
            kind: "docker".into(),
            since: Utc::now(),
        });
        round_trip(PrepareReply { refused: None });
        round_trip(PrepareReply {
            refused: Some("image is required".into()),
        });
        round_trip(LogsRequest {
            function: "echo".into(),
            instance: Some("c1234".into()),
            since: Some(Utc::now()),
            tail: Some(20),
            follow: true,
            inbox: "_INBOX.x".into(),
        });
        round_trip(LogsReply::Streaming);
        round_trip(LogsReply::NotSupported {
            message: "no logs".into(),
        });
        round_trip(LogsReply::Failed {
            message: "engine down".into(),
        });
    }
}
