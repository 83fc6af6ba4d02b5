//! Function secrets: stored sealed in NATS (bucket `sy_secrets`), opened only by the gateway
//! (to seal) and the provider (to hand them to replicas), with a key that lives in a file
//! outside NATS. Someone who can read the NATS data or the bucket learns the secrets' names,
//! never their values.
//!
//! Sealing is ChaCha20-Poly1305 with a fresh random nonce per write and the secret's id as
//! associated data, so a sealed value copied under another name does not open.

use std::io::Write;
use std::path::{Path, PathBuf};

use async_nats::jetstream;
use base64::Engine;
use chrono::{DateTime, Utc};
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};

use crate::buckets::{self, BucketError};
use crate::records::{qualify, split_qualified};
use crate::table::{Table, TableError};

const KEY_LEN: usize = 32;
/// The most bytes a secret's value may hold (Kubernetes allows 1 MiB; so do we).
pub const MAX_SECRET_BYTES: usize = 1024 * 1024;

/// Why secrets could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("cannot read or create the secrets key file {path}")]
    KeyFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the secrets key file {0} does not hold {KEY_LEN} bytes")]
    KeyLength(PathBuf),
    #[error("secret `{0}` does not open with this key (another data directory's key?)")]
    Unsealable(String),
    #[error(transparent)]
    Bucket(#[from] BucketError),
    #[error(transparent)]
    Table(#[from] TableError),
}

/// The key that seals and opens secrets.
pub struct SecretKey(LessSafeKey);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(..)")
    }
}

impl SecretKey {
    /// Reads the key at `path`, or creates it (32 random bytes, mode 0600) when the file does
    /// not exist yet.
    pub fn load_or_create(path: &Path) -> Result<Self, SecretError> {
        let key_file = |source| SecretError::KeyFile {
            path: path.to_path_buf(),
            source,
        };
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut fresh = [0u8; KEY_LEN];
                SystemRandom::new()
                    .fill(&mut fresh)
                    .map_err(|_| key_file(std::io::Error::other("no random source")))?;
                write_private(path, &fresh).map_err(key_file)?;
                // Another process may have created it first: whatever is on disk wins.
                std::fs::read(path).map_err(key_file)?
            }
            Err(e) => return Err(key_file(e)),
        };
        Self::from_bytes(&bytes).ok_or_else(|| SecretError::KeyLength(path.to_path_buf()))
    }

    fn from_bytes(bytes: &[u8]) -> Option<Self> {
        (bytes.len() == KEY_LEN)
            .then(|| UnboundKey::new(&CHACHA20_POLY1305, bytes).ok())
            .flatten()
            .map(|key| SecretKey(LessSafeKey::new(key)))
    }

    pub fn seal(&self, id: &str, value: &[u8]) -> SealedSecret {
        let mut nonce = [0u8; NONCE_LEN];
        // The OS's random source does not fail on the platforms we run on; a zero nonce would
        // still be sealed, just not unique, so fail loudly instead.
        SystemRandom::new()
            .fill(&mut nonce)
            .expect("the operating system's random source works");
        let mut sealed = value.to_vec();
        self.0
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(id.as_bytes()),
                &mut sealed,
            )
            .expect("a secret within MAX_SECRET_BYTES seals");
        let b64 = base64::engine::general_purpose::STANDARD;
        SealedSecret {
            nonce: b64.encode(nonce),
            sealed: b64.encode(sealed),
            updated_at: Utc::now(),
        }
    }

    pub fn open(&self, id: &str, secret: &SealedSecret) -> Option<Vec<u8>> {
        let b64 = base64::engine::general_purpose::STANDARD;
        let nonce: [u8; NONCE_LEN] = b64.decode(&secret.nonce).ok()?.try_into().ok()?;
        let mut sealed = b64.decode(&secret.sealed).ok()?;
        let opened = self
            .0
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(id.as_bytes()),
                &mut sealed,
            )
            .ok()?;
        Some(opened.to_vec())
    }
}

/// Writes `bytes` to a new file only its owner may read.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(mut file) => file.write_all(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// A secret as stored: its value sealed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SealedSecret {
    nonce: String,
    sealed: String,
    pub updated_at: DateTime<Utc>,
}

/// A secret's name and namespace, as `GET /system/secrets` lists them (never the value).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SecretName {
    pub name: String,
    pub namespace: String,
}

/// The secrets bucket with the key that opens it.
#[derive(Clone)]
pub struct Secrets {
    table: Table<SealedSecret>,
    key: std::sync::Arc<SecretKey>,
}

impl Secrets {
    pub async fn open(js: &jetstream::Context, key: SecretKey) -> Result<Self, SecretError> {
        Ok(Secrets {
            table: Table::new(buckets::secrets(js).await?),
            key: std::sync::Arc::new(key),
        })
    }

    /// Stores a new secret; [`TableError::Exists`] if it exists.
    pub async fn create(
        &self,
        name: &str,
        namespace: &str,
        value: &[u8],
    ) -> Result<(), SecretError> {
        let id = qualify(name, Some(namespace));
        Ok(self.table.create(&id, &self.key.seal(&id, value)).await?)
    }

    /// Replaces an existing secret's value; [`TableError::NotFound`] if it does not exist.
    pub async fn update(
        &self,
        name: &str,
        namespace: &str,
        value: &[u8],
    ) -> Result<(), SecretError> {
        let id = qualify(name, Some(namespace));
        self.table
            .modify(&id, |_| self.key.seal(&id, value))
            .await?;
        Ok(())
    }

    /// Removes a secret; [`TableError::NotFound`] if it does not exist.
    pub async fn delete(&self, name: &str, namespace: &str) -> Result<(), SecretError> {
        Ok(self.table.delete(&qualify(name, Some(namespace))).await?)
    }

    pub async fn exists(&self, name: &str, namespace: &str) -> Result<bool, SecretError> {
        Ok(self
            .table
            .get(&qualify(name, Some(namespace)))
            .await?
            .is_some())
    }

    /// The names of the secrets in `namespace`, sorted.
    pub async fn names(&self, namespace: &str) -> Result<Vec<SecretName>, SecretError> {
        let mut names: Vec<SecretName> = self
            .table
            .keys()
            .await?
            .iter()
            .map(|id| split_qualified(id))
            .filter(|(_, ns)| *ns == namespace)
            .map(|(name, namespace)| SecretName {
                name: name.to_string(),
                namespace: namespace.to_string(),
            })
            .collect();
        names.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(names)
    }

    /// A secret's value, or `None` if it does not exist.
    pub async fn reveal(
        &self,
        name: &str,
        namespace: &str,
    ) -> Result<Option<Vec<u8>>, SecretError> {
        Ok(self
            .reveal_versioned(name, namespace)
            .await?
            .map(|(value, _)| value))
    }

    /// A secret's value and its version, which changes with every write (the seal's public
    /// nonce, fresh each time), or `None` if it does not exist.
    pub async fn reveal_versioned(
        &self,
        name: &str,
        namespace: &str,
    ) -> Result<Option<(Vec<u8>, String)>, SecretError> {
        let id = qualify(name, Some(namespace));
        let Some(sealed) = self.table.get(&id).await? else {
            return Ok(None);
        };
        let value = self
            .key
            .open(&id, &sealed)
            .ok_or(SecretError::Unsealable(id))?;
        Ok(Some((value, sealed.nonce)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SecretKey {
        SecretKey::from_bytes(&[7u8; KEY_LEN]).expect("32 bytes")
    }

    #[test]
    fn a_sealed_value_opens_only_under_its_own_id_and_key() {
        let sealed = key().seal("db.team-a", b"hunter2");
        assert!(!sealed.sealed.contains("hunter2"));
        assert_eq!(
            key().open("db.team-a", &sealed).as_deref(),
            Some(&b"hunter2"[..])
        );
        assert_eq!(key().open("db", &sealed), None);
        let other = SecretKey::from_bytes(&[8u8; KEY_LEN]).expect("32 bytes");
        assert_eq!(other.open("db.team-a", &sealed), None);
    }

    #[test]
    fn every_seal_uses_a_new_nonce() {
        assert_ne!(key().seal("a", b"x").nonce, key().seal("a", b"x").nonce);
    }

    #[test]
    fn the_key_file_is_created_private_and_then_reused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("sy-key-{}", uuid::Uuid::new_v4()));
        let path = dir.join("secrets.key");
        let sealed = SecretKey::load_or_create(&path)
            .expect("created")
            .seal("a", b"v");
        let mode = std::fs::metadata(&path)
            .expect("exists")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = SecretKey::load_or_create(&path).expect("read back");
        assert_eq!(again.open("a", &sealed).as_deref(), Some(&b"v"[..]));
        std::fs::write(&path, b"short").expect("writable");
        assert!(matches!(
            SecretKey::load_or_create(&path),
            Err(SecretError::KeyLength(_))
        ));
        let _ = std::fs::remove_dir_all(dir);
    }
}
