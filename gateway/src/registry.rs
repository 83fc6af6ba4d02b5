//! The function registry: a NATS KV bucket, with a local cache for reads.

use std::time::Duration;

use async_nats::jetstream::kv::{self, Store};
use bytes::Bytes;
use switchyard_broker::cache::KvCache;
use switchyard_broker::records::FunctionSpec;

/// How long a writer waits to see its own write in the cache before answering.
const READ_YOUR_WRITES: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub(crate) enum RegistryError {
    #[error("function `{0}` not found")]
    NotFound(String),
    #[error("function `{0}` already exists")]
    Exists(String),
    #[error("{0}")]
    Nats(String),
}

#[derive(Clone)]
pub(crate) struct Registry {
    store: Store,
    cache: KvCache<FunctionSpec>,
}

impl Registry {
    pub(crate) fn new(store: Store, cache: KvCache<FunctionSpec>) -> Self {
        Registry { store, cache }
    }

    pub(crate) fn get(&self, name: &str) -> Option<FunctionSpec> {
        self.cache.get(name)
    }

    pub(crate) fn contains(&self, name: &str) -> bool {
        self.cache.contains(name)
    }

    pub(crate) fn list(&self) -> Vec<FunctionSpec> {
        let mut specs: Vec<FunctionSpec> = self.cache.read(|map| map.values().cloned().collect());
        specs.sort_by(|a, b| a.name().cmp(b.name()));
        specs
    }

    /// Stores a new function; fails if one of that name exists.
    pub(crate) async fn create(&self, spec: &FunctionSpec) -> Result<(), RegistryError> {
        let name = spec.name().to_string();
        match self.store.create(&name, encode(spec)?).await {
            Ok(_) => {}
            Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => {
                return Err(RegistryError::Exists(name))
            }
            Err(e) => return Err(RegistryError::Nats(e.to_string())),
        }
        self.cache
            .wait_until(READ_YOUR_WRITES, |map| map.get(&name) == Some(spec))
            .await;
        Ok(())
    }

    /// Replaces an existing function's spec with `change(current)`, safely against concurrent
    /// writers (compare-and-set on the KV revision).
    pub(crate) async fn update(
        &self,
        name: &str,
        change: impl Fn(FunctionSpec) -> FunctionSpec,
    ) -> Result<FunctionSpec, RegistryError> {
        for _ in 0..5 {
            let entry = self
                .store
                .entry(name)
                .await
                .map_err(|e| RegistryError::Nats(e.to_string()))?
                .filter(|e| e.operation == kv::Operation::Put)
                .ok_or_else(|| RegistryError::NotFound(name.to_string()))?;
            let current: FunctionSpec = serde_json::from_slice(&entry.value)
                .map_err(|e| RegistryError::Nats(format!("stored spec unreadable: {e}")))?;
            let updated = change(current);
            match self
                .store
                .update(name, encode(&updated)?, entry.revision)
                .await
            {
                Ok(_) => {
                    self.cache
                        .wait_until(READ_YOUR_WRITES, |map| map.get(name) == Some(&updated))
                        .await;
                    return Ok(updated);
                }
                Err(e) if e.kind() == kv::UpdateErrorKind::WrongLastRevision => continue,
                Err(e) => return Err(RegistryError::Nats(e.to_string())),
            }
        }
        Err(RegistryError::Nats(format!(
            "function `{name}` is being changed concurrently; try again"
        )))
    }

    pub(crate) async fn delete(&self, name: &str) -> Result<(), RegistryError> {
        let exists = self
            .store
            .get(name)
            .await
            .map_err(|e| RegistryError::Nats(e.to_string()))?
            .is_some();
        if !exists {
            return Err(RegistryError::NotFound(name.to_string()));
        }
        self.store
            .delete(name)
            .await
            .map_err(|e| RegistryError::Nats(e.to_string()))?;
        self.cache
            .wait_until(READ_YOUR_WRITES, |map| !map.contains_key(name))
            .await;
        Ok(())
    }
}

fn encode(spec: &FunctionSpec) -> Result<Bytes, RegistryError> {
    serde_json::to_vec(spec)
        .map(Bytes::from)
        .map_err(|e| RegistryError::Nats(format!("cannot encode spec: {e}")))
}
