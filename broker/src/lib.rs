//! The broker crate: everything the other Switchyard parts agree on when they talk over NATS.
//!
//! The gateway, the dispatcher and the event sources never call each other; they exchange
//! CloudEvents on NATS subjects, JetStream streams and key-value buckets. This crate is the
//! single definition of that contract:
//!
//! - [`codec`]: CloudEvents 1.0 ⇄ NATS messages, in binary mode (attributes in `ce-` headers,
//!   percent-encoded as the CloudEvents HTTP binding requires) and structured mode (JSON), with
//!   validation that says precisely what is wrong.
//! - [`invocation`]: an HTTP request to a function carried as a CloudEvent, and its reply.
//! - [`subjects`], [`consumers`], [`headers`], [`streams`] and [`buckets`]: the names and
//!   definitions of subjects, durable consumers, NATS headers, JetStream streams and KV buckets.
//!   No other crate spells one of these names.
//! - [`jobs`]: a job's state machine, its record, its stored result, and the dead-letter and
//!   queued-callback messages.
//! - [`events`]: the events stream's subjects, subscriptions and their filters.
//! - [`follow`]: the loop every follower of KV buckets runs.
//! - [`catalog`]: the event types seen, per source, with counts and an example.
//! - [`load`]: what each dispatcher has in flight and has finished, for the autoscaler.
//! - [`audit`]: the audit log of changes made through the API.
//! - [`networks`]: where callbacks may and may not go; [`keys`]: the routing key;
//!   [`secrets`]: function secrets, sealed with a key kept outside NATS.
//! - [`errors`]: one line naming an error and all its causes.
//! - [`backoff`]: how long to wait between attempts, shared by every retry loop.
//! - [`records`]: the shared records (function spec and status, function endpoints, routes,
//!   certificates, organizations, policies, service accounts and tokens).
//! - [`table`] and [`cache`]: typed records in a KV bucket (create-if-absent, compare-and-set
//!   update, delete), and a local, continuously updated copy for reads.
//! - [`provider`]: the gateway's requests to the active provider, and the provider lease.
//!
//! With the feature `testing`, the module `testing` starts a real nats-server for tests.
//!
//! It depends on none of Switchyard's other crates.

pub mod audit;
pub mod backoff;
pub mod buckets;
pub mod cache;
pub mod catalog;
pub mod codec;
pub mod consumers;
pub mod duration;
pub mod errors;
pub mod events;
pub mod follow;
pub mod headers;
pub mod invocation;
pub mod jobs;
pub mod keys;
pub mod load;
pub mod networks;
pub mod provider;
pub mod records;
pub mod replication;
pub mod secrets;
pub mod streams;
pub mod subjects;
pub mod table;
#[cfg(feature = "testing")]
pub mod testing;

pub use cloudevents::Event;
