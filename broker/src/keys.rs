//! Secrets Switchyard keeps for itself in NATS: the key that makes routed call ids
//! unpredictable. Created once, by whichever part needs it first, and shared by every part.

use async_nats::jetstream::{self, kv};
use bytes::Bytes;

use crate::buckets::{self, BucketError};

const ROUTING_KEY: &str = "routing";

/// Why the key could not be had.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(transparent)]
    Bucket(#[from] BucketError),
    #[error("cannot read or store the routing key")]
    Store(#[source] async_nats::Error),
}

/// The routing key: read, or created (32 bytes from the OS's random source) if there is none yet; when two parts
/// create it at once, both end up with the one that was stored first.
pub async fn routing_key(js: &jetstream::Context) -> Result<Vec<u8>, KeyError> {
    let store = buckets::keys(js).await?;
    loop {
        if let Some(key) = store
            .get(ROUTING_KEY)
            .await
            .map_err(|e| KeyError::Store(e.into()))?
        {
            return Ok(key.to_vec());
        }
        // Two v4 UUIDs: 244 bits from the operating system's random source.
        let fresh: Vec<u8> = [uuid::Uuid::new_v4(), uuid::Uuid::new_v4()]
            .iter()
            .flat_map(|u| *u.as_bytes())
            .collect();
        match store.create(ROUTING_KEY, Bytes::from(fresh.clone())).await {
            Ok(_) => return Ok(fresh),
            Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => continue,
            Err(e) => return Err(KeyError::Store(e.into())),
        }
    }
}
