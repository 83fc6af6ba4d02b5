//! Where an action happens, resolved from the request's target before access is asked.

use std::fmt;

use switchyard_broker::records::DEFAULT_ORGANIZATION;

/// The place an action is decided in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Anything any signed-in caller may see (`/system/info`, the OpenAPI document).
    SignedIn,
    /// Operators: the super-user, or an admin of the default organization (certificates,
    /// hosts, the audit log of everyone, the event firehose).
    Operators,
    /// The bootstrap super-user only (organizations, sharing an event source with everyone).
    SuperUser,
    /// A whole organization (its namespaces, policies, service accounts, tokens).
    Organization(String),
    /// One namespace, with the organization that owns it (resolved from the namespace's
    /// record, never from the request).
    Namespace {
        organization: String,
        namespace: String,
    },
}

impl Scope {
    pub fn namespace(organization: impl Into<String>, namespace: impl Into<String>) -> Self {
        Scope::Namespace {
            organization: organization.into(),
            namespace: namespace.into(),
        }
    }

    /// The organization this scope lies in, when it lies in one.
    pub fn organization(&self) -> Option<&str> {
        match self {
            Scope::Organization(organization) | Scope::Namespace { organization, .. } => {
                Some(organization)
            }
            Scope::Operators => Some(DEFAULT_ORGANIZATION),
            Scope::SignedIn | Scope::SuperUser => None,
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::SignedIn => write!(f, "any signed-in caller"),
            Scope::Operators => write!(
                f,
                "operators (admin of organization `{DEFAULT_ORGANIZATION}`)"
            ),
            Scope::SuperUser => write!(f, "the bootstrap admin"),
            Scope::Organization(organization) => write!(f, "organization `{organization}`"),
            Scope::Namespace {
                organization,
                namespace,
            } => write!(
                f,
                "namespace `{namespace}` of organization `{organization}`"
            ),
        }
    }
}
