//! Settings: flags, environment variables, and an optional TOML file, in that order of precedence.
//!
//! The TOML file (`--config FILE` or `SWITCHYARD_CONFIG`) uses the flag names with underscores
//! (`listen = "127.0.0.1:9000"`, `upstream_timeout = "30s"`); each key is turned into its
//! environment variable unless that variable is already set, so a flag still wins over both.

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::{Args, CommandFactory};

mod gateway;
mod jobs;
mod nats;
mod provider;
mod retention;
mod sources;
mod span;

pub use gateway::GatewaySettings;
pub use jobs::JobSettings;
pub use nats::{NatsSettings, DEFAULT_NATS_URL};
pub use provider::ProviderSettings;
pub use retention::RetentionSettings;
pub use sources::SourceSettings;
pub use span::Span;

/// Every setting, grouped by the part that uses it. A group's defaults are the library's own
/// (`GatewayConfig`, `JobsConfig`, `Retention`, `LeaseConfig`), defined once there.
#[derive(Args, Debug, Clone)]
pub struct Settings {
    /// Optional TOML file with any of these settings (keys are the flag names with underscores).
    #[arg(long, env = "SWITCHYARD_CONFIG")]
    pub config: Option<PathBuf>,

    /// Where Switchyard keeps its data (NATS storage, the generated admin password, logs).
    #[arg(long, env = "SWITCHYARD_DATA_DIR", default_value = "./.switchyard")]
    pub data_dir: PathBuf,

    /// Log filter (tracing's EnvFilter syntax, e.g. `info` or `switchyard_dispatcher=debug`).
    /// RUST_LOG, when set, takes precedence.
    #[arg(long, env = "SWITCHYARD_LOG", default_value = "info")]
    pub log: String,

    #[command(flatten)]
    pub nats: NatsSettings,

    #[command(flatten)]
    pub gateway: GatewaySettings,

    #[command(flatten)]
    pub provider: ProviderSettings,

    #[command(flatten)]
    pub jobs: JobSettings,

    #[command(flatten)]
    pub retention: RetentionSettings,

    #[command(flatten)]
    pub sources: SourceSettings,
}

/// Loads the TOML file named by `--config`/`SWITCHYARD_CONFIG` into environment variables.
pub fn apply_config_file(args: &[String]) -> anyhow::Result<()> {
    let from_args = args.iter().enumerate().find_map(|(i, arg)| {
        arg.strip_prefix("--config=")
            .map(str::to_string)
            .or_else(|| {
                (arg == "--config")
                    .then(|| args.get(i + 1).cloned())
                    .flatten()
            })
    });
    let Some(path) = from_args.or_else(|| std::env::var("SWITCHYARD_CONFIG").ok()) else {
        return Ok(());
    };
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read config file {path}"))?;
    let table: toml::Table = text
        .parse()
        .with_context(|| format!("config file {path} is not valid TOML"))?;
    let known = known_variables();
    for (key, value) in table {
        let variable = format!("SWITCHYARD_{}", key.to_ascii_uppercase());
        if !known.contains(&variable) {
            bail!(
                "config file {path}: unknown setting `{key}`; known settings: {}",
                known
                    .iter()
                    .map(|v| v.trim_start_matches("SWITCHYARD_").to_ascii_lowercase())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        let value = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Float(f) => f.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            other => bail!(
                "config file {path}: `{key}` must be a string, number or boolean, not {}",
                other.type_str()
            ),
        };
        if std::env::var_os(&variable).is_none() {
            // SAFETY: called at start-up, before any other thread exists.
            unsafe { std::env::set_var(&variable, value) };
        }
    }
    Ok(())
}

/// The environment variable of every setting.
fn known_variables() -> Vec<String> {
    #[derive(clap::Parser)]
    struct Probe {
        #[command(flatten)]
        settings: Settings,
    }
    Probe::command()
        .get_arguments()
        .filter_map(|arg| arg.get_env())
        .map(|env| env.to_string_lossy().into_owned())
        .filter(|env| env != "SWITCHYARD_CONFIG")
        .collect()
}
