//! Access to the API, wired from `switchyard_access`. The `/system/*` middleware only
//! authenticates ([`authenticate`]: the bootstrap admin's basic credentials, a service
//! account's API token, an OpenID Connect bearer token) and refuses cross-site writes
//! ([`browser`]). Each handler then parses its typed request, resolves its target once
//! ([`resolve`]) and asks [`Caller::authorize`] about that very target; what it acts on comes
//! out of the [`Authorized`] answer. Every change an identified caller attempts goes to the
//! audit log with the target it resolved ([`audit`]).
//!
//! Private functions (annotation `com.switchyard.access: private`) are invoked only by callers
//! allowed to invoke in their namespace ([`check_invoke`]); the credentials are removed before
//! the function sees the request.

mod audit;
pub(crate) use audit::{record as audit_change, DenialLimiter};
pub(crate) mod browser;
pub(crate) mod resolve;

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use switchyard_access::{Authorized, Principal, Scope};
use switchyard_broker::records::{Action, ApiToken};

use crate::api::AppState;
use crate::error::ApiError;

/// The annotation that makes a function private.
pub const ACCESS_ANNOTATION: &str = "com.switchyard.access";

/// An authenticated caller of `/system/*`, as handlers receive it.
#[derive(Clone)]
pub(crate) struct Caller {
    pub(crate) principal: Principal,
    /// The targets this request was authorized (or refused) on, for its audit entry.
    targets: Arc<Mutex<Vec<String>>>,
}

impl Caller {
    /// `target` as authorized for `action` in `scope` (resolved from `target` by the caller),
    /// or 403 naming what is missing.
    pub(crate) fn authorize<T: std::fmt::Display>(
        &self,
        state: &AppState,
        action: Action,
        scope: &Scope,
        target: T,
    ) -> Result<Authorized<T>, ApiError> {
        let noted = format!("{} {target} in {scope}", switchyard_access::verb(action));
        if let Ok(mut targets) = self.targets.lock() {
            if targets.len() < audit::MAX_TARGETS {
                targets.push(noted);
            }
        }
        state
            .policies
            .cache()
            .read(|policies| {
                switchyard_access::authorize(
                    &self.principal,
                    policies.values(),
                    action,
                    scope,
                    target,
                )
            })
            .map_err(|denied| ApiError::Forbidden(denied.to_string()))
    }

    /// Whether the caller may do `action` in `scope`: for filtering lists, never for acting.
    pub(crate) fn may(&self, state: &AppState, action: Action, scope: &Scope) -> bool {
        state.policies.cache().read(|policies| {
            switchyard_access::permits(&self.principal, policies.values(), action, scope)
        })
    }

    /// Operators' realm (every organization's records).
    pub(crate) fn operator(
        &self,
        state: &AppState,
        what: &'static str,
    ) -> Result<Authorized<&'static str>, ApiError> {
        self.authorize(state, Action::Admin, &Scope::Operators, what)
    }

    /// Anything any signed-in caller may see.
    pub(crate) fn signed_in(
        &self,
        state: &AppState,
        what: &'static str,
    ) -> Result<Authorized<&'static str>, ApiError> {
        self.authorize(state, Action::Read, &Scope::SignedIn, what)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or_else(|| ApiError::Unauthorized("this route needs credentials".into()))
    }
}

/// The middleware on `/system/*`: authenticates, refuses what a cross-site page could send,
/// runs the handler, and records changes in the audit log.
pub(crate) async fn require_access(
    State(state): State<Arc<AppState>>,
    mut request: Request<Body>,
    next: Next,
) -> Response {
    let method = request.method().as_str().to_string();
    let path = request.uri().path().to_string();
    let changes = !matches!(method.as_str(), "GET" | "HEAD");
    let call_id = request
        .headers()
        .get("x-call-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let principal = match authenticate(&state, request.headers()).await {
        Ok(principal) => principal,
        Err(refusal) => {
            state.metrics.count_refused_credentials();
            let mut response = refusal.into_response();
            // The UI signs in through its own form: no challenge, so no browser dialog that
            // would cache the admin's credentials.
            if request.headers().contains_key(crate::auth::UI_HEADER) {
                response.headers_mut().remove(header::WWW_AUTHENTICATE);
            }
            return response;
        }
    };
    if let Err(refusal) = browser::check(request.method(), request.headers()) {
        return refusal.into_response();
    }
    let caller = Caller {
        principal,
        targets: Arc::default(),
    };
    request.extensions_mut().insert(caller.clone());
    let response = next.run(request).await;
    if changes {
        let targets = caller.targets.lock().map(|t| t.clone()).unwrap_or_default();
        audit::record(
            &state,
            &caller.principal,
            &method,
            &path,
            targets,
            response.status().as_u16(),
            call_id,
        )
        .await;
    }
    response
}

/// The caller the headers prove, or 401.
pub(crate) async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Principal, ApiError> {
    if crate::auth::authenticated(&state.config.credentials, headers) {
        return Ok(Principal::super_user(state.config.credentials.user.clone()));
    }
    let Some(token) = crate::routes::bearer(headers) else {
        return Err(ApiError::Unauthorized(
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
            .ok_or_else(|| ApiError::Unauthorized("the token is not valid".into()))?;
        stored
            .accepts(secret, Utc::now())
            .map_err(|reason| ApiError::Unauthorized(reason.to_string()))?;
        return Ok(Principal::service_account(
            &stored.organization,
            &stored.service_account,
        ));
    }
    let Some(oidc) = &state.oidc else {
        return Err(ApiError::Unauthorized(
            "bearer tokens other than Switchyard API tokens need SWITCHYARD_OIDC_ISSUER".into(),
        ));
    };
    let user = oidc.user(&state.jwt, &token).await.map_err(|reason| {
        ApiError::Unauthorized(format!("the bearer token was refused: {reason}"))
    })?;
    Ok(Principal::user(&user.name, &user.groups))
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
    // Read in place: the invoke path should not clone the function's spec.
    let private = state.registry.cache().read(|functions| {
        functions
            .get(&function.id())
            .and_then(|spec| spec.deployment.annotations.as_ref())
            .and_then(|annotations| annotations.get(ACCESS_ANNOTATION))
            .is_some_and(|value| value == "private")
    });
    if !private {
        return Ok(());
    }
    let principal = authenticate(state, headers)
        .await
        .map_err(IntoResponse::into_response)?;
    let scope = state.scope_of(&function.namespace);
    let allowed = state.policies.cache().read(|policies| {
        switchyard_access::authorize(
            &principal,
            policies.values(),
            Action::Invoke,
            &scope,
            &function,
        )
        .map(drop)
    });
    if let Err(denied) = allowed {
        return Err(ApiError::Forbidden(denied.to_string()).into_response());
    }
    headers.remove(header::AUTHORIZATION);
    Ok(())
}
