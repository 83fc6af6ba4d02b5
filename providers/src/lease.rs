//! The provider lease: one active process or Docker provider per NATS.
//!
//! The active provider holds the key [`LEASE_KEY`] in the bucket `sy_provider_lease`, whose
//! entries age out after the lease's time to live. It renews the key (compare-and-set on its
//! revision) several times per period. A standby tries to create the key and succeeds once the
//! holder's last renewal aged out (it died) or the holder deleted it (it stopped). A holder
//! that finds its revision changed, or cannot renew for a whole period, has lost the lease and
//! must stop running replicas.

use std::time::{Duration, Instant};

use async_nats::jetstream::kv;
use bytes::Bytes;
use chrono::Utc;
use switchyard_broker::provider::{Lease, LEASE_KEY};
use tokio_util::sync::CancellationToken;

use crate::ProviderKind;

/// How the lease is held.
#[derive(Debug, Clone)]
pub struct LeaseConfig {
    /// A lease not renewed for this long lapses, and a standby takes over.
    pub ttl: Duration,
}

impl Default for LeaseConfig {
    fn default() -> Self {
        LeaseConfig {
            ttl: Duration::from_secs(5),
        }
    }
}

impl LeaseConfig {
    fn renew_every(&self) -> Duration {
        self.ttl / 5
    }
}

/// The lease was lost while held.
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    #[error("another provider took the lease")]
    TakenOver,
    #[error("the lease could not be renewed for {0:?}")]
    Unrenewable(Duration),
}

/// A lease this process holds.
pub struct HeldLease {
    store: kv::Store,
    value: Bytes,
    revision: u64,
    config: LeaseConfig,
}

/// Waits until this process holds the lease; `None` when `shutdown` came first.
pub async fn acquire(
    store: kv::Store,
    kind: ProviderKind,
    config: LeaseConfig,
    shutdown: &CancellationToken,
) -> Option<HeldLease> {
    let lease = Lease {
        holder: uuid::Uuid::new_v4().to_string(),
        kind: kind.name().to_string(),
        since: Utc::now(),
    };
    let value = Bytes::from(serde_json::to_vec(&lease).unwrap_or_default());
    let mut announced = false;
    loop {
        match store.create(LEASE_KEY, value.clone()).await {
            Ok(revision) => {
                tracing::info!(holder = %lease.holder, "provider lease taken: this provider is active");
                return Some(HeldLease {
                    store,
                    value,
                    revision,
                    config,
                });
            }
            Err(error) if error.kind() == kv::CreateErrorKind::AlreadyExists => {
                if !announced {
                    tracing::info!("another provider is active; standing by to take over");
                    announced = true;
                }
            }
            Err(error) => tracing::warn!(%error, "cannot reach the provider lease; retrying"),
        }
        tokio::select! {
            () = tokio::time::sleep(config.renew_every()) => {}
            () = shutdown.cancelled() => return None,
        }
    }
}

impl HeldLease {
    /// Renews the lease until `shutdown` (`Ok`) or until it is lost (`Err`).
    pub async fn keep(&mut self, shutdown: &CancellationToken) -> Result<(), LeaseError> {
        let mut renewed = Instant::now();
        loop {
            tokio::select! {
                () = tokio::time::sleep(self.config.renew_every()) => {}
                () = shutdown.cancelled() => return Ok(()),
            }
            match self
                .store
                .update(LEASE_KEY, self.value.clone(), self.revision)
                .await
            {
                Ok(revision) => {
                    self.revision = revision;
                    renewed = Instant::now();
                }
                Err(error) if error.kind() == kv::UpdateErrorKind::WrongLastRevision => {
                    return Err(LeaseError::TakenOver)
                }
                Err(error) => {
                    tracing::warn!(%error, "cannot renew the provider lease");
                    // Within a period a standby may already hold it: stop before that.
                    if renewed.elapsed() + self.config.renew_every() >= self.config.ttl {
                        return Err(LeaseError::Unrenewable(renewed.elapsed()));
                    }
                }
            }
        }
    }

    /// Gives the lease up, so a standby takes over at once.
    pub async fn release(self) {
        let released = self
            .store
            .delete_expect_revision(LEASE_KEY, Some(self.revision))
            .await;
        if let Err(error) = released {
            tracing::warn!(%error, "provider lease not released; it lapses by itself");
        }
    }
}
