//! Single sign-on with OpenID Connect: bearer tokens from one external identity provider
//! (GitHub through Dex, Keycloak, Active Directory Federation Services, …) are users of
//! Switchyard. The issuer's keys come from its discovery document (or a configured JWKS URL);
//! the user is the configured claim, their groups another, and policies name either.

use serde_json::Value;
use tokio::sync::Mutex;

use super::jwt::JwtVerifier;

/// The identity provider Switchyard trusts.
#[derive(Debug, Clone)]
pub struct OidcConfig {
    /// The issuer (`iss`), e.g. `https://dex.example.com`.
    pub issuer: String,
    /// The audience (`aud`) tokens must be for: Switchyard's client id there.
    pub audience: String,
    /// The keys; unset: `jwks_uri` of `<issuer>/.well-known/openid-configuration`.
    pub jwks_url: Option<String>,
    /// The claim naming the user (`sub`, `email`, `preferred_username`).
    pub user_claim: String,
    /// The claim listing the user's groups.
    pub groups_claim: String,
}

/// A signed-in user: their name and groups.
#[derive(Debug, Clone, PartialEq)]
pub struct OidcUser {
    pub name: String,
    pub groups: Vec<String>,
}

/// Checks OIDC bearer tokens.
pub struct Oidc {
    config: OidcConfig,
    jwks_url: Mutex<Option<String>>,
}

impl Oidc {
    pub fn new(config: OidcConfig) -> Self {
        let jwks_url = Mutex::new(config.jwks_url.clone());
        Oidc { config, jwks_url }
    }

    /// The user a token proves, or why it proves nothing.
    pub async fn user(&self, verifier: &JwtVerifier, token: &str) -> Result<OidcUser, String> {
        let jwks_url = self.jwks_url(verifier).await?;
        let claims = verifier
            .verify(token, &self.config.issuer, &self.config.audience, &jwks_url)
            .await
            .map_err(|e| e.to_string())?;
        let name = claims
            .get(&self.config.user_claim)
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .ok_or_else(|| format!("the token has no `{}` claim", self.config.user_claim))?
            .to_string();
        let groups = match claims.get(&self.config.groups_claim) {
            Some(Value::Array(groups)) => groups
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
            Some(Value::String(group)) => vec![group.clone()],
            _ => Vec::new(),
        };
        Ok(OidcUser { name, groups })
    }

    async fn jwks_url(&self, verifier: &JwtVerifier) -> Result<String, String> {
        let mut known = self.jwks_url.lock().await;
        if let Some(url) = known.as_ref() {
            return Ok(url.clone());
        }
        let discovery = format!(
            "{}/.well-known/openid-configuration",
            self.config.issuer.trim_end_matches('/')
        );
        let document = verifier
            .fetch_json(&discovery)
            .await
            .map_err(|e| format!("cannot read {discovery}: {e}"))?;
        let url = document
            .get("jwks_uri")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("{discovery} names no jwks_uri"))?
            .to_string();
        *known = Some(url.clone());
        Ok(url)
    }
}
