//! The Switchyard dispatcher: takes invocations off NATS and delivers them to function watchdogs.
//!
//! Synchronous calls arrive by core NATS request/reply on `sy.call.<function>`; every
//! dispatcher joins one queue group, so each call is handled once and load spreads across
//! dispatchers. For each call the dispatcher picks a ready replica of the function from the
//! endpoint directory (a KV bucket the providers keep), forwards the HTTP request over a pooled
//! keep-alive connection, and replies with the function's status, headers and body.
//!
//! ```no_run
//! # async fn run(nats: async_nats::Client) -> Result<(), switchyard_dispatcher::DispatcherError> {
//! let shutdown = tokio_util::sync::CancellationToken::new();
//! let dispatcher = switchyard_dispatcher::Dispatcher::start(
//!     nats,
//!     switchyard_dispatcher::DispatcherConfig::default(),
//!     shutdown.clone(),
//! )
//! .await?;
//! dispatcher.wait().await;
//! # Ok(()) }
//! ```

mod config;
mod endpoints;
mod forward;
mod sync_calls;

pub use config::DispatcherConfig;
pub use sync_calls::{Dispatcher, DispatcherError};
