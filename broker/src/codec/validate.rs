//! Attribute validation shared by both modes.

use super::error::{CodecError, Reason};

/// Attribute names an extension may not take.
const RESERVED: &[&str] = &[
    "specversion",
    "id",
    "source",
    "type",
    "subject",
    "time",
    "datacontenttype",
    "dataschema",
    "data",
    "data_base64",
];

/// Checks an extension attribute name: 1 to 20 characters of `a-z0-9`, not reserved.
pub fn validate_extension_name(name: &str) -> Result<(), CodecError> {
    let shaped = (1..=20).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if shaped && !RESERVED.contains(&name) {
        Ok(())
    } else {
        Err(CodecError::ExtensionName(name.to_string()))
    }
}

pub(crate) fn required<'a>(
    name: &'static str,
    value: Option<&'a str>,
) -> Result<&'a str, CodecError> {
    match value {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(CodecError::MissingAttribute(name)),
    }
}

pub(crate) fn spec_version(value: Option<&str>) -> Result<(), CodecError> {
    match required("specversion", value)? {
        "1.0" => Ok(()),
        other => Err(CodecError::SpecVersion(other.to_string())),
    }
}

/// RFC 3986 URI-reference: only URI characters, well-formed escapes, and a valid scheme if any.
pub(crate) fn uri_reference(name: &str, value: &str) -> Result<(), CodecError> {
    let chars_ok = value.bytes().all(is_uri_char) && escapes_ok(value);
    let scheme_ok = match scheme(value) {
        Some(s) => is_scheme(s),
        None => true,
    };
    if chars_ok && scheme_ok {
        Ok(())
    } else {
        Err(CodecError::invalid(name, Reason::NotUriReference))
    }
}

/// RFC 3986 absolute URI: a URI-reference that starts with a scheme.
pub(crate) fn absolute_uri(name: &str, value: &str) -> Result<(), CodecError> {
    uri_reference(name, value).map_err(|_| CodecError::invalid(name, Reason::NotAbsoluteUri))?;
    match scheme(value) {
        Some(s) if is_scheme(s) => Ok(()),
        _ => Err(CodecError::invalid(name, Reason::NotAbsoluteUri)),
    }
}

pub(crate) fn rfc3339(
    name: &str,
    value: &str,
) -> Result<chrono::DateTime<chrono::Utc>, CodecError> {
    chrono::DateTime::parse_from_rfc3339(value)
        .map(|t| t.to_utc())
        .map_err(|_| CodecError::invalid(name, Reason::NotRfc3339))
}

/// The part before the first `:` when it comes before any `/`, `?` or `#`.
fn scheme(value: &str) -> Option<&str> {
    let colon = value.find(':')?;
    let first_delimiter = value.find(['/', '?', '#']).unwrap_or(usize::MAX);
    (colon < first_delimiter).then(|| &value[..colon])
}

fn is_scheme(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

fn is_uri_char(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'.' | b'_' | b'~' // unreserved
                | b':' | b'/' | b'?' | b'#' | b'[' | b']' | b'@' // gen-delims
                | b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'=' // sub-delims
                | b'%'
        )
}

fn escapes_ok(value: &str) -> bool {
    let bytes = value.as_bytes();
    bytes.iter().enumerate().all(|(i, &b)| {
        b != b'%'
            || (bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
    })
}
