//! Events: the stream `SY_EVENTS`, subscriptions and their filters.
//!
//! An event is stored on subject `sy.event.<type>` (the type's dots are subject tokens, other
//! characters outside `A-Z a-z 0-9 - _` are percent-encoded), so that a subscription to one
//! type is filtered by JetStream itself. It is published with `Nats-Msg-Id` derived from its
//! `(source, id)`, so a producer's retry is not a second event. [`tail`] follows it live.

mod filter;
pub mod replay;
mod subscription;
mod tail;

pub use filter::{attribute, Filter};
pub use subscription::{
    BackoffPolicy, DeliveryMode, DeliveryPolicy, InvalidSubscription, StartAt, Subscription,
};
pub use tail::{tail, Stored, TailError};

use cloudevents::{AttributesReader, Event};

use crate::codec::{self, percent};

/// Extension counting how many replies led to an event, against reply loops.
pub const HOPS_EXTENSION: &str = "syhops";
/// Replies stop being published once an event has this many hops.
pub const MAX_HOPS: i64 = 8;

/// Longest event subject: a `type` within the default bound of [`crate::codec::limits`] always
/// fits.
pub const MAX_SUBJECT_BYTES: usize = 1024;

/// The subject an event of type `ty` is stored on. A type whose subject would exceed
/// [`MAX_SUBJECT_BYTES`] (decoding refuses such types; this is the second line) gets a bounded
/// subject from its digest instead, `sy.event.%long.<hex>`, so NATS never sees an over-long
/// protocol line.
pub fn subject(ty: &str) -> String {
    let tokens: Vec<String> = ty.split('.').map(encode_token).collect();
    let subject = format!("sy.event.{}", tokens.join("."));
    if subject.len() <= MAX_SUBJECT_BYTES {
        return subject;
    }
    use sha2::{Digest, Sha256};
    let digest: String = Sha256::digest(ty.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sy.event.%long.{digest}")
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

/// Extension naming the Switchyard event source that took the event in (its ingress):
/// set by Switchyard on every stored event, whatever the producer sent; subscriptions can
/// filter on it.
pub const INGRESS_EXTENSION: &str = "syingress";

/// The ingress of events that are functions' replies.
pub const REPLY_INGRESS: &str = "reply";

/// Extension naming the namespace an event belongs to: its source's (a reply's: its
/// function's). Set by Switchyard on every stored event, whatever the producer sent; the
/// router delivers an event only to functions of the organization that owns that namespace,
/// unless its source is shared ([`may_deliver`]).
pub const NAMESPACE_EXTENSION: &str = "synamespace";

/// `sharedWith` entry that shares a source's events with every organization.
pub const SHARED_WITH_EVERYONE: &str = "*";

/// Whether an event of organization `event_organization`, from a source shared with
/// `shared_with`, may be delivered to a function of `function_organization`.
pub fn may_deliver(
    event_organization: &str,
    function_organization: &str,
    shared_with: &[String],
) -> bool {
    event_organization == function_organization
        || shared_with
            .iter()
            .any(|o| o == SHARED_WITH_EVERYONE || o == function_organization)
}

/// The `Nats-Msg-Id` of an event: its `(ingress, source, id)`, unambiguous and header-safe. The
/// ingress scopes it: one producer cannot make another source's events look like duplicates.
pub fn message_id(ingress: &str, source: &str, id: &str) -> String {
    percent::encode(&format!(
        "{}:{ingress}{}:{source}{id}",
        ingress.len(),
        source.len()
    ))
    .into_owned()
}

/// The call id of the invocation that delivers the event `(ingress, source, id)` through the
/// route whose consumer is `consumer`: the same event routed twice is the same job. Keyed with
/// the deployment's secret routing key (see [`crate::keys`]), so nobody outside can predict the
/// id and claim or cancel the job first.
pub fn routed_call_id(key: &[u8], consumer: &str, ingress: &str, source: &str, id: &str) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    for part in [consumer, ingress, source, id] {
        mac.update(&(part.len() as u64).to_be_bytes());
        mac.update(part.as_bytes());
    }
    mac.finalize()
        .into_bytes()
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The message that stores `event`, taken in by `ingress` for `namespace`, in `SY_EVENTS`: its
/// subject, and binary-mode headers with the ingress and namespace extensions (replacing any
/// the producer sent) and a `Nats-Msg-Id` from `(ingress, source, id)`.
pub fn to_stored_message(
    ingress: &str,
    namespace: &str,
    event: &Event,
) -> (String, async_nats::HeaderMap, bytes::Bytes) {
    let mut event = event.clone();
    event.set_extension(INGRESS_EXTENSION, ingress);
    event.set_extension(NAMESPACE_EXTENSION, namespace);
    let (mut headers, payload) = codec::encode_binary(&event);
    crate::headers::set_msg_id(
        &mut headers,
        &message_id(ingress, event.source(), event.id()),
    );
    (subject(event.ty()), headers, payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_reach_their_own_organization_and_those_shared_with() {
        let none: Vec<String> = Vec::new();
        let table = [
            ("a", "a", none.clone(), true),
            ("a", "b", none.clone(), false),
            ("a", "b", vec!["c".to_string()], false),
            ("a", "b", vec!["c".to_string(), "b".to_string()], true),
            ("default", "b", vec!["*".to_string()], true),
        ];
        for (event, function, shared, expected) in table {
            assert_eq!(
                may_deliver(event, function, &shared),
                expected,
                "{event} → {function} {shared:?}"
            );
        }
    }

    #[test]
    fn routed_call_ids_are_stable_and_distinct_per_route() {
        let key = b"secret";
        let a = routed_call_id(key, "sy-sub-a", "in", "/s", "1");
        assert_eq!(a, routed_call_id(key, "sy-sub-a", "in", "/s", "1"));
        assert_ne!(a, routed_call_id(key, "sy-sub-b", "in", "/s", "1"));
        assert_ne!(a, routed_call_id(key, "sy-sub-a", "in", "/s", "2"));
        assert_ne!(a, routed_call_id(key, "sy-sub-a", "other", "/s", "1"));
        assert_ne!(
            a,
            routed_call_id(b"another key", "sy-sub-a", "in", "/s", "1")
        );
        assert!(crate::jobs::validate_call_id(&a).is_ok());
    }

    #[test]
    fn stored_events_round_trip() {
        use cloudevents::{EventBuilder, EventBuilderV10};
        let event = EventBuilderV10::new()
            .id("42")
            .source("https://vc/sdk")
            .ty("com.vmware.vsphere.VmPoweredOffEvent.v0")
            .build()
            .expect("valid");
        let (subject, headers, payload) = to_stored_message("vc1", "openfaas-fn", &event);
        assert_eq!(subject, "sy.event.com.vmware.vsphere.VmPoweredOffEvent.v0");
        assert_eq!(
            crate::headers::msg_id(&headers),
            Some(message_id("vc1", "https://vc/sdk", "42").as_str())
        );
        let decoded = codec::decode(Some(&headers), &payload).expect("decodes");
        let mut expected = event.clone();
        expected.set_extension(INGRESS_EXTENSION, "vc1");
        expected.set_extension(NAMESPACE_EXTENSION, "openfaas-fn");
        assert_eq!(decoded, expected);
        // The same event through another ingress is another event.
        let (_, other, _) = to_stored_message("github", "openfaas-fn", &event);
        assert_ne!(
            crate::headers::msg_id(&other),
            crate::headers::msg_id(&headers)
        );
    }

    #[test]
    fn types_become_filterable_subjects() {
        assert_eq!(
            subject("com.vmware.vsphere.VmPoweredOffEvent.v0"),
            "sy.event.com.vmware.vsphere.VmPoweredOffEvent.v0"
        );
        assert_eq!(subject("a b*>.x"), "sy.event.a%20b%2A%3E.x");
        assert_eq!(subject("a..b"), "sy.event.a.%.b");
        assert_ne!(subject("a_b"), subject("a.b"));
        let long = subject(&"é".repeat(1000));
        assert!(long.len() <= MAX_SUBJECT_BYTES && long.starts_with("sy.event.%long."));
        assert_eq!(long, subject(&"é".repeat(1000)));
        assert_ne!(long, subject(&"è".repeat(1000)));
    }

    #[test]
    fn message_ids_do_not_collide_across_the_boundary() {
        assert_ne!(message_id("i", "ab", "c"), message_id("i", "a", "bc"));
        assert_ne!(message_id("ia", "b", "c"), message_id("i", "ab", "c"));
        assert!(!message_id("i", "/s", "line\nbreak").contains('\n'));
    }
}
