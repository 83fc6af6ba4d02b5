//! Bounds on every CloudEvent that enters: what a producer may send is limited before anything
//! reaches NATS, where an over-long subject would cost the connection every part shares.

use cloudevents::{AttributesReader, Event};

use super::error::CodecError;

/// Longest `type`, in bytes. It becomes subject tokens (three bytes per escaped byte), so this
/// bound keeps every event subject far below NATS's 4 KiB protocol line.
pub const MAX_TYPE_BYTES: usize = 256;
/// Longest `id`, in bytes.
pub const MAX_ID_BYTES: usize = 256;
/// Longest `source`, in bytes.
pub const MAX_SOURCE_BYTES: usize = 1024;
/// Longest `subject`, in bytes.
pub const MAX_SUBJECT_BYTES: usize = 1024;
/// Most extension attributes on one event.
pub const MAX_EXTENSIONS: usize = 32;
/// Longest extension value, in bytes.
pub const MAX_EXTENSION_BYTES: usize = 1024;
/// Most events in one batch.
pub const MAX_BATCH_EVENTS: usize = 1000;

/// Checks `event` against the bounds above; the error names the attribute and the limit.
pub fn check(event: &Event) -> Result<(), CodecError> {
    let bound = |name: &str, value: &str, limit: usize| {
        if value.len() > limit {
            Err(CodecError::TooLong {
                name: name.to_string(),
                length: value.len(),
                limit,
            })
        } else {
            Ok(())
        }
    };
    bound("type", event.ty(), MAX_TYPE_BYTES)?;
    bound("id", event.id(), MAX_ID_BYTES)?;
    bound("source", event.source(), MAX_SOURCE_BYTES)?;
    if let Some(subject) = event.subject() {
        bound("subject", subject, MAX_SUBJECT_BYTES)?;
    }
    let extensions: Vec<_> = event.iter_extensions().collect();
    if extensions.len() > MAX_EXTENSIONS {
        return Err(CodecError::TooMany {
            what: "extension attributes",
            count: extensions.len(),
            limit: MAX_EXTENSIONS,
        });
    }
    for (name, value) in extensions {
        bound(name, &value.to_string(), MAX_EXTENSION_BYTES)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use cloudevents::{EventBuilder, EventBuilderV10};

    use super::*;

    fn event(ty: &str) -> Event {
        EventBuilderV10::new()
            .id("1")
            .source("/s")
            .ty(ty)
            .build()
            .expect("valid")
    }

    #[test]
    fn over_long_attributes_are_named_with_their_limit() {
        assert!(check(&event(&"t".repeat(MAX_TYPE_BYTES))).is_ok());
        let error = check(&event(&"t".repeat(1500))).expect_err("too long");
        let text = error.to_string();
        assert!(text.contains("`type`") && text.contains("256"), "{text}");
        let mut many = event("t");
        for i in 0..=MAX_EXTENSIONS {
            cloudevents::AttributesWriter::set_subject(&mut many, Some("s"));
            many.set_extension(&format!("x{i}"), "v");
        }
        assert!(check(&many)
            .expect_err("too many")
            .to_string()
            .contains("32"));
    }
}
