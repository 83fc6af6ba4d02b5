//! Multi-tenant access to the API. Every `/system/*` request is authenticated (the bootstrap
//! admin's basic credentials: the super-user; a service account's API token; an OpenID
//! Connect bearer token), classified ([`classify`]: which action, in which namespace or
//! organization), and authorized by the policies of the organization that owns it. Every
//! change (anything but GET and HEAD) an identified caller attempts, allowed or not, goes to
//! the audit log.
//!
//! Private functions (annotation `com.switchyard.access: private`) are invoked only by callers
//! allowed to invoke in their namespace ([`check_invoke`]); the credentials are removed before
//! the function sees the request.

pub mod classify;

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use switchyard_broker::audit::AuditEntry;
use switchyard_broker::records::{
    split_qualified, Action, ApiToken, DEFAULT_NAMESPACE, DEFAULT_ORGANIZATION,
};

use crate::api::AppState;
use classify::Need;

/// The annotation that makes a function private.
pub const ACCESS_ANNOTATION: &str = "com.switchyard.access";

/// Who is calling, once authenticated.
#[derive(Debug, Clone, PartialEq)]
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

/// Why a caller gets no access.
enum Refusal {
    /// No credentials, or bad ones: 401.
    Unauthenticated(String),
    /// Known, not allowed: 403.
    Forbidden(String),
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::Unauthenticated(message) => {
                (StatusCode::UNAUTHORIZED, format!("{message}\n")).into_response()
            }
            Refusal::Forbidden(message) => {
                (StatusCode::FORBIDDEN, format!("{message}\n")).into_response()
            }
        }
    }
}

/// The middleware on `/system/*`.
pub(crate) async fn require_access(
    State(state): State<Arc<AppState>>,
    request: Request<Body>,
    next: Next,
) -> Response {
    let method = request.method().as_str().to_string();
    let path = request.uri().path().to_string();
    let changes = !matches!(method.as_str(), "GET" | "HEAD");
    let from_ui = request.headers().contains_key(crate::auth::UI_HEADER);
    let call_id = request
        .headers()
        .get("x-call-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());

    let principal = authenticate(&state, request.headers()).await;
    let (response, who) = match principal {
        Err(refusal) => {
            let mut response = refusal.into_response();
            if !from_ui {
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"Restricted\""),
                );
            }
            (response, None)
        }
        Ok(principal) => {
            let who = principal.who.clone();
            (
                authorize_and_run(&state, principal, request, next).await,
                Some(who),
            )
        }
    };
    // Requests nobody could be identified for are not recorded: anyone could flood the log
    // with them and push the real entries out.
    if let (true, Some(who)) = (changes, who) {
        let entry = AuditEntry {
            time: Utc::now(),
            who,
            method,
            path,
            status: response.status().as_u16(),
            outcome: AuditEntry::outcome_of(response.status().as_u16()).to_string(),
            call_id,
        };
        if let Err(error) = switchyard_broker::audit::record(&state.js, &entry).await {
            tracing::error!(%error, who = %entry.who, path = %entry.path, "audit entry not stored");
        }
    }
    response
}

async fn authorize_and_run(
    state: &AppState,
    principal: Principal,
    request: Request<Body>,
    next: Next,
) -> Response {
    let (parts, body) = request.into_parts();
    // The body decides the namespace of a write: read it (bounded), then hand it on.
    let bytes = match axum::body::to_bytes(body, state.config.max_body_bytes).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return crate::error::ApiError::TooLarge(state.config.max_body_bytes).into_response()
        }
    };
    let json = serde_json::from_slice::<serde_json::Value>(&bytes).ok();
    let query: HashMap<String, String> =
        axum::extract::Query::try_from_uri(&parts.uri).map_or_else(|_| HashMap::new(), |q| q.0);
    let need = classify::classify(
        parts.method.as_str(),
        parts.uri.path(),
        &query,
        json.as_ref(),
    );
    if let Err(refusal) = allowed(state, &principal, &need).await {
        return refusal.into_response();
    }
    let mut request = Request::from_parts(parts, Body::from(bytes));
    request.extensions_mut().insert(principal);
    next.run(request).await
}

/// The caller the headers prove, or why none.
async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Principal, Refusal> {
    if crate::auth::authenticated(&state.config.credentials, headers) {
        return Ok(Principal {
            who: state.config.credentials.user.clone(),
            subjects: Vec::new(),
            super_user: true,
            organization: None,
        });
    }
    let Some(token) = crate::routes::bearer(headers) else {
        return Err(Refusal::Unauthenticated(
            "invalid or missing credentials: /system/* needs basic auth, an API token or a bearer token".into(),
        ));
    };
    if let Some((id, secret)) = ApiToken::parse(&token) {
        let stored = state
            .tokens
            .fetch(id)
            .await
            .ok()
            .flatten()
            .ok_or_else(|| Refusal::Unauthenticated("the token is not valid".into()))?;
        stored
            .accepts(secret, Utc::now())
            .map_err(|reason| Refusal::Unauthenticated(reason.to_string()))?;
        return Ok(Principal {
            who: format!(
                "serviceaccount:{}/{}",
                stored.organization, stored.service_account
            ),
            subjects: vec![format!("serviceaccount:{}", stored.service_account)],
            super_user: false,
            organization: Some(stored.organization),
        });
    }
    let Some(oidc) = &state.oidc else {
        return Err(Refusal::Unauthenticated(
            "bearer tokens other than Switchyard API tokens need SWITCHYARD_OIDC_ISSUER".into(),
        ));
    };
    let user = oidc.user(&state.jwt, &token).await.map_err(|reason| {
        Refusal::Unauthenticated(format!("the bearer token was refused: {reason}"))
    })?;
    let mut subjects = vec![format!("user:{}", user.name)];
    subjects.extend(user.groups.iter().map(|g| format!("group:{g}")));
    Ok(Principal {
        who: format!("user:{}", user.name),
        subjects,
        super_user: false,
        organization: None,
    })
}

/// Whether `principal` has `need`.
async fn allowed(state: &AppState, principal: &Principal, need: &Need) -> Result<(), Refusal> {
    if principal.super_user {
        return Ok(());
    }
    let ok = match need {
        Need::Authenticated => true,
        Need::SuperUser => false,
        Need::Operator => permits(state, principal, Action::Admin, DEFAULT_ORGANIZATION, None),
        Need::Organization(action, organization) => {
            permits(state, principal, *action, organization, None)
        }
        Need::Namespace(action, namespace) => permits(
            state,
            principal,
            *action,
            &organization_of(state, namespace),
            Some(namespace),
        ),
        Need::Job(call_id) => {
            let function = state
                .jobs
                .get(call_id)
                .await
                .ok()
                .flatten()
                .map(|r| r.function);
            let namespace = function
                .as_deref()
                .map_or(DEFAULT_NAMESPACE, |f| split_qualified(f).1)
                .to_string();
            permits(
                state,
                principal,
                Action::Read,
                &organization_of(state, &namespace),
                Some(&namespace),
            )
        }
        Need::Subscription(action, name) => {
            let namespace = state
                .subscriptions
                .get(name)
                .map_or(DEFAULT_NAMESPACE.to_string(), |s| {
                    split_qualified(&s.function).1.to_string()
                });
            permits(
                state,
                principal,
                *action,
                &organization_of(state, &namespace),
                Some(&namespace),
            )
        }
        Need::Source(action, name) => {
            let namespace = state
                .sources
                .get(name)
                .map_or(DEFAULT_NAMESPACE.to_string(), |s| s.namespace().to_string());
            permits(
                state,
                principal,
                *action,
                &organization_of(state, &namespace),
                Some(&namespace),
            )
        }
        Need::Token(id) => match state.tokens.get(id) {
            Some(token) => permits(state, principal, Action::Admin, &token.organization, None),
            None => permits(state, principal, Action::Admin, DEFAULT_ORGANIZATION, None),
        },
    };
    if ok {
        Ok(())
    } else {
        Err(Refusal::Forbidden(format!(
            "{} may not do this: it needs {}",
            principal.who,
            describe(need)
        )))
    }
}

fn describe(need: &Need) -> String {
    match need {
        Need::Authenticated => "to be signed in".into(),
        Need::SuperUser => "the bootstrap admin".into(),
        Need::Operator => "the admin role in the default organization".into(),
        Need::Organization(action, org) => {
            format!("{action:?} in organization `{org}`").to_lowercase()
        }
        Need::Namespace(action, ns) => format!("{action:?} in namespace `{ns}`").to_lowercase(),
        Need::Job(_) => "read in the job's namespace".into(),
        Need::Source(action, _) => {
            format!("{action:?} in the event source's namespace").to_lowercase()
        }
        Need::Subscription(action, _) => {
            format!("{action:?} in the namespace of the subscription's function").to_lowercase()
        }
        Need::Token(_) => "the admin role in the token's organization".into(),
    }
}

/// The organization that owns `namespace` (`default` for the default namespace and for
/// namespaces that do not exist).
pub(crate) fn organization_of(state: &AppState, namespace: &str) -> String {
    state
        .namespaces
        .get(namespace)
        .map_or(DEFAULT_ORGANIZATION.to_string(), |n| {
            n.organization().to_string()
        })
}

/// Whether a policy of `organization` binds one of the principal's subjects to a role that
/// allows `action` there (in `namespace`, when given; organization-wide otherwise).
pub(crate) fn permits(
    state: &AppState,
    principal: &Principal,
    action: Action,
    organization: &str,
    namespace: Option<&str>,
) -> bool {
    if principal.super_user {
        return true;
    }
    // A service account's subject counts only in its own organization.
    if principal
        .organization
        .as_deref()
        .is_some_and(|own| own != organization)
    {
        return false;
    }
    state.policies.cache().read(|policies| {
        policies.values().any(|policy| {
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
    })
}

/// Checks the caller of a private function (Invoke in its namespace) and removes the
/// credentials they showed; public functions, and references to no function (the invoke
/// answers 404 itself), pass untouched.
pub(crate) async fn check_invoke(
    state: &AppState,
    reference: &str,
    headers: &mut HeaderMap,
) -> Result<(), Response> {
    let Ok(function) = crate::api::registered_function(state, reference).await else {
        return Ok(());
    };
    let function = function.as_str();
    // Read in place: the invoke path should not clone the function's spec.
    let private = state.registry.cache().read(|functions| {
        functions
            .get(function)
            .and_then(|spec| spec.deployment.annotations.as_ref())
            .and_then(|annotations| annotations.get(ACCESS_ANNOTATION))
            .is_some_and(|value| value == "private")
    });
    if !private {
        return Ok(());
    }
    let principal = authenticate(state, headers).await.map_err(|refusal| {
        let mut response = refusal.into_response();
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"Restricted\""),
        );
        response
    })?;
    let namespace = split_qualified(function).1;
    let organization = organization_of(state, namespace);
    if !permits(
        state,
        &principal,
        Action::Invoke,
        &organization,
        Some(namespace),
    ) {
        return Err(Refusal::Forbidden(format!(
            "{} may not invoke `{function}`: it needs invoke in namespace `{namespace}`",
            principal.who
        ))
        .into_response());
    }
    headers.remove(header::AUTHORIZATION);
    Ok(())
}
