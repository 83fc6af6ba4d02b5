//! Percent-encoding of binary-mode header values, as the CloudEvents HTTP binding requires.
//!
//! Encoding escapes everything outside printable ASCII, plus space, `"` and `%`. Decoding is
//! lenient because many SDKs send raw values: a value that is not valid percent-encoding of
//! UTF-8 is taken as it is.

use std::borrow::Cow;

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, CONTROLS};

/// Characters escaped in header values: controls, non-ASCII (always), space, `"` and `%`.
const HEADER_VALUE: &AsciiSet = &CONTROLS.add(b' ').add(b'"').add(b'%');

/// Percent-encodes a header value.
pub fn encode(value: &str) -> Cow<'_, str> {
    utf8_percent_encode(value, HEADER_VALUE).into()
}

/// Decodes a header value, returning it unchanged when it is not valid percent-encoding.
pub fn decode(value: &str) -> Cow<'_, str> {
    if !value.contains('%') {
        return Cow::Borrowed(value);
    }
    if !well_formed(value) {
        return Cow::Borrowed(value);
    }
    match percent_decode_str(value).decode_utf8() {
        Ok(decoded) => decoded,
        Err(_) => Cow::Borrowed(value),
    }
}

/// True when every `%` starts a two-hex-digit escape.
fn well_formed(value: &str) -> bool {
    let bytes = value.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = |j: usize| bytes.get(j).is_some_and(u8::is_ascii_hexdigit);
            if !(hex(i + 1) && hex(i + 2)) {
                return false;
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    true
}
