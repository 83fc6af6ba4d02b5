//! Connecting to NATS: wait until the server answers, then let the client reconnect on its own.

use std::time::Duration;

use anyhow::Context;
use tokio_util::sync::CancellationToken;

/// Connects to `url`, retrying every second until it answers or `shutdown` fires.
pub async fn connect(
    url: &str,
    name: &str,
    shutdown: &CancellationToken,
) -> anyhow::Result<async_nats::Client> {
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
        match options.connect(url).await {
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
