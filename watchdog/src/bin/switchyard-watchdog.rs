//! The standalone watchdog binary, for function images: configured entirely by the OpenFaaS
//! watchdog environment variables (`fprocess`, `mode`, `port`, timeouts, ...).

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    switchyard_watchdog::run_from_env()
}
