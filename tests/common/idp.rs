//! A test identity provider: a real HTTP server publishing a JWKS (and an OpenID discovery
//! document) for P-256 keys generated here, and signing tokens with them.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::{json, Value};

use super::free_port;

/// A signing key and its id.
pub struct SigningKey {
    pub kid: String,
    pkcs8: Vec<u8>,
    jwk: Value,
}

impl SigningKey {
    pub fn generate(kid: &str) -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .expect("generate a P-256 key");
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .expect("read it back");
        // Uncompressed point: 0x04, then x and y (32 bytes each).
        let point = pair.public_key().as_ref();
        let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
        let jwk = json!({"kty": "EC", "crv": "P-256", "x": b64(&point[1..33]), "y": b64(&point[33..65]),
                         "kid": kid, "alg": "ES256", "use": "sig"});
        SigningKey {
            kid: kid.to_string(),
            pkcs8: pkcs8.as_ref().to_vec(),
            jwk,
        }
    }

    /// A token with `claims`, signed by this key.
    pub fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &EncodingKey::from_ec_der(&self.pkcs8))
            .expect("sign a token")
    }
}

/// The identity provider: its issuer URL serves `/jwks` with the published keys.
pub struct IdentityProvider {
    pub issuer: String,
    pub key: SigningKey,
}

impl IdentityProvider {
    /// Starts on a free loopback port, publishing `key` (and nothing else).
    pub async fn start() -> Self {
        let key = SigningKey::generate("key-1");
        let port = free_port();
        let issuer = format!("http://127.0.0.1:{port}");
        let jwks = json!({"keys": [key.jwk.clone()]});
        let discovery = json!({"issuer": issuer, "jwks_uri": format!("{issuer}/jwks")});
        let app = axum::Router::new()
            .route(
                "/jwks",
                axum::routing::get(move || {
                    let jwks = jwks.clone();
                    async move { axum::Json(jwks) }
                }),
            )
            .route(
                "/.well-known/openid-configuration",
                axum::routing::get(move || {
                    let discovery = discovery.clone();
                    async move { axum::Json(discovery) }
                }),
            );
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind the identity provider");
        tokio::spawn(async move { axum::serve(listener, app).await });
        IdentityProvider { issuer, key }
    }

    pub fn jwks_url(&self) -> String {
        format!("{}/jwks", self.issuer)
    }

    /// A token for `audience` and `subject` valid for `seconds` (negative: expired), with
    /// `extra` claims.
    pub fn token(&self, audience: &str, subject: &str, seconds: i64, extra: Value) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let mut claims = json!({"iss": self.issuer, "aud": audience, "sub": subject,
                                "iat": now, "exp": now + seconds});
        if let (Some(claims), Some(extra)) = (claims.as_object_mut(), extra.as_object()) {
            claims.extend(extra.clone());
        }
        self.key.sign(&claims)
    }
}
