//! The proof that a resolved target was authorized.

use std::fmt;

use switchyard_broker::records::{Action, Policy};

use crate::{permits, Principal, Scope};

/// A target `principal` may act on. Only [`authorize`] builds one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorized<T> {
    target: T,
}

impl<T> Authorized<T> {
    pub fn target(&self) -> &T {
        &self.target
    }

    pub fn into_target(self) -> T {
        self.target
    }

    /// What the handler derives from the authorized target (the record it will store for it).
    pub fn map<U>(self, derive: impl FnOnce(T) -> U) -> Authorized<U> {
        Authorized {
            target: derive(self.target),
        }
    }
}

impl<T> std::ops::Deref for Authorized<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.target
    }
}

/// Why a principal may not act on a target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied {
    pub who: String,
    pub action: Action,
    pub scope: Scope,
    pub target: String,
}

impl fmt::Display for Denied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} may not {} {}: it needs {} in {}",
            self.who,
            verb(self.action),
            self.target,
            format!("{:?}", self.action).to_lowercase(),
            self.scope
        )
    }
}

impl std::error::Error for Denied {}

/// What doing `action` is called in refusals and audit entries.
pub fn verb(action: Action) -> &'static str {
    match action {
        Action::Read => "read",
        Action::Invoke => "invoke",
        Action::Write => "change",
        Action::Admin => "administer",
    }
}

/// `target` as [`Authorized`] when `principal` may do `action` in `scope`, which the caller
/// resolved from `target` itself.
pub fn authorize<'p, T: fmt::Display>(
    principal: &Principal,
    policies: impl IntoIterator<Item = &'p Policy>,
    action: Action,
    scope: &Scope,
    target: T,
) -> Result<Authorized<T>, Denied> {
    if permits(principal, policies, action, scope) {
        Ok(Authorized { target })
    } else {
        Err(Denied {
            who: principal.who.clone(),
            action,
            scope: scope.clone(),
            target: target.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_names_who_what_and_where() {
        let ann = Principal::user("ann", &[]);
        let denied = authorize(
            &ann,
            &[],
            Action::Write,
            &Scope::namespace("b", "b-ns"),
            "function `f.b-ns`",
        )
        .expect_err("no policy");
        assert_eq!(
            denied.to_string(),
            "user:ann may not change function `f.b-ns`: it needs write in namespace `b-ns` of organization `b`"
        );
        let root = Principal::super_user("admin");
        let granted = authorize(&root, &[], Action::Write, &Scope::SuperUser, "x").expect("root");
        assert_eq!(*granted.target(), "x");
    }
}
