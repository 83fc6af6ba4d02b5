//! Where NATS is, and the nats-server `up` starts when there is none.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;

/// Where every part connects unless told: the server `up` would start.
pub const DEFAULT_NATS_URL: &str = "nats://127.0.0.1:4222";

#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "NATS")]
pub struct NatsSettings {
    /// NATS server to use (a comma-separated list for a cluster). `up` starts its own when this
    /// is unset; the parts run alone default to nats://127.0.0.1:4222.
    #[arg(long, env = "SWITCHYARD_NATS_URL")]
    pub nats_url: Option<String>,

    /// The nats-server program `up` starts when SWITCHYARD_NATS_URL is unset.
    #[arg(
        long,
        env = "SWITCHYARD_NATS_SERVER_BIN",
        default_value = "nats-server"
    )]
    pub nats_server_bin: PathBuf,

    /// Where the NATS server started by `up` listens (always loopback unless you say otherwise).
    #[arg(long, env = "SWITCHYARD_NATS_LISTEN", default_value = "127.0.0.1:4222")]
    pub nats_listen: SocketAddr,

    /// Replicas of every Switchyard stream and bucket. Above 1 on a NATS cluster, Switchyard
    /// keeps working when a NATS node is lost (3 for a three-node cluster).
    #[arg(long, env = "SWITCHYARD_REPLICAS", default_value_t = 1)]
    pub replicas: usize,
}
