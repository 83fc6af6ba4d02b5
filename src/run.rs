//! The commands that run Switchyard's parts, alone or together, and their shutdown order.
//!
//! On SIGTERM or Ctrl-C: the gateway stops accepting, the dispatcher stops taking calls and the
//! vCenter pollers end their sessions (their checkpoints cover what they stored); the gateway and
//! dispatcher finish what is in flight; then the provider stops the function replicas (each watchdog
//! drains); then the NATS server started by `up`, if any, stops.

use std::time::Duration;

use anyhow::Context;
use switchyard_autoscaler::Autoscaler;
use switchyard_dispatcher::{Dispatcher, DispatcherConfig};
use switchyard_event_sources::vcenter::VcenterSources;
use switchyard_gateway::{Gateway, GatewayConfig};
use switchyard_providers::docker::{DockerProvider, DockerProviderConfig};
use switchyard_providers::process::{ProcessProvider, ProcessProviderConfig};
use switchyard_providers::secrets::SecretsConfig;
use switchyard_providers::swarm::{SwarmProvider, SwarmProviderConfig};
use switchyard_providers::ProviderKind;
use tokio_util::sync::CancellationToken;

use crate::credentials::{self, Source};
use crate::nats;
use crate::nats_server::NatsServer;
use crate::settings::{Settings, DEFAULT_NATS_URL};

/// `switchyard up`: everything in one process.
pub async fn up(settings: Settings) -> anyhow::Result<()> {
    let (credentials, password_source) = credentials::resolve(&settings)?;
    std::fs::create_dir_all(&settings.data_dir)
        .with_context(|| format!("cannot create data dir {}", settings.data_dir.display()))?;
    let nats_server = match &settings.nats.nats_url {
        Some(_) => None,
        None => Some(
            NatsServer::start(
                &settings.nats.nats_server_bin,
                settings.nats.nats_listen,
                &settings.data_dir,
            )
            .await?,
        ),
    };
    let nats_url = settings
        .nats
        .nats_url
        .clone()
        .or_else(|| nats_server.as_ref().map(|s| s.client_url.clone()))
        .unwrap_or_else(|| DEFAULT_NATS_URL.to_string());

    let front = CancellationToken::new();
    let back = CancellationToken::new();
    spawn_signal_handler(front.clone());
    let client = nats::connect(&nats_url, "switchyard", &front).await?;
    // The dispatcher's traffic on a connection of its own, as when it runs apart: one
    // connection is read by one task here and one goroutine in the server, which the gateway's
    // intake and the dispatcher's jobs would otherwise share.
    let dispatcher_client = nats::connect(&nats_url, "switchyard-dispatcher", &front).await?;
    let metrics = prometheus::Registry::new();
    let provider = start_provider(&settings, client.clone(), back.clone());
    let dispatcher = Dispatcher::start(
        dispatcher_client,
        dispatcher_config(&settings),
        &metrics,
        front.clone(),
    )
    .await?;
    let gateway = Gateway::bind(
        gateway_config(&settings, credentials.clone()),
        client.clone(),
        &metrics,
    )
    .await?
    .merge(webhook_routes(&settings, &client, &front).await?);
    let vcenter = VcenterSources::start(
        client.clone(),
        &metrics,
        settings.jobs.callback_networks(),
        front.clone(),
    )
    .await?;
    let autoscaler = Autoscaler::start(
        client.clone(),
        settings.autoscaler.config(),
        &metrics,
        front.clone(),
    )
    .await?;
    replicate(&client, &settings).await?;

    println!("Switchyard is up.");
    println!("  gateway:  http://{}", gateway.local_addr());
    if let Some(address) = gateway.tls_local_addr() {
        println!("  https:    https://{address}{}", tls_trust_hint(&settings));
    }
    match &nats_server {
        Some(server) => println!(
            "  NATS:     {} (started by switchyard; user `switchyard`, password in {}; data in {})",
            server.url,
            server.password_file.display(),
            server.store_dir.display()
        ),
        None => println!("  NATS:     {}", nats::redact(&nats_url)),
    }
    match &password_source {
        Source::Configured => println!(
            "  admin:    user `{}`, password from SWITCHYARD_ADMIN_PASSWORD",
            credentials.user
        ),
        Source::File(path) => println!(
            "  admin:    user `{}`, password in {}",
            credentials.user,
            path.display()
        ),
    }
    println!("  provider: {}", settings.provider.provider.name());
    println!("Stop with Ctrl-C or SIGTERM.");

    gateway.run(front.clone()).await?;
    dispatcher.wait().await;
    vcenter.wait().await;
    autoscaler.wait().await;
    back.cancel();
    // A provider error was logged when it happened; `up` still stops cleanly.
    let _ = provider.await;
    let _ = tokio::time::timeout(Duration::from_secs(2), client.drain()).await;
    if let Some(server) = nats_server {
        server.stop().await;
    }
    tracing::info!("switchyard stopped");
    Ok(())
}

/// `switchyard gateway`: the HTTP API.
pub async fn gateway(settings: Settings) -> anyhow::Result<()> {
    let (credentials, password_source) = credentials::resolve(&settings)?;
    let part = Part::start(&settings, "switchyard-gateway").await?;
    let (front, client) = (part.shutdown.clone(), part.client.clone());
    let metrics = prometheus::Registry::new();
    let gateway = Gateway::bind(
        gateway_config(&settings, credentials.clone()),
        client.clone(),
        &metrics,
    )
    .await?
    .merge(webhook_routes(&settings, &client, &front).await?);
    replicate(&client, &settings).await?;
    tracing::info!(address = %gateway.local_addr(), nats = %nats::redact(&part.nats_url), "gateway listening");
    if let Some(address) = gateway.tls_local_addr() {
        tracing::info!(%address, "gateway listening over TLS");
    }
    if let Source::File(path) = password_source {
        tracing::info!(user = %credentials.user, path = %path.display(), "admin password stored in file");
    }
    gateway.run(front).await?;
    part.close().await;
    Ok(())
}

/// `switchyard autoscaler`: sets replicas of autoscaled functions from their load.
pub async fn autoscaler(settings: Settings) -> anyhow::Result<()> {
    let part = Part::start(&settings, "switchyard-autoscaler").await?;
    let metrics = prometheus::Registry::new();
    let metrics_server = part.serve_metrics(settings.metrics_listen, &metrics)?;
    let autoscaler = Autoscaler::start(
        part.client.clone(),
        settings.autoscaler.config(),
        &metrics,
        part.shutdown.clone(),
    )
    .await?;
    replicate(&part.client, &settings).await?;
    autoscaler.wait().await;
    finish(metrics_server).await;
    part.close().await;
    Ok(())
}

/// `switchyard provider`: runs functions while it holds the provider lease, stands by until
/// then. On SIGTERM the process provider stops its replicas (each watchdog drains) and the
/// lease is released, so a standby takes over at once.
pub async fn provider(settings: Settings) -> anyhow::Result<()> {
    let part = Part::start(&settings, "switchyard-provider").await?;
    let metrics_server =
        part.serve_metrics(settings.metrics_listen, &prometheus::Registry::new())?;
    replicate(&part.client, &settings).await?;
    start_provider(&settings, part.client.clone(), part.shutdown.clone()).await??;
    // The provider may also end because its lease was lost: the listener goes with it.
    part.shutdown.cancel();
    finish(metrics_server).await;
    part.close().await;
    Ok(())
}

/// `switchyard dispatcher`: takes calls off NATS and delivers them.
pub async fn dispatcher(settings: Settings) -> anyhow::Result<()> {
    let part = Part::start(&settings, "switchyard-dispatcher").await?;
    let client = part.client.clone();
    let metrics = prometheus::Registry::new();
    let metrics_server = part.serve_metrics(settings.metrics_listen, &metrics)?;
    let dispatcher = Dispatcher::start(
        client.clone(),
        dispatcher_config(&settings),
        &metrics,
        part.shutdown.clone(),
    )
    .await?;
    replicate(&client, &settings).await?;
    dispatcher.wait().await;
    finish(metrics_server).await;
    part.close().await;
    Ok(())
}

/// Runs the configured provider in a task until `shutdown` (or until its lease is lost).
fn start_provider(
    settings: &Settings,
    client: async_nats::Client,
    shutdown: CancellationToken,
) -> tokio::task::JoinHandle<Result<(), switchyard_providers::ProviderError>> {
    let lease = settings.provider.lease();
    let outbound = settings.jobs.callback_networks();
    let kind = settings.provider.provider;
    let isolation = settings
        .provider
        .process_isolation(settings.data_dir.join("replicas"));
    let secrets = SecretsConfig {
        key_file: settings.secrets_key_file(),
        dir: settings.data_dir.join("function-secrets"),
    };
    let docker = DockerProviderConfig {
        network: settings.provider.docker_network.clone(),
        attach: settings.provider.docker_attach.0.clone(),
        secrets: secrets.clone(),
    };
    let swarm = SwarmProviderConfig {
        network: settings.provider.swarm_network.clone(),
        secrets: secrets.clone(),
    };
    tokio::spawn(async move {
        use switchyard_providers::service;
        let outcome = match kind {
            ProviderKind::Swarm => {
                service::run(SwarmProvider::new(swarm), client, lease, outbound, shutdown).await
            }
            ProviderKind::Docker => {
                service::run(
                    DockerProvider::new(docker),
                    client,
                    lease,
                    outbound,
                    shutdown,
                )
                .await
            }
            ProviderKind::Process => {
                let process = ProcessProvider::new(ProcessProviderConfig {
                    watchdog_command: watchdog_command(),
                    secrets,
                    isolation,
                })?;
                service::run(process, client, lease, outbound, shutdown).await
            }
        };
        if let Err(error) = &outcome {
            tracing::error!(error = %error, "the provider stopped");
        }
        outcome
    })
}

/// How the process provider runs a watchdog: the small `switchyard-watchdog` program built
/// beside this one when it is there (an idle replica then takes about 4 MiB instead of the
/// ~10 MiB of this whole program), else `switchyard watchdog`.
fn watchdog_command() -> Vec<String> {
    let program = std::env::current_exe().unwrap_or_else(|_| "switchyard".into());
    let sibling = program.with_file_name("switchyard-watchdog");
    if sibling.is_file() {
        vec![sibling.to_string_lossy().into_owned()]
    } else {
        vec![
            program.to_string_lossy().into_owned(),
            "watchdog".to_string(),
        ]
    }
}

/// `switchyard source webhook`: the webhook ingester on its own port.
pub async fn webhook(settings: Settings) -> anyhow::Result<()> {
    let part = Part::start(&settings, "switchyard-webhook").await?;
    let routes = webhook_routes(&settings, &part.client, &part.shutdown)
        .await?
        .merge(metrics_routes(&prometheus::Registry::new())?);
    tracing::info!(address = %settings.sources.webhook_listen, nats = %nats::redact(&part.nats_url), "webhook ingester listening");
    part.serve(settings.sources.webhook_listen, routes).await?;
    part.close().await;
    Ok(())
}

/// `switchyard source vcenter`: the vCenter pollers, with their metrics on their own port.
pub async fn vcenter(settings: Settings) -> anyhow::Result<()> {
    let part = Part::start(&settings, "switchyard-vcenter").await?;
    let metrics = prometheus::Registry::new();
    let pollers = VcenterSources::start(
        part.client.clone(),
        &metrics,
        settings.jobs.callback_networks(),
        part.shutdown.clone(),
    )
    .await?;
    replicate(&part.client, &settings).await?;
    tracing::info!(metrics = %settings.sources.source_metrics_listen, nats = %nats::redact(&part.nats_url), "vCenter pollers running");
    let routes = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let metrics = metrics.clone();
            async move { render(&metrics) }
        }),
    );
    part.serve(settings.sources.source_metrics_listen, routes)
        .await?;
    pollers.wait().await;
    part.close().await;
    Ok(())
}

/// A part run as its own process: it stops on SIGTERM or Ctrl-C and talks to a shared NATS
/// server (`SWITCHYARD_NATS_URL`, default nats://127.0.0.1:4222).
struct Part {
    shutdown: CancellationToken,
    client: async_nats::Client,
    nats_url: String,
    limits: switchyard_gateway::ServerLimits,
}

impl Part {
    async fn start(settings: &Settings, name: &str) -> anyhow::Result<Self> {
        let shutdown = CancellationToken::new();
        spawn_signal_handler(shutdown.clone());
        let nats_url = settings
            .nats
            .nats_url
            .clone()
            .unwrap_or_else(|| DEFAULT_NATS_URL.to_string());
        let client = nats::connect(&nats_url, name, &shutdown).await?;
        Ok(Self {
            shutdown,
            client,
            nats_url,
            limits: settings.gateway.server_limits(&settings.limits),
        })
    }

    /// Serves `registry` at `/metrics` on `address` (when one is set) until shutdown.
    fn serve_metrics(
        &self,
        address: Option<std::net::SocketAddr>,
        registry: &prometheus::Registry,
    ) -> anyhow::Result<Option<tokio::task::JoinHandle<()>>> {
        let Some(address) = address else {
            return Ok(None);
        };
        let routes = metrics_routes(registry)?;
        let listener = std::net::TcpListener::bind(address)
            .with_context(|| format!("cannot listen on {address}"))?;
        listener.set_nonblocking(true)?;
        let listener = tokio::net::TcpListener::from_std(listener)?;
        let (limits, shutdown) = (self.limits, self.shutdown.clone());
        tracing::info!(%address, "serving metrics");
        Ok(Some(tokio::spawn(async move {
            switchyard_gateway::serve(listener, routes, limits, shutdown).await;
        })))
    }

    /// Serves `routes` on `address` until shutdown, with the listener time limits.
    async fn serve(
        &self,
        address: std::net::SocketAddr,
        routes: axum::Router,
    ) -> anyhow::Result<()> {
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .with_context(|| format!("cannot listen on {address}"))?;
        switchyard_gateway::serve(listener, routes, self.limits, self.shutdown.clone()).await;
        Ok(())
    }

    /// Sends what the client still holds, for at most two seconds.
    async fn close(self) {
        let _ = tokio::time::timeout(Duration::from_secs(2), self.client.drain()).await;
    }
}

/// Sets the configured replicas on every stream and bucket (see `SWITCHYARD_REPLICAS`).
async fn replicate(client: &async_nats::Client, settings: &Settings) -> anyhow::Result<()> {
    let js = async_nats::jetstream::new(client.clone());
    switchyard_broker::replication::ensure(&js, settings.nats.replicas).await?;
    Ok(())
}

/// A registry in Prometheus's text format.
/// `/metrics` serving `registry`, with `switchyard_part_up` so that a part with no metrics of
/// its own still answers.
fn metrics_routes(registry: &prometheus::Registry) -> anyhow::Result<axum::Router> {
    let up = prometheus::IntGauge::new("switchyard_part_up", "1 while this part runs")?;
    up.set(1);
    registry.register(Box::new(up))?;
    let registry = registry.clone();
    Ok(axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let registry = registry.clone();
            async move { render(&registry) }
        }),
    ))
}

/// Waits for a metrics listener to stop (it stops with the part's shutdown).
async fn finish(server: Option<tokio::task::JoinHandle<()>>) {
    if let Some(server) = server {
        let _ = server.await;
    }
}

fn render(registry: &prometheus::Registry) -> String {
    use prometheus::Encoder;
    let mut buffer = Vec::new();
    let _ = prometheus::TextEncoder::new().encode(&registry.gather(), &mut buffer);
    String::from_utf8_lossy(&buffer).into_owned()
}

/// The webhook ingester, served on the gateway's port.
async fn webhook_routes(
    settings: &Settings,
    client: &async_nats::Client,
    shutdown: &CancellationToken,
) -> anyhow::Result<axum::Router> {
    let ceiling = client.server_info().max_payload.saturating_sub(64 * 1024);
    let limit = settings.gateway.max_body_bytes.min(ceiling);
    Ok(switchyard_event_sources::webhook::router(client.clone(), limit, shutdown.clone()).await?)
}

fn gateway_config(
    settings: &Settings,
    credentials: switchyard_gateway::Credentials,
) -> GatewayConfig {
    GatewayConfig {
        listen: settings.gateway.listen,
        credentials,
        max_body_bytes: settings.gateway.max_body_bytes,
        upstream_timeout: settings.gateway.upstream_timeout.0,
        max_delay: settings.gateway.max_delay.0,
        retention: settings.retention.config(),
        callback_networks: settings.jobs.callback_networks(),
        server: settings.gateway.server_limits(&settings.limits),
        secrets_key_file: Some(settings.secrets_key_file()),
        namespaces: settings.gateway.namespaces.clone(),
        tls: settings.gateway.tls(&settings.data_dir),
        oidc: settings.gateway.oidc(),
        metrics_public: settings.gateway.metrics_public,
    }
}

/// Where to find the CA that signed a generated certificate, for the banner.
fn tls_trust_hint(settings: &Settings) -> String {
    match settings.gateway.tls_cert_file {
        Some(_) => String::new(),
        None => format!(
            " (generated certificate: trust {})",
            settings.data_dir.join("tls").join("ca.crt").display()
        ),
    }
}

fn dispatcher_config(settings: &Settings) -> DispatcherConfig {
    DispatcherConfig {
        upstream_timeout: settings.gateway.upstream_timeout.0,
        jobs: settings.jobs.config(),
        retention: settings.retention.config(),
        replica_wait: settings.autoscaler.cold_start_timeout.0,
        schedule_misfire_after: settings.jobs.schedule_misfire_after.0,
        schedule_max_catch_up: settings.jobs.schedule_max_catch_up.max(1),
        ..DispatcherConfig::default()
    }
}

/// Cancels `token` on SIGTERM or Ctrl-C.
fn spawn_signal_handler(token: CancellationToken) {
    tokio::spawn(async move {
        switchyard_watchdog::shutdown_signal().await;
        tracing::info!("shutting down");
        token.cancel();
    });
}
