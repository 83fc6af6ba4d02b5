use std::time::Duration;

use switchyard_broker::backoff::Backoff;
use switchyard_broker::networks::NetworkPolicy;
use switchyard_broker::streams::Retention;

/// Dispatcher settings.
#[derive(Debug, Clone)]
pub struct DispatcherConfig {
    /// How long a function may take to answer a synchronous call before the caller gets 504.
    pub upstream_timeout: Duration,
    /// How long a call waits for a replica to become ready (a function just deployed or
    /// restarting) before it fails with 503.
    pub replica_wait: Duration,
    /// Synchronous calls handled at once by this dispatcher; more wait in NATS's buffers.
    pub max_concurrent_calls: usize,
    /// Asynchronous jobs.
    pub jobs: JobsConfig,
    /// How long records, results and dead letters are kept.
    pub retention: Retention,
    /// A schedule's tick looked at this long after its instant was missed.
    pub schedule_misfire_after: Duration,
    /// Missed ticks a schedule with `com.switchyard.schedule.misfire: all` runs at most.
    pub schedule_max_catch_up: usize,
}

/// Settings of the asynchronous worker. The retry settings are defaults that a function's
/// annotations override (`com.openfaas.retry.attempts`, `.codes`, `.min_wait`, `.max_wait`).
#[derive(Debug, Clone)]
pub struct JobsConfig {
    /// Jobs of one function run at once per dispatcher, unless the function's
    /// `com.switchyard.async.concurrency` annotation says otherwise.
    pub concurrency: usize,
    /// Functions whose queues this dispatcher takes jobs from at once, each through its own
    /// JetStream consumer (opened when the function has work, closed when it has none). More
    /// functions with work wait their turn; while one waits, a function that has been served
    /// for a while makes room. NATS allows 1,000 consumers per stream by default, shared by
    /// every dispatcher.
    pub active_functions: usize,
    /// How long a job may run, unless its function's `com.switchyard.async.timeout` annotation
    /// says otherwise.
    pub timeout: Duration,
    /// The consumer's ack wait: a dispatcher that dies holding a job gives it back after this.
    /// Running jobs send progress acks well within it, so long jobs are never redelivered;
    /// short, so that a job held by a dispatcher that was killed waits at most this long.
    pub ack_wait: Duration,
    /// Attempts per job, the first included.
    pub attempts: u32,
    /// Status codes that are retried (network failures always are).
    pub retry_codes: Vec<u16>,
    /// Wait between attempts.
    pub backoff: Backoff,
    /// Attempts to deliver a callback.
    pub callback_attempts: u32,
    /// Wait between callback attempts.
    pub callback_backoff: Backoff,
    /// How long one callback request may take.
    pub callback_timeout: Duration,
    /// Where callbacks may connect (checked for every address at connect time).
    pub callback_networks: NetworkPolicy,
    /// On shutdown, how long jobs in flight get to finish before they are left to be
    /// redelivered (after the ack wait) to another dispatcher.
    pub shutdown_grace: Duration,
}

impl Default for JobsConfig {
    fn default() -> Self {
        JobsConfig {
            concurrency: 32,
            active_functions: 200,
            timeout: Duration::from_secs(300),
            ack_wait: Duration::from_secs(10),
            attempts: 3,
            retry_codes: vec![408, 429, 500, 502, 503, 504],
            backoff: Backoff {
                min: Duration::from_millis(500),
                max: Duration::from_secs(30),
            },
            callback_attempts: 10,
            callback_backoff: Backoff {
                min: Duration::from_millis(500),
                max: Duration::from_secs(30),
            },
            callback_timeout: Duration::from_secs(10),
            callback_networks: NetworkPolicy::default(),
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

impl Default for DispatcherConfig {
    fn default() -> Self {
        DispatcherConfig {
            upstream_timeout: switchyard_broker::invocation::DEFAULT_CALL_TIMEOUT,
            replica_wait: Duration::from_secs(10),
            max_concurrent_calls: 1024,
            jobs: JobsConfig::default(),
            retention: Retention::default(),
            schedule_misfire_after: switchyard_scheduler::plan::ON_TIME,
            schedule_max_catch_up: 100,
        }
    }
}
