//! A first run's certificate: a local certificate authority and a certificate it signed for
//! `localhost`, `127.0.0.1` and `::1`, generated once into the data directory. Clients trust
//! `ca.crt` (as with mkcert); the CA's key stays in the directory (mode 0600).

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};

/// The files of the generated certificate.
#[derive(Debug, Clone)]
pub struct GeneratedFiles {
    pub ca_certificate: PathBuf,
    pub certificate: PathBuf,
    pub key: PathBuf,
}

impl GeneratedFiles {
    pub fn in_dir(dir: &Path) -> Self {
        GeneratedFiles {
            ca_certificate: dir.join("ca.crt"),
            certificate: dir.join("gateway.crt"),
            key: dir.join("gateway.key"),
        }
    }
}

/// The generated certificate in `dir`, made when missing.
pub fn ensure(dir: &Path) -> Result<GeneratedFiles, String> {
    let files = GeneratedFiles::in_dir(dir);
    if files.certificate.exists() && files.key.exists() && files.ca_certificate.exists() {
        return Ok(files);
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    let failed = |e: rcgen::Error| format!("cannot generate a certificate: {e}");
    let ca_key = KeyPair::generate().map_err(failed)?;
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(failed)?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca.distinguished_name
        .push(DnType::CommonName, "Switchyard local CA");
    let ca_certificate = ca.self_signed(&ca_key).map_err(failed)?;
    let key = KeyPair::generate().map_err(failed)?;
    let mut leaf = CertificateParams::new(vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ])
    .map_err(failed)?;
    leaf.distinguished_name
        .push(DnType::CommonName, "Switchyard gateway");
    let certificate = leaf
        .signed_by(&key, &ca_certificate, &ca_key)
        .map_err(failed)?;
    write(dir.join("ca.key"), ca_key.serialize_pem().as_bytes(), 0o600)?;
    write(files.key.clone(), key.serialize_pem().as_bytes(), 0o600)?;
    write(
        files.certificate.clone(),
        certificate.pem().as_bytes(),
        0o644,
    )?;
    write(
        files.ca_certificate.clone(),
        ca_certificate.pem().as_bytes(),
        0o644,
    )?;
    tracing::info!(ca = %files.ca_certificate.display(), "generated a certificate for the TLS listener; clients trust the CA file");
    Ok(files)
}

fn write(path: PathBuf, bytes: &[u8], mode: u32) -> Result<(), String> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    file.write_all(bytes)
        .map_err(|e| format!("{}: {e}", path.display()))
}
