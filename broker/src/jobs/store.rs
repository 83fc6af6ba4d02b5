//! Reading and changing job records safely against concurrent writers.

use std::time::Duration;

use async_nats::jetstream;
use futures::StreamExt;

use super::lifecycle::{Refused, Transition};
use super::record::{JobRecord, JobStatus};
use crate::buckets::{self, BucketError};
use crate::table::{Table, TableError};

/// Errors reading or writing job records.
pub type JobStoreError = TableError;

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
    table: Table<JobRecord>,
}

impl JobStore {
    /// Opens the bucket, keeping records for `ttl`.
    pub async fn open(js: &jetstream::Context, ttl: Duration) -> Result<Self, BucketError> {
        Ok(JobStore {
            table: Table::new(buckets::jobs(js, ttl).await?),
        })
    }

    /// Writes a queued record unless one exists (a duplicate intake, or a worker that took the
    /// job first, must not be overwritten).
    pub async fn create_queued(&self, record: &JobRecord) -> Result<(), JobStoreError> {
        match self.table.create(&record.call_id, record).await {
            Ok(()) | Err(TableError::Exists { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    pub async fn get(&self, call_id: &str) -> Result<Option<JobRecord>, JobStoreError> {
        self.table.get(call_id).await
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
            .table
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
        let keys = self.table.keys().await?;
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
