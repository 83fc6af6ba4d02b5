//! Event sources: adapters that turn outside happenings into CloudEvents in `SY_EVENTS`.
//!
//! Sources are created at run time through the gateway's `/system/event-sources` and kept in
//! the KV bucket `sy_sources`; adapters read them from there. Every event is stored with
//! [`switchyard_broker::events::to_stored_message`], marked with the name of the source that
//! took it in (`syingress`) and deduplicated by `(ingress, source, id)`.
//!
//! - [`webhook`]: `POST /webhook/{source}` accepts the CloudEvents HTTP binding (binary,
//!   structured and batch modes; `parse.rs`) and plain payloads, which it wraps into
//!   CloudEvents; each source authenticates its callers (`auth.rs`: HMAC signature, bearer
//!   token or basic) and has a rate limit. The answer is 202 only once every event is stored.
//! - [`vcenter`]: one poller per vCenter source follows its events (vSphere SOAP API, our own
//!   client in `soap/`; `event.rs` maps an event; `poller.rs` runs sessions; `checkpoint.rs`
//!   says where to resume) and stores each once, in key order, after any failure.

pub mod vcenter;
pub mod webhook;

#[cfg(test)]
mod properties;
