//! A function's secrets as files: opened from the sealed bucket and written, one file per
//! secret, into a directory of the function's own that only the provider's user can enter.
//! Process replicas get its path in `secret_mount_path`; containers get each file mounted at
//! `/var/openfaas/secrets/<name>`.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use switchyard_broker::records::FunctionDeployment;
use switchyard_broker::secrets::{SecretKey, Secrets};

use crate::ProviderError;

/// Where the provider finds the key that opens secrets, and where it writes them.
#[derive(Debug, Clone)]
pub struct SecretsConfig {
    /// The key file the gateway seals secrets with (`<data dir>/secrets.key`; created when
    /// missing).
    pub key_file: PathBuf,
    /// One directory per function below this receives its secrets as files.
    pub dir: PathBuf,
}

impl SecretsConfig {
    pub(crate) async fn open(
        &self,
        js: &async_nats::jetstream::Context,
    ) -> Result<SecretFiles, ProviderError> {
        let key = SecretKey::load_or_create(&self.key_file)?;
        Ok(SecretFiles {
            secrets: Secrets::open(js, key).await?,
            root: self.dir.clone(),
        })
    }
}

/// Where secret files are written, and the means to open them.
#[derive(Clone)]
pub struct SecretFiles {
    secrets: Secrets,
    /// One directory per function id below this.
    root: PathBuf,
}

impl SecretFiles {
    /// Writes `deployment`'s secrets (file mode `mode`) into its directory, removes files of
    /// secrets it no longer names, and returns the directory's absolute path. Fails, naming the
    /// secret, when one has been deleted since the deploy.
    pub async fn write(
        &self,
        deployment: &FunctionDeployment,
        mode: u32,
    ) -> Result<PathBuf, String> {
        let dir = self.root.join(deployment.id());
        private_dir(&dir).map_err(|e| format!("secrets directory {}: {e}", dir.display()))?;
        let dir = dir
            .canonicalize()
            .map_err(|e| format!("secrets directory {}: {e}", dir.display()))?;
        let values = self.values(deployment).await?;
        for secret in &values {
            replace_file(&dir, &secret.name, &secret.value, mode)
                .map_err(|e| format!("secret `{}`: {e}", secret.name))?;
        }
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for entry in entries.flatten() {
                let file = entry.file_name();
                // Dot files are other replicas' writes in progress.
                let in_progress = file.to_string_lossy().starts_with('.');
                if !in_progress && !values.iter().any(|s| file == s.name.as_str()) {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
        Ok(dir)
    }
}

impl SecretFiles {
    /// Removes the secret files of every function not in `keep` (removed, or at zero
    /// replicas): no value stays on disk that no replica needs. Written again when one starts.
    pub fn remove_others(&self, keep: &std::collections::HashSet<&str>) {
        let Ok(entries) = std::fs::read_dir(&self.root) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            if keep.contains(name.to_string_lossy().as_ref()) {
                continue;
            }
            match std::fs::remove_dir_all(entry.path()) {
                Ok(()) => {
                    tracing::debug!(function = %name.to_string_lossy(), "removed secret files no replica needs")
                }
                Err(error) => {
                    tracing::warn!(path = %entry.path().display(), %error, "cannot remove secret files")
                }
            }
        }
    }
}

/// One of a function's secrets, opened.
pub struct SecretValue {
    pub name: String,
    pub value: Vec<u8>,
    /// Changes with every write of the secret.
    pub version: String,
}

impl SecretFiles {
    /// The values of `deployment`'s secrets. Fails, naming the secret, when one has been
    /// deleted since the deploy.
    pub async fn values(
        &self,
        deployment: &FunctionDeployment,
    ) -> Result<Vec<SecretValue>, String> {
        let mut values = Vec::new();
        for name in deployment.secrets.iter().flatten() {
            let (value, version) = self
                .secrets
                .reveal_versioned(name, deployment.namespace())
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| {
                    format!(
                        "secret `{name}` does not exist in namespace `{}`",
                        deployment.namespace()
                    )
                })?;
            values.push(SecretValue {
                name: name.clone(),
                value,
                version,
            });
        }
        Ok(values)
    }
}

fn private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}

/// Writes `name` in `dir` through a temporary file and a rename, so that a replica reading it
/// never sees half a value (several replicas may write the same file at once).
fn replace_file(dir: &Path, name: &str, value: &[u8], mode: u32) -> std::io::Result<()> {
    let temporary = dir.join(format!(".{name}.{}", uuid::Uuid::new_v4().simple()));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&temporary)?;
    file.write_all(value)?;
    file.sync_all()?;
    std::fs::rename(&temporary, dir.join(name))
}
