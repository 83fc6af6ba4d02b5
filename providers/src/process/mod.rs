//! The process provider: each replica is a local watchdog process on a free loopback port.
//!
//! It follows the registry: a deploy starts `replicas` watchdogs running the function's
//! `envProcess` with its `envVars`; scaling adds or stops replicas; an update replaces them; a
//! removal stops them. A watchdog that dies is restarted with backoff. Each replica is listed in
//! the endpoint directory (key `<function>.r<index>`) only while its `/_/ready` answers 200.
//!
//! Only the provider holding the lease runs (see [`crate::lease`]): on start it clears the
//! endpoint directory of what an earlier holder left (its replicas died with it: they run with
//! a parent-death signal), then starts every function in the registry.

mod replica;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use async_nats::jetstream::{self, kv::Store};
use async_nats::Client;
use futures::StreamExt;
use switchyard_broker::buckets;
use switchyard_broker::cache::KvCache;
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
}

/// The process back end.
pub struct ProcessProvider {
    config: ProcessProviderConfig,
}

struct Shared {
    config: ProcessProviderConfig,
    endpoints: Store,
    secrets: SecretFiles,
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
        Ok(ProcessProvider { config })
    }
}

impl Provider for ProcessProvider {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Process
    }

    async fn prepare(&self, deployment: &FunctionDeployment) -> Result<(), String> {
        validate(deployment)
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
        let shared = Arc::new(Shared {
            config: self.config.clone(),
            endpoints,
            secrets: self.config.secrets.open(&js).await?,
        });
        Ok(tokio::spawn(follow(shared, registry, shutdown)))
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

async fn follow(shared: Arc<Shared>, registry: KvCache<FunctionSpec>, shutdown: CancellationToken) {
    let mut running: HashMap<String, Running> = HashMap::new();
    let mut rounds = follow::Rounds::new(vec![registry.changes()], &shutdown);
    loop {
        let desired = crate::functions_to_run(&registry);
        reconcile(&shared, &mut running, desired).await;
        if !rounds.next(None).await {
            break;
        }
    }
    let all: Vec<Replica> = running.into_values().flat_map(|r| r.replicas).collect();
    tracing::info!(replicas = all.len(), "stopping function replicas");
    futures::future::join_all(all.into_iter().map(Replica::stop)).await;
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
