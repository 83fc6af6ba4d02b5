//! A typed view of a KV bucket: records of one type, keyed by name, with the operations every
//! record kind needs (create-if-absent, compare-and-set update, delete), and [`CachedTable`]
//! for the buckets that are read on hot paths, whose writers then read their own writes.
//!
//! ```no_run
//! # async fn run(js: async_nats::jetstream::Context) -> Result<(), Box<dyn std::error::Error>> {
//! use switchyard_broker::{buckets, records::FunctionSpec, table::Table};
//! let functions: Table<FunctionSpec> = Table::new(buckets::functions(&js).await?);
//! let scaled = functions
//!     .modify("echo", |mut spec| {
//!         spec.replicas = 3;
//!         spec
//!     })
//!     .await?;
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::marker::PhantomData;
use std::time::Duration;

use async_nats::jetstream::kv::{self, Store};
use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::cache::KvCache;

/// Compare-and-set rounds before an update gives up under contention.
const CAS_ATTEMPTS: usize = 10;
/// The header of a KV delete or purge marker.
const KV_OPERATION: &str = "KV-Operation";
/// How long a writer waits to see its own write in the cache before answering.
const READ_YOUR_WRITES: Duration = Duration::from_secs(2);

/// Why a table operation failed.
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    #[error("`{key}` not found")]
    NotFound { key: String },
    #[error("`{key}` already exists")]
    Exists { key: String },
    #[error("`{key}` is being changed concurrently; try again")]
    Contended { key: String },
    #[error("record `{key}` cannot be read or written")]
    Corrupt {
        key: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("key-value store unavailable")]
    Store {
        #[source]
        source: async_nats::Error,
    },
}

fn store_error(source: impl Into<async_nats::Error>) -> TableError {
    TableError::Store {
        source: source.into(),
    }
}

/// A record with the revision it was read or written at, which an update names to replace it
/// only if nobody wrote it since.
#[derive(Debug, Clone)]
pub struct Versioned<T> {
    pub value: T,
    pub revision: u64,
}

/// Records of type `T` in one KV bucket.
pub struct Table<T> {
    store: Store,
    record: PhantomData<fn() -> T>,
}

impl<T> Clone for Table<T> {
    fn clone(&self) -> Self {
        Table {
            store: self.store.clone(),
            record: PhantomData,
        }
    }
}

impl<T: Serialize + DeserializeOwned> Table<T> {
    pub fn new(store: Store) -> Self {
        Table {
            store,
            record: PhantomData,
        }
    }

    /// The bucket itself, for what a table does not cover (watching it).
    pub fn store(&self) -> &Store {
        &self.store
    }

    pub async fn get(&self, key: &str) -> Result<Option<T>, TableError> {
        Ok(self.entry(key).await?.map(|(value, _)| value))
    }

    /// Stores a new record; [`TableError::Exists`] when the key holds one.
    pub async fn create(&self, key: &str, value: &T) -> Result<(), TableError> {
        match self.store.create(key, encode(key, value)?).await {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => Err(TableError::Exists {
                key: key.to_string(),
            }),
            Err(e) => Err(store_error(e)),
        }
    }

    /// Stores `value` whatever the key holds.
    pub async fn put(&self, key: &str, value: &T) -> Result<(), TableError> {
        self.store
            .put(key, encode(key, value)?)
            .await
            .map(drop)
            .map_err(store_error)
    }

    /// Applies `change` to the current record (or `None`) and stores what it returns, retrying
    /// on concurrent writes (compare-and-set on the revision). `change` returning `None` writes
    /// nothing. Returns the record as stored after the call.
    pub async fn update(
        &self,
        key: &str,
        change: impl Fn(Option<T>) -> Option<T>,
    ) -> Result<Option<T>, TableError>
    where
        T: Clone,
    {
        // Boxed: the loop's state (records, encoded values) would otherwise be part of every
        // caller's future, and handlers' futures live on a thread's stack.
        Ok(Box::pin(self.update_versioned(key, None, change))
            .await?
            .map(|stored| stored.value))
    }

    /// As [`Table::update`], starting from `known` (a record this process read or wrote) rather
    /// than reading it first: one round trip instead of two when nobody wrote it meanwhile.
    /// Returns the record as stored, with its revision for the next update.
    pub async fn update_versioned(
        &self,
        key: &str,
        mut known: Option<Versioned<T>>,
        change: impl Fn(Option<T>) -> Option<T>,
    ) -> Result<Option<Versioned<T>>, TableError>
    where
        T: Clone,
    {
        for _ in 0..CAS_ATTEMPTS {
            let assumed = known.is_some();
            let (current, revision) = match known.take() {
                Some(known) => (Some(known.value), Some(known.revision)),
                None => self.versioned(key).await?,
            };
            let Some(updated) = change(current.clone()) else {
                if assumed {
                    // Refused on what this process last saw: look at what is stored.
                    continue;
                }
                return Ok(current
                    .zip(revision)
                    .map(|(value, revision)| Versioned { value, revision }));
            };
            let value = encode(key, &updated)?;
            let written = match revision {
                Some(revision) => match self.store.update(key, value, revision).await {
                    Ok(revision) => Some(revision),
                    Err(e) if e.kind() == kv::UpdateErrorKind::WrongLastRevision => None,
                    Err(e) => return Err(store_error(e)),
                },
                None => match self.store.create(key, value).await {
                    Ok(revision) => Some(revision),
                    Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => None,
                    Err(e) => return Err(store_error(e)),
                },
            };
            if let Some(revision) = written {
                return Ok(Some(Versioned {
                    value: updated,
                    revision,
                }));
            }
        }
        Err(TableError::Contended {
            key: key.to_string(),
        })
    }

    /// The record with its revision, if there is one.
    pub async fn get_versioned(&self, key: &str) -> Result<Option<Versioned<T>>, TableError> {
        Ok(self
            .entry(key)
            .await?
            .map(|(value, revision)| Versioned { value, revision }))
    }

    /// Replaces an existing record with `change(current)`; [`TableError::NotFound`] when there
    /// is none.
    pub async fn modify(&self, key: &str, change: impl Fn(T) -> T) -> Result<T, TableError>
    where
        T: Clone,
    {
        self.update(key, |current| current.map(&change))
            .await?
            .ok_or_else(|| TableError::NotFound {
                key: key.to_string(),
            })
    }

    /// Deletes a record; [`TableError::NotFound`] when there is none.
    pub async fn delete(&self, key: &str) -> Result<(), TableError> {
        if self.entry(key).await?.is_none() {
            return Err(TableError::NotFound {
                key: key.to_string(),
            });
        }
        self.store.delete(key).await.map_err(store_error)
    }

    /// Deletes a record if there is one.
    pub async fn remove(&self, key: &str) -> Result<(), TableError> {
        self.store.delete(key).await.map_err(store_error)
    }

    /// Every key with a record.
    pub async fn keys(&self) -> Result<Vec<String>, TableError> {
        use futures::TryStreamExt;
        self.store
            .keys()
            .await
            .map_err(store_error)?
            .try_collect()
            .await
            .map_err(store_error)
    }

    /// The records written most recently: those among the bucket's last `writes` messages, newest
    /// first. Bounded work whatever the bucket holds (each key keeps one message, its latest).
    pub async fn recent(&self, writes: u64) -> Result<Vec<T>, TableError> {
        let messages = crate::streams::recent_of(&self.store.stream, writes)
            .await
            .map_err(|source| TableError::Store { source })?;
        Ok(messages
            .into_iter()
            .filter(|m| m.headers.get(KV_OPERATION).is_none())
            .filter_map(|m| serde_json::from_slice(&m.payload).ok())
            .collect())
    }

    async fn entry(&self, key: &str) -> Result<Option<(T, u64)>, TableError> {
        match self.versioned(key).await? {
            (Some(value), Some(revision)) => Ok(Some((value, revision))),
            _ => Ok(None),
        }
    }

    /// The record and the key's last revision; a deleted record has a revision (its delete
    /// marker), which an update must name to replace it.
    async fn versioned(&self, key: &str) -> Result<(Option<T>, Option<u64>), TableError> {
        match self.store.entry(key).await.map_err(store_error)? {
            Some(entry) if entry.operation == kv::Operation::Put => {
                Ok((Some(decode(key, &entry.value)?), Some(entry.revision)))
            }
            Some(entry) => Ok((None, Some(entry.revision))),
            None => Ok((None, None)),
        }
    }
}

/// A [`Table`] with a local, continuously updated copy for reads; every write returns once the
/// copy shows it (or after a short wait), so a client that writes then reads sees its write.
pub struct CachedTable<T> {
    table: Table<T>,
    cache: KvCache<T>,
}

impl<T: Clone> Clone for CachedTable<T> {
    fn clone(&self) -> Self {
        CachedTable {
            table: self.table.clone(),
            cache: self.cache.clone(),
        }
    }
}

impl<T> CachedTable<T>
where
    T: Serialize + DeserializeOwned + Clone + PartialEq + Send + Sync + 'static,
{
    /// Loads the bucket and follows it until `shutdown`.
    pub async fn start(store: Store, shutdown: CancellationToken) -> Self {
        CachedTable {
            cache: KvCache::start(store.clone(), shutdown).await,
            table: Table::new(store),
        }
    }

    pub fn get(&self, key: &str) -> Option<T> {
        self.cache.get(key)
    }

    pub fn contains(&self, key: &str) -> bool {
        self.cache.contains(key)
    }

    /// Reads the record from the bucket itself: for a key another process may have just
    /// written, which the local copy may not show yet.
    pub async fn fetch(&self, key: &str) -> Result<Option<T>, TableError> {
        self.table.get(key).await
    }

    /// Every record, in key order.
    pub fn list(&self) -> Vec<T> {
        let mut all: Vec<(String, T)> = self
            .cache
            .read(|map| map.iter().map(|(k, v)| (k.clone(), v.clone())).collect());
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all.into_iter().map(|(_, v)| v).collect()
    }

    /// The local copy, for followers that react to changes.
    pub fn cache(&self) -> &KvCache<T> {
        &self.cache
    }

    pub async fn create(&self, key: &str, value: &T) -> Result<(), TableError> {
        self.table.create(key, value).await?;
        self.seen(key, Some(value)).await;
        Ok(())
    }

    pub async fn put(&self, key: &str, value: &T) -> Result<(), TableError> {
        self.table.put(key, value).await?;
        self.seen(key, Some(value)).await;
        Ok(())
    }

    pub async fn modify(&self, key: &str, change: impl Fn(T) -> T) -> Result<T, TableError>
    where
        T: Clone,
    {
        let updated = self.table.modify(key, change).await?;
        self.seen(key, Some(&updated)).await;
        Ok(updated)
    }

    pub async fn delete(&self, key: &str) -> Result<(), TableError> {
        self.table.delete(key).await?;
        self.seen(key, None).await;
        Ok(())
    }

    async fn seen(&self, key: &str, value: Option<&T>) {
        self.cache
            .wait_until(READ_YOUR_WRITES, |map: &HashMap<String, T>| {
                map.get(key) == value
            })
            .await;
    }
}

fn encode<T: Serialize>(key: &str, value: &T) -> Result<Bytes, TableError> {
    serde_json::to_vec(value)
        .map(Bytes::from)
        .map_err(|source| TableError::Corrupt {
            key: key.to_string(),
            source,
        })
}

fn decode<T: DeserializeOwned>(key: &str, value: &[u8]) -> Result<T, TableError> {
    serde_json::from_slice(value).map_err(|source| TableError::Corrupt {
        key: key.to_string(),
        source,
    })
}
