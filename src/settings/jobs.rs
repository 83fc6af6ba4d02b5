//! Asynchronous jobs and callbacks, as the dispatchers run them.

use clap::Args;
use switchyard_broker::backoff::Backoff;
use switchyard_broker::networks::{parse_list, Network, NetworkPolicy, DEFAULT_DENIED};
use switchyard_dispatcher::JobsConfig;

use super::Span;

#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Asynchronous jobs")]
pub struct JobSettings {
    /// Asynchronous jobs of one function run at once per dispatcher (annotation
    /// `com.switchyard.async.concurrency` overrides).
    #[arg(long, env = "SWITCHYARD_ASYNC_CONCURRENCY", default_value_t = JobsConfig::default().concurrency)]
    pub async_concurrency: usize,

    /// Functions whose queued jobs one dispatcher takes at once, each through its own NATS
    /// consumer, opened only while the function has jobs waiting. Further functions with jobs
    /// wait their turn (a function served for two seconds makes room). Keep the product of
    /// this and the number of dispatchers under NATS's limit of consumers per stream (1,000 by
    /// default).
    #[arg(long, env = "SWITCHYARD_ASYNC_ACTIVE_FUNCTIONS", default_value_t = JobsConfig::default().active_functions)]
    pub async_active_functions: usize,

    /// How long an asynchronous job may run (annotation `com.switchyard.async.timeout` overrides).
    #[arg(long, env = "SWITCHYARD_ASYNC_TIMEOUT", default_value_t = Span(JobsConfig::default().timeout))]
    pub async_timeout: Span,

    /// Ack wait of the job consumers: a dispatcher that dies holding a job gives it back after
    /// this. Running jobs send progress acks, so long jobs are not affected.
    #[arg(long, env = "SWITCHYARD_ASYNC_ACK_WAIT", default_value_t = Span(JobsConfig::default().ack_wait))]
    pub async_ack_wait: Span,

    /// Attempts per asynchronous job, the first included (annotation
    /// `com.openfaas.retry.attempts` overrides).
    #[arg(long, env = "SWITCHYARD_RETRY_ATTEMPTS", default_value_t = JobsConfig::default().attempts)]
    pub retry_attempts: u32,

    /// Shortest wait between job attempts (annotation `com.openfaas.retry.min_wait` overrides).
    #[arg(long, env = "SWITCHYARD_RETRY_MIN_WAIT", default_value_t = Span(JobsConfig::default().backoff.min))]
    pub retry_min_wait: Span,

    /// Longest wait between job attempts (annotation `com.openfaas.retry.max_wait` overrides).
    #[arg(long, env = "SWITCHYARD_RETRY_MAX_WAIT", default_value_t = Span(JobsConfig::default().backoff.max))]
    pub retry_max_wait: Span,

    /// Attempts to deliver a callback.
    #[arg(long, env = "SWITCHYARD_CALLBACK_ATTEMPTS", default_value_t = JobsConfig::default().callback_attempts)]
    pub callback_attempts: u32,

    /// Shortest wait between callback attempts.
    #[arg(long, env = "SWITCHYARD_CALLBACK_MIN_WAIT", default_value_t = Span(JobsConfig::default().callback_backoff.min))]
    pub callback_min_wait: Span,

    /// Longest wait between callback attempts.
    #[arg(long, env = "SWITCHYARD_CALLBACK_MAX_WAIT", default_value_t = Span(JobsConfig::default().callback_backoff.max))]
    pub callback_max_wait: Span,

    /// Networks callbacks may reach, comma-separated CIDR blocks (empty: any not denied).
    #[arg(long, env = "SWITCHYARD_CALLBACK_ALLOW", default_value = "", value_parser = networks)]
    pub callback_allow: Networks,

    /// A schedule's tick looked at this long after its instant counts as missed (nothing ran
    /// the schedule then) and runs only as its misfire policy says.
    #[arg(long, env = "SWITCHYARD_SCHEDULE_MISFIRE_AFTER", default_value_t = Span(switchyard_scheduler::plan::ON_TIME))]
    pub schedule_misfire_after: Span,

    /// Missed ticks a schedule with `com.switchyard.schedule.misfire: all` runs at most (the
    /// latest ones).
    #[arg(long, env = "SWITCHYARD_SCHEDULE_MAX_CATCH_UP", default_value_t = 100)]
    pub schedule_max_catch_up: usize,

    /// Networks callbacks may never reach (checked for every address a callback host resolves
    /// to, when it connects). Default: link-local and cloud metadata addresses.
    #[arg(long, env = "SWITCHYARD_CALLBACK_DENY", default_value = DEFAULT_DENIED, value_parser = networks)]
    pub callback_deny: Networks,
}

/// A parsed list of networks.
#[derive(Debug, Clone)]
pub struct Networks(pub Vec<Network>);

fn networks(text: &str) -> Result<Networks, String> {
    parse_list(text).map(Networks).map_err(|e| e.to_string())
}

impl JobSettings {
    /// Where callbacks may go.
    pub fn callback_networks(&self) -> NetworkPolicy {
        NetworkPolicy {
            allow: self.callback_allow.0.clone(),
            deny: self.callback_deny.0.clone(),
        }
    }

    /// The dispatcher's job settings; what is not configurable keeps its default.
    pub fn config(&self) -> JobsConfig {
        JobsConfig {
            concurrency: self.async_concurrency.max(1),
            active_functions: self.async_active_functions.max(1),
            timeout: self.async_timeout.0,
            ack_wait: self.async_ack_wait.0,
            attempts: self.retry_attempts.max(1),
            backoff: Backoff {
                min: self.retry_min_wait.0,
                max: self.retry_max_wait.0.max(self.retry_min_wait.0),
            },
            callback_attempts: self.callback_attempts.max(1),
            callback_backoff: Backoff {
                min: self.callback_min_wait.0,
                max: self.callback_max_wait.0.max(self.callback_min_wait.0),
            },
            callback_networks: self.callback_networks(),
            ..JobsConfig::default()
        }
    }
}
