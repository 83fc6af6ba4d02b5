//! What runs functions.

use clap::Args;
use switchyard_providers::lease::LeaseConfig;
use switchyard_providers::ProviderKind;

use super::Span;

#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Provider")]
pub struct ProviderSettings {
    /// What runs functions: `process` (local watchdog processes), `docker` (containers of
    /// each function's image on the local Docker engine) or `swarm` (services of each
    /// function's image across the Docker Swarm the local engine manages).
    #[arg(long, env = "SWITCHYARD_PROVIDER", default_value = "process")]
    pub provider: ProviderKind,

    /// How long the active provider's lease lasts without renewal: a standby provider takes
    /// over this long after the active one died (seconds, or a Go duration).
    #[arg(long, env = "SWITCHYARD_PROVIDER_LEASE_TTL", default_value_t = Span(LeaseConfig::default().ttl))]
    pub provider_lease_ttl: Span,

    /// With the Docker provider: the bridge network function containers join (created when
    /// missing; the dispatchers must reach its addresses).
    #[arg(long, env = "SWITCHYARD_DOCKER_NETWORK", default_value = switchyard_providers::docker::DEFAULT_NETWORK)]
    pub docker_network: String,

    /// With the Swarm provider: the overlay network function services join (created,
    /// attachable, when missing). Each replica also publishes its watchdog's port on its node,
    /// where the dispatchers reach it.
    #[arg(long, env = "SWITCHYARD_SWARM_NETWORK", default_value = switchyard_providers::swarm::DEFAULT_NETWORK)]
    pub swarm_network: String,
}

impl ProviderSettings {
    pub fn lease(&self) -> LeaseConfig {
        LeaseConfig {
            ttl: self.provider_lease_ttl.0,
        }
    }
}
