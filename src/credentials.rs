//! The admin credentials for `/system/*`: configured, or generated once and kept in the data dir.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use switchyard_gateway::Credentials;

use crate::settings::Settings;

/// Where the password came from, for the start-up message.
pub enum Source {
    Configured,
    File(PathBuf),
}

pub fn resolve(settings: &Settings) -> anyhow::Result<(Credentials, Source)> {
    if let Some(password) = settings
        .gateway
        .admin_password
        .clone()
        .filter(|p| !p.is_empty())
    {
        return Ok((
            Credentials {
                user: settings.gateway.admin_user.clone(),
                password,
            },
            Source::Configured,
        ));
    }
    let listens = std::iter::once(settings.gateway.listen).chain(settings.gateway.tls_listen);
    for listen in listens {
        if !listen.ip().is_loopback() {
            bail!(
                "refusing to listen on {listen} beyond loopback without credentials: set SWITCHYARD_ADMIN_PASSWORD"
            );
        }
    }
    let path = settings.data_dir.join("admin-password");
    let password = read_or_generate(&path)?;
    Ok((
        Credentials {
            user: settings.gateway.admin_user.clone(),
            password,
        },
        Source::File(path),
    ))
}

pub(crate) fn read_or_generate(path: &Path) -> anyhow::Result<String> {
    if let Ok(existing) = std::fs::read_to_string(path) {
        let existing = existing.trim().to_string();
        if !existing.is_empty() {
            return Ok(existing);
        }
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let password = uuid::Uuid::new_v4().simple().to_string();
    write_private(path, &format!("{password}\n"))?;
    Ok(password)
}

/// Writes a file only its owner can read (mode 0600).
pub(crate) fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    // An existing file keeps its mode on open: make sure.
    file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    file.write_all(contents.as_bytes())?;
    Ok(())
}
