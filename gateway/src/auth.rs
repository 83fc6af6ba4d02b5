//! The bootstrap admin's basic auth, as OpenFaaS does it (the super-user of [`crate::access`]).

use axum::http::header;
use base64::Engine;

use crate::config::Credentials;

/// Sent by the web UI's own requests: a 401 then carries no challenge, so the browser shows
/// no dialog of its own.
pub(crate) const UI_HEADER: &str = "x-switchyard-ui";

/// True when `headers` carry the admin's basic-auth credentials.
pub(crate) fn authenticated(expected: &Credentials, headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_basic)
        .is_some_and(|(user, password)| matches(expected, &user, &password))
}

fn parse_basic(value: &str) -> Option<(String, String)> {
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

fn matches(expected: &Credentials, user: &str, password: &str) -> bool {
    // Both compared in full, whatever the first result, so timing tells nothing.
    let user_ok = constant_time_eq(expected.user.as_bytes(), user.as_bytes());
    let password_ok = constant_time_eq(expected.password.as_bytes(), password.as_bytes());
    user_ok & password_ok
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_basic_and_rejects_the_rest() {
        assert_eq!(
            parse_basic("Basic YWRtaW46czNjcjN0"),
            Some(("admin".into(), "s3cr3t".into()))
        );
        assert_eq!(
            parse_basic("basic YTpiOmM="),
            Some(("a".into(), "b:c".into()))
        );
        assert_eq!(parse_basic("Bearer "), None);
        assert_eq!(parse_basic("Bearer abc"), None);
        assert_eq!(parse_basic("Basic !!!"), None);
    }

    #[test]
    fn compares_credentials_exactly() {
        let c = Credentials {
            user: "admin".into(),
            password: "pw".into(),
        };
        assert!(matches(&c, "admin", "pw"));
        assert!(!matches(&c, "admin", "pw2"));
        assert!(!matches(&c, "admi", "pw"));
    }
}
