//! Who is calling, once authenticated.

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// For the audit log: `admin`, `user:<name>`, `serviceaccount:<org>/<name>`.
    pub who: String,
    /// What policies name them by: `user:…`, `group:…`, `serviceaccount:…`.
    pub subjects: Vec<String>,
    /// The bootstrap admin: allowed everything.
    pub super_user: bool,
    /// A service account's own organization (its subject means nothing elsewhere).
    pub organization: Option<String>,
}

impl Principal {
    /// The bootstrap admin, proven by the basic credentials of `SWITCHYARD_ADMIN_*`.
    pub fn super_user(who: impl Into<String>) -> Self {
        Principal {
            who: who.into(),
            subjects: Vec::new(),
            super_user: true,
            organization: None,
        }
    }

    /// A service account of `organization`, proven by one of its API tokens.
    pub fn service_account(organization: &str, name: &str) -> Self {
        Principal {
            who: format!("serviceaccount:{organization}/{name}"),
            subjects: vec![format!("serviceaccount:{name}")],
            super_user: false,
            organization: Some(organization.to_string()),
        }
    }

    /// An OIDC user and the groups their token names.
    pub fn user(name: &str, groups: &[String]) -> Self {
        let mut subjects = vec![format!("user:{name}")];
        subjects.extend(groups.iter().map(|g| format!("group:{g}")));
        Principal {
            who: format!("user:{name}"),
            subjects,
            super_user: false,
            organization: None,
        }
    }
}
