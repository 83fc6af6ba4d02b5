//! `GET|POST /system/certificates`, `DELETE /system/certificates/{name}`: certificates the TLS
//! listener serves for named hosts. Private keys are write-only: sealed with the secrets key,
//! never answered.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use switchyard_broker::records::{validate_function_name, validate_host, StoredCertificate};

use super::AppState;
use crate::access::Caller;
use crate::error::{ApiError, Record};
use crate::tls::certificates::{certified_key, check_hosts};

/// Largest PEM accepted for a chain or a key.
const MAX_PEM_BYTES: usize = 64 * 1024;
const MAX_HOSTS: usize = 16;

/// A certificate to serve: the chain (PEM, leaf first) and its private key (PEM, write-only),
/// for `hosts`, each of which the certificate must be valid for.
// No Debug: it holds a private key, which must not reach a log.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct CertificateUpload {
    name: String,
    hosts: Vec<String>,
    certificate: String,
    private_key: String,
}

/// A certificate as the API shows it: never its key.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CertificateView {
    name: String,
    hosts: Vec<String>,
    /// SHA-256 of the leaf certificate (DER), hex.
    fingerprint: String,
    created_at: DateTime<Utc>,
}

impl From<&StoredCertificate> for CertificateView {
    fn from(stored: &StoredCertificate) -> Self {
        use rustls_pki_types::pem::PemObject;
        let fingerprint =
            rustls_pki_types::CertificateDer::pem_slice_iter(stored.certificate.as_bytes())
                .next()
                .and_then(Result::ok)
                .map(|der| {
                    Sha256::digest(der.as_ref())
                        .iter()
                        .map(|b| format!("{b:02x}"))
                        .collect()
                })
                .unwrap_or_default();
        CertificateView {
            name: stored.name.clone(),
            hosts: stored.hosts.clone(),
            fingerprint,
            created_at: stored.created_at,
        }
    }
}

#[utoipa::path(get, path = "/system/certificates", tag = "tls", responses((status = 200, body = Vec<CertificateView>)))]
pub(crate) async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<Vec<CertificateView>>, ApiError> {
    caller.operator(&state, "the TLS certificates")?;
    let mut views: Vec<CertificateView> = state
        .certificates
        .list()
        .iter()
        .map(CertificateView::from)
        .collect();
    views.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Json(views))
}

#[utoipa::path(post, path = "/system/certificates", tag = "tls", request_body = CertificateUpload,
    responses((status = 201, body = CertificateView), (status = 400, description = "What is wrong: the PEM, the key, a host the certificate is not valid for", body = String, content_type = "text/plain"),
        (status = 409, body = String, content_type = "text/plain"), (status = 503, description = "No secrets key to seal the private key with", body = String, content_type = "text/plain")))]
pub(crate) async fn create(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    body: Bytes,
) -> Result<(StatusCode, Json<CertificateView>), ApiError> {
    caller.operator(&state, "the TLS certificates")?;
    let upload: CertificateUpload = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("invalid certificate: {e}")))?;
    let bad = |reason: String| ApiError::BadRequest(format!("invalid certificate: {reason}"));
    validate_function_name(&upload.name).map_err(|_| {
        bad(format!(
            "name `{}`: use a-z, A-Z, 0-9, `-` and `_`",
            upload.name
        ))
    })?;
    if upload.hosts.is_empty() || upload.hosts.len() > MAX_HOSTS {
        return Err(bad(format!("hosts: 1 to {MAX_HOSTS} host names")));
    }
    for host in &upload.hosts {
        validate_host(host).map_err(bad)?;
    }
    if upload.certificate.len() > MAX_PEM_BYTES || upload.private_key.len() > MAX_PEM_BYTES {
        return Err(bad(format!(
            "certificate and key: at most {MAX_PEM_BYTES} bytes each"
        )));
    }
    let certified =
        certified_key(upload.certificate.as_bytes(), upload.private_key.as_bytes()).map_err(bad)?;
    check_hosts(&certified, &upload.hosts).map_err(bad)?;
    let key = state.secret_key.as_ref().ok_or_else(|| {
        ApiError::Unavailable(
            "no secrets key file is configured: private keys cannot be sealed".into(),
        )
    })?;
    let stored = StoredCertificate {
        sealed_key: key.seal(
            &StoredCertificate::key_id(&upload.name),
            upload.private_key.as_bytes(),
        ),
        name: upload.name,
        hosts: upload.hosts,
        certificate: upload.certificate,
        created_at: Utc::now(),
    };
    state
        .certificates
        .create(&stored.name, &stored)
        .await
        .map_err(ApiError::from_table(Record::Certificate))?;
    tracing::info!(certificate = %stored.name, hosts = ?stored.hosts, "certificate uploaded");
    Ok((StatusCode::CREATED, Json(CertificateView::from(&stored))))
}

#[utoipa::path(delete, path = "/system/certificates/{name}", tag = "tls", params(("name" = String, Path)),
    responses((status = 204, description = "Removed"), (status = 404, body = String, content_type = "text/plain")))]
pub(crate) async fn remove(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.operator(&state, "the TLS certificates")?;
    state
        .certificates
        .delete(&name)
        .await
        .map_err(ApiError::from_table(Record::Certificate))?;
    tracing::info!(certificate = %name, "certificate removed");
    Ok(StatusCode::NO_CONTENT)
}
