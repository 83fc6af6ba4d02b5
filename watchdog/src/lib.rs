//! The Switchyard watchdog: a drop-in for OpenFaaS's classic watchdog and of-watchdog.
//!
//! It sits in front of a function process and speaks HTTP for it, configured by the same
//! environment variables OpenFaaS uses (see [`Config`]):
//!
//! - **fork mode** (the default; `mode` unset, `fork`, `serializing` or `streaming`): `fprocess`
//!   is started for every request, the request body goes to its stdin and its stdout is the
//!   response. The request is described in CGI-style `Http_*` variables.
//! - **http mode** (`mode=http`): `fprocess` is started once as a long-running HTTP server and
//!   requests are proxied to `upstream_url`, bodies streamed both ways. It is restarted if it dies.
//!
//! Around both: deadlines (`read_timeout`, `write_timeout`, `exec_timeout`, shortened per
//! request by `X-Timeout`; on expiry the process group is killed and the answer is 504),
//! `max_inflight` (429 beyond it), `/_/health` and `/_/ready`, `X-Duration-Seconds` on every
//! answer, Prometheus metrics on `/_/metrics` with the OpenFaaS watchdog names, and a graceful
//! drain on SIGTERM.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let config = switchyard_watchdog::Config::from_env()?;
//! let watchdog = switchyard_watchdog::Watchdog::bind(config).await?;
//! println!("listening on {}", watchdog.local_addr());
//! watchdog.run(switchyard_watchdog::shutdown_signal()).await?;
//! # Ok(()) }
//! ```

mod config;
mod duration;
mod fork;
mod listen;
mod metrics;
mod process;
mod proxy;
mod server;
mod upstream;

pub use config::{Config, ConfigError, Mode};
pub use duration::{parse_duration, InvalidDuration};
pub use server::{shutdown_signal, Watchdog, WatchdogError};

/// Runs a watchdog configured from the environment until SIGTERM, on a small runtime of its
/// own (what `switchyard-watchdog` and `switchyard watchdog` do).
pub fn run_from_env() -> anyhow::Result<()> {
    let config = Config::from_env()?;
    // Read once; the function's processes must not inherit it. Removed before any thread
    // starts, so nothing reads the environment meanwhile.
    std::env::remove_var(config::REPLICA_TOKEN_VARIABLE);
    // Not dumpable: processes of the same user cannot read our memory or /proc environment
    // without CAP_SYS_PTRACE (the token was in it).
    // SAFETY: prctl with constant arguments.
    #[cfg(target_os = "linux")]
    unsafe {
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let watchdog = Watchdog::bind(config).await?;
        tracing::info!(address = %watchdog.local_addr(), "watchdog listening");
        watchdog.run(shutdown_signal()).await?;
        Ok(())
    })
}
