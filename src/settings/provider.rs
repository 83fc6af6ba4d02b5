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

    /// With the Docker provider: containers (names or ids, or `label=<key>=<value>` for every
    /// container with that label; comma-separated) to connect to each namespace's network
    /// (`<network>-<namespace>`; functions of different namespaces cannot reach each other):
    /// the dispatchers, the provider and a Prometheus, when they run in containers.
    #[arg(long, env = "SWITCHYARD_DOCKER_ATTACH", default_value = "", value_parser = names)]
    pub docker_attach: Names,

    /// With the Swarm provider: the overlay network function services join (created,
    /// attachable, when missing). Each replica also publishes its watchdog's port on its node,
    /// where the dispatchers reach it.
    #[arg(long, env = "SWITCHYARD_SWARM_NETWORK", default_value = switchyard_providers::swarm::DEFAULT_NETWORK)]
    pub swarm_network: String,

    /// With the process provider: further paths every function may read (besides the system's
    /// programs and libraries and its own secrets), separated by `:`. Replicas are sandboxed
    /// by Landlock: they read nothing else, Switchyard's data directory included.
    #[arg(long, env = "SWITCHYARD_FUNCTION_READ_PATHS", default_value = "", value_parser = paths)]
    pub function_read_paths: Paths,

    /// With the process provider: further paths every function may write (besides its own
    /// scratch directory, its `TMPDIR` and `HOME`), separated by `:`.
    #[arg(long, env = "SWITCHYARD_FUNCTION_WRITE_PATHS", default_value = "", value_parser = paths)]
    pub function_write_paths: Paths,

    /// With the process provider on a kernel without Landlock, where replicas cannot be
    /// isolated: `allow` runs functions of every organization anyway (default: only the
    /// `default` organization's, which are the operators' own).
    #[arg(long, env = "SWITCHYARD_UNISOLATED_FUNCTIONS", default_value = "refuse", value_parser = ["refuse", "allow"])]
    pub unisolated_functions: String,
}

/// A comma-separated list of names.
#[derive(Debug, Clone, Default)]
pub struct Names(pub Vec<String>);

fn names(text: &str) -> Result<Names, String> {
    Ok(Names(
        text.split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_string)
            .collect(),
    ))
}

/// A `:`-separated list of paths.
#[derive(Debug, Clone, Default)]
pub struct Paths(pub Vec<std::path::PathBuf>);

fn paths(text: &str) -> Result<Paths, String> {
    Ok(Paths(
        text.split(':')
            .filter(|p| !p.trim().is_empty())
            .map(std::path::PathBuf::from)
            .collect(),
    ))
}

impl ProviderSettings {
    /// How the process provider isolates replicas; each gets a directory below `scratch_dir`.
    pub fn process_isolation(
        &self,
        scratch_dir: std::path::PathBuf,
    ) -> switchyard_providers::process::ProcessIsolation {
        switchyard_providers::process::ProcessIsolation {
            scratch_dir,
            read_paths: self.function_read_paths.0.clone(),
            write_paths: self.function_write_paths.0.clone(),
            allow_unisolated: self.unisolated_functions == "allow",
        }
    }

    pub fn lease(&self) -> LeaseConfig {
        LeaseConfig {
            ttl: self.provider_lease_ttl.0,
        }
    }
}
