//! The rule: a principal may do an action in a scope when a policy of the scope's organization
//! binds one of its subjects to a role that allows the action there.

use switchyard_broker::records::{Action, Policy, DEFAULT_ORGANIZATION};

use crate::{Principal, Scope};

/// Whether `principal` may do `action` in `scope`, given every stored policy.
pub fn permits<'p>(
    principal: &Principal,
    policies: impl IntoIterator<Item = &'p Policy>,
    action: Action,
    scope: &Scope,
) -> bool {
    if principal.super_user {
        return true;
    }
    match scope {
        Scope::SignedIn => true,
        Scope::SuperUser => false,
        Scope::Operators => bound(
            principal,
            policies,
            Action::Admin,
            DEFAULT_ORGANIZATION,
            None,
        ),
        Scope::Organization(organization) => bound(principal, policies, action, organization, None),
        Scope::Namespace {
            organization,
            namespace,
        } => bound(principal, policies, action, organization, Some(namespace)),
    }
}

/// Whether a policy of `organization` (organization-wide, or on `namespace` when one is given)
/// binds one of the principal's subjects to a role allowing `action`.
fn bound<'p>(
    principal: &Principal,
    policies: impl IntoIterator<Item = &'p Policy>,
    action: Action,
    organization: &str,
    namespace: Option<&str>,
) -> bool {
    // A service account's subject counts only in its own organization.
    if principal
        .organization
        .as_deref()
        .is_some_and(|own| own != organization)
    {
        return false;
    }
    policies.into_iter().any(|policy| {
        policy.organization == organization
            && match (&policy.namespace, namespace) {
                (None, _) => true,
                (Some(scope), Some(namespace)) => scope == namespace,
                (Some(_), None) => false,
            }
            && policy.role.allows(action)
            && policy
                .subjects
                .iter()
                .any(|s| principal.subjects.contains(s))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_broker::records::Role;

    fn policy(organization: &str, namespace: Option<&str>, subject: &str, role: Role) -> Policy {
        Policy {
            name: format!("{subject}-{role:?}"),
            organization: organization.into(),
            namespace: namespace.map(str::to_string),
            subjects: vec![subject.into()],
            role,
            created_at: chrono::DateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn the_table_of_decisions() {
        let policies = vec![
            policy("a", None, "user:ann", Role::Developer),
            policy("a", Some("a-ns"), "user:vic", Role::Viewer),
            policy("a", None, "serviceaccount:ci", Role::Admin),
            policy("b", None, "serviceaccount:ci", Role::Viewer),
            policy("default", None, "user:op", Role::Admin),
        ];
        let ann = Principal::user("ann", &[]);
        let vic = Principal::user("vic", &[]);
        let ci_a = Principal::service_account("a", "ci");
        let ci_b = Principal::service_account("b", "ci");
        let op = Principal::user("op", &[]);
        let root = Principal::super_user("admin");
        let a_ns = Scope::namespace("a", "a-ns");
        let a_other = Scope::namespace("a", "a-other");
        let b_ns = Scope::namespace("b", "b-ns");
        let org_a = Scope::Organization("a".into());
        use Action::*;
        let table: Vec<(&Principal, Action, &Scope, bool)> = vec![
            (&ann, Write, &a_ns, true),
            (&ann, Write, &a_other, true),
            (&ann, Admin, &org_a, false),
            (&ann, Read, &b_ns, false),
            (&ann, Read, &Scope::Operators, false),
            (&ann, Read, &Scope::SignedIn, true),
            (&vic, Read, &a_ns, true),
            (&vic, Invoke, &a_ns, false),
            (&vic, Read, &a_other, false),
            (&vic, Read, &org_a, false),
            (&ci_a, Admin, &org_a, true),
            (&ci_a, Read, &b_ns, false), // its policy in b names another account
            (&ci_b, Read, &b_ns, true),
            (&ci_b, Write, &b_ns, false),
            (&ci_b, Read, &a_ns, false),
            (&op, Admin, &Scope::Operators, true),
            (&op, Read, &a_ns, false),
            (&op, Admin, &Scope::SuperUser, false),
            (&root, Admin, &Scope::SuperUser, true),
            (&root, Write, &b_ns, true),
        ];
        for (principal, action, scope, expected) in table {
            assert_eq!(
                permits(principal, &policies, action, scope),
                expected,
                "{} {action:?} in {scope}",
                principal.who
            );
        }
    }
}
