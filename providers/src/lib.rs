//! Switchyard's function providers: what runs a function's replicas.
//!
//! A provider follows the function registry (KV bucket `sy_functions`) and makes reality match
//! it: it starts, scales, restarts and stops replicas, and lists each ready replica in the
//! endpoint directory (KV bucket `sy_endpoints`), where dispatchers find it. The gateway never
//! runs anything: it asks the active provider to validate and prepare a deployment over NATS
//! ([`switchyard_broker::provider`]) before it writes the registry.
//!
//! - [`Provider`]: the trait every back end implements; [`process`] (local watchdog
//!   processes, the default), [`docker`] (containers on the local engine) and [`swarm`]
//!   (services across a Docker Swarm).
//! - [`external`]: functions whose replicas are existing HTTP endpoints (annotation
//!   `com.switchyard.endpoint`), e.g. a function on an OpenFaaS gateway; their endpoints are
//!   probed and listed like any replica, whatever the back end.
//! - [`secrets`]: a function's secrets opened and written as files for its replicas.
//! - [`lease`]: exactly one provider is active per NATS; others wait as standbys and take over
//!   when the active one's lease lapses.
//! - [`service`]: the provider part: wait for the lease, answer the gateway's requests, run
//!   the back end and the external endpoints until shutdown; stand by again if the lease is
//!   lost.
//!
//! ```no_run
//! # async fn run(nats: async_nats::Client) -> Result<(), switchyard_providers::ProviderError> {
//! use switchyard_providers::process::{ProcessProvider, ProcessProviderConfig};
//! use switchyard_providers::secrets::SecretsConfig;
//! let provider = ProcessProvider::new(ProcessProviderConfig {
//!     watchdog_command: vec!["switchyard".into(), "watchdog".into()],
//!     secrets: SecretsConfig {
//!         key_file: "data/secrets.key".into(),
//!         dir: "data/function-secrets".into(),
//!     },
//!     isolation: Default::default(),
//! })?;
//! let shutdown = tokio_util::sync::CancellationToken::new();
//! let outbound = Default::default(); // where external endpoints may be: the callbacks' policy
//! switchyard_providers::service::run(provider, nats, Default::default(), outbound, shutdown).await?;
//! # Ok(()) }
//! ```

pub mod docker;
pub mod external;
pub mod lease;
mod listing;
mod probe;
pub mod process;
mod reconcile;
pub mod secrets;
pub mod service;
pub mod swarm;

use std::future::Future;
use std::str::FromStr;

use bytes::Bytes;
use futures::stream::BoxStream;
use switchyard_broker::buckets::BucketError;
use switchyard_broker::provider::LogsRequest;
use switchyard_broker::records::FunctionDeployment;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// A back end that runs function replicas.
pub trait Provider: Send + Sync + 'static {
    /// Which back end this is.
    fn kind(&self) -> ProviderKind;

    /// Checks that a deployment has what this back end needs and gets it ready (an image
    /// pulled), or says what is wrong, for the API's 400.
    fn prepare(
        &self,
        deployment: &FunctionDeployment,
    ) -> impl Future<Output = Result<(), String>> + Send;

    /// Starts following the registry: replicas of every function that is not external, each
    /// listed in the endpoint directory while ready. Runs until `shutdown`.
    fn run(
        &self,
        nats: async_nats::Client,
        shutdown: CancellationToken,
    ) -> impl Future<Output = Result<JoinHandle<()>, ProviderError>> + Send;

    /// A function's log lines as OpenFaaS's NDJSON.
    fn logs(
        &self,
        request: &LogsRequest,
    ) -> impl Future<Output = Result<BoxStream<'static, Bytes>, LogsError>> + Send;
}

/// The functions a back end runs: every registered one that is not external.
pub(crate) fn functions_to_run(
    registry: &switchyard_broker::cache::KvCache<switchyard_broker::records::FunctionSpec>,
) -> std::collections::HashMap<String, switchyard_broker::records::FunctionSpec> {
    registry.read(|map| {
        map.iter()
            .filter(|(_, spec)| !spec.is_external())
            .map(|(name, spec)| (name.clone(), spec.clone()))
            .collect()
    })
}

/// Why logs cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum LogsError {
    /// This back end keeps no logs of its own.
    #[error("{0}")]
    NotSupported(String),
    #[error("{0}")]
    Failed(String),
}

/// Why a provider could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error(transparent)]
    Bucket(#[from] BucketError),
    #[error("cannot use the Docker engine: {0}")]
    Docker(#[from] bollard::errors::Error),
    #[error("the Docker engine is not a Swarm manager (run `docker swarm init`, or join this node to a Swarm as a manager): {0}")]
    NotSwarmManager(String),
    #[error("the watchdog command is empty")]
    NoWatchdog,
    #[error("cannot prepare where process replicas run: {0}")]
    Runtime(String),
    #[error("cannot answer the gateway's requests: {0}")]
    Subscribe(#[from] async_nats::SubscribeError),
    #[error(transparent)]
    Secrets(#[from] switchyard_broker::secrets::SecretError),
}

/// Which back end runs functions (`SWITCHYARD_PROVIDER`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderKind {
    /// Local watchdog processes (the default).
    Process,
    /// Containers on the local Docker engine.
    Docker,
    /// Services on the Docker Swarm the local engine manages.
    Swarm,
}

impl ProviderKind {
    pub fn name(self) -> &'static str {
        match self {
            ProviderKind::Process => "process",
            ProviderKind::Docker => "docker",
            ProviderKind::Swarm => "swarm",
        }
    }
}

/// A provider name that is not one of ours.
#[derive(Debug, thiserror::Error)]
#[error("unknown provider `{0}`: the providers are `process`, `docker` and `swarm`")]
pub struct UnknownProvider(String);

impl FromStr for ProviderKind {
    type Err = UnknownProvider;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "process" => Ok(ProviderKind::Process),
            "docker" => Ok(ProviderKind::Docker),
            "swarm" => Ok(ProviderKind::Swarm),
            other => Err(UnknownProvider(other.to_string())),
        }
    }
}
