//! The HTTP API: routes, shared state, and the server's life cycle.

mod access;
mod async_invoke;
mod certificates;
mod dead_letters;
mod event_stream;
mod event_types;
mod functions;
mod hosts;
mod invoke;
mod invoke_docs;
mod jobs;
mod logs;
mod namespaces;
pub mod openapi;
mod request;
mod routing;
mod schedules;
mod secrets;
mod sources;
mod subscriptions;
mod system;

use std::net::SocketAddr;
use std::sync::Arc;

use async_nats::{jetstream, Client};
use axum::Router;
use switchyard_broker::buckets;
use switchyard_broker::cache::KvCache;
use switchyard_broker::events::Subscription;
use switchyard_broker::jobs::{JobStore, ResultStore};
use switchyard_broker::records::{
    validate_namespace, Endpoint, EventSource, FunctionSpec, Namespace, SourceStatus,
    DEFAULT_NAMESPACE,
};
use switchyard_broker::secrets::{SecretKey, Secrets};
use switchyard_broker::streams;
use switchyard_broker::table::{CachedTable, Table};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(crate) use async_invoke::enqueue_function;
pub(crate) use invoke::invoke_function;
pub(crate) use request::registered_function;

use crate::config::GatewayConfig;
use crate::metrics::Metrics;
use crate::tls::certificates::CertificateStore;

/// Headroom kept in each NATS message for the invocation's headers.
const HEADER_ROOM: usize = 64 * 1024;

pub(crate) struct AppState {
    pub(crate) config: GatewayConfig,
    pub(crate) nats: Client,
    pub(crate) js: jetstream::Context,
    pub(crate) jobs: JobStore,
    pub(crate) results: ResultStore,
    pub(crate) registry: CachedTable<FunctionSpec>,
    /// Where each schedule stands (the schedulers in the dispatchers write it).
    pub(crate) schedules: CachedTable<switchyard_broker::records::ScheduleState>,
    pub(crate) subscriptions: CachedTable<Subscription>,
    pub(crate) sources: CachedTable<EventSource>,
    /// What each source's adapter reports, and where pollers resume (deleted with the source).
    pub(crate) source_status: CachedTable<SourceStatus>,
    pub(crate) checkpoints: Table<serde_json::Value>,
    pub(crate) redrives: Table<switchyard_broker::jobs::Redrive>,
    pub(crate) endpoints: KvCache<Endpoint>,
    pub(crate) namespaces: CachedTable<Namespace>,
    /// Without a key file configured, none: the secrets API answers 503.
    pub(crate) secrets: Option<Secrets>,
    /// Places for live event viewers.
    pub(crate) viewers: Arc<tokio::sync::Semaphore>,
    pub(crate) catalog: switchyard_broker::catalog::Catalog,
    pub(crate) routes: CachedTable<switchyard_broker::records::Route>,
    /// Host names given to organizations.
    pub(crate) hosts: CachedTable<switchyard_broker::records::HostAssignment>,
    /// Checks the bearer tokens of `jwt` routes, caching issuers' keys.
    pub(crate) jwt: crate::identity::jwt::JwtVerifier,
    /// Certificates uploaded for the TLS listener (keys sealed).
    pub(crate) certificates: CachedTable<switchyard_broker::records::StoredCertificate>,
    /// Seals what must not be in NATS in the clear (uploaded private keys).
    pub(crate) secret_key: Option<Arc<SecretKey>>,
    pub(crate) organizations: CachedTable<switchyard_broker::records::Organization>,
    pub(crate) policies: CachedTable<switchyard_broker::records::Policy>,
    pub(crate) service_accounts: CachedTable<switchyard_broker::records::ServiceAccount>,
    pub(crate) tokens: CachedTable<switchyard_broker::records::ApiToken>,
    /// Single sign-on, when an OpenID Connect issuer is configured.
    pub(crate) oidc: Option<crate::identity::oidc::Oidc>,
    pub(crate) metrics: Metrics,
    /// Refused changes recorded per principal (the rest only counted).
    pub(crate) audit_denials: crate::access::DenialLimiter,
    /// The deployment's secret key for ids nobody may predict (callers' keys scoped per
    /// function).
    pub(crate) routing_key: Vec<u8>,
}

/// Why the gateway could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error(transparent)]
    Bucket(#[from] buckets::BucketError),
    #[error(transparent)]
    Stream(#[from] streams::StreamError),
    #[error(transparent)]
    Secrets(#[from] switchyard_broker::secrets::SecretError),
    #[error(transparent)]
    Keys(#[from] switchyard_broker::keys::KeyError),
    #[error("configured namespace: {0}")]
    Namespace(String),
    #[error("TLS: {0}")]
    Tls(#[from] crate::tls::TlsError),
    #[error("cannot listen on {address}: {source}")]
    Bind {
        address: SocketAddr,
        source: std::io::Error,
    },
}

/// A bound gateway, ready to serve.
pub struct Gateway {
    listener: TcpListener,
    /// The TLS listener and its configuration, when one is configured.
    tls: Option<(TcpListener, Arc<rustls::ServerConfig>)>,
    router: Router,
    limits: crate::server::ServerLimits,
    shutdown_caches: CancellationToken,
}

/// The API's routes and their state, without a socket: what [`Gateway::bind`] serves, and what
/// tests call directly. The caches it starts stop with `shutdown`.
pub async fn app(
    config: GatewayConfig,
    nats: Client,
    metrics: &prometheus::Registry,
    shutdown: CancellationToken,
) -> Result<Router, GatewayError> {
    let tls_store = Arc::new(CertificateStore::default());
    app_serving(config, nats, metrics, tls_store, shutdown).await
}

/// [`app`], keeping the certificates uploaded through it in `tls_store` (which the TLS
/// listener serves).
async fn app_serving(
    config: GatewayConfig,
    nats: Client,
    metrics: &prometheus::Registry,
    tls_store: Arc<CertificateStore>,
    shutdown: CancellationToken,
) -> Result<Router, GatewayError> {
    let js = jetstream::new(nats.clone());
    streams::ensure(&js, &config.retention).await?;
    let registry = CachedTable::start(buckets::functions(&js).await?, shutdown.clone()).await;
    let endpoints = KvCache::start(buckets::endpoints(&js).await?, shutdown.clone()).await;
    let subscriptions =
        CachedTable::start(buckets::subscriptions(&js).await?, shutdown.clone()).await;
    let sources = CachedTable::start(buckets::sources(&js).await?, shutdown.clone()).await;
    let source_status =
        CachedTable::start(buckets::source_status(&js).await?, shutdown.clone()).await;
    let checkpoints = Table::new(buckets::checkpoints(&js).await?);
    let redrives = Table::new(buckets::redrives(&js, config.retention.dead_ttl).await?);
    let namespaces = CachedTable::start(buckets::namespaces(&js).await?, shutdown.clone()).await;
    let api_routes = CachedTable::start(buckets::routes(&js).await?, shutdown.clone()).await;
    let hosts = CachedTable::start(buckets::hosts(&js).await?, shutdown.clone()).await;
    let schedules = CachedTable::start(buckets::schedules(&js).await?, shutdown.clone()).await;
    let secrets = match &config.secrets_key_file {
        Some(path) => Some(Secrets::open(&js, SecretKey::load_or_create(path)?).await?),
        None => None,
    };
    let secret_key = match &config.secrets_key_file {
        Some(path) => Some(Arc::new(SecretKey::load_or_create(path)?)),
        None => None,
    };
    let certificates =
        CachedTable::start(buckets::certificates(&js).await?, shutdown.clone()).await;
    let organizations =
        CachedTable::start(buckets::organizations(&js).await?, shutdown.clone()).await;
    let policies = CachedTable::start(buckets::policies(&js).await?, shutdown.clone()).await;
    let service_accounts =
        CachedTable::start(buckets::service_accounts(&js).await?, shutdown.clone()).await;
    let tokens = CachedTable::start(buckets::tokens(&js).await?, shutdown.clone()).await;
    switchyard_broker::audit::ensure(&js).await?;
    let oidc = config.oidc.clone().map(crate::identity::oidc::Oidc::new);
    crate::tls::follow_uploads(
        certificates.clone(),
        secret_key.clone(),
        tls_store.clone(),
        shutdown.clone(),
    );
    let jobs = JobStore::open(&js, &config.retention).await?;
    let routing_key = switchyard_broker::keys::routing_key(&js).await?;
    let results = ResultStore::open(&js, &config.retention).await?;
    let mut config = config;
    let ceiling = nats.server_info().max_payload.saturating_sub(HEADER_ROOM);
    if config.max_body_bytes > ceiling {
        tracing::info!(
            configured = config.max_body_bytes,
            ceiling,
            "body limit lowered to fit the NATS max payload"
        );
        config.max_body_bytes = ceiling;
    }
    let js_for_catalog = js.clone();
    let callback_networks = config.callback_networks.clone();
    let configured_namespaces = config.namespaces.clone();
    let state = Arc::new(AppState {
        config,
        nats,
        js,
        jobs,
        results,
        registry,
        schedules,
        subscriptions,
        sources,
        source_status,
        checkpoints,
        redrives,
        endpoints,
        namespaces,
        secrets,
        viewers: event_stream::viewers(),
        catalog: switchyard_broker::catalog::Catalog::open(&js_for_catalog).await?,
        routes: api_routes,
        hosts,
        jwt: crate::identity::jwt::JwtVerifier::new(callback_networks),
        certificates,
        secret_key,
        organizations,
        policies,
        service_accounts,
        tokens,
        oidc,
        metrics: Metrics::new(metrics),
        audit_denials: Default::default(),
        routing_key,
    });
    for name in configured_namespaces {
        validate_namespace(&name).map_err(GatewayError::Namespace)?;
        if name != DEFAULT_NAMESPACE && !state.namespaces.contains(&name) {
            let record = Namespace {
                name,
                labels: None,
                annotations: None,
                organization: None,
                created_at: chrono::Utc::now(),
            };
            // Another gateway may create it at the same moment: a conflict is success.
            match namespaces::ensure(&state, record).await {
                Ok(()) | Err(crate::error::ApiError::Conflict(_)) => {}
                Err(error) => return Err(GatewayError::Namespace(error.to_string())),
            }
        }
    }
    Ok(routes(state))
}

fn routes(state: Arc<AppState>) -> Router {
    let (system, _) = system_routes()
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::access::require_access,
        ))
        .split_for_parts();
    let (open, _) = open_routes().split_for_parts();
    system
        .merge(open)
        .fallback(crate::routes::serve)
        .with_state(state)
}

type ApiRouter = OpenApiRouter<Arc<AppState>>;

/// The routes behind basic auth, each registered with its documentation; by feature, each
/// part in its own function (a debug build gives every route's documentation its own stack
/// slot, and one function holding them all overflowed a test thread's stack).
pub(crate) fn system_routes() -> ApiRouter {
    function_routes()
        .merge(event_routes())
        .merge(job_routes())
        .merge(access_routes())
}

fn function_routes() -> ApiRouter {
    OpenApiRouter::new()
        .routes(routes!(
            functions::list,
            functions::create,
            functions::update,
            functions::remove
        ))
        .routes(routes!(functions::status))
        .routes(routes!(functions::scale))
        .routes(routes!(system::info))
        .routes(routes!(system::metrics_targets))
        .routes(routes!(openapi::openapi_json))
        .routes(routes!(namespaces::list))
        .routes(routes!(namespaces::create))
        .routes(routes!(
            namespaces::get,
            namespaces::update,
            namespaces::remove
        ))
        .routes(routes!(
            secrets::list,
            secrets::create,
            secrets::update,
            secrets::remove
        ))
        .routes(routes!(logs::logs))
}

fn event_routes() -> ApiRouter {
    OpenApiRouter::new()
        .routes(routes!(subscriptions::list, subscriptions::create))
        .routes(routes!(
            subscriptions::get,
            subscriptions::update,
            subscriptions::remove
        ))
        .routes(routes!(sources::list, sources::create))
        .routes(routes!(sources::get, sources::update, sources::remove))
        .routes(routes!(event_stream::stream))
        .routes(routes!(event_types::list))
}

fn job_routes() -> ApiRouter {
    OpenApiRouter::new()
        .routes(routes!(dead_letters::list))
        .routes(routes!(dead_letters::redrive_all))
        .routes(routes!(dead_letters::get, dead_letters::remove))
        .routes(routes!(dead_letters::redrive))
        .routes(routes!(schedules::list))
        .routes(routes!(schedules::preview))
        .routes(routes!(schedules::pause))
        .routes(routes!(schedules::resume))
        .routes(routes!(jobs::list))
        .routes(routes!(jobs::get))
        .routes(routes!(jobs::result))
}

fn access_routes() -> ApiRouter {
    OpenApiRouter::new()
        .routes(routes!(access::organizations, access::create_organization))
        .routes(routes!(access::remove_organization))
        .routes(routes!(access::policies, access::create_policy))
        .routes(routes!(
            access::policy,
            access::update_policy,
            access::remove_policy
        ))
        .routes(routes!(
            access::service_accounts,
            access::create_service_account
        ))
        .routes(routes!(access::remove_service_account))
        .routes(routes!(access::tokens, access::issue_token))
        .routes(routes!(access::revoke_token))
        .routes(routes!(access::audit))
        .routes(routes!(certificates::list, certificates::create))
        .routes(routes!(certificates::remove))
        .routes(routes!(routing::list, routing::create))
        .routes(routes!(routing::get, routing::update, routing::remove))
        .routes(routes!(hosts::list, hosts::create))
        .routes(routes!(hosts::remove))
}

/// The routes anyone may call: invoke, health, metrics, and the UI's (data-free) files.
pub(crate) fn open_routes() -> ApiRouter {
    OpenApiRouter::new()
        .routes(routes!(invoke::invoke))
        .routes(routes!(invoke::invoke_slash))
        .routes(routes!(invoke::invoke_path))
        .routes(routes!(async_invoke::enqueue, async_invoke::cancel))
        .routes(routes!(async_invoke::enqueue_slash))
        .routes(routes!(async_invoke::enqueue_path))
        .routes(routes!(invoke::invoke_root))
        .routes(routes!(crate::ui::redirect))
        .routes(routes!(crate::ui::index))
        .routes(routes!(crate::ui::file))
        .routes(routes!(system::healthz))
        .routes(routes!(system::metrics))
}

impl Gateway {
    /// Builds the [`app`] and binds its listener (port 0 picks a free one). Metrics are
    /// registered in `metrics`, which `/metrics` serves.
    pub async fn bind(
        config: GatewayConfig,
        nats: Client,
        metrics: &prometheus::Registry,
    ) -> Result<Self, GatewayError> {
        let listen = config.listen;
        let limits = config.server;
        let tls_config = config.tls.clone();
        let shutdown_caches = CancellationToken::new();
        let tls_store = Arc::new(CertificateStore::default());
        let router = app_serving(
            config,
            nats,
            metrics,
            tls_store.clone(),
            shutdown_caches.clone(),
        )
        .await?;
        // TLS first: once the plain port answers, the certificate (and a generated CA) exist.
        let tls = match tls_config {
            Some(tls) => {
                crate::tls::load(&tls, &tls_store)?;
                let server = crate::tls::server_config(tls_store)?;
                Some((bind(tls.listen).await?, server))
            }
            None => None,
        };
        let listener = bind(listen).await?;
        Ok(Gateway {
            listener,
            tls,
            router,
            limits,
            shutdown_caches,
        })
    }

    /// Serves `routes` too (in solo mode, the webhook ingester's).
    pub fn merge(mut self, routes: Router) -> Self {
        self.router = self.router.merge(routes);
        self
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound TCP listener has an address")
    }

    /// Where the TLS listener listens, when there is one.
    pub fn tls_local_addr(&self) -> Option<SocketAddr> {
        self.tls.as_ref().and_then(|(l, _)| l.local_addr().ok())
    }

    /// Serves until `shutdown` fires, then stops accepting and finishes requests in flight
    /// within the configured shutdown deadline.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), GatewayError> {
        let plain = crate::server::serve(
            self.listener,
            self.router.clone(),
            self.limits,
            shutdown.clone(),
        );
        match self.tls {
            Some((listener, config)) => {
                let tls =
                    crate::server::serve_tls(listener, self.router, self.limits, config, shutdown);
                tokio::join!(plain, tls);
            }
            None => plain.await,
        }
        self.shutdown_caches.cancel();
        tracing::info!("gateway stopped");
        Ok(())
    }
}

/// Appends `(name, value)` pairs (a function's answer headers) to a response, skipping any that
/// are not valid HTTP.
pub(crate) fn append_headers(headers: &mut axum::http::HeaderMap, pairs: &[(String, String)]) {
    for (name, value) in pairs {
        if let (Ok(name), Ok(value)) = (
            axum::http::HeaderName::from_bytes(name.as_bytes()),
            axum::http::HeaderValue::from_str(value),
        ) {
            headers.append(name, value);
        }
    }
}

async fn bind(address: SocketAddr) -> Result<TcpListener, GatewayError> {
    TcpListener::bind(address)
        .await
        .map_err(|source| GatewayError::Bind { address, source })
}
