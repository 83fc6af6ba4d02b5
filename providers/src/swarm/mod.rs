//! The Docker Swarm provider: each function is a Swarm service of its image (replicas, rolling
//! updates started before the old task stops, limits, placement constraints, secrets as Swarm
//! secrets) attached to an overlay network of its namespace (`<network>-<namespace>`; the
//! default namespace's is `<network>`), so that functions spread over every node of the Swarm
//! and namespaces' tasks cannot reach each other on it. The provider talks to a manager node's
//! engine (the local one).
//!
//! Every two seconds, and whenever the registry changes, it makes the services labelled
//! [`FUNCTION_LABEL`] (on its network, [`NETWORK_LABEL`]) match the registry: a missing service
//! is created, one whose deployment changed is updated (Swarm rolls it), one whose replica count
//! changed is scaled, one of a removed function is removed. Replicas are Swarm's running
//! tasks: each publishes the watchdog's port on its node (host mode, a port Swarm picks), and
//! each whose watchdog answers `/_/health` at `<node address>:<port>` is listed in
//! `sy_endpoints` as `<function>.s<task id>`, with the token its watchdog asks of every call
//! (a published port is reachable from any container on the node; the token is new with each
//! task specification and kept in it). Services are never removed on shutdown: a
//! restarted provider adopts them by their labels.

pub mod secrets;
pub mod spec;
pub mod tasks;

use std::collections::HashMap;
use std::time::Duration;

use async_nats::jetstream::{self, kv::Store};
use bollard::models::{NetworkCreateRequest, Service, TaskState};
use bollard::query_parameters::{
    ListNodesOptions, ListServicesOptionsBuilder, ListTasksOptionsBuilder,
    UpdateServiceOptionsBuilder,
};
use bollard::Docker;
use bytes::Bytes;
use chrono::Utc;
use futures::stream::BoxStream;
use switchyard_broker::buckets;
use switchyard_broker::cache::KvCache;
use switchyard_broker::provider::LogsRequest;
use switchyard_broker::records::{Endpoint, FunctionDeployment, FunctionSpec};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::docker::spec::{
    namespace_network, spec_hash, FUNCTION_LABEL, NETWORK_LABEL, SPEC_LABEL,
};
use crate::docker::{ensure_image, function_logs};
use crate::probe::Prober;
use crate::secrets::{SecretFiles, SecretsConfig};
use crate::{listing, LogsError, Provider, ProviderError, ProviderKind};
use spec::{replica_token_of, replicas_of, service_spec, with_replicas};
use tasks::TASK_REPLICA_PREFIX;

/// How soon they are checked again while replicas are starting (so a new one is listed
/// quickly).
const RECONCILE_SOON: Duration = Duration::from_millis(200);

/// The overlay network function services join unless configured.
pub const DEFAULT_NETWORK: &str = "switchyard-swarm";

/// Swarm provider settings.
#[derive(Debug, Clone)]
pub struct SwarmProviderConfig {
    /// The overlay network services join (created, attachable, when missing).
    pub network: String,
    /// Where function secrets are opened from (the files are not used: Swarm mounts its own
    /// secrets at `/var/openfaas/secrets/<name>`).
    pub secrets: SecretsConfig,
}

/// The Swarm back end.
pub struct SwarmProvider {
    config: SwarmProviderConfig,
}

impl SwarmProvider {
    pub fn new(config: SwarmProviderConfig) -> Self {
        SwarmProvider { config }
    }
}

impl Provider for SwarmProvider {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Swarm
    }

    /// Refused here, so that nothing is stored for an image that cannot run. The image must
    /// be on this manager (or pullable); other nodes pull it from its registry.
    async fn prepare(&self, deployment: &FunctionDeployment) -> Result<(), String> {
        if deployment.image.trim().is_empty() {
            return Err("image is required with the Swarm provider (faas-cli: --image)".into());
        }
        service_spec(deployment, 1, &self.config.network, &[], "")?;
        ensure_image(&deployment.image).await
    }

    /// Connects to the local engine, which must be a Swarm manager, creates the overlay
    /// network when missing and follows the registry until `shutdown`; services keep running
    /// after it.
    async fn run(
        &self,
        nats: async_nats::Client,
        shutdown: CancellationToken,
    ) -> Result<JoinHandle<()>, ProviderError> {
        let config = self.config.clone();
        let docker = Docker::connect_with_local_defaults()?;
        docker
            .inspect_swarm()
            .await
            .map_err(|e| ProviderError::NotSwarmManager(e.to_string()))?;
        let created =
            crate::docker::ensure_network(&docker, overlay(&config.network, &config.network))
                .await?;
        if created {
            tracing::info!(network = %config.network, "created the functions' overlay network");
        }
        let js = jetstream::new(nats);
        let endpoints = buckets::endpoints(&js).await?;
        let registry = KvCache::start(buckets::functions(&js).await?, shutdown.clone()).await;
        let reconciler = Reconciler {
            docker,
            secrets: config.secrets.open(&js).await?,
            network: config.network,
            endpoints,
            prober: Prober::new(),
        };
        Ok(tokio::spawn(crate::reconcile::follow(
            reconciler, registry, shutdown,
        )))
    }

    /// The log lines of the function's tasks on this node.
    async fn logs(&self, request: &LogsRequest) -> Result<BoxStream<'static, Bytes>, LogsError> {
        function_logs(request).await.map_err(LogsError::Failed)
    }
}

/// An attachable overlay named `name`, labelled as the provider's on `network`.
fn overlay(name: &str, network: &str) -> NetworkCreateRequest {
    NetworkCreateRequest {
        name: name.to_string(),
        driver: Some("overlay".into()),
        attachable: Some(true),
        labels: Some(HashMap::from([(
            NETWORK_LABEL.to_string(),
            network.to_string(),
        )])),
        ..Default::default()
    }
}

/// A fresh token for a service's tasks: a new one with every new task specification.
fn new_replica_token() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

struct Reconciler {
    docker: Docker,
    secrets: SecretFiles,
    network: String,
    endpoints: Store,
    prober: Prober,
}

impl Reconciler {
    /// This provider's services, by function id.
    async fn services(&self) -> Result<HashMap<String, Service>, bollard::errors::Error> {
        let scope = format!("{NETWORK_LABEL}={}", self.network);
        let filters = HashMap::from([("label", vec![FUNCTION_LABEL, scope.as_str()])]);
        let options = ListServicesOptionsBuilder::new().filters(&filters).build();
        Ok(self
            .docker
            .list_services(Some(options))
            .await?
            .into_iter()
            .filter_map(|service| {
                let labels = service.spec.as_ref()?.labels.as_ref()?;
                Some((labels.get(FUNCTION_LABEL)?.clone(), service))
            })
            .collect())
    }

    /// One round; `Ok(true)` when every function has its replicas ready.
    async fn round(
        &self,
        desired: &HashMap<String, FunctionSpec>,
    ) -> Result<bool, bollard::errors::Error> {
        let mut services = self.services().await?;
        let mut changed = false;
        for (id, spec) in desired {
            let outcome = match services.get(id) {
                None => self.create(spec).await,
                Some(service) => self.update(service, spec).await,
            };
            match outcome {
                Ok(did_change) => changed |= did_change,
                Err(error) => {
                    tracing::warn!(function = %id, %error, "cannot bring the service to its deployment")
                }
            }
        }
        let removed: Vec<String> = services
            .keys()
            .filter(|id| !desired.contains_key(*id))
            .cloned()
            .collect();
        for id in removed {
            if let Some(service) = services.remove(&id) {
                self.remove(&id, &service).await;
                changed = true;
            }
        }
        if changed {
            services = self.services().await?;
        }
        let services: Vec<Service> = services.into_values().collect();
        secrets::prune(&self.docker, &self.network, &services).await;
        let (ready, settled) = self.ready_replicas(&services, desired).await?;
        listing::list_exactly(&self.endpoints, TASK_REPLICA_PREFIX, ready).await;
        Ok(settled && !changed)
    }

    /// Creates the service of a function that has none. True when created.
    async fn create(&self, spec: &FunctionSpec) -> Result<bool, String> {
        let deployment = &spec.deployment;
        let secrets =
            secrets::ensure(&self.docker, &self.secrets, deployment, &self.network).await?;
        self.namespace_network(deployment.namespace()).await?;
        let service = service_spec(
            deployment,
            spec.replicas,
            &self.network,
            &secrets,
            &new_replica_token(),
        )?;
        self.docker
            .create_service(service, None)
            .await
            .map_err(|e| e.to_string())?;
        tracing::info!(function = %deployment.id(), replicas = spec.replicas, "service created");
        Ok(true)
    }

    /// Updates a service whose deployment changed (Swarm rolls its tasks) or scales one whose
    /// replica count did. True when it changed anything.
    async fn update(&self, service: &Service, spec: &FunctionSpec) -> Result<bool, String> {
        let deployment = &spec.deployment;
        let current = service.spec.clone().unwrap_or_default();
        let deployed_hash = current
            .labels
            .as_ref()
            .and_then(|l| l.get(SPEC_LABEL))
            .cloned()
            .unwrap_or_default();
        let new_spec = if deployed_hash != spec_hash(deployment) {
            let secrets =
                secrets::ensure(&self.docker, &self.secrets, deployment, &self.network).await?;
            self.namespace_network(deployment.namespace()).await?;
            tracing::info!(function = %deployment.id(), "deployment changed: rolling the service's tasks");
            service_spec(
                deployment,
                spec.replicas,
                &self.network,
                &secrets,
                &new_replica_token(),
            )?
        } else if replicas_of(&current) != spec.replicas {
            tracing::info!(function = %deployment.id(), from = replicas_of(&current), to = spec.replicas, "scaling the service");
            with_replicas(current, spec.replicas)
        } else {
            return Ok(false);
        };
        let version = service
            .version
            .as_ref()
            .and_then(|v| v.index)
            .and_then(|i| i32::try_from(i).ok())
            .ok_or("the service has no version to update")?;
        let id = service.id.as_deref().ok_or("the service has no id")?;
        let options = UpdateServiceOptionsBuilder::new().version(version).build();
        self.docker
            .update_service(id, new_spec, options, None)
            .await
            .map_err(|e| e.to_string())?;
        Ok(true)
    }

    /// Creates the overlay of `namespace`'s functions when missing (the default namespace's
    /// is made at start).
    async fn namespace_network(&self, namespace: &str) -> Result<(), String> {
        let name = namespace_network(&self.network, namespace);
        let created = crate::docker::ensure_network(&self.docker, overlay(&name, &self.network))
            .await
            .map_err(|e| format!("network {name}: {e}"))?;
        if created {
            tracing::info!(network = %name, %namespace, "created a namespace's overlay network");
        }
        Ok(())
    }

    async fn remove(&self, function: &str, service: &Service) {
        let Some(id) = service.id.as_deref() else {
            return;
        };
        match self.docker.delete_service(id).await {
            Ok(()) => tracing::info!(%function, "removed the service of a removed function"),
            Err(error) => tracing::warn!(%function, %error, "cannot remove a service"),
        }
    }

    /// The ready replicas of `services`, and whether every desired function has as many as it
    /// wants.
    async fn ready_replicas(
        &self,
        services: &[Service],
        desired: &HashMap<String, FunctionSpec>,
    ) -> Result<(HashMap<String, Endpoint>, bool), bollard::errors::Error> {
        let functions: HashMap<&str, &str> = services
            .iter()
            .filter_map(|s| {
                let function = s.spec.as_ref()?.labels.as_ref()?.get(FUNCTION_LABEL)?;
                Some((s.id.as_deref()?, function.as_str()))
            })
            .collect();
        let running = TaskState::RUNNING.to_string();
        let filters = HashMap::from([("desired-state", vec![running.as_str()])]);
        let options = ListTasksOptionsBuilder::new().filters(&filters).build();
        let all_tasks = self.docker.list_tasks(Some(options)).await?;
        let nodes = tasks::node_addresses(self.docker.list_nodes(None::<ListNodesOptions>).await?);
        let mut ready = HashMap::new();
        let mut ready_count: HashMap<&str, u32> = HashMap::new();
        for task in &all_tasks {
            let Some(replica) = tasks::replica(task, &nodes) else {
                continue;
            };
            let Some(function) = functions.get(replica.service_id.as_str()) else {
                continue;
            };
            let token = task.spec.as_ref().and_then(replica_token_of);
            if self.prober.ready_with(&replica.url, token).await {
                *ready_count.entry(function).or_default() += 1;
                let endpoint = Endpoint {
                    function: function.to_string(),
                    replica: replica.replica,
                    url: replica.url,
                    heartbeat: Utc::now(),
                    token: token.map(str::to_string),
                };
                ready.insert(endpoint.key(), endpoint);
            }
        }
        let settled = desired
            .iter()
            .all(|(id, spec)| ready_count.get(id.as_str()).copied().unwrap_or(0) == spec.replicas);
        Ok((ready, settled))
    }
}

impl crate::reconcile::Reconcile for Reconciler {
    const OBJECTS: &'static str = "function services";
    const SOON: Duration = RECONCILE_SOON;

    async fn reconcile(
        &self,
        desired: &HashMap<String, FunctionSpec>,
    ) -> Result<bool, bollard::errors::Error> {
        self.round(desired).await
    }
}
