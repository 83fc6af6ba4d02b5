//! `switchyard`: the event-driven broker and function dispatcher, in one binary.
//!
//! - `switchyard up`: everything in one process (solo mode): a NATS server with JetStream
//!   (started as a child unless `SWITCHYARD_NATS_URL` is given), the gateway, the dispatcher and
//!   the process provider.
//! - `switchyard gateway`, `switchyard dispatcher` and `switchyard provider`: the parts as
//!   separate processes sharing a NATS server (any number of gateways and dispatchers; one
//!   active provider, others standing by).
//! - `switchyard autoscaler`: the autoscaler alone (also inside `up`).
//! - `switchyard source webhook`: the webhook ingester alone, on its own port.
//! - `switchyard source vcenter`: the vCenter pollers alone.
//! - `switchyard watchdog`: the function watchdog, configured by OpenFaaS's environment variables.
//! - `switchyard jobs|events|subscriptions|sources|dead-letters|routes|organizations|policies|
//!   service-accounts|audit …`: client verbs over a
//!   gateway's HTTP API ([`client`]).

mod client;
mod credentials;
mod nats;
mod nats_server;
mod run;
mod settings;

use clap::{Parser, Subcommand};

/// Every job, event and request allocates and frees many small buffers across threads, where
/// glibc's allocator spent about a sixth of the process's time under load (a profile of
/// the async benchmark, README).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use settings::Settings;

#[derive(Parser)]
#[command(
    name = "switchyard",
    version,
    about = "Event-driven broker and function dispatcher (OpenFaaS-compatible, CloudEvents-native)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run everything in one process: NATS (unless SWITCHYARD_NATS_URL is set), gateway,
    /// dispatcher and the process provider.
    Up(Settings),
    /// Run the gateway (HTTP API) against a shared NATS server.
    Gateway(Settings),
    /// Run the function provider (SWITCHYARD_PROVIDER) against a shared NATS server: the
    /// active one runs functions; another waits as a standby and takes over when it dies.
    Provider(Settings),
    /// Run a dispatcher against a shared NATS server.
    Dispatcher(Settings),
    /// Run the autoscaler against a shared NATS server: functions with OpenFaaS's scaling
    /// labels get replicas from their load (any number may run).
    Autoscaler(Settings),
    /// Run an event source alone.
    #[command(subcommand)]
    Source(SourceCommand),
    /// Run a function watchdog, configured by OpenFaaS's environment variables
    /// (fprocess, mode, port, upstream_url, read_timeout, write_timeout, exec_timeout, ...).
    Watchdog,
    #[command(flatten)]
    Client(client::ClientCommand),
}

#[derive(Subcommand)]
enum SourceCommand {
    /// The webhook ingester (`POST /webhook/{source}`) on its own port (SWITCHYARD_WEBHOOK_LISTEN).
    Webhook(Settings),
    /// The vCenter pollers: one per `kind: vcenter` event source (metrics on
    /// SWITCHYARD_SOURCE_METRICS_LISTEN).
    Vcenter(Settings),
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) != Some("watchdog") {
        settings::apply_config_file(&args)?;
    }
    let cli = Cli::parse_from(args);
    let command = match cli.command {
        Command::Watchdog => {
            init_tracing("info");
            return switchyard_watchdog::run_from_env();
        }
        Command::Client(verb) => {
            init_tracing("warn");
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            return runtime.block_on(verb.run());
        }
        part => part,
    };
    let settings = match &command {
        Command::Up(s)
        | Command::Gateway(s)
        | Command::Dispatcher(s)
        | Command::Provider(s)
        | Command::Autoscaler(s)
        | Command::Source(SourceCommand::Webhook(s))
        | Command::Source(SourceCommand::Vcenter(s)) => s.clone(),
        Command::Watchdog | Command::Client(_) => unreachable!("handled above"),
    };
    settings.validate()?;
    switchyard_broker::replication::create_with(settings.nats.replicas);
    switchyard_broker::codec::limits::configure(settings.limits.events());
    init_tracing(&settings.log);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        match command {
            Command::Up(_) => run::up(settings).await,
            Command::Gateway(_) => run::gateway(settings).await,
            Command::Dispatcher(_) => run::dispatcher(settings).await,
            Command::Provider(_) => run::provider(settings).await,
            Command::Autoscaler(_) => run::autoscaler(settings).await,
            Command::Source(SourceCommand::Webhook(_)) => run::webhook(settings).await,
            Command::Source(SourceCommand::Vcenter(_)) => run::vcenter(settings).await,
            Command::Watchdog | Command::Client(_) => unreachable!("handled above"),
        }
    })
}

fn init_tracing(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
