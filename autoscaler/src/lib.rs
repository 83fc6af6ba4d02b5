//! The Switchyard autoscaler: sets each function's replicas from its load, driven by OpenFaaS's
//! scaling labels so that existing `stack.yml` files work.
//!
//! - [`policy`]: a function's labels read as a [`ScalePolicy`] (`com.openfaas.scale.min`, `.max`,
//!   `.target`, `.type` = `rps` | `capacity` | `queue`, `.target-proportion`, `.zero`,
//!   `.zero-duration`).
//! - [`measures`]: the load it scales on: calls in flight and finished per second from the
//!   dispatchers' load reports ([`switchyard_broker::load`]), jobs waiting from JetStream.
//! - [`openfaas_ce`]: OpenFaaS CE's alert-driven steps for functions without scaling labels
//!   (on by default, [`AutoscalerConfig::openfaas_ce`]).
//! - [`decision`]: pure arithmetic: how many replicas a load needs, and the stabilisation window
//!   that lets replicas rise at once but fall only when the load has stayed low.
//! - [`service`]: the part: every interval, measure, decide, write the registry, log the reason
//!   and count it in metrics.
//!
//! Any number of autoscalers may run on one NATS: each computes the same replicas from the same
//! measures, and writes only a change.

pub mod decision;
pub mod measures;
pub mod openfaas_ce;
pub mod policy;
pub mod service;

pub use policy::{ScaleKind, ScalePolicy};
pub use service::{Autoscaler, AutoscalerConfig};
