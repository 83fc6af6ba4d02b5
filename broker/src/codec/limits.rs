//! Bounds on every CloudEvent that enters: what a producer may send is limited before anything
//! reaches NATS, where an over-long subject would cost the connection every part shares.
//!
//! The bounds are settings (`SWITCHYARD_EVENT_*`): the process sets them once at start-up with
//! [`configure`]; until then, and in libraries used alone, the defaults apply.

use std::sync::OnceLock;

use cloudevents::{AttributesReader, Event};

use super::error::CodecError;

/// The bounds of one event, and of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest `type`, in bytes. It becomes subject tokens (three bytes per escaped byte), so
    /// keep it well under 1 KiB; longer types get a digest subject anyway.
    pub type_bytes: usize,
    /// Longest `id`, in bytes.
    pub id_bytes: usize,
    /// Longest `source`, in bytes.
    pub source_bytes: usize,
    /// Longest `subject`, in bytes.
    pub subject_bytes: usize,
    /// Most extension attributes on one event.
    pub extensions: usize,
    /// Longest extension value, in bytes.
    pub extension_bytes: usize,
    /// Most events in one batch.
    pub batch_events: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            type_bytes: 256,
            id_bytes: 256,
            source_bytes: 1024,
            subject_bytes: 1024,
            extensions: 32,
            extension_bytes: 1024,
            batch_events: 1000,
        }
    }
}

static CONFIGURED: OnceLock<Limits> = OnceLock::new();

/// Sets the bounds for this process; the first call wins.
pub fn configure(limits: Limits) {
    let _ = CONFIGURED.set(limits);
}

/// The bounds in force.
pub fn current() -> Limits {
    CONFIGURED.get().copied().unwrap_or_default()
}

/// Checks `event` against the bounds in force; the error names the attribute and the limit.
pub fn check(event: &Event) -> Result<(), CodecError> {
    check_with(&current(), event)
}

/// Checks `event` against `limits`.
pub fn check_with(limits: &Limits, event: &Event) -> Result<(), CodecError> {
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
    bound("type", event.ty(), limits.type_bytes)?;
    bound("id", event.id(), limits.id_bytes)?;
    bound("source", event.source(), limits.source_bytes)?;
    if let Some(subject) = event.subject() {
        bound("subject", subject, limits.subject_bytes)?;
    }
    let extensions: Vec<_> = event.iter_extensions().collect();
    if extensions.len() > limits.extensions {
        return Err(CodecError::TooMany {
            what: "extension attributes",
            count: extensions.len(),
            limit: limits.extensions,
        });
    }
    for (name, value) in extensions {
        bound(name, &value.to_string(), limits.extension_bytes)?;
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
        let limits = Limits::default();
        assert!(check_with(&limits, &event(&"t".repeat(limits.type_bytes))).is_ok());
        let error = check_with(&limits, &event(&"t".repeat(1500))).expect_err("too long");
        let text = error.to_string();
        assert!(text.contains("`type`") && text.contains("256"), "{text}");
        let mut many = event("t");
        for i in 0..=limits.extensions {
            many.set_extension(&format!("x{i}"), "v");
        }
        assert!(check_with(&limits, &many)
            .expect_err("too many")
            .to_string()
            .contains("32"));
        let strict = Limits {
            type_bytes: 4,
            ..Limits::default()
        };
        assert!(check_with(&strict, &event("longer")).is_err());
    }
}
