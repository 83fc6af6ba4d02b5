//! The Switchyard gateway: the HTTP API.
//!
//! It speaks OpenFaaS's gateway API, so faas-cli and existing clients work unchanged:
//!
//! - function management (`/system/functions`, `/system/function/{name}`,
//!   `/system/scale-function/{name}`, `/system/info`, `/system/namespaces`) behind
//!   [`access`] (the admin's basic auth, API tokens, OIDC; organizations, roles, policies),
//!   with the registry kept in a NATS KV bucket so every gateway and dispatcher shares one truth;
//! - synchronous invoke (`/function/{name}[/{path}]`): the request becomes a CloudEvent sent by
//!   NATS request/reply to the dispatchers, and their reply becomes the response;
//! - asynchronous invoke (`/async-function/{name}[/{path}]`): the CloudEvent is stored in the
//!   JetStream work queue `SY_INVOCATIONS` and the caller gets 202 and a call id once the server
//!   has acknowledged it; job records and results under `/system/jobs`;
//! - `/healthz` and `/metrics` (OpenFaaS metric names);
//! - the web UI at `/ui/` ([`ui`]), the OpenAPI document at `/system/openapi.json`, and the
//!   live event feed at `/system/events/stream`;
//! - API routes (`/system/routes`, served by [`routes`]): hosts, paths and methods bound to
//!   functions, with their own authentication ([`identity`] checks bearer JWTs) and CORS.
//!
//! The gateway runs no function: before it stores a deployment it asks the active provider
//! (`switchyard provider`, another part) over NATS whether it can run it, and it reads logs
//! from that provider the same way. Any number of gateways can serve one NATS.
//!
//! ```no_run
//! # async fn run(nats: async_nats::Client) -> Result<(), Box<dyn std::error::Error>> {
//! use switchyard_gateway::{Gateway, GatewayConfig};
//! let config = GatewayConfig::new("admin", "secret");
//! let metrics = prometheus::Registry::new();
//! let gateway = Gateway::bind(config, nats, &metrics).await?;
//! println!("listening on {}", gateway.local_addr());
//! gateway.run(tokio_util::sync::CancellationToken::new()).await?;
//! # Ok(()) }
//! ```

mod access;
mod api;
mod auth;
mod config;
mod error;
pub mod identity;
mod metrics;
mod provider_client;
mod routes;
mod server;
pub mod tls;
mod ui;

pub use api::openapi::document as openapi;
pub use api::{app, Gateway, GatewayError};
pub use config::{Credentials, GatewayConfig};
pub use server::{serve, serve_tls, ServerLimits};
