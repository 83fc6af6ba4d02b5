//! A local copy of a KV bucket, kept current by a watch.
//!
//! Readers on hot paths (is this function deployed? where are its replicas?) must not make a
//! NATS round trip per request. [`KvCache`] loads the bucket once, then applies every change the
//! server pushes. When the watch breaks (NATS restarted, connection lost) it watches again and
//! swaps in the fresh snapshot only once it is complete, so readers never see a half-loaded map.
//! A follower that must not look at every key on every change (10,000 functions deployed, a
//! few changing) asks a [`Journal`] which keys changed since it last looked.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;

use async_nats::jetstream::kv::{Operation, Store};
use futures::StreamExt;
use serde::de::DeserializeOwned;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// How long [`KvCache::start`] waits for the first complete snapshot before it returns anyway.
const FIRST_SYNC_WAIT: Duration = Duration::from_secs(5);
const RETRY_DELAY: Duration = Duration::from_millis(500);

/// A continuously updated map of a bucket's keys to decoded values.
#[derive(Clone)]
pub struct KvCache<T> {
    map: Arc<RwLock<HashMap<String, T>>>,
    version: watch::Receiver<u64>,
    /// The bucket's revision the map holds (every change up to it applied).
    revision: Arc<AtomicU64>,
    /// A revision [`KvCache::catch_up`] waited for in vain (the bucket's last message was
    /// removed before the watch saw it): not waited for again.
    unreachable: Arc<AtomicU64>,
    /// Shared: a store is large (it holds the stream's info), and callers keep caches in
    /// futures that live on a thread's stack.
    store: Arc<Store>,
    journals: Journals,
}

type Journals = Arc<Mutex<Vec<Weak<Mutex<JournalState>>>>>;

/// What changed in a [`KvCache`] since its [`Journal`] was last asked.
#[derive(Debug, PartialEq, Eq)]
pub enum Changed {
    /// Anything may have: look at every key (the first time, and after a fresh snapshot).
    All,
    /// These keys were written or removed (the map holds their value now).
    Keys(HashSet<String>),
}

#[derive(Default)]
struct JournalState {
    all: bool,
    keys: HashSet<String>,
}

/// The keys of a [`KvCache`] that changed since [`Journal::take`] was last called.
pub struct Journal(Arc<Mutex<JournalState>>);

impl Journal {
    fn new(journals: &Journals) -> Self {
        let state = Arc::new(Mutex::new(JournalState {
            all: true,
            keys: HashSet::new(),
        }));
        journals
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(Arc::downgrade(&state));
        Journal(state)
    }

    /// What changed since the last call; [`Changed::All`] the first time.
    pub fn take(&self) -> Changed {
        let mut state = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if std::mem::take(&mut state.all) {
            state.keys.clear();
            Changed::All
        } else {
            Changed::Keys(std::mem::take(&mut state.keys))
        }
    }
}

/// Tells every live journal about a change (`None`: everything).
fn record(journals: &Journals, key: Option<&str>) {
    let mut journals = journals
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    journals.retain(|journal| match journal.upgrade() {
        Some(journal) => {
            let mut state = journal
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            match key {
                Some(key) if !state.all => {
                    state.keys.insert(key.to_string());
                }
                Some(_) => {}
                None => state.all = true,
            }
            true
        }
        None => false,
    });
}

impl<T> KvCache<T>
where
    T: DeserializeOwned + Clone + Send + Sync + 'static,
{
    /// Starts following `store` until `shutdown` fires. Returns once the first snapshot is
    /// loaded (or after a few seconds if NATS does not answer; the cache fills in later).
    pub async fn start(store: Store, shutdown: CancellationToken) -> Self {
        let map = Arc::new(RwLock::new(HashMap::new()));
        let (version_tx, version) = watch::channel(0u64);
        let revision = Arc::new(AtomicU64::new(0));
        let journals = Journals::default();
        let follower = Follower {
            store: store.clone(),
            map: map.clone(),
            version: version_tx,
            revision: revision.clone(),
            journals: journals.clone(),
        };
        tokio::spawn(async move {
            tokio::select! {
                () = follower.run() => {}
                () = shutdown.cancelled() => {}
            }
        });
        let mut first = version.clone();
        let _ = tokio::time::timeout(FIRST_SYNC_WAIT, first.wait_for(|v| *v > 0)).await;
        KvCache {
            map,
            version,
            revision,
            unreachable: Arc::new(AtomicU64::new(0)),
            store: Arc::new(store),
            journals,
        }
    }

    /// A journal of the keys that change from now on (its first answer is [`Changed::All`]).
    pub fn journal(&self) -> Journal {
        Journal::new(&self.journals)
    }

    pub fn get(&self, key: &str) -> Option<T> {
        self.read(|map| map.get(key).cloned())
    }

    pub fn contains(&self, key: &str) -> bool {
        self.read(|map| map.contains_key(key))
    }

    /// Runs `f` on the current map under a read lock.
    pub fn read<R>(&self, f: impl FnOnce(&HashMap<String, T>) -> R) -> R {
        let map = self
            .map
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&map)
    }

    /// A receiver that changes whenever the cached map does.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.version.clone()
    }
}

struct Follower<T> {
    store: Store,
    map: Arc<RwLock<HashMap<String, T>>>,
    version: watch::Sender<u64>,
    revision: Arc<AtomicU64>,
    journals: Journals,
}

impl<T: DeserializeOwned> Follower<T> {
    async fn run(self) {
        loop {
            if let Err(error) = self.follow().await {
                tracing::warn!(bucket = self.store.name, %error, "KV watch interrupted; watching again");
            }
            tokio::time::sleep(RETRY_DELAY).await;
        }
    }

    /// Loads a full snapshot, swaps it in, then applies changes until the watch ends.
    async fn follow(&self) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let mut watch = self.store.watch_with_history(">").await?;
        let mut snapshot = Some(HashMap::new());
        let status = self.store.status().await?;
        if status.values() == 0 {
            self.revision
                .store(status.info.state.last_sequence, Ordering::Release);
            self.replace(snapshot.take().unwrap_or_default());
        }
        while let Some(entry) = watch.next().await {
            let entry = entry?;
            let revision = entry.revision;
            let value = match entry.operation {
                Operation::Put => match serde_json::from_slice::<T>(&entry.value) {
                    Ok(value) => Some(value),
                    Err(error) => {
                        tracing::warn!(bucket = self.store.name, key = entry.key, %error, "ignoring undecodable KV value");
                        None
                    }
                },
                Operation::Delete | Operation::Purge => None,
            };
            match snapshot.as_mut() {
                Some(building) => {
                    apply(building, entry.key, value);
                    if entry.seen_current {
                        self.revision.store(revision, Ordering::Release);
                        self.replace(snapshot.take().unwrap_or_default());
                    }
                }
                None => {
                    // The map first, then the journals, then the version: a follower woken by
                    // the version finds the key in its journal and its value in the map.
                    apply(&mut self.lock(), entry.key.clone(), value);
                    record(&self.journals, Some(&entry.key));
                    self.revision.store(revision, Ordering::Release);
                    self.version.send_modify(|v| *v += 1);
                }
            }
        }
        Ok(())
    }

    fn replace(&self, fresh: HashMap<String, T>) {
        *self.lock() = fresh;
        record(&self.journals, None);
        self.version.send_modify(|v| *v += 1);
    }

    fn lock(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, T>> {
        self.map
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn apply<T>(map: &mut HashMap<String, T>, key: String, value: Option<T>) {
    match value {
        Some(value) => {
            map.insert(key, value);
        }
        None => {
            map.remove(&key);
        }
    }
}

impl<T> KvCache<T>
where
    T: DeserializeOwned + Clone + Send + Sync + 'static,
{
    /// Waits until `condition` holds for the cached map, or `limit` passes; true if it holds.
    /// Used to read one's own writes: a write returns before the watch delivers it.
    pub async fn wait_until(
        &self,
        limit: Duration,
        condition: impl Fn(&HashMap<String, T>) -> bool,
    ) -> bool {
        let mut changes = self.version.clone();
        let wait = async {
            loop {
                if self.read(&condition) {
                    return;
                }
                if changes.changed().await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
        };
        tokio::time::timeout(limit, wait).await.is_ok()
    }

    /// Waits until the map holds every change the bucket had when this was called, or `limit`
    /// passes; true if it does. One request to the server: a reader that must not act on a
    /// stale map (an event routed before its subscription is known) calls it first.
    pub async fn catch_up(&self, limit: Duration) -> bool {
        // The stream's state as it is now (`Store::status` answers what it was when the store
        // was opened).
        let mut stream = self.store.stream.clone();
        let Ok(wanted) = stream.info().await.map(|info| info.state.last_sequence) else {
            return false;
        };
        if self.revision.load(Ordering::Acquire) >= wanted {
            return true;
        }
        if wanted <= self.unreachable.load(Ordering::Acquire) {
            return false;
        }
        let mut changes = self.version.clone();
        let revision = &self.revision;
        let wait = async {
            while revision.load(Ordering::Acquire) < wanted {
                if changes.changed().await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
        };
        let reached = tokio::time::timeout(limit, wait).await.is_ok();
        if !reached {
            self.unreachable.fetch_max(wanted, Ordering::AcqRel);
        }
        reached
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_journal_says_all_first_then_the_keys_changed_since_it_was_asked() {
        let journals = Journals::default();
        let journal = Journal::new(&journals);
        record(&journals, Some("a"));
        assert_eq!(journal.take(), Changed::All, "the first time");
        assert_eq!(journal.take(), Changed::Keys(HashSet::new()));
        record(&journals, Some("a"));
        record(&journals, Some("b"));
        record(&journals, Some("a"));
        assert_eq!(
            journal.take(),
            Changed::Keys(["a".to_string(), "b".to_string()].into())
        );
        record(&journals, Some("c"));
        record(&journals, None);
        record(&journals, Some("d"));
        assert_eq!(journal.take(), Changed::All, "after a fresh snapshot");
        let other = Journal::new(&journals);
        drop(journal);
        record(&journals, Some("e"));
        assert_eq!(
            journals.lock().expect("journals").len(),
            1,
            "a dropped journal is forgotten"
        );
        assert_eq!(other.take(), Changed::All);
    }
}
