//! Reading and changing job records safely against concurrent writers.

use async_nats::jetstream;

use super::lifecycle::{Refused, Transition};
use super::record::{JobRecord, JobStatus};
use crate::buckets::{self, BucketError};
use crate::table::{Table, TableError, Versioned};

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

/// How many of the most recent record writes a listing looks at.
pub const LISTING_SCAN: u64 = 10_000;

/// The job records (KV bucket `sy_jobs`).
#[derive(Clone)]
pub struct JobStore {
    table: Table<JobRecord>,
}

impl JobStore {
    /// Opens the bucket, with the retention's record age and byte limits.
    pub async fn open(
        js: &jetstream::Context,
        retention: &crate::streams::Retention,
    ) -> Result<Self, BucketError> {
        let store = buckets::jobs(js, retention.record_ttl, retention.records_max_bytes).await?;
        Ok(JobStore {
            table: Table::new(store),
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
        Box::pin(self.apply_versioned(call_id, transition, seed, None))
            .await
            .map(|stored| stored.value)
    }

    /// As [`JobStore::apply`], from `known` (the record as this process last read or wrote it)
    /// instead of reading it first; the stored record comes back with its revision.
    pub async fn apply_versioned(
        &self,
        call_id: &str,
        transition: &Transition,
        seed: Option<&JobRecord>,
        known: Option<Versioned<JobRecord>>,
    ) -> Result<Versioned<JobRecord>, TransitionError> {
        let refusal = std::sync::Mutex::new(None);
        let stored = self
            .table
            .update_versioned(call_id, known, |current| {
                let base = current.as_ref().or(seed);
                match transition.apply(base) {
                    Ok(next) => {
                        *refusal.lock().unwrap_or_else(|e| e.into_inner()) = None;
                        Some(next)
                    }
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
                current: current.map(|c| Box::new(c.value)),
            }),
            (None, Some(record)) => Ok(record),
            (None, None) => Err(TransitionError::Refused {
                refused: Refused::Missing,
                current: None,
            }),
        }
    }

    /// The record of `call_id` with its revision.
    pub async fn get_versioned(
        &self,
        call_id: &str,
    ) -> Result<Option<Versioned<JobRecord>>, JobStoreError> {
        self.table.get_versioned(call_id).await
    }

    /// Records matching `filter`, newest first, at most `filter.limit`, among the
    /// [`LISTING_SCAN`] most recently written: a listing costs the same however many records
    /// the bucket holds.
    pub async fn list(&self, filter: &JobFilter) -> Result<Vec<JobRecord>, JobStoreError> {
        let mut matching: Vec<JobRecord> = self
            .table
            .recent(LISTING_SCAN)
            .await?
            .into_iter()
            .filter(|r| filter.function.as_ref().is_none_or(|f| &r.function == f))
            .filter(|r| filter.status.is_none_or(|s| r.status == s))
            .collect();
        matching.sort_by_key(|r| std::cmp::Reverse(r.created_at));
        matching.truncate(filter.limit);
        Ok(matching)
    }
}
