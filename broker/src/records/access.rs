//! Who may do what: organizations own namespaces; policies bind subjects (users, groups,
//! service accounts) to a built-in role in an organization or one of its namespaces; service
//! accounts hold API tokens, stored only as digests.
//!
//! KV buckets: `sy_organizations` (key = name), `sy_policies` (key = `<organization>.<name>`),
//! `sy_service_accounts` (key = `<organization>.<name>`), `sy_tokens` (key = token id).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::namespace::validate_namespace;

/// The organization every namespace belongs to unless it says otherwise (`openfaas-fn`
/// among them).
pub const DEFAULT_ORGANIZATION: &str = "default";

/// An organization.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Organization {
    pub name: String,
    #[serde(default = "Utc::now")]
    pub created_at: DateTime<Utc>,
}

/// What a request does, for authorization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Read records (never a secret's value: nobody can).
    Read,
    /// Invoke a private function.
    Invoke,
    /// Create, change or remove functions, secrets, routes, subscriptions.
    Write,
    /// Manage the organization: namespaces, policies, service accounts, tokens, the audit log.
    Admin,
}

/// The built-in roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Everything in its scope, its policies and service accounts included.
    Admin,
    /// Read, write and invoke.
    Developer,
    /// Read and invoke.
    Invoker,
    /// Read only.
    Viewer,
}

impl Role {
    pub fn allows(self, action: Action) -> bool {
        match self {
            Role::Admin => true,
            Role::Developer => action != Action::Admin,
            Role::Invoker => matches!(action, Action::Read | Action::Invoke),
            Role::Viewer => action == Action::Read,
        }
    }
}

/// Binds subjects to a role in an organization, or in one namespace of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Policy {
    pub name: String,
    pub organization: String,
    /// Only this namespace of the organization; none: all of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// `user:<name>` (an OIDC user, by the configured claim), `group:<name>` (an OIDC group),
    /// `serviceaccount:<name>` (of this organization).
    pub subjects: Vec<String>,
    pub role: Role,
    #[serde(default = "Utc::now")]
    pub created_at: DateTime<Utc>,
}

impl Policy {
    pub fn key(&self) -> String {
        scoped_key(&self.organization, &self.name)
    }

    pub fn validate(&self) -> Result<(), String> {
        validate_name("policy", &self.name)?;
        validate_name("organization", &self.organization)?;
        if let Some(namespace) = &self.namespace {
            validate_namespace(namespace)?;
        }
        if self.subjects.is_empty() || self.subjects.len() > 64 {
            return Err("subjects: 1 to 64".into());
        }
        for subject in &self.subjects {
            let (kind, name) = subject.split_once(':').unwrap_or(("", ""));
            let kind_ok = matches!(kind, "user" | "group" | "serviceaccount");
            let name_ok = !name.is_empty()
                && name.len() <= 256
                && !name.chars().any(|c| c.is_control() || c.is_whitespace());
            if !(kind_ok && name_ok) {
                return Err(format!(
                    "subject `{subject}`: use user:<name>, group:<name> or serviceaccount:<name>"
                ));
            }
        }
        Ok(())
    }
}

/// A machine identity of an organization; it proves itself with its API tokens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServiceAccount {
    pub name: String,
    pub organization: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default = "Utc::now")]
    pub created_at: DateTime<Utc>,
}

impl ServiceAccount {
    pub fn key(&self) -> String {
        scoped_key(&self.organization, &self.name)
    }

    /// The subject policies name it by.
    pub fn subject(&self) -> String {
        format!("serviceaccount:{}", self.name)
    }
}

/// An API token as stored: never the token itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiToken {
    /// Public: the first part of the token (`sy_<id>_<secret>`).
    pub id: String,
    pub organization: String,
    pub service_account: String,
    /// SHA-256 of the secret part, hex.
    #[schema(value_type = String)]
    pub digest: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<DateTime<Utc>>,
}

impl ApiToken {
    /// A new token for a service account: the record to store and the token to show once.
    pub fn issue(
        organization: &str,
        service_account: &str,
        expires_at: DateTime<Utc>,
    ) -> (ApiToken, String) {
        let id = uuid::Uuid::new_v4().simple().to_string()[..16].to_string();
        let secret = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        let token = ApiToken {
            id: id.clone(),
            organization: organization.to_string(),
            service_account: service_account.to_string(),
            digest: digest(&secret),
            created_at: Utc::now(),
            expires_at,
            revoked_at: None,
        };
        (token, format!("{TOKEN_PREFIX}{id}_{secret}"))
    }

    /// The id and secret of a presented token, if it has our shape.
    pub fn parse(presented: &str) -> Option<(&str, &str)> {
        let rest = presented.strip_prefix(TOKEN_PREFIX)?;
        let (id, secret) = rest.split_once('_')?;
        let ok = id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit());
        ok.then_some((id, secret))
    }

    /// Whether `secret` is this token's, and it is neither revoked nor expired at `now`.
    pub fn accepts(&self, secret: &str, now: DateTime<Utc>) -> Result<(), &'static str> {
        if self.revoked_at.is_some() {
            return Err("the token was revoked");
        }
        if now >= self.expires_at {
            return Err("the token has expired");
        }
        // Digests of the same length: comparing them tells nothing of the secret.
        if digest(secret) != self.digest {
            return Err("the token is not valid");
        }
        Ok(())
    }
}

/// What every Switchyard token starts with (so that it is told from a JWT at a glance).
pub const TOKEN_PREFIX: &str = "sy_";

fn digest(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `<organization>.<name>`.
pub fn scoped_key(organization: &str, name: &str) -> String {
    format!("{organization}.{name}")
}

/// Organization, policy and service-account names: DNS labels.
pub fn validate_name(what: &str, name: &str) -> Result<(), String> {
    validate_namespace(name).map_err(|_| {
        format!("{what} `{name}`: use 1 to 63 characters of a-z, 0-9 and `-`, starting and ending with a letter or digit")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_allow_what_their_names_say() {
        assert!(Role::Admin.allows(Action::Admin));
        assert!(Role::Developer.allows(Action::Write) && !Role::Developer.allows(Action::Admin));
        assert!(Role::Invoker.allows(Action::Invoke) && !Role::Invoker.allows(Action::Write));
        assert!(Role::Viewer.allows(Action::Read) && !Role::Viewer.allows(Action::Invoke));
    }

    #[test]
    fn tokens_are_shown_once_and_checked_by_digest_expiry_and_revocation() {
        let now = Utc::now();
        let (mut stored, shown) = ApiToken::issue("acme", "ci", now + chrono::Duration::hours(1));
        assert!(!serde_json::to_string(&stored)
            .expect("json")
            .contains(&shown[20..]));
        let (id, secret) = ApiToken::parse(&shown).expect("our shape");
        assert_eq!(id, stored.id);
        assert_eq!(stored.accepts(secret, now), Ok(()));
        assert!(stored.accepts("guess", now).is_err());
        assert_eq!(
            stored.accepts(secret, now + chrono::Duration::hours(2)),
            Err("the token has expired")
        );
        stored.revoked_at = Some(now);
        assert_eq!(stored.accepts(secret, now), Err("the token was revoked"));
        assert!(ApiToken::parse("eyJhbGciOi.x.y").is_none());
    }

    #[test]
    fn policies_name_their_subjects_properly() {
        let mut policy = Policy {
            name: "devs".into(),
            organization: "acme".into(),
            namespace: None,
            subjects: vec!["user:alice@example.com".into(), "group:eng".into()],
            role: Role::Developer,
            created_at: Utc::now(),
        };
        assert_eq!(policy.validate(), Ok(()));
        policy.subjects.push("alice".into());
        assert!(policy.validate().expect_err("no kind").contains("alice"));
    }
}
