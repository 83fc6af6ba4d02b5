use std::time::Duration;

/// Dispatcher settings.
#[derive(Debug, Clone)]
pub struct DispatcherConfig {
    /// How long a function may take to answer a synchronous call before the caller gets 504.
    pub upstream_timeout: Duration,
    /// How long a call waits for a replica to become ready (a function just deployed or
    /// restarting) before the caller gets 503.
    pub replica_wait: Duration,
    /// Calls handled at once by this dispatcher; more wait in NATS's buffers.
    pub max_concurrent_calls: usize,
}

impl Default for DispatcherConfig {
    fn default() -> Self {
        DispatcherConfig {
            upstream_timeout: Duration::from_secs(60),
            replica_wait: Duration::from_secs(10),
            max_concurrent_calls: 1024,
        }
    }
}
