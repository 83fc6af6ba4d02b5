//! Events: the stream `SY_EVENTS`, subscriptions and their filters.
//!
//! An event is stored on subject `sy.event.<type>` (the type's dots are subject tokens, other
//! characters outside `A-Z a-z 0-9 - _` are percent-encoded), so that a subscription to one
//! type is filtered by JetStream itself. It is published with `Nats-Msg-Id` derived from its
//! `(source, id)`, so a producer's retry is not a second event.

mod filter;
mod subscription;

pub use filter::Filter;
pub use subscription::{
    BackoffPolicy, DeliveryMode, DeliveryPolicy, InvalidSubscription, StartAt, Subscription,
};

use crate::codec::percent;

/// Extension counting how many replies led to an event, against reply loops.
pub const HOPS_EXTENSION: &str = "syhops";
/// Replies stop being published once an event has this many hops.
pub const MAX_HOPS: i64 = 8;

/// The subject an event of type `ty` is stored on.
pub fn subject(ty: &str) -> String {
    let tokens: Vec<String> = ty.split('.').map(encode_token).collect();
    format!("sy.event.{}", tokens.join("."))
}

/// Every event subject.
pub const ALL_EVENTS: &str = "sy.event.>";

fn encode_token(token: &str) -> String {
    if token.is_empty() {
        // A lone `%` cannot come from encoding anything else.
        return "%".to_string();
    }
    let mut out = String::with_capacity(token.len());
    for byte in token.bytes() {
        if byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_' {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The `Nats-Msg-Id` of an event: its `(source, id)`, unambiguous and header-safe.
pub fn message_id(source: &str, id: &str) -> String {
    percent::encode(&format!("{}:{source}{id}", source.len())).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_become_filterable_subjects() {
        assert_eq!(
            subject("com.vmware.vsphere.VmPoweredOffEvent.v0"),
            "sy.event.com.vmware.vsphere.VmPoweredOffEvent.v0"
        );
        assert_eq!(subject("a b*>.x"), "sy.event.a%20b%2A%3E.x");
        assert_eq!(subject("a..b"), "sy.event.a.%.b");
        assert_ne!(subject("a_b"), subject("a.b"));
    }

    #[test]
    fn message_ids_do_not_collide_across_the_boundary() {
        assert_ne!(message_id("ab", "c"), message_id("a", "bc"));
        assert!(!message_id("/s", "line\nbreak").contains('\n'));
    }
}
