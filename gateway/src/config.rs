use std::net::SocketAddr;
use std::time::Duration;

use switchyard_broker::networks::NetworkPolicy;
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
    /// The furthest ahead a delayed job (`X-Delay`, `X-Not-Before`) may be due.
    pub max_delay: Duration,
    /// How long job records, results and dead letters are kept, and the intake dedupe window.
    pub retention: Retention,
    /// Where `X-Callback-Url` may point: a URL whose host is a denied address is refused at
    /// intake (names are checked by the dispatcher when it connects).
    pub callback_networks: NetworkPolicy,
    /// Header, body and shutdown deadlines of the listener.
    pub server: crate::server::ServerLimits,
    /// The key file that seals function secrets (the provider opens them with the same file).
    /// Without one, `/system/secrets` answers 503 and deployments cannot name secrets.
    pub secrets_key_file: Option<std::path::PathBuf>,
    /// Namespaces created at start, besides the default one.
    pub namespaces: Vec<String>,
    /// A TLS listener next to the plain one, when set.
    pub tls: Option<crate::tls::TlsConfig>,
    /// Single sign-on: bearer tokens of this OpenID Connect issuer are users.
    pub oidc: Option<crate::identity::oidc::OidcConfig>,
    /// `/metrics` names functions to anyone (`SWITCHYARD_METRICS_PUBLIC`); otherwise only to
    /// operators: everyone else gets the metrics without the per-function series.
    pub metrics_public: bool,
}

impl GatewayConfig {
    /// Defaults (127.0.0.1:8080, 4 MiB bodies, 60 s timeout) with these credentials.
    /// Loopback only, unless the operator says otherwise.
    pub const DEFAULT_LISTEN: SocketAddr = SocketAddr::V4(std::net::SocketAddrV4::new(
        std::net::Ipv4Addr::LOCALHOST,
        8080,
    ));
    pub const DEFAULT_MAX_BODY_BYTES: usize = 4 * 1024 * 1024;
    pub const DEFAULT_MAX_DELAY: Duration = Duration::from_secs(366 * 24 * 3600);

    pub fn new(user: impl Into<String>, password: impl Into<String>) -> Self {
        GatewayConfig {
            listen: Self::DEFAULT_LISTEN,
            credentials: Credentials {
                user: user.into(),
                password: password.into(),
            },
            max_body_bytes: Self::DEFAULT_MAX_BODY_BYTES,
            upstream_timeout: switchyard_broker::invocation::DEFAULT_CALL_TIMEOUT,
            max_delay: Self::DEFAULT_MAX_DELAY,
            retention: Retention::default(),
            callback_networks: NetworkPolicy::default(),
            server: crate::server::ServerLimits::default(),
            secrets_key_file: None,
            namespaces: Vec::new(),
            tls: None,
            oidc: None,
            metrics_public: false,
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
