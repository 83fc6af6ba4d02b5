use std::net::SocketAddr;
use std::time::Duration;

use switchyard_broker::streams::Retention;

/// Gateway settings.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// Address to listen on. Beyond loopback only with credentials configured by the operator.
    pub listen: SocketAddr,
    /// Basic-auth credentials for `/system/*`.
    pub credentials: Credentials,
    /// Largest request body accepted on invoke; bodies above get 413. Capped by the NATS
    /// server's max payload (less room for headers) whatever is configured.
    pub max_body_bytes: usize,
    /// How long a synchronous call may take end to end before the caller gets 504.
    pub upstream_timeout: Duration,
    /// How long job records, results and dead letters are kept, and the intake dedupe window.
    pub retention: Retention,
}

impl GatewayConfig {
    /// Defaults (127.0.0.1:8080, 4 MiB bodies, 60 s timeout) with these credentials.
    pub fn new(user: impl Into<String>, password: impl Into<String>) -> Self {
        GatewayConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            credentials: Credentials {
                user: user.into(),
                password: password.into(),
            },
            max_body_bytes: 4 * 1024 * 1024,
            upstream_timeout: Duration::from_secs(60),
            retention: Retention::default(),
        }
    }
}

/// A user name and password.
#[derive(Clone)]
pub struct Credentials {
    pub user: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .finish()
    }
}
