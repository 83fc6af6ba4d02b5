//! Host names belong to organizations (KV `sy_hosts`, key = [`HostAssignment::key`]): an
//! operator assigns a name (`api.example.com`) or a pattern (`*.example.com`, any name below
//! it) to an organization; that organization's routes may use it, and requests to it reach
//! only that organization's routes. Names nobody was given belong to the default organization.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::access::DEFAULT_ORGANIZATION;
use super::route::validate_host;

/// A host name or pattern given to an organization.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HostAssignment {
    /// `api.example.com`, or `*.example.com` for every name below `example.com`.
    pub host: String,
    pub organization: String,
    #[serde(default = "Utc::now")]
    pub created_at: DateTime<Utc>,
}

impl HostAssignment {
    /// The KV key of `host`: `*` is not a key character, and `_` is in no host name, so a
    /// pattern's `*.` becomes `_.`.
    pub fn key(host: &str) -> String {
        match host.strip_prefix("*.") {
            Some(rest) => format!("_.{rest}"),
            None => host.to_string(),
        }
    }

    pub fn validate(&self) -> Result<(), String> {
        validate_host(&self.host)?;
        super::access::validate_name("organization", &self.organization)
    }
}

/// Whether `pattern` (a name or `*.suffix`) covers `host` (a name or a pattern itself).
pub fn host_covers(pattern: &str, host: &str) -> bool {
    match pattern.strip_prefix("*.") {
        Some(suffix) => {
            let name = host.strip_prefix("*.").unwrap_or(host);
            name.len() > suffix.len()
                && name.ends_with(suffix)
                && name.as_bytes()[name.len() - suffix.len() - 1] == b'.'
        }
        None => pattern == host,
    }
}

/// The organization `host` (a name or a pattern) belongs to: the exact assignment, else the
/// longest pattern covering it, else the default organization.
pub fn host_owner<'a>(
    assignments: impl IntoIterator<Item = &'a HostAssignment>,
    host: &str,
) -> &'a str {
    let mut best: Option<&HostAssignment> = None;
    for assignment in assignments {
        if assignment.host == host {
            return &assignment.organization;
        }
        if host_covers(&assignment.host, host)
            && best.is_none_or(|b| assignment.host.len() > b.host.len())
        {
            best = Some(assignment);
        }
    }
    best.map_or(DEFAULT_ORGANIZATION, |b| b.organization.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn given(host: &str, organization: &str) -> HostAssignment {
        HostAssignment {
            host: host.into(),
            organization: organization.into(),
            created_at: DateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn the_exact_name_then_the_longest_pattern_owns_a_host() {
        let all = vec![
            given("*.example.com", "a"),
            given("*.b.example.com", "b"),
            given("api.b.example.com", "c"),
        ];
        let table = [
            ("x.example.com", "a"),
            ("x.y.example.com", "a"),
            ("x.b.example.com", "b"),
            ("api.b.example.com", "c"),
            ("*.b.example.com", "b"),
            ("example.com", DEFAULT_ORGANIZATION),
            ("badexample.com", DEFAULT_ORGANIZATION),
            ("elsewhere.org", DEFAULT_ORGANIZATION),
        ];
        for (host, owner) in table {
            assert_eq!(host_owner(&all, host), owner, "{host}");
        }
        assert_eq!(HostAssignment::key("*.example.com"), "_.example.com");
        assert!(!host_covers("*.example.com", "xexample.com"));
    }
}
