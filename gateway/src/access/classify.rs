//! What a `/system/*` request needs: which action, where. Pure: the path, the method, the
//! query and the JSON body decide; records the request names (a job, a token) are looked up
//! by the caller.

use std::collections::HashMap;

use serde_json::Value;
use switchyard_broker::records::{
    split_qualified, Action, DEFAULT_NAMESPACE, DEFAULT_ORGANIZATION,
};

/// What a request needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Need {
    /// Any authenticated caller (`/system/info`, the namespace names).
    Authenticated,
    /// `action` in this namespace.
    Namespace(Action, String),
    /// `action` across this organization (a policy on the whole organization).
    Organization(Action, String),
    /// Read the job with this call id: read in its function's namespace.
    Job(String),
    /// `action` on the subscription with this name: in its function's namespace.
    Subscription(Action, String),
    /// `action` on the event source with this name: in its namespace.
    Source(Action, String),
    /// Admin of the organization of the token with this id.
    Token(String),
    /// Operators: the super-user, or an admin of the default organization (the lists of all
    /// sources and subscriptions, events, dead letters, certificates, the
    /// audit log).
    Operator,
    /// The bootstrap super-user only (organizations).
    SuperUser,
}

/// What `method path?query` with `body` needs.
pub fn classify(
    method: &str,
    path: &str,
    query: &HashMap<String, String>,
    body: Option<&Value>,
) -> Need {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let read = matches!(method, "GET" | "HEAD");
    let write_or_read = if read { Action::Read } else { Action::Write };
    let query_ns = query.get("namespace").filter(|n| !n.is_empty()).cloned();
    let body_ns = || {
        body_namespace(body)
            .or_else(|| query_ns.clone())
            .unwrap_or_else(default_ns)
    };
    match segments.as_slice() {
        ["system", "info"] | ["system", "openapi.json"] | ["system", "namespaces"] => {
            Need::Authenticated
        }
        ["system", "functions"] if read => {
            Need::Namespace(Action::Read, query_ns.unwrap_or_else(default_ns))
        }
        ["system", "functions"] => Need::Namespace(Action::Write, body_ns()),
        ["system", "function", name] => Need::Namespace(
            Action::Read,
            name_namespace(name).or(query_ns).unwrap_or_else(default_ns),
        ),
        ["system", "scale-function", name] => Need::Namespace(
            Action::Write,
            name_namespace(name)
                .or_else(|| body_namespace(body))
                .or(query_ns)
                .unwrap_or_else(default_ns),
        ),
        ["system", "namespace", ""] | ["system", "namespace"] => Need::Organization(
            Action::Admin,
            body.and_then(|b| b.get("organization"))
                .and_then(Value::as_str)
                .unwrap_or(DEFAULT_ORGANIZATION)
                .to_string(),
        ),
        ["system", "namespace", name] if read => Need::Namespace(Action::Read, (*name).to_string()),
        ["system", "namespace", name] => Need::Namespace(Action::Admin, (*name).to_string()),
        ["system", "secrets"] if read => {
            Need::Namespace(Action::Read, query_ns.unwrap_or_else(default_ns))
        }
        ["system", "secrets"] => Need::Namespace(Action::Write, body_ns()),
        ["system", "logs"] => Need::Namespace(
            Action::Read,
            query
                .get("name")
                .and_then(|n| name_namespace(n))
                .or(query_ns)
                .unwrap_or_else(default_ns),
        ),
        ["system", "routes"] if read => {
            Need::Namespace(Action::Read, query_ns.unwrap_or_else(default_ns))
        }
        ["system", "routes"] => Need::Namespace(Action::Write, body_ns()),
        ["system", "routes", _] if read || method == "DELETE" => {
            Need::Namespace(write_or_read, query_ns.unwrap_or_else(default_ns))
        }
        ["system", "routes", _] => Need::Namespace(Action::Write, body_ns()),
        ["system", "jobs"] => match query.get("function") {
            Some(function) => {
                Need::Namespace(Action::Read, split_qualified(function).1.to_string())
            }
            None => Need::Operator,
        },
        ["system", "jobs", call_id, ..] if read => Need::Job((*call_id).to_string()),
        ["system", "subscriptions"] if !read => Need::Namespace(
            Action::Write,
            body.and_then(|b| b.get("function"))
                .and_then(Value::as_str)
                .map_or_else(default_ns, |f| split_qualified(f).1.to_string()),
        ),
        ["system", "subscriptions", name] => Need::Subscription(write_or_read, (*name).to_string()),
        ["system", "event-sources"] if !read => Need::Namespace(Action::Write, body_ns()),
        ["system", "event-sources", name] => Need::Source(write_or_read, (*name).to_string()),
        ["system", "policies"] if read => Need::Organization(
            Action::Admin,
            query
                .get("organization")
                .cloned()
                .unwrap_or_else(|| DEFAULT_ORGANIZATION.into()),
        ),
        ["system", "policies"] => Need::Organization(Action::Admin, body_organization(body)),
        ["system", "policies", organization, ..]
        | ["system", "service-accounts", organization, ..] => {
            Need::Organization(Action::Admin, (*organization).to_string())
        }
        ["system", "service-accounts"] if read => Need::Organization(
            Action::Admin,
            query
                .get("organization")
                .cloned()
                .unwrap_or_else(|| DEFAULT_ORGANIZATION.into()),
        ),
        ["system", "service-accounts"] => {
            Need::Organization(Action::Admin, body_organization(body))
        }
        ["system", "tokens", id] => Need::Token((*id).to_string()),
        ["system", "organizations", ..] if read => Need::Authenticated,
        ["system", "organizations", ..] => Need::SuperUser,
        // The lists of all event sources and subscriptions, events, dead letters,
        // certificates, the audit log, and
        // anything not named above.
        _ => Need::Operator,
    }
}

fn default_ns() -> String {
    DEFAULT_NAMESPACE.to_string()
}

/// `name.namespace` → the namespace.
fn name_namespace(name: &str) -> Option<String> {
    name.rsplit_once('.').map(|(_, ns)| ns.to_string())
}

/// The namespace a JSON body names: `namespace`, or the one in a `name.namespace` reference
/// (`functionName`, `serviceName`, `service`).
fn body_namespace(body: Option<&Value>) -> Option<String> {
    let body = body?;
    if let Some(ns) = body
        .get("namespace")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
    {
        return Some(ns.to_string());
    }
    ["functionName", "serviceName", "service"]
        .iter()
        .filter_map(|field| body.get(*field).and_then(Value::as_str))
        .find_map(name_namespace)
}

fn body_organization(body: Option<&Value>) -> String {
    body.and_then(|b| b.get("organization"))
        .and_then(Value::as_str)
        .unwrap_or(DEFAULT_ORGANIZATION)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn need(method: &str, path: &str, query: &[(&str, &str)], body: Option<Value>) -> Need {
        let query = query
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        classify(method, path, &query, body.as_ref())
    }

    #[test]
    fn function_requests_need_their_namespace() {
        assert_eq!(
            need("GET", "/system/functions", &[("namespace", "team-a")], None),
            Need::Namespace(Action::Read, "team-a".into())
        );
        assert_eq!(
            need(
                "POST",
                "/system/functions",
                &[],
                Some(json!({"service": "f", "namespace": "team-b"}))
            ),
            Need::Namespace(Action::Write, "team-b".into())
        );
        assert_eq!(
            need(
                "DELETE",
                "/system/functions",
                &[],
                Some(json!({"functionName": "f.team-c"}))
            ),
            Need::Namespace(Action::Write, "team-c".into())
        );
        assert_eq!(
            need("GET", "/system/function/f.team-d", &[], None),
            Need::Namespace(Action::Read, "team-d".into())
        );
        assert_eq!(
            need("POST", "/system/scale-function/f", &[], None),
            Need::Namespace(Action::Write, DEFAULT_NAMESPACE.into())
        );
    }

    #[test]
    fn organization_wide_and_operator_requests_are_told_apart() {
        assert_eq!(
            need(
                "POST",
                "/system/namespace/",
                &[],
                Some(json!({"name": "n", "organization": "acme"}))
            ),
            Need::Organization(Action::Admin, "acme".into())
        );
        assert_eq!(
            need("POST", "/system/service-accounts/acme/ci/tokens", &[], None),
            Need::Organization(Action::Admin, "acme".into())
        );
        assert_eq!(
            need("GET", "/system/jobs/abc", &[], None),
            Need::Job("abc".into())
        );
        assert_eq!(need("GET", "/system/jobs", &[], None), Need::Operator);
        assert_eq!(
            need(
                "POST",
                "/system/subscriptions",
                &[],
                Some(json!({"name": "s", "function": "f.team-a"}))
            ),
            Need::Namespace(Action::Write, "team-a".into())
        );
        assert_eq!(
            need("DELETE", "/system/subscriptions/s", &[], None),
            Need::Subscription(Action::Write, "s".into())
        );
        assert_eq!(
            need("GET", "/system/subscriptions", &[], None),
            Need::Operator
        );
        assert_eq!(
            need("GET", "/system/event-sources", &[], None),
            Need::Operator
        );
        assert_eq!(need("GET", "/system/audit", &[], None), Need::Operator);
        assert_eq!(
            need("POST", "/system/organizations", &[], None),
            Need::SuperUser
        );
        assert_eq!(
            need("DELETE", "/system/tokens/0123", &[], None),
            Need::Token("0123".into())
        );
        assert_eq!(
            need("GET", "/system/anything-new", &[], None),
            Need::Operator
        );
        assert_eq!(
            need(
                "POST",
                "/system/event-sources",
                &[],
                Some(json!({"name": "hook", "namespace": "team-a"}))
            ),
            Need::Namespace(Action::Write, "team-a".into())
        );
        assert_eq!(
            need("PUT", "/system/event-sources/hook", &[], None),
            Need::Source(Action::Write, "hook".into())
        );
    }
}
