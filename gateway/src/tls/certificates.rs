//! The certificates the TLS listener serves, chosen by SNI: a host's own certificate (from a
//! file, or uploaded through the API), else one for its wildcard, else the default.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};

/// A certificate chain and key, read from PEM.
pub fn certified_key(certificate_pem: &[u8], key_pem: &[u8]) -> Result<CertifiedKey, String> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(certificate_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("certificate: not PEM certificates: {e}"))?;
    if chain.is_empty() {
        return Err("certificate: no certificate in the PEM".into());
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem)
        .map_err(|e| format!("private key: not a PEM private key: {e}"))?;
    let signing = rustls::crypto::ring::sign::any_supported_type(&key)
        .map_err(|e| format!("private key: not a usable key: {e}"))?;
    let certified = CertifiedKey::new(chain, signing);
    certified
        .keys_match()
        .map_err(|e| format!("the private key does not belong to the certificate: {e}"))?;
    Ok(certified)
}

/// Checks that the chain's leaf is valid for each of `hosts`.
pub fn check_hosts(certified: &CertifiedKey, hosts: &[String]) -> Result<(), String> {
    let leaf = certified
        .cert
        .first()
        .ok_or("certificate: no certificate in the PEM")?;
    let leaf = webpki::EndEntityCert::try_from(leaf)
        .map_err(|e| format!("certificate: cannot read it: {e:?}"))?;
    for host in hosts {
        // A wildcard host is checked with a name it covers.
        let probe = host
            .strip_prefix("*.")
            .map_or(host.clone(), |d| format!("x.{d}"));
        let name = ServerName::try_from(probe.as_str())
            .map_err(|_| format!("host `{host}` is not a DNS name"))?;
        leaf.verify_is_valid_for_subject_name(&name)
            .map_err(|_| format!("the certificate is not valid for host `{host}`"))?;
    }
    Ok(())
}

/// The certificates by host name, plus the default; shared with the listener's resolver and
/// replaced as files are read and uploads change.
#[derive(Debug, Default)]
pub struct CertificateStore {
    default: RwLock<Option<Arc<CertifiedKey>>>,
    /// From files: never replaced by uploads.
    configured: RwLock<HashMap<String, Arc<CertifiedKey>>>,
    uploaded: RwLock<HashMap<String, Arc<CertifiedKey>>>,
}

impl CertificateStore {
    pub fn set_default(&self, key: CertifiedKey) {
        *self.default.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(key));
    }

    pub fn add_configured(&self, host: &str, key: CertifiedKey) {
        self.configured
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(host.to_ascii_lowercase(), Arc::new(key));
    }

    /// Replaces every uploaded certificate with `by_host`.
    pub fn replace_uploaded(&self, by_host: HashMap<String, Arc<CertifiedKey>>) {
        *self.uploaded.write().unwrap_or_else(|e| e.into_inner()) = by_host;
    }

    /// The certificate for `server_name` (SNI), or the default.
    pub fn for_host(&self, server_name: Option<&str>) -> Option<Arc<CertifiedKey>> {
        if let Some(name) = server_name.map(str::to_ascii_lowercase) {
            let wildcard = name
                .split_once('.')
                .map(|(_, domain)| format!("*.{domain}"));
            for table in [&self.configured, &self.uploaded] {
                let table = table.read().unwrap_or_else(|e| e.into_inner());
                let found = table
                    .get(&name)
                    .or_else(|| wildcard.as_ref().and_then(|w| table.get(w)));
                if let Some(found) = found {
                    return Some(found.clone());
                }
            }
        }
        self.default
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// rustls asks the store for each handshake.
#[derive(Debug)]
pub struct SniResolver(pub Arc<CertificateStore>);

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.0.for_host(client_hello.server_name())
    }
}
