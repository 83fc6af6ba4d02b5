//! Event sources created at run time (`/system/event-sources`), stored in KV `sy_sources`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// An event source adapter: its kind and configuration (credentials included, so this record
/// never leaves Switchyard as it is: see [`EventSource::redacted`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventSource {
    pub name: String,
    /// The namespace it belongs to (none: `openfaas-fn`): who may manage it is decided by that
    /// namespace's policies. Its events go to every subscription whose filters match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// `kind` and `config`, typed per kind.
    #[serde(flatten)]
    pub spec: SourceSpec,
    /// Organizations besides its own whose subscriptions receive its events (`*`: every
    /// organization; operators only). None: its own organization only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shared_with: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<DateTime<Utc>>,
}

/// What a source is: `{"kind": "vcenter" | "webhook", "config": {…}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", content = "config", rename_all = "lowercase")]
pub enum SourceSpec {
    Vcenter(super::VcenterConfig),
    Webhook(WebhookConfig),
}

/// Configuration keys that hold credentials: write-only.
const SECRET_KEYS: &[&str] = &["password", "hmacSecret", "token"];

impl EventSource {
    /// The namespace it belongs to.
    pub fn namespace(&self) -> &str {
        self.namespace
            .as_deref()
            .unwrap_or(super::namespace::DEFAULT_NAMESPACE)
    }

    /// `vcenter` or `webhook`.
    pub fn kind(&self) -> &'static str {
        match self.spec {
            SourceSpec::Vcenter(_) => "vcenter",
            SourceSpec::Webhook(_) => "webhook",
        }
    }

    /// The record without credentials, for answers.
    pub fn redacted(&self) -> Value {
        let mut value = serde_json::to_value(self).unwrap_or_default();
        if let Some(config) = value.get_mut("config") {
            strip(config);
        }
        value
    }

    /// The vCenter configuration, when this is a vCenter source (not yet validated).
    pub fn vcenter(&self) -> Option<&super::VcenterConfig> {
        match &self.spec {
            SourceSpec::Vcenter(config) => Some(config),
            SourceSpec::Webhook(_) => None,
        }
    }

    /// For an update: the credentials this record leaves out (write-only, so an editor cannot
    /// send them back) are kept from `current`. A different kind is refused.
    pub fn keep_credentials_of(&mut self, current: &EventSource) -> Result<(), String> {
        match (&mut self.spec, &current.spec) {
            (SourceSpec::Vcenter(new), SourceSpec::Vcenter(old)) => {
                if new.password.is_empty() {
                    // The stored password goes only where it went before, as whom it went.
                    if new.url != old.url || new.username != old.username {
                        return Err(
                            "`config.password`: changing `url` or `username` needs the password again"
                                .into(),
                        );
                    }
                    new.password = old.password.clone();
                }
                Ok(())
            }
            (SourceSpec::Webhook(new), SourceSpec::Webhook(old)) => {
                if new.auth.is_none() {
                    new.auth = old.auth.clone();
                }
                Ok(())
            }
            _ => Err(format!(
                "`kind` cannot change from `{}`: delete the source and create it again",
                current.kind()
            )),
        }
    }

    /// Names the system gives its own events' ingress (`reply`: functions' reply events), so no
    /// source may take them.
    pub const RESERVED_NAMES: &'static [&'static str] =
        &["reply", "schedule", "switchyard", "system"];

    /// The webhook configuration, when this is a webhook source.
    pub fn webhook(&self) -> Option<&WebhookConfig> {
        match &self.spec {
            SourceSpec::Webhook(config) => Some(config),
            SourceSpec::Vcenter(_) => None,
        }
    }
}

fn strip(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|key, _| !SECRET_KEYS.contains(&key.as_str()));
            map.values_mut().for_each(strip);
        }
        Value::Array(items) => items.iter_mut().for_each(strip),
        _ => {}
    }
}

/// A webhook source's configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WebhookConfig {
    #[serde(default)]
    pub auth: Option<WebhookAuth>,
    /// CloudEvent `type` of plain payloads (default `dev.switchyard.webhook`).
    #[serde(default, rename = "type")]
    pub event_type: Option<String>,
    /// A request header whose value completes the type of plain payloads (`X-GitHub-Event`:
    /// `push` gives `<type>.push`).
    #[serde(default)]
    pub type_from_header: Option<String>,
    /// `N/s`, `N/m` or `N/h`: authenticated requests beyond it get 429.
    #[serde(default)]
    pub rate_limit: Option<String>,
    /// The CloudEvent `source` values this webhook accepts: exact, or a prefix ending in `*`
    /// (`https://github.com/*`). Unset: any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_sources: Option<Vec<String>>,
    /// The `type` values it accepts, the same way (`com.github.*`). Unset: any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_types: Option<Vec<String>>,
}

/// How callers of a webhook authenticate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WebhookAuth {
    /// HMAC-SHA256 of the body, in GitHub's `X-Hub-Signature-256: sha256=<hex>`.
    #[serde(default)]
    pub hmac_secret: Option<String>,
    /// `Authorization: Bearer <token>`.
    #[serde(default)]
    pub token: Option<String>,
    #[serde(default)]
    pub basic: Option<BasicCredentials>,
    /// No authentication at all: anyone who can reach the webhook can post events. Must be
    /// asked for explicitly, and alone.
    #[serde(default)]
    pub none: bool,
}

impl WebhookConfig {
    /// Checks the configuration: an explicit authentication choice, a rate that parses, and
    /// patterns that are exact or end in `*`.
    pub fn validate(&self) -> Result<(), String> {
        match &self.auth {
            None => {
                return Err("`config.auth`: say how callers authenticate (hmacSecret, token or basic), or `{\"none\": true}` for an open webhook".into())
            }
            Some(auth) => {
                let methods = usize::from(auth.hmac_secret.is_some())
                    + usize::from(auth.token.is_some())
                    + usize::from(auth.basic.is_some());
                if auth.none && methods > 0 {
                    return Err("`config.auth`: `none` cannot go with hmacSecret, token or basic".into());
                }
                if !auth.none && methods == 0 {
                    return Err("`config.auth`: name a method (hmacSecret, token or basic), or `none: true`".into());
                }
            }
        }
        if let Some(rate) = &self.rate_limit {
            parse_rate(rate).map_err(|e| format!("`config.rateLimit`: {e}"))?;
        }
        for (field, patterns) in [
            ("allowedSources", &self.allowed_sources),
            ("allowedTypes", &self.allowed_types),
        ] {
            for pattern in patterns.iter().flatten() {
                let inner = pattern.strip_suffix('*').unwrap_or(pattern);
                if pattern.is_empty() || inner.contains('*') {
                    return Err(format!(
                        "`config.{field}`: `{pattern}` must be a value or a prefix ending in `*`"
                    ));
                }
            }
        }
        Ok(())
    }

    /// Why this webhook does not take `event` (its `source` or `type` is not allowed).
    pub fn refusal(&self, event: &cloudevents::Event) -> Option<String> {
        use cloudevents::AttributesReader;
        let allowed = |patterns: &Option<Vec<String>>, value: &str| match patterns {
            None => true,
            Some(patterns) => patterns.iter().any(|p| match p.strip_suffix('*') {
                Some(prefix) => value.starts_with(prefix),
                None => value == p,
            }),
        };
        if !allowed(&self.allowed_sources, event.source()) {
            return Some(format!("does not accept source `{}`", event.source()));
        }
        if !allowed(&self.allowed_types, event.ty()) {
            return Some(format!("does not accept type `{}`", event.ty()));
        }
        None
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BasicCredentials {
    pub username: String,
    pub password: String,
}

/// Parses a rate like `100/s`: (count, seconds per period).
pub fn parse_rate(text: &str) -> Result<(u32, u64), String> {
    let (count, unit) = text
        .split_once('/')
        .ok_or_else(|| format!("rate `{text}`: use N/s, N/m or N/h"))?;
    let count: u32 = count
        .trim()
        .parse()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("rate `{text}`: N must be a positive whole number"))?;
    let seconds = match unit.trim() {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        _ => return Err(format!("rate `{text}`: use N/s, N/m or N/h")),
    };
    Ok((count, seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_leave() {
        let source: EventSource = serde_json::from_value(serde_json::json!({
            "name": "gh", "kind": "webhook",
            "config": { "auth": { "hmacSecret": "s3", "token": "t", "basic": { "username": "u", "password": "p" } }, "type": "com.github.event" }
        }))
        .expect("parses");
        let shown = source.redacted().to_string();
        for secret in ["s3", "\"t\"", "\"p\""] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert!(shown.contains("\"username\":\"u\""));
        assert_eq!(source.kind(), "webhook");
        assert_eq!(
            source.webhook().expect("webhook").event_type.as_deref(),
            Some("com.github.event")
        );
        let unknown = serde_json::from_value::<EventSource>(
            serde_json::json!({"name": "x", "kind": "carrier-pigeon", "config": {}}),
        )
        .expect_err("unknown kind");
        assert!(unknown.to_string().contains("carrier-pigeon"), "{unknown}");
    }

    #[test]
    fn rates_parse() {
        assert_eq!(parse_rate("100/s"), Ok((100, 1)));
        assert_eq!(parse_rate("5/m"), Ok((5, 60)));
        assert!(parse_rate("0/s").is_err());
        assert!(parse_rate("fast").is_err());
    }
}
