//! Reading and changing job records safely against concurrent writers.

use std::time::Duration;

use async_nats::jetstream::{self, kv};
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};

use super::lifecycle::{Refused, Transition};
use super::record::{JobRecord, JobStatus};
use crate::buckets::{self, BucketError};

/// Errors reading or writing job records.
#[derive(Debug, thiserror::Error)]
pub enum JobStoreError {
    #[error("job store unavailable: {0}")]
    Nats(String),
    #[error("job record `{0}` is unreadable: {1}")]
    Corrupt(String, String),
}

/// Why a transition was not stored.
#[derive(Debug, thiserror::Error)]
pub enum TransitionError {
    /// The stored record does not allow it; the stored record is attached when there is one.
    #[error("{refused}")]
    Refused {
        refused: Refused,
        current: Option<Box<JobRecord>>,
    },
    #[error(transparent)]
    Store(#[from] JobStoreError),
}

/// Which records to list.
#[derive(Debug, Clone, Default)]
pub struct JobFilter {
    pub function: Option<String>,
    pub status: Option<JobStatus>,
    pub limit: usize,
}

/// The job records (KV bucket `sy_jobs`).
#[derive(Clone)]
pub struct JobStore {
    store: kv::Store,
}

const CAS_ATTEMPTS: usize = 10;

fn nats(e: impl std::fmt::Display) -> JobStoreError {
    JobStoreError::Nats(e.to_string())
}

impl JobStore {
    /// Opens the bucket, keeping records for `ttl`.
    pub async fn open(js: &jetstream::Context, ttl: Duration) -> Result<Self, BucketError> {
        Ok(JobStore {
            store: buckets::jobs(js, ttl).await?,
        })
    }

    /// Writes a queued record unless one exists (a duplicate intake, or a worker that took the
    /// job first, must not be overwritten).
    pub async fn create_queued(&self, record: &JobRecord) -> Result<(), JobStoreError> {
        match self.store.create(&record.call_id, encode(record)?).await {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => Ok(()),
            Err(e) => Err(nats(e)),
        }
    }

    pub async fn get(&self, call_id: &str) -> Result<Option<JobRecord>, JobStoreError> {
        match self.store.entry(call_id).await.map_err(nats)? {
            Some(entry) if entry.operation == kv::Operation::Put => {
                decode(call_id, &entry.value).map(Some)
            }
            _ => Ok(None),
        }
    }

    /// Applies `change` to the current record (or `None`) and stores what it returns, retrying
    /// on concurrent writes. `change` returning `None` writes nothing. Returns the record as
    /// stored after the call.
    pub async fn update(
        &self,
        call_id: &str,
        change: impl Fn(Option<JobRecord>) -> Option<JobRecord>,
    ) -> Result<Option<JobRecord>, JobStoreError> {
        for _ in 0..CAS_ATTEMPTS {
            let entry = self.store.entry(call_id).await.map_err(nats)?;
            let (current, revision) = match &entry {
                Some(e) if e.operation == kv::Operation::Put => {
                    (Some(decode(call_id, &e.value)?), Some(e.revision))
                }
                Some(e) => (None, Some(e.revision)),
                None => (None, None),
            };
            let Some(updated) = change(current.clone()) else {
                return Ok(current);
            };
            let value = encode(&updated)?;
            let written = match revision {
                Some(revision) => self
                    .store
                    .update(call_id, value, revision)
                    .await
                    .map(|_| ())
                    .map_err(|e| {
                        (
                            e.kind() == kv::UpdateErrorKind::WrongLastRevision,
                            e.to_string(),
                        )
                    }),
                None => self
                    .store
                    .create(call_id, value)
                    .await
                    .map(|_| ())
                    .map_err(|e| {
                        (
                            e.kind() == kv::CreateErrorKind::AlreadyExists,
                            e.to_string(),
                        )
                    }),
            };
            match written {
                Ok(()) => return Ok(Some(updated)),
                Err((true, _)) => continue,
                Err((false, message)) => return Err(JobStoreError::Nats(message)),
            }
        }
        Err(JobStoreError::Nats(format!(
            "job `{call_id}` is being changed concurrently"
        )))
    }

    /// Applies `transition` to the stored record (or, when there is none, to `seed`: a worker
    /// that takes a job whose queued record was never written). Returns the record as stored.
    pub async fn apply(
        &self,
        call_id: &str,
        transition: &Transition,
        seed: Option<&JobRecord>,
    ) -> Result<JobRecord, TransitionError> {
        let refusal = std::sync::Mutex::new(None);
        let stored = self
            .update(call_id, |current| {
                let base = current.as_ref().or(seed);
                match transition.apply(base) {
                    Ok(next) => Some(next),
                    Err(refused) => {
                        *refusal.lock().unwrap_or_else(|e| e.into_inner()) = Some(refused);
                        None
                    }
                }
            })
            .await?;
        let refused = refusal.into_inner().unwrap_or_else(|e| e.into_inner());
        match (refused, stored) {
            (Some(refused), current) => Err(TransitionError::Refused {
                refused,
                current: current.map(Box::new),
            }),
            (None, Some(record)) => Ok(record),
            (None, None) => Err(TransitionError::Refused {
                refused: Refused::Missing,
                current: None,
            }),
        }
    }

    /// Records matching `filter`, newest first, at most `filter.limit`.
    pub async fn list(&self, filter: &JobFilter) -> Result<Vec<JobRecord>, JobStoreError> {
        let keys: Vec<String> = match self.store.keys().await {
            Ok(keys) => keys.try_collect().await.map_err(nats)?,
            Err(e) => return Err(nats(e)),
        };
        let records: Vec<Option<JobRecord>> = futures::stream::iter(keys)
            .map(|key| async move { self.get(&key).await.ok().flatten() })
            .buffer_unordered(32)
            .collect()
            .await;
        let mut matching: Vec<JobRecord> = records
            .into_iter()
            .flatten()
            .filter(|r| filter.function.as_ref().is_none_or(|f| &r.function == f))
            .filter(|r| filter.status.is_none_or(|s| r.status == s))
            .collect();
        matching.sort_by_key(|r| std::cmp::Reverse(r.created_at));
        matching.truncate(filter.limit);
        Ok(matching)
    }
}

fn encode(record: &JobRecord) -> Result<Bytes, JobStoreError> {
    serde_json::to_vec(record)
        .map(Bytes::from)
        .map_err(|e| JobStoreError::Corrupt(record.call_id.clone(), e.to_string()))
}

fn decode(call_id: &str, value: &[u8]) -> Result<JobRecord, JobStoreError> {
    serde_json::from_slice(value)
        .map_err(|e| JobStoreError::Corrupt(call_id.to_string(), e.to_string()))
}
