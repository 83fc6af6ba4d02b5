//! Event sources: adapters that turn outside happenings into CloudEvents in `SY_EVENTS`.
//!
//! - [`webhook`]: `POST /webhook/{source}` accepts the CloudEvents HTTP binding (binary,
//!   structured and batch modes) and plain payloads, which it wraps into CloudEvents; each
//!   source authenticates its callers (HMAC signature, bearer token or basic) and has a rate
//!   limit. The answer is 202 only once every event is stored.
//!
//! Sources are created at run time through the gateway's `/system/event-sources` and kept in
//! the KV bucket `sy_sources`; adapters read them from there.
//!
//! - [`vcenter`]: one poller per vCenter source follows its events (vSphere SOAP API, our own
//!   client) and stores each once, in key order, resuming from a checkpoint after any failure.

pub mod vcenter;
pub mod webhook;
