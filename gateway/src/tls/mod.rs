//! HTTPS: a TLS listener next to the plain one (rustls), serving the certificate for the
//! host a client names (SNI): from files, uploaded through `/system/certificates`, or, when
//! none is configured, one generated for a first run ([`generated`]). HTTP/2 when offered.
//!
//! - [`certificates`]: PEM reading, the store by host name, the SNI resolver.
//! - [`generated`]: a local CA and a certificate it signed, made once in the data directory.

pub mod certificates;
pub mod generated;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use switchyard_broker::records::StoredCertificate;
use switchyard_broker::secrets::SecretKey;
use switchyard_broker::table::CachedTable;
use tokio_util::sync::CancellationToken;

use certificates::{certified_key, CertificateStore, SniResolver};

/// TLS listener settings.
#[derive(Debug, Clone)]
pub struct TlsConfig {
    /// Where the TLS listener listens.
    pub listen: SocketAddr,
    /// The certificate for clients that name no host, or a host without its own.
    pub default: DefaultCertificate,
    /// Certificates for named hosts (`api.example.com`, `*.example.com`), from files.
    pub hosts: Vec<HostCertificate>,
}

/// Where the default certificate comes from.
#[derive(Debug, Clone)]
pub enum DefaultCertificate {
    /// PEM files: the chain (leaf first) and its private key.
    Files { certificate: PathBuf, key: PathBuf },
    /// Generated once into this directory (a local CA in `ca.crt` signs it).
    Generated { dir: PathBuf },
}

/// A host's certificate from files.
#[derive(Debug, Clone)]
pub struct HostCertificate {
    pub host: String,
    pub certificate: PathBuf,
    pub key: PathBuf,
}

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{what}: {reason}")]
    Certificate { what: String, reason: String },
    #[error(transparent)]
    Rustls(#[from] rustls::Error),
}

/// Reads the configured certificates into `store` (generating the default when asked).
pub fn load(config: &TlsConfig, store: &CertificateStore) -> Result<(), TlsError> {
    let (certificate, key) = match &config.default {
        DefaultCertificate::Files { certificate, key } => (certificate.clone(), key.clone()),
        DefaultCertificate::Generated { dir } => {
            let files = generated::ensure(dir).map_err(|reason| TlsError::Certificate {
                what: "generated certificate".into(),
                reason,
            })?;
            (files.certificate, files.key)
        }
    };
    store.set_default(read_pair(&certificate, &key)?);
    for host in &config.hosts {
        let pair = read_pair(&host.certificate, &host.key)?;
        certificates::check_hosts(&pair, std::slice::from_ref(&host.host)).map_err(|reason| {
            TlsError::Certificate {
                what: host.certificate.display().to_string(),
                reason,
            }
        })?;
        store.add_configured(&host.host, pair);
    }
    Ok(())
}

fn read_pair(
    certificate: &std::path::Path,
    key: &std::path::Path,
) -> Result<rustls::sign::CertifiedKey, TlsError> {
    let read = |path: &std::path::Path| {
        std::fs::read(path).map_err(|source| TlsError::Read {
            path: path.to_path_buf(),
            source,
        })
    };
    certified_key(&read(certificate)?, &read(key)?).map_err(|reason| TlsError::Certificate {
        what: certificate.display().to_string(),
        reason,
    })
}

/// The rustls configuration of the listener: certificates from `store`, HTTP/2 and
/// HTTP/1.1 offered.
pub fn server_config(store: Arc<CertificateStore>) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(SniResolver(store)));
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Keeps the uploaded certificates in `store` as the bucket changes, until `shutdown`.
pub fn follow_uploads(
    uploads: CachedTable<StoredCertificate>,
    key: Option<Arc<SecretKey>>,
    store: Arc<CertificateStore>,
    shutdown: CancellationToken,
) {
    let mut changes = uploads.cache().changes();
    tokio::spawn(async move {
        loop {
            let mut by_host = HashMap::new();
            for stored in uploads.list() {
                match open(&stored, key.as_deref()) {
                    Ok(certified) => {
                        let certified = Arc::new(certified);
                        for host in &stored.hosts {
                            by_host.insert(host.clone(), certified.clone());
                        }
                    }
                    Err(reason) => {
                        tracing::warn!(certificate = %stored.name, %reason, "uploaded certificate not served")
                    }
                }
            }
            store.replace_uploaded(by_host);
            tokio::select! {
                changed = changes.changed() => if changed.is_err() { break },
                () = shutdown.cancelled() => break,
            }
        }
    });
}

/// An uploaded certificate with its key opened.
pub fn open(
    stored: &StoredCertificate,
    key: Option<&SecretKey>,
) -> Result<rustls::sign::CertifiedKey, String> {
    let key = key.ok_or("no secrets key file: uploaded private keys cannot be opened")?;
    let private = key
        .open(&StoredCertificate::key_id(&stored.name), &stored.sealed_key)
        .ok_or("the private key cannot be opened with this secrets key")?;
    certified_key(stored.certificate.as_bytes(), &private)
}
