//! Function providers: what actually runs a function's replicas.
//!
//! A provider follows the function registry (KV bucket `sy_functions`) and makes reality match
//! it: it starts, scales, restarts and stops replicas, and publishes each ready replica in the
//! endpoint directory (KV bucket `sy_endpoints`), where dispatchers find it. The HTTP API only
//! writes the registry, so any gateway can serve it while one provider runs the functions.

pub mod docker;
pub mod process;

use std::str::FromStr;

use switchyard_broker::records::FunctionDeployment;

/// Which provider runs functions (`SWITCHYARD_PROVIDER`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderKind {
    /// Local watchdog processes (the default).
    Process,
    /// Containers on the local Docker engine.
    Docker,
}

impl ProviderKind {
    pub fn name(self) -> &'static str {
        match self {
            ProviderKind::Process => "process",
            ProviderKind::Docker => "docker",
        }
    }

    /// Checks that a deployment has what this provider needs, with a message saying what is
    /// missing.
    pub fn validate(self, deployment: &FunctionDeployment) -> Result<(), String> {
        match self {
            ProviderKind::Process => process::validate(deployment),
            ProviderKind::Docker => docker::validate(deployment),
        }
    }
}

/// A provider name that is not one of ours.
#[derive(Debug, thiserror::Error)]
#[error("unknown provider `{0}`: the providers are `process` and `docker`")]
pub struct UnknownProvider(String);

impl FromStr for ProviderKind {
    type Err = UnknownProvider;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "process" => Ok(ProviderKind::Process),
            "docker" => Ok(ProviderKind::Docker),
            other => Err(UnknownProvider(other.to_string())),
        }
    }
}
