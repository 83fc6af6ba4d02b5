//! NATS header names that are not CloudEvent attributes.
//!
//! Headers of the invocation and reply messages (`sy-http-*`, `sy-status`, `sy-internal`) live
//! with those messages in [`crate::invocation`]; the dead-letter and queued-callback headers
//! with theirs in [`crate::jobs`]. This module holds the ones shared by every stored message.

/// JetStream deduplication: a second message with the same id inside the stream's duplicate
/// window is acknowledged as a duplicate and not stored.
pub const MSG_ID: &str = "Nats-Msg-Id";

/// A message schedule (`@at <RFC 3339>`): the stream holds the message and, when due, stores
/// its body and headers again on [`SCHEDULE_TARGET`] (nats-server 2.12 and later).
pub const SCHEDULE: &str = "Nats-Schedule";
/// The subject a scheduled message is stored on when due.
pub const SCHEDULE_TARGET: &str = "Nats-Schedule-Target";

/// Sets the JetStream deduplication id of a message.
pub fn set_msg_id(headers: &mut async_nats::HeaderMap, id: &str) {
    headers.insert(MSG_ID, id);
}

/// The JetStream deduplication id of a message, if it has one.
pub fn msg_id(headers: &async_nats::HeaderMap) -> Option<&str> {
    headers.get(MSG_ID).map(|v| v.as_str())
}

#[cfg(test)]
mod tests {
    #[test]
    fn message_ids_round_trip() {
        let mut headers = async_nats::HeaderMap::new();
        assert_eq!(super::msg_id(&headers), None);
        super::set_msg_id(&mut headers, "call-1");
        super::set_msg_id(&mut headers, "call-2");
        assert_eq!(super::msg_id(&headers), Some("call-2"));
    }
}
