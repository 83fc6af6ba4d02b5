//! CloudEvents 1.0 ⇄ NATS messages.
//!
//! Binary mode is the default on the wire: each attribute is a `ce-<name>` header whose value is
//! percent-encoded as the CloudEvents HTTP binding requires, `datacontenttype` travels as
//! `content-type`, and the payload is the event's data, untouched. Structured mode
//! (`content-type: application/cloudevents+json`) carries the whole event as JSON and is
//! accepted on decode.
//!
//! Decoding validates what it reads and says exactly which attribute is wrong and why, and
//! refuses events beyond the bounds in [`limits`].

mod binary;
mod error;
pub mod limits;
pub mod percent;
mod structured;
mod validate;

pub use binary::{decode_binary, encode_binary};
pub use error::CodecError;
pub use structured::{decode_structured, encode_structured, STRUCTURED_CONTENT_TYPE};
pub use validate::validate_extension_name;

use async_nats::HeaderMap;
use bytes::Bytes;
use cloudevents::Event;

/// Decodes a NATS message in whichever mode it was sent: structured when its content type says
/// `application/cloudevents+json`, binary otherwise.
pub fn decode(headers: Option<&HeaderMap>, payload: &Bytes) -> Result<Event, CodecError> {
    let structured = headers
        .and_then(|h| binary::header(h, "content-type"))
        .is_some_and(|ct| ct.trim_start().starts_with(STRUCTURED_CONTENT_TYPE));
    match (structured, headers) {
        (true, _) => decode_structured(payload),
        (false, Some(headers)) => decode_binary(headers, payload),
        (false, None) => Err(CodecError::MissingAttribute("specversion")),
    }
}

/// The `id` of a binary-mode event, read from its headers without decoding the rest.
pub fn event_id(headers: &HeaderMap) -> Option<String> {
    binary::header(headers, "ce-id")
}

#[cfg(test)]
mod tests;
