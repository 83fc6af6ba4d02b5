//! Connecting to NATS: wait until the server answers, then let the client reconnect on its own.

use std::time::Duration;

use anyhow::Context;
use tokio_util::sync::CancellationToken;

/// Connects to `url` (one server, or a comma-separated list of a cluster's servers), retrying
/// every second until one answers or `shutdown` fires.
pub async fn connect(
    url: &str,
    name: &str,
    shutdown: &CancellationToken,
) -> anyhow::Result<async_nats::Client> {
    let servers = url
        .split(',')
        .map(|server| server.trim().parse::<async_nats::ServerAddr>())
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| {
            format!("SWITCHYARD_NATS_URL `{url}`: use nats://host:port[,nats://host:port…]")
        })?;
    let mut warned = false;
    loop {
        let options = async_nats::ConnectOptions::new()
            .name(name)
            .max_reconnects(None)
            .event_callback(|event| async move {
                match event {
                    async_nats::Event::Connected => tracing::info!("connected to NATS"),
                    async_nats::Event::Disconnected => {
                        tracing::warn!("NATS connection lost; reconnecting")
                    }
                    other => tracing::debug!(event = %other, "NATS event"),
                }
            });
        match options.connect(servers.as_slice()).await {
            Ok(client) => return Ok(client),
            Err(error) => {
                if !warned {
                    tracing::warn!(%url, %error, "waiting for NATS");
                    warned = true;
                }
            }
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
            () = shutdown.cancelled() => return Err(anyhow::anyhow!("stopped while waiting for NATS at {url}")).context("no NATS"),
        }
    }
}
