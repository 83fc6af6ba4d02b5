//! Bearer JWTs from an identity provider (OpenID Connect, or any issuer publishing a JWKS):
//! the signature checked against the issuer's published keys (fetched, cached, fetched again
//! when a token names a key not seen yet), then the issuer, audience and expiry.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;
use switchyard_broker::networks::{guard, NetworkPolicy};

/// Keys are fetched again after this long.
const KEYS_FRESH_FOR: Duration = Duration::from_secs(300);
/// A token naming an unknown key fetches again at most this often (so that forged tokens
/// cannot make us hammer the issuer).
const REFETCH_AT_MOST_EVERY: Duration = Duration::from_secs(10);
/// A key set or discovery document larger than this is refused.
const MAX_DOCUMENT_BYTES: usize = 1024 * 1024;
/// Clock skew allowed on `exp` and `nbf`.
const LEEWAY_SECONDS: u64 = 30;
/// A failed fetch is answered from memory this long (so that anonymous calls to a route whose
/// issuer is slow or down cannot make a fetch each).
const FAILURE_REMEMBERED_FOR: Duration = Duration::from_secs(10);
/// The most key sets kept (one per `jwksUrl`); beyond it the oldest is forgotten.
const MAX_KEY_SETS: usize = 1024;

/// Why a token was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum JwtError {
    #[error("not a JWT: {0}")]
    Malformed(jsonwebtoken::errors::Error),
    #[error("the token's algorithm {0:?} is not accepted (asymmetric signatures only)")]
    Algorithm(Algorithm),
    #[error("no key `{0}` in the issuer's key set")]
    UnknownKey(String),
    #[error("the token is not valid: {0}")]
    Invalid(jsonwebtoken::errors::Error),
    #[error("cannot fetch the issuer's keys from {url}: {reason}")]
    Keys { url: String, reason: String },
}

/// What the last fetch of one key set gave.
enum Fetched {
    Keys { keys: Arc<JwkSet>, at: Instant },
    Failed { reason: String, at: Instant },
}

/// One issuer's key set. Its own lock makes fetches single-flight per URL: callers of one
/// issuer wait for the fetch under way; callers of other issuers never wait for it.
#[derive(Default)]
struct KeySet {
    last: tokio::sync::Mutex<Option<Fetched>>,
    created: std::sync::OnceLock<Instant>,
}

/// Verifies tokens against the key sets of any number of issuers, caching each set.
pub struct JwtVerifier {
    http: reqwest::Client,
    networks: NetworkPolicy,
    /// Held only to find or add an entry, never across a fetch.
    sets: std::sync::Mutex<HashMap<String, Arc<KeySet>>>,
}

impl JwtVerifier {
    /// A verifier that fetches keys only from where `networks` allows (a route's `jwksUrl` is
    /// chosen by whoever may write routes: it must not reach the metadata service).
    pub fn new(networks: NetworkPolicy) -> Self {
        JwtVerifier {
            http: guard::guarded(networks.clone())
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap_or_default(),
            networks,
            sets: std::sync::Mutex::new(HashMap::new()),
        }
    }

    /// The token's claims when it is signed by a key of `jwks_url`, issued by `issuer` for
    /// `audience`, and within its validity.
    pub async fn verify(
        &self,
        token: &str,
        issuer: &str,
        audience: &str,
        jwks_url: &str,
    ) -> Result<Value, JwtError> {
        let header = jsonwebtoken::decode_header(token).map_err(JwtError::Malformed)?;
        if matches!(
            header.alg,
            Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512
        ) {
            return Err(JwtError::Algorithm(header.alg));
        }
        let kid = header.kid.clone().unwrap_or_default();
        let key = self.key(jwks_url, &kid, header.alg).await?;
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.leeway = LEEWAY_SECONDS;
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.validate_nbf = true;
        jsonwebtoken::decode::<Value>(token, &key, &validation)
            .map(|data| data.claims)
            .map_err(JwtError::Invalid)
    }

    /// The key set of `url`, found or added.
    fn set(&self, url: &str) -> Arc<KeySet> {
        let mut sets = match self.sets.lock() {
            Ok(sets) => sets,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(set) = sets.get(url) {
            return set.clone();
        }
        if sets.len() >= MAX_KEY_SETS {
            let oldest = sets
                .iter()
                .min_by_key(|(_, set)| set.created.get().copied())
                .map(|(url, _)| url.clone());
            if let Some(oldest) = oldest {
                sets.remove(&oldest);
            }
        }
        let set = Arc::new(KeySet::default());
        let _ = set.created.set(Instant::now());
        sets.insert(url.to_string(), set.clone());
        set
    }

    /// The key `kid` (or, for a token without one, the only key of the right kind).
    async fn key(&self, url: &str, kid: &str, alg: Algorithm) -> Result<DecodingKey, JwtError> {
        let set = self.set(url);
        let mut last = set.last.lock().await;
        let fetch_now = match &*last {
            None => true,
            Some(Fetched::Keys { keys, at }) => {
                at.elapsed() > KEYS_FRESH_FOR
                    || (find(keys, kid, alg).is_none() && at.elapsed() > REFETCH_AT_MOST_EVERY)
            }
            Some(Fetched::Failed { at, .. }) => at.elapsed() > FAILURE_REMEMBERED_FOR,
        };
        if fetch_now {
            let at = Instant::now();
            *last = Some(match self.fetch(url).await {
                Ok(keys) => Fetched::Keys {
                    keys: Arc::new(keys),
                    at,
                },
                Err(JwtError::Keys { reason, .. }) => Fetched::Failed { reason, at },
                Err(other) => Fetched::Failed {
                    reason: other.to_string(),
                    at,
                },
            });
        }
        let keys = match &*last {
            Some(Fetched::Keys { keys, .. }) => keys.clone(),
            Some(Fetched::Failed { reason, .. }) => {
                return Err(JwtError::Keys {
                    url: url.to_string(),
                    reason: reason.clone(),
                })
            }
            None => return Err(JwtError::UnknownKey(kid.into())),
        };
        drop(last);
        let jwk = find(&keys, kid, alg).ok_or_else(|| JwtError::UnknownKey(kid.into()))?;
        DecodingKey::from_jwk(jwk).map_err(JwtError::Invalid)
    }

    async fn fetch(&self, url: &str) -> Result<JwkSet, JwtError> {
        let document = self
            .fetch_json(url)
            .await
            .map_err(|reason| JwtError::Keys {
                url: url.to_string(),
                reason,
            })?;
        serde_json::from_value(document).map_err(|e| JwtError::Keys {
            url: url.to_string(),
            reason: format!("not a JWKS: {e}"),
        })
    }

    /// A JSON document (a JWKS, an OpenID discovery document) of at most 1 MiB, from where the
    /// network policy allows, within 5 s.
    pub async fn fetch_json(&self, url: &str) -> Result<Value, String> {
        if let Some(refusal) = guard::literal_refusal(&self.networks, url) {
            return Err(refusal);
        }
        let mut response = self
            .http
            .get(url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| e.to_string())?;
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
            body.extend_from_slice(&chunk);
            if body.len() > MAX_DOCUMENT_BYTES {
                return Err(format!("larger than {MAX_DOCUMENT_BYTES} bytes"));
            }
        }
        serde_json::from_slice(&body).map_err(|e| format!("not JSON: {e}"))
    }
}

fn find<'a>(keys: &'a JwkSet, kid: &str, alg: Algorithm) -> Option<&'a jsonwebtoken::jwk::Jwk> {
    let asymmetric =
        |k: &&jsonwebtoken::jwk::Jwk| !matches!(k.algorithm, AlgorithmParameters::OctetKey(_));
    if kid.is_empty() {
        let fitting: Vec<_> = keys
            .keys
            .iter()
            .filter(asymmetric)
            .filter(|k| fits(k, alg))
            .collect();
        return (fitting.len() == 1).then(|| fitting[0]);
    }
    keys.keys
        .iter()
        .filter(asymmetric)
        .find(|k| k.common.key_id.as_deref() == Some(kid))
}

fn fits(jwk: &jsonwebtoken::jwk::Jwk, alg: Algorithm) -> bool {
    match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => matches!(
            alg,
            Algorithm::RS256
                | Algorithm::RS384
                | Algorithm::RS512
                | Algorithm::PS256
                | Algorithm::PS384
                | Algorithm::PS512
        ),
        AlgorithmParameters::EllipticCurve(_) => {
            matches!(alg, Algorithm::ES256 | Algorithm::ES384)
        }
        AlgorithmParameters::OctetKeyPair(_) => alg == Algorithm::EdDSA,
        AlgorithmParameters::OctetKey(_) => false,
    }
}
