//! The one resolver: every name a request gives (`name`, `name.namespace`, `?namespace=`, a
//! body's `namespace`) is turned here, once, into a validated target with its namespace and
//! the organization that owns it. Handlers authorize and act on what this returns.

use std::fmt;

use switchyard_access::Scope;
use switchyard_broker::records::{
    qualify, resolve_reference, validate_function_name, validate_namespace, DEFAULT_NAMESPACE,
    DEFAULT_ORGANIZATION,
};

use crate::api::AppState;
use crate::error::ApiError;

/// Something named inside a namespace: a function, a secret, a route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Named {
    pub(crate) kind: Kind,
    pub(crate) name: String,
    pub(crate) namespace: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Function,
    Secret,
    Route,
}

impl Kind {
    fn noun(self) -> &'static str {
        match self {
            Kind::Function => "function",
            Kind::Secret => "secret",
            Kind::Route => "route",
        }
    }
}

impl Named {
    /// The key it is stored under: `name` in the default namespace, else `name.namespace`.
    pub(crate) fn id(&self) -> String {
        qualify(&self.name, Some(&self.namespace))
    }
}

impl fmt::Display for Named {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} `{}.{}`", self.kind.noun(), self.name, self.namespace)
    }
}

/// A namespace as a target (creating, reading or removing it; listing what lives in it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NamespaceName(pub(crate) String);

impl fmt::Display for NamespaceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "namespace `{}`", self.0)
    }
}

/// An empty string counts as absent: one rule for every field and query.
pub(crate) fn given(value: Option<&str>) -> Option<&str> {
    value.filter(|v| !v.is_empty())
}

/// The one namespace a body and a query name (they must agree when both do).
pub(crate) fn one_namespace<'a>(
    body: Option<&'a str>,
    query: Option<&'a str>,
) -> Result<Option<&'a str>, ApiError> {
    match (given(body), given(query)) {
        (Some(a), Some(b)) if a != b => Err(ApiError::BadRequest(format!(
            "the body names namespace `{a}` but the query says `{b}`"
        ))),
        (a, b) => Ok(a.or(b)),
    }
}

/// Splits `reference` (`name` or `name.namespace`, on the last dot) and reconciles it with a
/// namespace given apart (query or body). Pure: validates the form, not existence.
pub(crate) fn split_reference(
    kind: Kind,
    reference: &str,
    namespace: Option<&str>,
) -> Result<Named, ApiError> {
    let (name, namespace) =
        resolve_reference(reference, given(namespace)).map_err(ApiError::BadRequest)?;
    validate_function_name(name).map_err(|_| {
        ApiError::BadRequest(format!(
            "{} name `{name}`: use 1 to 63 characters of a-z, A-Z, 0-9, `-` and `_`, starting with a letter or digit",
            kind.noun()
        ))
    })?;
    validate_namespace(namespace).map_err(ApiError::BadRequest)?;
    Ok(Named {
        kind,
        name: name.to_string(),
        namespace: namespace.to_string(),
    })
}

impl AppState {
    /// The scope of `namespace`: its organization from its stored record (the default
    /// organization's for `openfaas-fn`).
    pub(crate) fn scope_of(&self, namespace: &str) -> Scope {
        let organization = self
            .namespaces
            .cache()
            .read(|namespaces| {
                namespaces
                    .get(namespace)
                    .map(|n| n.organization().to_string())
            })
            .unwrap_or_else(|| DEFAULT_ORGANIZATION.to_string());
        Scope::namespace(organization, namespace)
    }

    /// Whether a record made at `made` belongs to the namespace of this name as it exists now:
    /// not to one of the same name deleted before it was created again.
    pub(crate) fn namespace_holds(
        &self,
        namespace: &str,
        made: chrono::DateTime<chrono::Utc>,
    ) -> bool {
        if namespace == DEFAULT_NAMESPACE {
            return true;
        }
        self.namespaces
            .cache()
            .read(|namespaces| namespaces.get(namespace).map(|n| n.created_at <= made))
            .unwrap_or(false)
    }

    /// A namespace a request names (default `openfaas-fn`): valid and existing, else 400.
    pub(crate) async fn namespace_named(
        &self,
        namespace: Option<&str>,
    ) -> Result<(NamespaceName, Scope), ApiError> {
        let namespace = given(namespace).unwrap_or(DEFAULT_NAMESPACE);
        validate_namespace(namespace).map_err(ApiError::BadRequest)?;
        self.existing_namespace(namespace).await?;
        Ok((
            NamespaceName(namespace.to_string()),
            self.scope_of(namespace),
        ))
    }

    /// What `reference` with `namespace` names: valid, in an existing namespace (else 400),
    /// with the scope to authorize it in. It need not exist itself.
    pub(crate) async fn resolve(
        &self,
        kind: Kind,
        reference: &str,
        namespace: Option<&str>,
    ) -> Result<(Named, Scope), ApiError> {
        let named = split_reference(kind, reference, namespace)?;
        self.existing_namespace(&named.namespace).await?;
        let scope = self.scope_of(&named.namespace);
        Ok((named, scope))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(reference: &str, namespace: Option<&str>) -> Result<(String, String), String> {
        split_reference(Kind::Function, reference, namespace)
            .map(|n| (n.name, n.namespace))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn references_resolve_once_and_strictly() {
        let ok = |n: &str, ns: &str| Ok((n.to_string(), ns.to_string()));
        assert_eq!(split("echo", None), ok("echo", "openfaas-fn"));
        assert_eq!(split("echo", Some("")), ok("echo", "openfaas-fn"));
        assert_eq!(split("echo.team-b", None), ok("echo", "team-b"));
        assert_eq!(split("echo", Some("team-b")), ok("echo", "team-b"));
        assert_eq!(split("echo.team-b", Some("team-b")), ok("echo", "team-b"));
        assert!(split("echo.team-b", Some("team-a")).is_err());
        // faas-netes: `echo.team-b.openfaas-fn` is no function (the name holds a dot).
        assert!(split("echo.team-b.openfaas-fn", None).is_err());
        assert!(split("echo.", None).is_err());
        assert!(split(".team-b", None).is_err());
        assert!(split("../x", None).is_err());
        assert!(split("echo", Some("Team")).is_err());
        assert!(split("", None).is_err());
    }
}
