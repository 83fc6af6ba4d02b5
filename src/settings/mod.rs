//! Settings: flags, environment variables, and an optional TOML file, in that order of precedence.
//!
//! The TOML file (`--config FILE` or `SWITCHYARD_CONFIG`) uses the flag names with underscores
//! (`listen = "127.0.0.1:9000"`, `upstream_timeout = "30s"`); each key is turned into its
//! environment variable unless that variable is already set, so a flag still wins over both.

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::{Args, CommandFactory};

mod autoscaler;
mod gateway;
mod jobs;
mod limits;
mod nats;
mod provider;
mod retention;
mod sources;
mod span;

pub use autoscaler::AutoscalerSettings;
pub use gateway::GatewaySettings;
pub use jobs::JobSettings;
pub use limits::LimitSettings;
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

    /// The key that seals function secrets in NATS (32 bytes; created, mode 0600, when missing).
    /// The gateway and the provider need the same file; NATS never holds it.
    /// Default: <data dir>/secrets.key.
    #[arg(long, env = "SWITCHYARD_SECRETS_KEY_FILE")]
    pub secrets_key_file: Option<PathBuf>,

    /// Where the dispatcher, provider and autoscaler, run as their own processes, serve
    /// `/metrics` (unset: nowhere; in `up` the gateway serves every part's metrics).
    #[arg(long, env = "SWITCHYARD_METRICS_LISTEN")]
    pub metrics_listen: Option<std::net::SocketAddr>,

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

    #[command(flatten)]
    pub limits: LimitSettings,

    #[command(flatten)]
    pub autoscaler: AutoscalerSettings,
}

impl Settings {
    /// The secrets key file: the setting, else `<data dir>/secrets.key`.
    pub fn secrets_key_file(&self) -> PathBuf {
        self.secrets_key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("secrets.key"))
    }

    /// Refuses a value outside its range, naming the setting, the value and the range: a zero
    /// ack wait or a year-long timeout would panic or wedge a part later.
    pub fn validate(&self) -> anyhow::Result<()> {
        use std::time::Duration;
        const MS: Duration = Duration::from_millis(1);
        const SECOND: Duration = Duration::from_secs(1);
        const MINUTE: Duration = Duration::from_secs(60);
        const HOUR: Duration = Duration::from_secs(3600);
        const DAY: Duration = Duration::from_secs(24 * 3600);
        #[rustfmt::skip]
        let spans = [
            ("SWITCHYARD_UPSTREAM_TIMEOUT", self.gateway.upstream_timeout, SECOND, DAY),
            ("SWITCHYARD_MAX_DELAY", self.gateway.max_delay, SECOND, 3660 * DAY),
            ("SWITCHYARD_HEADER_TIMEOUT", self.gateway.header_timeout, 100 * MS, HOUR),
            ("SWITCHYARD_BODY_TIMEOUT", self.gateway.body_timeout, 100 * MS, HOUR),
            ("SWITCHYARD_SHUTDOWN_TIMEOUT", self.gateway.shutdown_timeout, 100 * MS, HOUR),
            ("SWITCHYARD_PROVIDER_LEASE_TTL", self.provider.provider_lease_ttl, SECOND, 5 * MINUTE),
            ("SWITCHYARD_ASYNC_TIMEOUT", self.jobs.async_timeout, SECOND, DAY),
            ("SWITCHYARD_SCHEDULE_MISFIRE_AFTER", self.jobs.schedule_misfire_after, SECOND, DAY),
            ("SWITCHYARD_ASYNC_ACK_WAIT", self.jobs.async_ack_wait, 100 * MS, HOUR),
            ("SWITCHYARD_RETRY_MIN_WAIT", self.jobs.retry_min_wait, MS, HOUR),
            ("SWITCHYARD_RETRY_MAX_WAIT", self.jobs.retry_max_wait, MS, HOUR),
            ("SWITCHYARD_CALLBACK_MIN_WAIT", self.jobs.callback_min_wait, MS, HOUR),
            ("SWITCHYARD_CALLBACK_MAX_WAIT", self.jobs.callback_max_wait, MS, HOUR),
            ("SWITCHYARD_DUPLICATE_WINDOW", self.retention.duplicate_window, SECOND, DAY),
            ("SWITCHYARD_JOB_RECORD_TTL", self.retention.job_record_ttl, MINUTE, 365 * DAY),
            ("SWITCHYARD_RESULT_TTL", self.retention.result_ttl, MINUTE, 365 * DAY),
            ("SWITCHYARD_DEAD_LETTER_TTL", self.retention.dead_letter_ttl, MINUTE, 3650 * DAY),
            ("SWITCHYARD_EVENTS_TTL", self.retention.events_ttl, MINUTE, 3650 * DAY),
            ("SWITCHYARD_SCALE_DOWN_WINDOW", self.autoscaler.scale_down_window, SECOND, DAY),
            ("SWITCHYARD_COLD_START_TIMEOUT", self.autoscaler.cold_start_timeout, 100 * MS, HOUR),
            ("SWITCHYARD_AUTOSCALE_INTERVAL", self.autoscaler.autoscale_interval, 100 * MS, MINUTE),
        ];
        for (name, value, min, max) in spans {
            if value.0 < min || value.0 > max {
                bail!(
                    "{name}={value} is out of range: use {} to {}",
                    Span(min),
                    Span(max)
                );
            }
        }
        const MIB: u64 = 1024 * 1024;
        #[rustfmt::skip]
        let counts = [
            ("SWITCHYARD_ASYNC_CONCURRENCY", self.jobs.async_concurrency as u64, 1, 10_000),
            ("SWITCHYARD_RETRY_ATTEMPTS", u64::from(self.jobs.retry_attempts), 1, 1000),
            ("SWITCHYARD_CALLBACK_ATTEMPTS", u64::from(self.jobs.callback_attempts), 1, 1000),
            ("SWITCHYARD_MAX_BODY_BYTES", self.gateway.max_body_bytes as u64, 1, 64 * MIB),
            ("SWITCHYARD_RESULT_MAX_BYTES", self.retention.result_max_bytes as u64, 0, 64 * MIB),
            ("SWITCHYARD_REPLICAS", self.nats.replicas as u64, 1, 5),
            ("SWITCHYARD_EVENT_TYPE_MAX_BYTES", self.limits.event_type_max_bytes as u64, 16, 300),
            ("SWITCHYARD_EVENT_ID_MAX_BYTES", self.limits.event_id_max_bytes as u64, 16, 4096),
            ("SWITCHYARD_EVENT_SOURCE_MAX_BYTES", self.limits.event_source_max_bytes as u64, 16, 8192),
            ("SWITCHYARD_EVENT_SUBJECT_MAX_BYTES", self.limits.event_subject_max_bytes as u64, 16, 8192),
            ("SWITCHYARD_EVENT_EXTENSIONS_MAX", self.limits.event_extensions_max as u64, 0, 128),
            ("SWITCHYARD_EVENT_EXTENSION_MAX_BYTES", self.limits.event_extension_max_bytes as u64, 16, 8192),
            ("SWITCHYARD_BATCH_MAX_EVENTS", self.limits.batch_max_events as u64, 1, 10_000),
            ("SWITCHYARD_MAX_HEADERS", self.limits.max_headers as u64, 16, 1000),
            ("SWITCHYARD_MAX_HEADER_BYTES", self.limits.max_header_bytes as u64, 8 * 1024, MIB),
            ("SWITCHYARD_MAX_QUERY_BYTES", self.limits.max_query_bytes as u64, 0, 64 * 1024),
        ];
        for (name, value, min, max) in counts {
            if !(min..=max).contains(&value) {
                bail!("{name}={value} is out of range: use {min} to {max}");
            }
        }
        Ok(())
    }
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
