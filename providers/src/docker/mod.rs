//! The Docker provider: each replica is a container of the function's image, running
//! `switchyard-watchdog` (the image's entry point) with `envProcess` as `fprocess`, on a
//! user-defined bridge network whose addresses the dispatchers reach.
//!
//! Every two seconds, and whenever the registry changes, it makes the containers labelled
//! [`spec::FUNCTION_LABEL`] (on its network, [`spec::NETWORK_LABEL`]) match the registry: containers of a removed function are removed; a
//! container that exited is replaced; replicas are added or removed to match the count; after
//! an update, containers of the new spec start first and the old ones are removed once enough
//! new ones are ready. Containers are never stopped on shutdown: a restarted provider adopts
//! them by their labels, so nothing is lost and nothing duplicated. Each running container
//! whose watchdog answers `/_/health` is listed in `sy_endpoints` as `<function>.c<id>`.

mod attach;
mod image;
mod logs;
mod restarts;
pub mod spec;

use std::collections::HashMap;
use std::time::Duration;

use async_nats::jetstream::{self, kv::Store};
use bollard::models::{ContainerSummary, ContainerSummaryStateEnum, NetworkCreateRequest};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, ListContainersOptionsBuilder, RemoveContainerOptionsBuilder,
};
use bollard::Docker;
use chrono::Utc;
use switchyard_broker::buckets;
use switchyard_broker::cache::KvCache;
use switchyard_broker::records::{Endpoint, FunctionDeployment, FunctionSpec};
use switchyard_broker::table::Table;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use image::ensure_image;
pub use logs::function_logs;

use crate::probe::Prober;
use crate::secrets::{SecretFiles, SecretsConfig};
use crate::{LogsError, Provider, ProviderError, ProviderKind};
use bytes::Bytes;
use futures::stream::BoxStream;
use spec::{container_body, spec_hash, FUNCTION_LABEL, NETWORK_LABEL, SPEC_LABEL, WATCHDOG_PORT};
use switchyard_broker::provider::LogsRequest;

/// Container replicas are listed as `<function>.c<container id>`.
const CONTAINER_REPLICA_PREFIX: &str = "c";

/// How soon they are checked again while some are starting (so a new one is listed quickly).
const RECONCILE_SOON: Duration = Duration::from_millis(100);

/// The bridge network function containers join unless configured.
pub const DEFAULT_NETWORK: &str = "switchyard";

/// Docker provider settings.
#[derive(Debug, Clone)]
pub struct DockerProviderConfig {
    /// The bridge network functions of the default namespace join (created when missing);
    /// each other namespace gets `<network>-<namespace>`.
    pub network: String,
    /// Containers connected to every namespace's network (names, ids, or `label=<key>=<value>`
    /// for every container with that label): the dispatchers and a Prometheus when they run in
    /// containers themselves.
    pub attach: Vec<String>,
    /// Where function secrets are opened and written (a host directory per function); each is
    /// mounted read-only at `/var/openfaas/secrets/<name>`.
    pub secrets: SecretsConfig,
}

/// The Docker back end.
pub struct DockerProvider {
    config: DockerProviderConfig,
}

struct Reconciler {
    docker: Docker,
    /// Where a function's start failures are said (`startFailure` in its status).
    functions: Table<FunctionSpec>,
    config: DockerProviderConfig,
    secrets: SecretFiles,
    endpoints: Store,
    prober: Prober,
    restarts: restarts::Restarts,
}

impl DockerProvider {
    pub fn new(config: DockerProviderConfig) -> Self {
        DockerProvider { config }
    }
}

impl Provider for DockerProvider {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Docker
    }

    /// Refused here, so that nothing is stored for an image that cannot run.
    async fn prepare(&self, deployment: &FunctionDeployment) -> Result<(), String> {
        validate(deployment)?;
        ensure_image(&deployment.image).await
    }

    /// Connects to the local Docker engine, creates the network when missing and follows the
    /// registry until `shutdown`; containers keep running after it.
    async fn run(
        &self,
        nats: async_nats::Client,
        shutdown: CancellationToken,
    ) -> Result<JoinHandle<()>, ProviderError> {
        let config = self.config.clone();
        let docker = Docker::connect_with_local_defaults()?;
        docker.ping().await?;
        let created = ensure_network(
            &docker,
            NetworkCreateRequest {
                name: config.network.clone(),
                driver: Some("bridge".into()),
                ..Default::default()
            },
        )
        .await?;
        if created {
            tracing::info!(network = %config.network, "created the functions' network");
        }
        let js = jetstream::new(nats);
        let endpoints = buckets::endpoints(&js).await?;
        let functions = buckets::functions(&js).await?;
        let registry = KvCache::start(functions.clone(), shutdown.clone()).await;
        let reconciler = Reconciler {
            functions: Table::new(functions),
            docker,
            secrets: config.secrets.open(&js).await?,
            config,
            endpoints,
            prober: Prober::new(),
            restarts: restarts::Restarts::default(),
        };
        Ok(tokio::spawn(crate::reconcile::follow(
            reconciler, registry, shutdown,
        )))
    }

    async fn logs(&self, request: &LogsRequest) -> Result<BoxStream<'static, Bytes>, LogsError> {
        function_logs(request).await.map_err(LogsError::Failed)
    }
}

/// One managed container as listed.
struct Container {
    id: String,
    function: String,
    spec: String,
    running: bool,
    address: Option<String>,
}

impl Container {
    fn from_summary(summary: ContainerSummary, network: &str) -> Option<Self> {
        let labels = summary.labels.unwrap_or_default();
        let function = labels.get(FUNCTION_LABEL)?;
        let namespace = switchyard_broker::records::split_qualified(function).1;
        let address = summary
            .network_settings
            .and_then(|n| n.networks)
            .and_then(|mut n| n.remove(&spec::namespace_network(network, namespace)))
            .and_then(|e| e.ip_address)
            .filter(|ip| !ip.is_empty());
        Some(Self {
            id: summary.id?,
            function: labels.get(FUNCTION_LABEL)?.clone(),
            spec: labels.get(SPEC_LABEL).cloned().unwrap_or_default(),
            running: summary.state == Some(ContainerSummaryStateEnum::RUNNING),
            address,
        })
    }

    fn replica(&self) -> String {
        format!(
            "{CONTAINER_REPLICA_PREFIX}{}",
            &self.id[..self.id.len().min(12)]
        )
    }
}

impl Reconciler {
    async fn containers(&self) -> Result<Vec<Container>, bollard::errors::Error> {
        let scope = format!("{NETWORK_LABEL}={}", self.config.network);
        let filters = HashMap::from([("label", vec![FUNCTION_LABEL, scope.as_str()])]);
        let options = ListContainersOptionsBuilder::new()
            .all(true)
            .filters(&filters)
            .build();
        Ok(self
            .docker
            .list_containers(Some(options))
            .await?
            .into_iter()
            .filter_map(|c| Container::from_summary(c, &self.config.network))
            .collect())
    }

    /// One round; `Ok(true)` when every wanted replica is ready (nothing is starting).
    async fn round(
        &self,
        desired: &HashMap<String, FunctionSpec>,
    ) -> Result<bool, bollard::errors::Error> {
        let mut by_function: HashMap<String, Vec<Container>> = HashMap::new();
        for container in self.containers().await? {
            by_function
                .entry(container.function.clone())
                .or_default()
                .push(container);
        }
        let mut ready = HashMap::new();
        let mut settled = true;
        for (name, spec) in desired {
            let containers = by_function.remove(name).unwrap_or_default();
            settled &= self
                .reconcile_function(name, spec, containers, &mut ready)
                .await;
        }
        for (name, containers) in by_function {
            tracing::info!(function = %name, containers = containers.len(), "removing the containers of a removed function");
            for container in containers {
                self.remove(&container).await;
            }
        }
        crate::listing::list_exactly(&self.endpoints, CONTAINER_REPLICA_PREFIX, ready).await;
        let needed = desired
            .iter()
            .filter(|(_, spec)| spec.replicas > 0)
            .map(|(name, _)| name.as_str())
            .collect();
        self.secrets.remove_others(&needed);
        Ok(settled)
    }

    /// Brings one function's containers to its spec; records the ready ones in `ready`.
    /// True when all the wanted replicas were ready already.
    async fn reconcile_function(
        &self,
        name: &str,
        spec: &FunctionSpec,
        containers: Vec<Container>,
        ready: &mut HashMap<String, Endpoint>,
    ) -> bool {
        let wanted = spec.replicas as usize;
        let hash = spec_hash(&spec.deployment);
        let (current, old): (Vec<Container>, Vec<Container>) =
            containers.into_iter().partition(|c| c.spec == hash);
        let (mut running, exited): (Vec<Container>, Vec<Container>) =
            current.into_iter().partition(|c| c.running);
        let now = std::time::Instant::now();
        self.restarts.exited(name, exited.len(), now);
        for container in exited {
            tracing::warn!(function = %name, container = %container.replica(), "container exited; replacing it after a backoff");
            self.remove(&container).await;
        }
        while running.len() > wanted {
            if let Some(surplus) = running.pop() {
                self.remove(&surplus).await;
            }
        }
        if self.restarts.may_start(name, now) {
            for _ in running.len()..wanted {
                if let Err(error) = self.create(&spec.deployment).await {
                    // The same backoff as a crash loop: the engine refuses again at once.
                    tracing::warn!(function = %name, %error, "cannot start a container; trying again after a backoff");
                    self.restarts.exited(name, 1, now);
                    self.say_start_failure(name, spec, Some(error)).await;
                    break;
                }
            }
        }
        let mut ready_now = 0;
        for container in &running {
            if let Some(endpoint) = self.ready_endpoint(name, container).await {
                ready.insert(endpoint.key(), endpoint);
                ready_now += 1;
            }
        }
        if ready_now >= wanted {
            self.restarts.settled(name);
            self.say_start_failure(name, spec, None).await;
        }
        // An update: old containers serve until enough new ones are ready.
        let replaced = ready_now >= wanted;
        for container in old {
            if replaced || !container.running {
                self.remove(&container).await;
            } else if let Some(endpoint) = self.ready_endpoint(name, &container).await {
                ready.insert(endpoint.key(), endpoint);
            }
        }
        replaced && running.len() == wanted
    }

    /// Records why `name`'s replicas cannot start (`None`: they run), when that changed.
    async fn say_start_failure(&self, name: &str, spec: &FunctionSpec, failure: Option<String>) {
        if spec.start_failure == failure {
            return;
        }
        let said = self
            .functions
            .modify(name, |current| FunctionSpec {
                start_failure: failure.clone(),
                ..current
            })
            .await;
        if let Err(error) = said {
            tracing::debug!(function = %name, %error, "cannot record the start failure");
        }
    }

    async fn ready_endpoint(&self, function: &str, container: &Container) -> Option<Endpoint> {
        let url = format!("http://{}:{WATCHDOG_PORT}", container.address.as_ref()?);
        self.prober.ready(&url).await.then(|| Endpoint {
            function: function.to_string(),
            replica: container.replica(),
            url,
            heartbeat: Utc::now(),
            token: None,
        })
    }

    async fn create(&self, deployment: &FunctionDeployment) -> Result<(), String> {
        // World-readable files (in a directory only we can enter): the image's user may not be
        // ours.
        let secrets = self.secrets.write(deployment, 0o444).await?;
        self.namespace_network(deployment.namespace()).await?;
        let body = container_body(deployment, &self.config.network, &secrets)?;
        let name = format!(
            "sy-{}-{}",
            deployment.id(),
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        let options = CreateContainerOptionsBuilder::new().name(&name).build();
        let created = self
            .docker
            .create_container(Some(options), body)
            .await
            .map_err(|e| e.to_string())?;
        self.docker
            .start_container(
                &created.id,
                None::<bollard::query_parameters::StartContainerOptions>,
            )
            .await
            .map_err(|e| e.to_string())?;
        tracing::info!(function = %deployment.id(), container = %name, "container started");
        Ok(())
    }

    /// Creates the network of `namespace`'s functions when missing, and connects the
    /// configured peers to it (the default namespace's too: a peer may join only through us).
    async fn namespace_network(&self, namespace: &str) -> Result<(), String> {
        let name = spec::namespace_network(&self.config.network, namespace);
        if namespace == switchyard_broker::records::DEFAULT_NAMESPACE {
            // Made at start.
            attach::connect_peers(&self.docker, &name, &self.config.attach).await;
            return Ok(());
        }
        let created = ensure_network(
            &self.docker,
            NetworkCreateRequest {
                name: name.clone(),
                driver: Some("bridge".into()),
                labels: Some(HashMap::from([(
                    NETWORK_LABEL.to_string(),
                    self.config.network.clone(),
                )])),
                ..Default::default()
            },
        )
        .await
        .map_err(|e| format!("network {name}: {e}"))?;
        if created {
            tracing::info!(network = %name, %namespace, "created a namespace's network");
        }
        attach::connect_peers(&self.docker, &name, &self.config.attach).await;
        Ok(())
    }

    async fn remove(&self, container: &Container) {
        let options = RemoveContainerOptionsBuilder::new().force(true).build();
        if let Err(error) = self
            .docker
            .remove_container(&container.id, Some(options))
            .await
        {
            tracing::warn!(container = %container.replica(), %error, "cannot remove a container");
        }
    }
}

/// A deployment the Docker provider can run: it names an image.
fn validate(deployment: &FunctionDeployment) -> Result<(), String> {
    if deployment.image.trim().is_empty() {
        return Err("image is required with the Docker provider (faas-cli: --image)".to_string());
    }
    container_body(deployment, "check", "/".as_ref()).map(drop)
}

impl crate::reconcile::Reconcile for Reconciler {
    const OBJECTS: &'static str = "function containers";
    const SOON: Duration = RECONCILE_SOON;

    async fn reconcile(
        &self,
        desired: &HashMap<String, FunctionSpec>,
    ) -> Result<bool, bollard::errors::Error> {
        self.round(desired).await
    }
}

/// Creates the network `request` describes unless one of its name exists; true when created.
pub(crate) async fn ensure_network(
    docker: &Docker,
    request: NetworkCreateRequest,
) -> Result<bool, bollard::errors::Error> {
    let exists = docker
        .inspect_network(
            &request.name,
            None::<bollard::query_parameters::InspectNetworkOptions>,
        )
        .await
        .is_ok();
    if !exists {
        docker.create_network(request).await?;
    }
    Ok(!exists)
}
