//! Where the event sources listen when they run alone.

use std::net::SocketAddr;

use clap::Args;

#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Event sources")]
pub struct SourceSettings {
    /// Where `switchyard source webhook` listens (in `up` the ingester shares the gateway's
    /// port).
    #[arg(
        long,
        env = "SWITCHYARD_WEBHOOK_LISTEN",
        default_value = "127.0.0.1:8081"
    )]
    pub webhook_listen: SocketAddr,

    /// Where `switchyard source vcenter` serves `GET /metrics` (in `up` the pollers' metrics
    /// are on the gateway's `/metrics`).
    #[arg(
        long,
        env = "SWITCHYARD_SOURCE_METRICS_LISTEN",
        default_value = "127.0.0.1:8082"
    )]
    pub source_metrics_listen: SocketAddr,
}
