//! Namespaces, as OpenFaaS defines them: every function and secret lives in one, and a name is
//! unique only within its namespace.
//!
//! Inside Switchyard a function or secret is known by its *id*: its name for the default
//! namespace (so records written before namespaces existed keep their keys), `name.namespace`
//! otherwise: the same spelling OpenFaaS uses in `/function/name.namespace`. Names have no dots
//! and namespaces are DNS labels, so an id splits unambiguously on its one dot.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The namespace that always exists; OpenFaaS tools append it to function names.
pub const DEFAULT_NAMESPACE: &str = "openfaas-fn";

/// A namespace created through the API or by configuration (KV bucket `sy_namespaces`, key =
/// name). The default namespace has no record: it always exists.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Namespace {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    /// The organization it belongs to (none: `default`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
    #[serde(default = "Utc::now")]
    pub created_at: DateTime<Utc>,
}

impl Namespace {
    /// The organization it belongs to.
    pub fn organization(&self) -> &str {
        self.organization
            .as_deref()
            .unwrap_or(super::access::DEFAULT_ORGANIZATION)
    }
}

/// Checks a namespace name: a DNS label (1 to 63 characters of `a-z 0-9 -`, starting and ending
/// with a letter or digit), as Kubernetes and so faas-netes require.
pub fn validate_namespace(name: &str) -> Result<(), String> {
    let bytes = name.as_bytes();
    let inner_ok = bytes
        .iter()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-');
    let ends_ok = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if inner_ok && ends_ok(bytes.first()) && ends_ok(bytes.last()) && bytes.len() <= 63 {
        Ok(())
    } else {
        Err(format!(
            "namespace `{name}`: use 1 to 63 characters of a-z, 0-9 and `-`, starting and ending with a letter or digit"
        ))
    }
}

/// The id of `name` in `namespace` (`None` or empty: the default namespace).
pub fn qualify(name: &str, namespace: Option<&str>) -> String {
    match namespace {
        None | Some("") | Some(DEFAULT_NAMESPACE) => name.to_string(),
        Some(namespace) => format!("{name}.{namespace}"),
    }
}

/// The name and namespace an id or a `name.namespace` reference stands for.
pub fn split_qualified(id: &str) -> (&str, &str) {
    id.rsplit_once('.').unwrap_or((id, DEFAULT_NAMESPACE))
}

/// `name`, `name.namespace` or `name` with `?namespace=`: the name and namespace meant. A
/// namespace in the name and a different one in the query is refused.
pub fn resolve_reference<'a>(
    reference: &'a str,
    query_namespace: Option<&'a str>,
) -> Result<(&'a str, &'a str), String> {
    let (name, from_name) = match reference.rsplit_once('.') {
        Some((name, namespace)) => (name, Some(namespace)),
        None => (reference, None),
    };
    let query_namespace = query_namespace.filter(|n| !n.is_empty());
    match (from_name, query_namespace) {
        (Some(a), Some(b)) if a != b => Err(format!(
            "`{reference}` names namespace `{a}` but the request also says `{b}`"
        )),
        (Some(namespace), _) | (None, Some(namespace)) => Ok((name, namespace)),
        (None, None) => Ok((name, DEFAULT_NAMESPACE)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_the_default_namespace_is_bare() {
        assert_eq!(qualify("echo", None), "echo");
        assert_eq!(qualify("echo", Some(DEFAULT_NAMESPACE)), "echo");
        assert_eq!(qualify("echo", Some("team-a")), "echo.team-a");
        assert_eq!(split_qualified("echo.team-a"), ("echo", "team-a"));
        assert_eq!(split_qualified("echo"), ("echo", DEFAULT_NAMESPACE));
    }

    #[test]
    fn references_take_the_namespace_from_the_name_or_the_query() {
        assert_eq!(resolve_reference("f", None), Ok(("f", DEFAULT_NAMESPACE)));
        assert_eq!(resolve_reference("f", Some("b")), Ok(("f", "b")));
        assert_eq!(resolve_reference("f.b", None), Ok(("f", "b")));
        assert_eq!(resolve_reference("f.b", Some("b")), Ok(("f", "b")));
        assert!(resolve_reference("f.b", Some("c")).is_err());
    }

    #[test]
    fn namespaces_are_dns_labels() {
        for good in ["a", "team-a", "0x", &"a".repeat(63)] {
            assert!(validate_namespace(good).is_ok(), "{good}");
        }
        for bad in ["", "-a", "a-", "A", "a.b", "a_b", &"a".repeat(64)] {
            assert!(validate_namespace(bad).is_err(), "{bad}");
        }
    }
}
