//! The Switchyard dispatcher: takes invocations off NATS and delivers them to function watchdogs.
//!
//! - **Synchronous calls** arrive by core NATS request/reply on `sy.call.<function>`; every
//!   dispatcher joins one queue group, so each call is handled once. The dispatcher picks a
//!   ready replica from the endpoint directory, forwards the HTTP request over a pooled
//!   keep-alive connection, and replies with the function's status, headers and body.
//! - **Asynchronous jobs** wait in the JetStream work queue `SY_INVOCATIONS`. A function with
//!   jobs waiting has a durable pull consumer shared by all dispatchers (opened when work is
//!   found, gone when there is none, at most a set number at once per dispatcher), with a
//!   concurrency limit per dispatcher. A job is retried with backoff on 408/429/500/502/503/504 and network failures
//!   (OpenFaaS's retry annotations apply), kept alive with progress acks while it runs, copied
//!   to `SY_DEAD` when it fails for good, and can be cancelled. Its record in `sy_jobs` follows
//!   every transition and its answer is stored in `sy_results`.
//! - **Events** in `SY_EVENTS` are routed by one shared consumer: each event is matched against
//!   an index of every subscription's filters (and every function's `topic` annotation) and
//!   turned into one asynchronous invocation per match, delivered as a CloudEvents HTTP request.
//! - **The event catalog** (`catalog.rs`) counts every stored event under its source and type.
//! - **Callbacks** are queued durably in `SY_CALLBACKS` and POSTed to `X-Callback-Url` with
//!   retries, so that neither a dispatcher crash nor a receiver that is down loses one.
//!
//! Where each path enters: `sync_calls.rs` (sync) → `delivery.rs` → `forward.rs`;
//! `jobs/mod.rs` (a worker per function) → `jobs/attempt/` (one delivery; `decision.rs` decides
//! what follows it, `outputs.rs` stores what it produced) → `callbacks.rs`; `routing/`
//! (events → jobs). `service.rs` starts them all; `endpoints.rs` reads the replica directory and
//! `wake.rs` scales a function from zero when a call or a job finds it there.
//!
//! ```no_run
//! # async fn run(nats: async_nats::Client) -> Result<(), switchyard_dispatcher::DispatcherError> {
//! let shutdown = tokio_util::sync::CancellationToken::new();
//! let metrics = prometheus::Registry::new();
//! let dispatcher = switchyard_dispatcher::Dispatcher::start(
//!     nats,
//!     switchyard_dispatcher::DispatcherConfig::default(),
//!     &metrics,
//!     shutdown.clone(),
//! )
//! .await?;
//! dispatcher.wait().await;
//! # Ok(()) }
//! ```

mod callbacks;
mod catalog;
mod config;
mod delivery;
mod endpoints;
mod event_owners;
mod forward;
mod jobs;
mod load;
mod metrics;
mod routing;
mod service;
mod sync_calls;
mod wake;

pub use config::{DispatcherConfig, JobsConfig};
pub use service::{Dispatcher, DispatcherError};
