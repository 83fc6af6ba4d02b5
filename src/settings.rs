//! Settings: flags, environment variables, and an optional TOML file, in that order of precedence.
//!
//! The TOML file (`--config FILE` or `SWITCHYARD_CONFIG`) uses the flag names with underscores
//! (`listen = "127.0.0.1:9000"`, `upstream_timeout = "30s"`); each key is turned into its
//! environment variable unless that variable is already set, so a flag still wins over both.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Args, CommandFactory};
use switchyard_broker::backoff::Backoff;
use switchyard_broker::streams::Retention;
use switchyard_dispatcher::JobsConfig;
use switchyard_providers::ProviderKind;

/// Settings shared by `up`, `gateway` and `dispatcher`.
#[derive(Args, Debug, Clone)]
pub struct Settings {
    /// Optional TOML file with any of these settings (keys are the flag names with underscores).
    #[arg(long, env = "SWITCHYARD_CONFIG")]
    pub config: Option<PathBuf>,

    /// Gateway listen address. Beyond loopback only with SWITCHYARD_ADMIN_PASSWORD set.
    #[arg(long, env = "SWITCHYARD_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Where `switchyard source webhook` listens (in `up` and `gateway` the ingester shares the
    /// gateway's port).
    #[arg(
        long,
        env = "SWITCHYARD_WEBHOOK_LISTEN",
        default_value = "127.0.0.1:8081"
    )]
    pub webhook_listen: SocketAddr,

    /// Replicas of every Switchyard stream and bucket. Above 1 on a NATS cluster, Switchyard
    /// keeps working when a NATS node is lost (3 for a three-node cluster).
    #[arg(long, env = "SWITCHYARD_REPLICAS", default_value_t = 1)]
    pub replicas: usize,

    /// With the Docker provider: the bridge network function containers join (created when
    /// missing; the dispatchers must reach its addresses).
    #[arg(long, env = "SWITCHYARD_DOCKER_NETWORK", default_value = "switchyard")]
    pub docker_network: String,

    /// Where `switchyard source vcenter` serves `GET /metrics` (in `up` the pollers' metrics
    /// are on the gateway's `/metrics`).
    #[arg(
        long,
        env = "SWITCHYARD_SOURCE_METRICS_LISTEN",
        default_value = "127.0.0.1:8082"
    )]
    pub source_metrics_listen: SocketAddr,

    /// NATS server to use. `up` starts its own when this is unset; `gateway` and `dispatcher`
    /// default to nats://127.0.0.1:4222.
    #[arg(long, env = "SWITCHYARD_NATS_URL")]
    pub nats_url: Option<String>,

    /// Where Switchyard keeps its data (NATS storage, the generated admin password, logs).
    #[arg(long, env = "SWITCHYARD_DATA_DIR", default_value = "./.switchyard")]
    pub data_dir: PathBuf,

    /// User name for basic auth on /system/*.
    #[arg(long, env = "SWITCHYARD_ADMIN_USER", default_value = "admin")]
    pub admin_user: String,

    /// Password for basic auth on /system/*. When unset, one is generated and stored in
    /// <data dir>/admin-password.
    #[arg(long, env = "SWITCHYARD_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<String>,

    /// What runs functions: `process` (local watchdog processes) or `docker` (containers of
    /// each function's image on the local Docker engine).
    #[arg(long, env = "SWITCHYARD_PROVIDER", default_value = "process")]
    pub provider: ProviderKind,

    /// How long the active provider's lease lasts without renewal: a standby provider takes
    /// over this long after the active one died (seconds, or a Go duration).
    #[arg(long, env = "SWITCHYARD_PROVIDER_LEASE_TTL", default_value = "5s", value_parser = duration)]
    pub provider_lease_ttl: Duration,

    /// Largest invoke request body in bytes (413 above). Never more than the NATS server's max
    /// payload less 64 KiB for headers.
    #[arg(long, env = "SWITCHYARD_MAX_BODY_BYTES", default_value_t = 4 * 1024 * 1024)]
    pub max_body_bytes: usize,

    /// How long a synchronous call may take before the caller gets 504 (seconds, or a Go
    /// duration such as 1m30s).
    #[arg(long, env = "SWITCHYARD_UPSTREAM_TIMEOUT", default_value = "60s", value_parser = duration)]
    pub upstream_timeout: Duration,

    /// The nats-server program `up` starts when SWITCHYARD_NATS_URL is unset.
    #[arg(
        long,
        env = "SWITCHYARD_NATS_SERVER_BIN",
        default_value = "nats-server"
    )]
    pub nats_server_bin: PathBuf,

    /// Where the NATS server started by `up` listens (always loopback unless you say otherwise).
    #[arg(long, env = "SWITCHYARD_NATS_LISTEN", default_value = "127.0.0.1:4222")]
    pub nats_listen: SocketAddr,

    /// Asynchronous jobs of one function run at once per dispatcher (annotation
    /// `com.switchyard.async.concurrency` overrides).
    #[arg(long, env = "SWITCHYARD_ASYNC_CONCURRENCY", default_value_t = 32)]
    pub async_concurrency: usize,

    /// How long an asynchronous job may run (annotation `com.switchyard.async.timeout` overrides).
    #[arg(long, env = "SWITCHYARD_ASYNC_TIMEOUT", default_value = "5m", value_parser = duration)]
    pub async_timeout: Duration,

    /// Ack wait of the job consumers: a dispatcher that dies holding a job gives it back after
    /// this. Running jobs send progress acks, so long jobs are not affected.
    #[arg(long, env = "SWITCHYARD_ASYNC_ACK_WAIT", default_value = "30s", value_parser = duration)]
    pub async_ack_wait: Duration,

    /// Attempts per asynchronous job, the first included (annotation
    /// `com.openfaas.retry.attempts` overrides).
    #[arg(long, env = "SWITCHYARD_RETRY_ATTEMPTS", default_value_t = 3)]
    pub retry_attempts: u32,

    /// Shortest wait between job attempts (annotation `com.openfaas.retry.min_wait` overrides).
    #[arg(long, env = "SWITCHYARD_RETRY_MIN_WAIT", default_value = "500ms", value_parser = duration)]
    pub retry_min_wait: Duration,

    /// Longest wait between job attempts (annotation `com.openfaas.retry.max_wait` overrides).
    #[arg(long, env = "SWITCHYARD_RETRY_MAX_WAIT", default_value = "30s", value_parser = duration)]
    pub retry_max_wait: Duration,

    /// Attempts to deliver a callback.
    #[arg(long, env = "SWITCHYARD_CALLBACK_ATTEMPTS", default_value_t = 10)]
    pub callback_attempts: u32,

    /// Shortest wait between callback attempts.
    #[arg(long, env = "SWITCHYARD_CALLBACK_MIN_WAIT", default_value = "500ms", value_parser = duration)]
    pub callback_min_wait: Duration,

    /// Longest wait between callback attempts.
    #[arg(long, env = "SWITCHYARD_CALLBACK_MAX_WAIT", default_value = "30s", value_parser = duration)]
    pub callback_max_wait: Duration,

    /// A retried intake with the same X-Call-Id within this window is the same job.
    #[arg(long, env = "SWITCHYARD_DUPLICATE_WINDOW", default_value = "10m", value_parser = duration)]
    pub duplicate_window: Duration,

    /// How long job records are kept.
    #[arg(long, env = "SWITCHYARD_JOB_RECORD_TTL", default_value = "24h", value_parser = duration)]
    pub job_record_ttl: Duration,

    /// How long job results are kept.
    #[arg(long, env = "SWITCHYARD_RESULT_TTL", default_value = "1h", value_parser = duration)]
    pub result_ttl: Duration,

    /// Largest job result stored, in bytes; larger results are not stored.
    #[arg(long, env = "SWITCHYARD_RESULT_MAX_BYTES", default_value_t = 1024 * 1024)]
    pub result_max_bytes: usize,

    /// How long dead letters are kept in SY_DEAD.
    #[arg(long, env = "SWITCHYARD_DEAD_LETTER_TTL", default_value = "168h", value_parser = duration)]
    pub dead_letter_ttl: Duration,

    /// How long SY_EVENTS keeps events for replay.
    #[arg(long, env = "SWITCHYARD_EVENTS_TTL", default_value = "168h", value_parser = duration)]
    pub events_ttl: Duration,

    /// Most bytes SY_EVENTS keeps (the oldest events go first); 0 = no limit.
    #[arg(long, env = "SWITCHYARD_EVENTS_MAX_BYTES", default_value_t = 1024 * 1024 * 1024)]
    pub events_max_bytes: i64,

    /// Log filter (tracing's EnvFilter syntax, e.g. `info` or `switchyard_dispatcher=debug`).
    /// RUST_LOG, when set, takes precedence.
    #[arg(long, env = "SWITCHYARD_LOG", default_value = "info")]
    pub log: String,
}

impl Settings {
    /// Retention of asynchronous-job data.
    pub fn retention(&self) -> Retention {
        Retention {
            duplicate_window: self.duplicate_window,
            record_ttl: self.job_record_ttl,
            result_ttl: self.result_ttl,
            result_max_bytes: self.result_max_bytes,
            dead_ttl: self.dead_letter_ttl,
            events_ttl: self.events_ttl,
            events_max_bytes: self.events_max_bytes,
        }
    }

    /// The asynchronous worker's settings.
    pub fn jobs(&self) -> JobsConfig {
        JobsConfig {
            concurrency: self.async_concurrency.max(1),
            timeout: self.async_timeout,
            ack_wait: self.async_ack_wait,
            attempts: self.retry_attempts.max(1),
            backoff: Backoff {
                min: self.retry_min_wait,
                max: self.retry_max_wait.max(self.retry_min_wait),
            },
            callback_attempts: self.callback_attempts.max(1),
            callback_backoff: Backoff {
                min: self.callback_min_wait,
                max: self.callback_max_wait.max(self.callback_min_wait),
            },
            ..JobsConfig::default()
        }
    }
}

fn duration(text: &str) -> Result<Duration, String> {
    switchyard_broker::duration::parse_duration(text).map_err(|e| e.to_string())
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
