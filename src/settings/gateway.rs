//! The HTTP API's settings.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;
use switchyard_broker::invocation::DEFAULT_CALL_TIMEOUT;
use switchyard_gateway::identity::oidc::OidcConfig;
use switchyard_gateway::tls::{DefaultCertificate, HostCertificate, TlsConfig};
use switchyard_gateway::{GatewayConfig, ServerLimits};

use super::Span;

#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Gateway")]
pub struct GatewaySettings {
    /// Gateway listen address. Beyond loopback only with SWITCHYARD_ADMIN_PASSWORD set.
    #[arg(long, env = "SWITCHYARD_LISTEN", default_value_t = GatewayConfig::DEFAULT_LISTEN)]
    pub listen: SocketAddr,

    /// User name for basic auth on /system/*.
    #[arg(long, env = "SWITCHYARD_ADMIN_USER", default_value = "admin")]
    pub admin_user: String,

    /// Password for basic auth on /system/*. When unset, one is generated and stored in
    /// <data dir>/admin-password.
    #[arg(long, env = "SWITCHYARD_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<String>,

    /// `/metrics` shows the per-function series (which name every organization's functions)
    /// to anyone; by default only to operators (basic auth or an operator's token), everyone
    /// else gets the rest.
    #[arg(long, env = "SWITCHYARD_METRICS_PUBLIC", default_value_t = false)]
    pub metrics_public: bool,

    /// Largest invoke request body in bytes (413 above). Never more than the NATS server's max
    /// payload less 64 KiB for headers.
    #[arg(long, env = "SWITCHYARD_MAX_BODY_BYTES", default_value_t = GatewayConfig::DEFAULT_MAX_BODY_BYTES)]
    pub max_body_bytes: usize,

    /// How long a synchronous call may take before the caller gets 504 (seconds, or a Go
    /// duration such as 1m30s).
    #[arg(long, env = "SWITCHYARD_UPSTREAM_TIMEOUT", default_value_t = Span(DEFAULT_CALL_TIMEOUT))]
    pub upstream_timeout: Span,

    /// The furthest ahead a delayed job (`X-Delay`, `X-Not-Before` on an asynchronous invoke)
    /// may be due; later is refused with 400.
    #[arg(long, env = "SWITCHYARD_MAX_DELAY", default_value_t = Span(GatewayConfig::DEFAULT_MAX_DELAY))]
    pub max_delay: Span,

    /// Namespaces created at start (comma-separated), besides `openfaas-fn`, which always
    /// exists; more can be created through /system/namespace.
    #[arg(long, env = "SWITCHYARD_NAMESPACES", value_delimiter = ',')]
    pub namespaces: Vec<String>,

    /// Every HTTP listener: a client must send a request's headers within this.
    #[arg(long, env = "SWITCHYARD_HEADER_TIMEOUT", default_value_t = Span(ServerLimits::default().header_read))]
    pub header_timeout: Span,

    /// Every HTTP listener: a client must send each next chunk of a body within this (408).
    #[arg(long, env = "SWITCHYARD_BODY_TIMEOUT", default_value_t = Span(ServerLimits::default().body_idle))]
    pub body_timeout: Span,

    /// After SIGTERM, requests in flight get this long; then open connections are closed and
    /// the process goes on stopping.
    #[arg(long, env = "SWITCHYARD_SHUTDOWN_TIMEOUT", default_value_t = Span(ServerLimits::default().shutdown))]
    pub shutdown_timeout: Span,

    /// Where the HTTPS listener listens (unset: none). It serves the same API as the plain
    /// one, HTTP/2 when the client offers it. Beyond loopback only with
    /// SWITCHYARD_ADMIN_PASSWORD set.
    #[arg(long, env = "SWITCHYARD_TLS_LISTEN")]
    pub tls_listen: Option<SocketAddr>,

    /// The HTTPS listener's default certificate chain (PEM, leaf first). Without it (and its
    /// key), a certificate is generated once into <data dir>/tls, signed by a local CA whose
    /// certificate clients trust: <data dir>/tls/ca.crt.
    #[arg(long, env = "SWITCHYARD_TLS_CERT_FILE", requires = "tls_key_file")]
    pub tls_cert_file: Option<PathBuf>,

    /// The default certificate's private key (PEM).
    #[arg(long, env = "SWITCHYARD_TLS_KEY_FILE", requires = "tls_cert_file")]
    pub tls_key_file: Option<PathBuf>,

    /// Certificates for named hosts, chosen by SNI: `host=cert.pem:key.pem`, comma-separated
    /// (`*.example.com` for a wildcard). More can be uploaded through /system/certificates.
    #[arg(long, env = "SWITCHYARD_TLS_HOSTS", value_delimiter = ',', value_parser = parse_host_certificate)]
    pub tls_hosts: Vec<HostCertificate>,

    /// Single sign-on: an OpenID Connect issuer (`https://dex.example.com`) whose bearer
    /// tokens are users of the API and the UI; policies name them `user:<claim>` and their
    /// groups `group:<name>`.
    #[arg(long, env = "SWITCHYARD_OIDC_ISSUER", requires = "oidc_audience")]
    pub oidc_issuer: Option<String>,

    /// The audience (`aud`) the issuer's tokens must carry: Switchyard's client id there.
    #[arg(long, env = "SWITCHYARD_OIDC_AUDIENCE")]
    pub oidc_audience: Option<String>,

    /// The issuer's keys (JWKS); unset: read from its discovery document.
    #[arg(long, env = "SWITCHYARD_OIDC_JWKS_URL")]
    pub oidc_jwks_url: Option<String>,

    /// The claim that names the user.
    #[arg(long, env = "SWITCHYARD_OIDC_USER_CLAIM", default_value = "sub")]
    pub oidc_user_claim: String,

    /// The claim that lists the user's groups.
    #[arg(long, env = "SWITCHYARD_OIDC_GROUPS_CLAIM", default_value = "groups")]
    pub oidc_groups_claim: String,
}

/// `host=cert.pem:key.pem`.
fn parse_host_certificate(text: &str) -> Result<HostCertificate, String> {
    let (host, files) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}`: use host=cert.pem:key.pem"))?;
    let (certificate, key) = files
        .split_once(':')
        .ok_or_else(|| format!("`{text}`: use host=cert.pem:key.pem"))?;
    switchyard_broker::records::validate_host(host)?;
    Ok(HostCertificate {
        host: host.to_string(),
        certificate: certificate.into(),
        key: key.into(),
    })
}

impl GatewaySettings {
    /// Single sign-on, when an issuer is configured.
    pub fn oidc(&self) -> Option<OidcConfig> {
        Some(OidcConfig {
            issuer: self.oidc_issuer.clone()?,
            audience: self.oidc_audience.clone()?,
            jwks_url: self.oidc_jwks_url.clone(),
            user_claim: self.oidc_user_claim.clone(),
            groups_claim: self.oidc_groups_claim.clone(),
        })
    }

    /// The HTTPS listener, when one is configured; its generated certificate goes into
    /// `data_dir/tls`.
    pub fn tls(&self, data_dir: &std::path::Path) -> Option<TlsConfig> {
        let default = match (&self.tls_cert_file, &self.tls_key_file) {
            (Some(certificate), Some(key)) => DefaultCertificate::Files {
                certificate: certificate.clone(),
                key: key.clone(),
            },
            _ => DefaultCertificate::Generated {
                dir: data_dir.join("tls"),
            },
        };
        self.tls_listen.map(|listen| TlsConfig {
            listen,
            default,
            hosts: self.tls_hosts.clone(),
        })
    }

    /// The time and size limits of every HTTP listener.
    pub fn server_limits(&self, limits: &super::LimitSettings) -> ServerLimits {
        ServerLimits {
            header_read: self.header_timeout.0,
            body_idle: self.body_timeout.0,
            shutdown: self.shutdown_timeout.0,
            max_headers: limits.max_headers,
            max_head_bytes: limits.max_header_bytes,
            max_query_bytes: limits.max_query_bytes,
        }
    }
}
