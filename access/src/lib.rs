//! Who may do what in Switchyard, decided on the very target a request acts on.
//!
//! The gateway authenticates a caller into a [`Principal`], parses and resolves the request's
//! target (a function, a secret, a job… with its namespace and organization), and only then
//! asks [`authorize`] whether the principal may do the [`Action`] in that target's [`Scope`].
//! The answer is an [`Authorized`] wrapping the target: handlers act on what that holds, and
//! only [`authorize`] can build one, so acting on a target nobody authorized does not compile.
//!
//! - [`principal`]: who is calling (the bootstrap super-user, a service account, an OIDC user).
//! - [`scope`]: where an action happens (an organization, one of its namespaces, or the
//!   operators' realm) and what it takes there.
//! - [`decision`]: the pure rule over the policies of `sy_policies`, table-tested.
//! - [`authorized`]: the proof type.
//!
//! The policy model itself (organizations, roles, policies, service accounts, tokens) is stored
//! in NATS KV and defined in `switchyard_broker::records`; it is re-exported here.

pub mod authorized;
pub mod decision;
pub mod principal;
pub mod scope;

pub use authorized::{authorize, verb, Authorized, Denied};
pub use decision::permits;
pub use principal::Principal;
pub use scope::Scope;
pub use switchyard_broker::records::{
    Action, Policy, Role, DEFAULT_NAMESPACE, DEFAULT_ORGANIZATION,
};
