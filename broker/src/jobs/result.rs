//! Stored responses of finished jobs, bounded in size and age.

use async_nats::jetstream;
use serde::{Deserialize, Serialize};

use super::store::JobStoreError;
use crate::buckets::{self, BucketError};
use crate::invocation::CallReply;
use crate::table::Table;

/// A function's answer as stored: status, headers, body (base64 in JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredResult {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    #[serde(with = "base64_bytes")]
    pub body: Vec<u8>,
}

/// The results bucket (`sy_results`).
#[derive(Clone)]
pub struct ResultStore {
    table: Table<StoredResult>,
    max_bytes: usize,
}

impl ResultStore {
    /// Opens the bucket with the retention's result age, size and byte limits; a result larger
    /// than `result_max_bytes` is not stored.
    pub async fn open(
        js: &jetstream::Context,
        retention: &crate::streams::Retention,
    ) -> Result<Self, BucketError> {
        let store = buckets::results(js, retention.result_ttl, retention.records_max_bytes).await?;
        Ok(ResultStore {
            table: Table::new(store),
            max_bytes: retention.result_max_bytes,
        })
    }

    /// Stores `reply` under `call_id`; false (and nothing stored) when its body is too large.
    pub async fn put(&self, call_id: &str, reply: &CallReply) -> Result<bool, JobStoreError> {
        if reply.body.len() > self.max_bytes {
            return Ok(false);
        }
        let stored = StoredResult {
            status: reply.status,
            headers: reply.headers.clone(),
            body: reply.body.to_vec(),
        };
        self.table.put(call_id, &stored).await?;
        Ok(true)
    }

    pub async fn get(&self, call_id: &str) -> Result<Option<StoredResult>, JobStoreError> {
        self.table.get(call_id).await
    }
}

mod base64_bytes {
    use base64::Engine;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(deserializer)?;
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(serde::de::Error::custom)
    }
}
