use std::fmt;

/// Why a message is not a valid CloudEvent (or an event cannot be encoded).
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// A required attribute (`specversion`, `id`, `source`, `type`) is absent or empty.
    #[error("missing required attribute `{0}`")]
    MissingAttribute(&'static str),
    /// The `specversion` is not `1.0`.
    #[error("unsupported specversion `{0}`: only `1.0` is accepted")]
    SpecVersion(String),
    /// An attribute is present but its value breaks the specification.
    #[error("attribute `{name}` is invalid: {reason}")]
    InvalidAttribute { name: String, reason: Reason },
    /// An extension name breaks the naming rule.
    #[error("extension name `{0}` is invalid: names are 1 to 20 characters of a-z and 0-9, and not a reserved attribute name")]
    ExtensionName(String),
    /// An attribute is longer than Switchyard accepts.
    #[error("attribute `{name}` is {length} bytes long; the limit is {limit}")]
    TooLong {
        name: String,
        length: usize,
        limit: usize,
    },
    /// More of something than Switchyard accepts in one event or request.
    #[error("{count} {what}; the limit is {limit}")]
    TooMany {
        what: &'static str,
        count: usize,
        limit: usize,
    },
    /// A structured-mode payload is not a JSON object of CloudEvent attributes.
    #[error("structured event is not valid: {0}")]
    Json(String),
}

/// What is wrong with an attribute's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    NotUriReference,
    NotAbsoluteUri,
    NotRfc3339,
    NotString,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Reason::NotUriReference => "not a URI-reference (RFC 3986)",
            Reason::NotAbsoluteUri => "not an absolute URI (RFC 3986)",
            Reason::NotRfc3339 => "not an RFC 3339 timestamp",
            Reason::NotString => "not a string",
        })
    }
}

impl CodecError {
    pub(crate) fn invalid(name: &str, reason: Reason) -> Self {
        CodecError::InvalidAttribute {
            name: name.to_string(),
            reason,
        }
    }
}
