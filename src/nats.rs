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
    // Credentials in the URL (`nats://user:password@host:port`), as `up` hands them to its parts.
    let credentials = servers.iter().find_map(|server| {
        Some((
            server.username()?.to_string(),
            server.password()?.to_string(),
        ))
    });
    let shown = redact(url);
    let mut warned = false;
    loop {
        let mut options = async_nats::ConnectOptions::new();
        if let Some((user, password)) = credentials.clone() {
            options = options.user_and_password(user, password);
        }
        let options = options
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
                    tracing::warn!(url = %shown, %error, "waiting for NATS");
                    warned = true;
                }
            }
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
            () = shutdown.cancelled() => return Err(anyhow::anyhow!("stopped while waiting for NATS at {shown}")).context("no NATS"),
        }
    }
}

/// A NATS URL (or list) without its passwords, for logs.
pub fn redact(url: &str) -> String {
    url.split(',')
        .map(|server| match (server.find("://"), server.rfind('@')) {
            (Some(scheme), Some(at)) if at > scheme => {
                format!("{}***@{}", &server[..scheme + 3], &server[at + 1..])
            }
            _ => server.to_string(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_never_reach_logs() {
        assert_eq!(
            super::redact("nats://switchyard:s3cret@127.0.0.1:4222,nats://h:4222"),
            "nats://***@127.0.0.1:4222,nats://h:4222"
        );
    }
}
