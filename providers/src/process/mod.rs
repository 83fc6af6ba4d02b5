//! The process provider: each replica is a local watchdog process on a free loopback port.
//!
//! It follows the registry: a deploy starts `replicas` watchdogs running the function's
//! `envProcess` with its `envVars`; scaling adds or stops replicas; an update replaces them; a
//! removal stops them. A watchdog that dies is restarted with backoff. Each replica is listed in
//! the endpoint directory (key `<function>.r<index>`) only while its `/_/health` answers 200.
//!
//! Only the provider holding the lease runs (see [`crate::lease`]): on start it clears the
//! endpoint directory of what an earlier holder left (its replicas died with it: they run with
//! a parent-death signal), then starts every function in the registry.

mod replica;
mod sandbox;
mod users;

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use async_nats::jetstream::{self, kv::Store};
use async_nats::Client;
use futures::StreamExt;
use sha2::Digest;
use switchyard_broker::buckets;
use switchyard_broker::cache::{Changed, KvCache};
use switchyard_broker::follow;
use switchyard_broker::records::{FunctionDeployment, FunctionSpec};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use bytes::Bytes;
use futures::stream::BoxStream;
use switchyard_broker::provider::LogsRequest;

use crate::secrets::{SecretFiles, SecretsConfig};
use crate::{LogsError, Provider, ProviderError, ProviderKind};
use replica::Replica;

/// Process provider settings.
#[derive(Debug, Clone)]
pub struct ProcessProviderConfig {
    /// The command that runs a watchdog: program and arguments (for example the `switchyard`
    /// binary and `watchdog`). The function's settings reach it as environment variables.
    pub watchdog_command: Vec<String>,
    /// Where function secrets are opened and written; a replica finds its own in the directory
    /// named by its `secret_mount_path`.
    pub secrets: SecretsConfig,
    /// How replicas are kept from each other and from Switchyard's own files.
    pub isolation: ProcessIsolation,
}

/// How process replicas are isolated. With Landlock (Linux 5.13 and later) each replica's
/// watchdog and function may read the system's programs and libraries, read their own
/// secrets and write their own scratch directory (their `TMPDIR` and `HOME`), and nothing
/// else; every replica's watchdog answers only requests carrying its own token, so functions
/// cannot call each other past the gateway. Without Landlock replicas run unconfined, and
/// functions of organizations other than `default` are refused unless `allow_unisolated`.
#[derive(Debug, Clone, Default)]
pub struct ProcessIsolation {
    /// One directory per replica is made below this (`<data dir>/replicas`).
    pub scratch_dir: std::path::PathBuf,
    /// Further paths every replica may read (`SWITCHYARD_FUNCTION_READ_PATHS`).
    pub read_paths: Vec<std::path::PathBuf>,
    /// Further paths every replica may write (`SWITCHYARD_FUNCTION_WRITE_PATHS`).
    pub write_paths: Vec<std::path::PathBuf>,
    /// Run functions of every organization even where replicas cannot be isolated
    /// (`SWITCHYARD_UNISOLATED_FUNCTIONS=allow`).
    pub allow_unisolated: bool,
}

/// The process back end.
pub struct ProcessProvider {
    config: ProcessProviderConfig,
    /// The namespaces and their organizations, once running (for refusing tenants' functions
    /// where replicas cannot be isolated).
    namespaces: Arc<std::sync::OnceLock<KvCache<switchyard_broker::records::Namespace>>>,
}

struct Shared {
    config: ProcessProviderConfig,
    endpoints: Store,
    secrets: SecretFiles,
    runtime: Runtime,
}

/// Whether replicas are isolated from each other: sandboxed and each function its own user.
fn isolated() -> bool {
    sandbox::Sandbox::supported().is_some() && users::Users::can_switch()
}

/// Where replicas run from. Isolated, each function's user must reach its secrets, its scratch
/// directory and the watchdog program, which the data directory (often below a private home)
/// may not allow: they live in a directory of their own below the system's temp dir (one per
/// data directory), emptied when the provider starts and removed when it stops.
struct Runtime {
    watchdog: Vec<String>,
    secrets_dir: std::path::PathBuf,
    scratch_dir: std::path::PathBuf,
    /// Set when each function runs as its own user.
    users: Option<users::Users>,
    /// Removed when the provider stops.
    own_root: Option<std::path::PathBuf>,
}

impl Runtime {
    fn prepare(config: &ProcessProviderConfig) -> Result<Self, String> {
        if !isolated() {
            return Ok(Runtime {
                watchdog: config.watchdog_command.clone(),
                secrets_dir: config.secrets.dir.clone(),
                scratch_dir: config.isolation.scratch_dir.clone(),
                users: None,
                own_root: None,
            });
        }
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        // One root per data directory, emptied here: a provider that was killed (no chance to
        // remove it) leaves no secrets behind once it, or its successor, starts again.
        let data = std::fs::create_dir_all(&config.secrets.dir)
            .and_then(|()| config.secrets.dir.canonicalize())
            .map_err(|e| format!("{}: {e}", config.secrets.dir.display()))?;
        let digest: String = sha2::Sha256::digest(data.as_os_str().as_encoded_bytes())
            .iter()
            .take(8)
            .map(|b| format!("{b:02x}"))
            .collect();
        let root = std::env::temp_dir().join(format!("switchyard-replicas-{digest}"));
        let _ = std::fs::remove_dir_all(&root);
        let traversable = |dir: &std::path::Path| {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o711)
                .create(dir)
                .and_then(|()| {
                    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o711))
                })
                .map_err(|e| format!("{}: {e}", dir.display()))
        };
        for dir in ["bin", "secrets", "scratch"] {
            traversable(&root.join(dir))?;
        }
        let program = std::path::Path::new(&config.watchdog_command[0]);
        let copy = root
            .join("bin")
            .join(program.file_name().unwrap_or_default());
        std::fs::copy(program, &copy)
            .and_then(|_| std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)))
            .map_err(|e| format!("copying the watchdog {}: {e}", program.display()))?;
        let mut watchdog = vec![copy.to_string_lossy().into_owned()];
        watchdog.extend(config.watchdog_command[1..].iter().cloned());
        Ok(Runtime {
            watchdog,
            secrets_dir: root.join("secrets"),
            scratch_dir: root.join("scratch"),
            users: Some(users::Users::default()),
            own_root: Some(root),
        })
    }
}

/// A function's replicas as they run now, and the deployment they run.
struct Running {
    deployment: FunctionDeployment,
    replicas: Vec<Replica>,
}

impl ProcessProvider {
    pub fn new(config: ProcessProviderConfig) -> Result<Self, ProviderError> {
        if config.watchdog_command.is_empty() {
            return Err(ProviderError::NoWatchdog);
        }
        match (sandbox::Sandbox::supported(), users::Users::can_switch()) {
            (Some(abi), true) => tracing::info!(
                landlock_abi = abi,
                "process replicas run sandboxed, each function as its own user"
            ),
            (landlock, root) => {
                let missing = match (landlock, root) {
                    (None, _) => "this kernel offers no Landlock",
                    _ => "Switchyard does not run as root, so functions cannot have users of their own",
                };
                if config.isolation.allow_unisolated {
                    tracing::warn!("{missing}: process replicas are NOT isolated from each other, and functions of every organization run (SWITCHYARD_UNISOLATED_FUNCTIONS=allow)");
                } else {
                    tracing::warn!("{missing}: process replicas are not isolated from each other, so functions of organizations other than `default` are refused (SWITCHYARD_UNISOLATED_FUNCTIONS=allow runs them anyway)");
                }
            }
        }
        Ok(ProcessProvider {
            config,
            namespaces: Arc::default(),
        })
    }
}

impl Provider for ProcessProvider {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Process
    }

    async fn prepare(&self, deployment: &FunctionDeployment) -> Result<(), String> {
        validate(deployment)?;
        if !isolated() && !self.config.isolation.allow_unisolated {
            let organization = self
                .namespaces
                .get()
                .and_then(|n| n.get(deployment.namespace()))
                .map(|n| n.organization().to_string());
            if let Some(organization) =
                organization.filter(|o| o != switchyard_broker::records::DEFAULT_ORGANIZATION)
            {
                return Err(format!(
                    "functions of organization `{organization}` cannot be isolated here (process replicas need Landlock and Switchyard running as root); an operator may allow them with SWITCHYARD_UNISOLATED_FUNCTIONS=allow"
                ));
            }
        }
        Ok(())
    }

    /// On `shutdown` every replica is stopped (SIGTERM, so each watchdog drains) and the task
    /// ends.
    async fn run(
        &self,
        nats: Client,
        shutdown: CancellationToken,
    ) -> Result<JoinHandle<()>, ProviderError> {
        let js = jetstream::new(nats);
        let endpoints = buckets::endpoints(&js).await?;
        clear(&endpoints).await;
        let registry = KvCache::start(buckets::functions(&js).await?, shutdown.clone()).await;
        let _ = self
            .namespaces
            .set(KvCache::start(buckets::namespaces(&js).await?, shutdown.clone()).await);
        let runtime = Runtime::prepare(&self.config).map_err(ProviderError::Runtime)?;
        let secrets = crate::secrets::SecretsConfig {
            key_file: self.config.secrets.key_file.clone(),
            dir: runtime.secrets_dir.clone(),
        };
        let shared = Arc::new(Shared {
            config: self.config.clone(),
            endpoints,
            secrets: secrets.open(&js).await?,
            runtime,
        });
        let sealed = KvCache::start(buckets::secrets(&js).await?, shutdown.clone()).await;
        Ok(tokio::spawn(follow(shared, registry, sealed, shutdown)))
    }

    async fn logs(&self, _: &LogsRequest) -> Result<BoxStream<'static, Bytes>, LogsError> {
        Err(LogsError::NotSupported(
            "logs are served with the Docker provider; the process provider's functions log to Switchyard's own output".into(),
        ))
    }
}

/// Removes endpoints left by an earlier run: their processes are gone.
async fn clear(endpoints: &Store) {
    let Ok(mut keys) = endpoints.keys().await else {
        return;
    };
    while let Some(Ok(key)) = keys.next().await {
        let _ = endpoints.delete(&key).await;
    }
}

async fn follow(
    shared: Arc<Shared>,
    registry: KvCache<FunctionSpec>,
    secrets: KvCache<switchyard_broker::secrets::SealedSecret>,
    shutdown: CancellationToken,
) {
    let mut running: HashMap<String, Running> = HashMap::new();
    let secret_changes = secrets.changes();
    let mut secrets_seen = *secret_changes.borrow();
    let mut rounds = follow::Rounds::new(vec![registry.changes(), secrets.changes()], &shutdown);
    // Only what has replicas, or runs: with thousands of functions at zero, a round costs what
    // runs and what changed, not what is deployed.
    let journal = registry.journal();
    let mut with_replicas: HashSet<String> = HashSet::new();
    loop {
        let started = std::time::Instant::now();
        let wants_replicas = |spec: &FunctionSpec| !spec.is_external() && spec.replicas > 0;
        let desired = registry.read(|map| {
            match journal.take() {
                Changed::All => {
                    with_replicas = map
                        .iter()
                        .filter(|(_, spec)| wants_replicas(spec))
                        .map(|(name, _)| name.clone())
                        .collect();
                }
                Changed::Keys(keys) => {
                    for key in keys {
                        if map.get(&key).is_some_and(wants_replicas) {
                            with_replicas.insert(key);
                        } else {
                            with_replicas.remove(&key);
                        }
                    }
                }
            }
            with_replicas
                .iter()
                .chain(running.keys())
                .filter_map(|name| {
                    let spec = map.get(name).filter(|spec| !spec.is_external())?;
                    Some((name.clone(), spec.clone()))
                })
                .collect()
        });
        reconcile(&shared, &mut running, desired).await;
        tracing::debug!(running = running.len(), took = ?started.elapsed(), "round");
        let secrets_now = *secret_changes.borrow();
        if secrets_now != secrets_seen {
            secrets_seen = secrets_now;
            refresh_secrets(&shared, &running).await;
        }
        if !rounds.next(None).await {
            break;
        }
    }
    let all: Vec<Replica> = running.into_values().flat_map(|r| r.replicas).collect();
    tracing::info!(replicas = all.len(), "stopping function replicas");
    futures::future::join_all(all.into_iter().map(Replica::stop)).await;
    if let Some(root) = &shared.runtime.own_root {
        let _ = std::fs::remove_dir_all(root);
    }
}

/// Writes every running function's secrets again, as `faas-cli secret update` expects (and
/// faasd does): running replicas read the new value from the same path, without a restart.
/// Each file is replaced by a rename, so a reader sees the old value or the new one.
async fn refresh_secrets(shared: &Shared, running: &HashMap<String, Running>) {
    for (name, current) in running {
        if current
            .deployment
            .secrets
            .as_ref()
            .is_none_or(Vec::is_empty)
        {
            continue;
        }
        match shared.secrets.write(&current.deployment, 0o400).await {
            Ok(dir) => {
                let user = shared.runtime.users.as_ref().and_then(|u| u.of(name));
                if let Some(uid) = user {
                    if let Err(error) = users::give(&dir, uid) {
                        tracing::warn!(function = %name, %error, "cannot give the function its new secrets");
                    }
                }
                tracing::debug!(function = %name, "secrets written again");
            }
            Err(error) => {
                tracing::warn!(function = %name, %error, "cannot write the function's secrets again")
            }
        }
    }
}

/// Makes the running replicas match the registry.
async fn reconcile(
    shared: &Arc<Shared>,
    running: &mut HashMap<String, Running>,
    desired: HashMap<String, FunctionSpec>,
) {
    let mut stopping = Vec::new();
    running.retain(|name, current| {
        let keep = desired
            .get(name)
            .is_some_and(|spec| spec.deployment == current.deployment);
        if !keep {
            tracing::info!(function = %name, "stopping replicas (removed or updated)");
            stopping.append(&mut current.replicas);
        }
        keep
    });
    // Stopped before new ones start, so an updated function never runs two versions at once.
    futures::future::join_all(stopping.into_iter().map(Replica::stop)).await;

    for (name, spec) in desired {
        let current = running.entry(name.clone()).or_insert_with(|| Running {
            deployment: spec.deployment.clone(),
            replicas: Vec::new(),
        });
        let wanted = spec.replicas as usize;
        while current.replicas.len() < wanted {
            let index = current.replicas.len();
            current.replicas.push(Replica::start(
                shared.clone(),
                &name,
                index,
                &spec.deployment,
            ));
        }
        if current.replicas.len() > wanted {
            let surplus = current.replicas.split_off(wanted);
            futures::future::join_all(surplus.into_iter().map(Replica::stop)).await;
        }
    }
    // A function at zero is followed again when it is given replicas.
    running.retain(|_, current| !current.replicas.is_empty());
    let needed = running
        .iter()
        .filter(|(_, r)| !r.replicas.is_empty())
        .map(|(name, _)| name.as_str())
        .collect();
    shared.secrets.remove_others(&needed);
}

/// The function's command line: `envProcess`, or `fprocess` among its `envVars`.
pub(crate) fn fprocess(deployment: &FunctionDeployment) -> Option<&str> {
    deployment
        .env_process
        .as_deref()
        .or_else(|| {
            deployment
                .env_vars
                .as_ref()?
                .get("fprocess")
                .map(String::as_str)
        })
        .filter(|p| !p.trim().is_empty())
}

/// A deployment the process provider can run: it has a command, and the command exists.
fn validate(deployment: &FunctionDeployment) -> Result<(), String> {
    let command = fprocess(deployment).ok_or_else(|| {
        "envProcess is required with the process provider: it is the command the watchdog runs (faas-cli: --fprocess)".to_string()
    })?;
    let program = command.split_whitespace().next().unwrap_or_default();
    if find_program(program) {
        Ok(())
    } else {
        Err(format!(
            "envProcess `{command}`: program `{program}` not found or not executable"
        ))
    }
}

fn find_program(program: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let executable = |path: &Path| {
        path.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        return executable(Path::new(program));
    }
    std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths).any(|dir| executable(&dir.join(program)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment(env_process: Option<&str>) -> FunctionDeployment {
        FunctionDeployment {
            service: "f".into(),
            env_process: env_process.map(str::to_string),
            ..Default::default()
        }
    }

    #[test]
    fn deployments_need_a_runnable_command() {
        assert!(validate(&deployment(Some("cat"))).is_ok());
        assert!(validate(&deployment(Some("wc -c"))).is_ok());
        let missing = validate(&deployment(None)).expect_err("no command");
        assert!(missing.contains("envProcess is required"), "{missing}");
        let unknown =
            validate(&deployment(Some("no-such-program-xyz --flag"))).expect_err("unknown");
        assert!(
            unknown.contains("program `no-such-program-xyz` not found"),
            "{unknown}"
        );
    }
}
