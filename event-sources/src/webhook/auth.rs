//! Authentication of webhook callers: HMAC-SHA256 signature, bearer token, or basic.

use axum::http::HeaderMap;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use switchyard_broker::records::WebhookAuth;

/// `Ok` when the request satisfies every configured method; else why not.
pub(crate) fn check(
    auth: Option<&WebhookAuth>,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), &'static str> {
    let Some(auth) = auth else { return Ok(()) };
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(secret) = &auth.hmac_secret {
        let signature = header("x-hub-signature-256").ok_or("missing X-Hub-Signature-256")?;
        let hex = signature
            .strip_prefix("sha256=")
            .ok_or("X-Hub-Signature-256 must be sha256=<hex>")?;
        let expected = decode_hex(hex).ok_or("X-Hub-Signature-256 must be sha256=<hex>")?;
        let mut mac =
            Hmac::<Sha256>::new_from_slice(secret.as_bytes()).map_err(|_| "bad HMAC secret")?;
        mac.update(body);
        // verify_slice compares in constant time.
        mac.verify_slice(&expected)
            .map_err(|_| "signature does not match the body")?;
    }
    if let Some(token) = &auth.token {
        let presented = header("authorization")
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or("missing bearer token")?;
        if !constant_time_eq(presented.trim().as_bytes(), token.as_bytes()) {
            return Err("wrong token");
        }
    }
    if let Some(basic) = &auth.basic {
        let encoded = header("authorization")
            .and_then(|v| v.strip_prefix("Basic "))
            .ok_or("missing basic credentials")?;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .map_err(|_| "malformed basic credentials")?;
        let expected = format!("{}:{}", basic.username, basic.password);
        if !constant_time_eq(&decoded, expected.as_bytes()) {
            return Err("wrong user name or password");
        }
    }
    Ok(())
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth(json: &str) -> WebhookAuth {
        serde_json::from_str(json).expect("auth")
    }

    #[test]
    fn github_style_signatures_are_verified() {
        let a = auth(r#"{"hmacSecret":"It's a Secret to Everybody"}"#);
        let mut headers = HeaderMap::new();
        // GitHub's documented example for this secret and body.
        headers.insert(
            "x-hub-signature-256",
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
                .parse()
                .expect("header"),
        );
        assert_eq!(check(Some(&a), &headers, b"Hello, World!"), Ok(()));
        assert!(check(Some(&a), &headers, b"Hello, World?").is_err());
        assert!(check(Some(&a), &HeaderMap::new(), b"Hello, World!").is_err());
    }

    #[test]
    fn tokens_and_basic_credentials_are_checked() {
        let a = auth(r#"{"token":"t0k","basic":{"username":"u","password":"p"}}"#);
        let mut headers = HeaderMap::new();
        headers.insert("authorization", "Bearer t0k".parse().expect("header"));
        assert_eq!(
            check(Some(&a), &headers, b""),
            Err("missing basic credentials")
        );
        let only_token = auth(r#"{"token":"t0k"}"#);
        assert_eq!(check(Some(&only_token), &headers, b""), Ok(()));
        headers.insert("authorization", "Bearer nope".parse().expect("header"));
        assert_eq!(check(Some(&only_token), &headers, b""), Err("wrong token"));
        let only_basic = auth(r#"{"basic":{"username":"u","password":"p"}}"#);
        headers.insert("authorization", "Basic dTpw".parse().expect("header"));
        assert_eq!(check(Some(&only_basic), &headers, b""), Ok(()));
    }
}
