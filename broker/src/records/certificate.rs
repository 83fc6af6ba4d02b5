//! TLS certificates uploaded through the API (KV bucket `sy_certificates`, key = name): the
//! chain in PEM, and the private key sealed with the secrets key (AAD `certificate:<name>`),
//! so that it is in no NATS file in the clear. Every gateway serves them by SNI.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::secrets::SealedSecret;

/// A stored certificate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredCertificate {
    pub name: String,
    /// Host names it is served for (`api.example.com`, `*.example.com`).
    pub hosts: Vec<String>,
    /// The certificate chain, leaf first, PEM.
    pub certificate: String,
    pub sealed_key: SealedSecret,
    pub created_at: DateTime<Utc>,
}

impl StoredCertificate {
    /// What the private key is sealed under.
    pub fn key_id(name: &str) -> String {
        format!("certificate:{name}")
    }
}
