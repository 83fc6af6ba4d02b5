//! Organizations, policies, service accounts, API tokens and the audit log:
//!
//! - `GET|POST /system/organizations`, `DELETE /system/organizations/{name}` (the super-user);
//! - `GET|POST /system/policies`, `GET|PUT|DELETE /system/policies/{organization}/{name}`;
//! - `GET|POST /system/service-accounts`, `DELETE /system/service-accounts/{organization}/{name}`;
//! - `GET|POST /system/service-accounts/{organization}/{name}/tokens` (a token is shown once),
//!   `DELETE /system/tokens/{id}` (revokes);
//! - `GET /system/audit`.
//!
//! Who may call which is decided before the handler ([`crate::access`]).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchyard_broker::audit::AuditEntry;
use switchyard_broker::records::{
    scoped_key, validate_name, ApiToken, Organization, Policy, ServiceAccount, DEFAULT_ORGANIZATION,
};

use switchyard_access::{Authorized, Scope};
use switchyard_broker::records::Action;

use super::AppState;
use crate::access::resolve::given;
use crate::access::Caller;
use crate::error::{ApiError, Record};

fn parse<T: serde::de::DeserializeOwned>(what: &str, body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::BadRequest(format!("invalid {what}: {e}")))
}

/// The organization must exist (`default` always does).
fn existing_organization(state: &AppState, organization: &str) -> Result<(), ApiError> {
    if organization == DEFAULT_ORGANIZATION || state.organizations.contains(organization) {
        Ok(())
    } else {
        Err(ApiError::BadRequest(format!(
            "organization `{organization}` does not exist"
        )))
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct OrganizationQuery {
    /// The organization (default `default`).
    organization: Option<String>,
}

impl OrganizationQuery {
    fn get(&self) -> &str {
        given(self.organization.as_deref()).unwrap_or(DEFAULT_ORGANIZATION)
    }
}

/// An organization as a target.
pub(crate) struct OrganizationName(String);

impl std::fmt::Display for OrganizationName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "organization `{}`", self.0)
    }
}

/// `organization` (valid and existing), authorized for its admins.
fn administered(
    state: &AppState,
    caller: &Caller,
    organization: &str,
) -> Result<Authorized<OrganizationName>, ApiError> {
    validate_name("organization", organization).map_err(ApiError::BadRequest)?;
    existing_organization(state, organization)?;
    let scope = Scope::Organization(organization.to_string());
    caller.authorize(
        state,
        Action::Admin,
        &scope,
        OrganizationName(organization.to_string()),
    )
}

#[utoipa::path(get, path = "/system/organizations", tag = "access", responses((status = 200, body = Vec<Organization>)))]
pub(crate) async fn organizations(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Json<Vec<Organization>> {
    let mut all = state.organizations.list();
    // Only those the caller has a role in: other organizations' names are theirs.
    all.retain(|o| caller.may(&state, Action::Read, &Scope::Organization(o.name.clone())));
    all.sort_by(|a, b| a.name.cmp(&b.name));
    Json(all)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct OrganizationRequest {
    name: String,
}

#[utoipa::path(post, path = "/system/organizations", tag = "access", request_body = OrganizationRequest,
    responses((status = 201, body = Organization), (status = 400, body = String, content_type = "text/plain"), (status = 409, body = String, content_type = "text/plain")))]
pub(crate) async fn create_organization(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    body: Bytes,
) -> Result<(StatusCode, Json<Organization>), ApiError> {
    let request: OrganizationRequest = parse("organization", &body)?;
    validate_name("organization", &request.name).map_err(ApiError::BadRequest)?;
    let request = caller
        .authorize(
            &state,
            Action::Admin,
            &Scope::SuperUser,
            OrganizationName(request.name),
        )?
        .into_target();
    let request = OrganizationRequest { name: request.0 };
    if request.name == DEFAULT_ORGANIZATION {
        return Err(ApiError::Conflict(format!(
            "organization `{DEFAULT_ORGANIZATION}` always exists"
        )));
    }
    let organization = Organization {
        name: request.name,
        created_at: Utc::now(),
    };
    state
        .organizations
        .create(&organization.name, &organization)
        .await
        .map_err(ApiError::from_table(Record::Organization))?;
    Ok((StatusCode::CREATED, Json(organization)))
}

#[utoipa::path(delete, path = "/system/organizations/{name}", tag = "access", params(("name" = String, Path)),
    responses((status = 204, description = "Removed"), (status = 404, body = String, content_type = "text/plain"), (status = 409, description = "Namespaces still belong to it", body = String, content_type = "text/plain")))]
pub(crate) async fn remove_organization(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    let name = caller
        .authorize(
            &state,
            Action::Admin,
            &Scope::SuperUser,
            OrganizationName(name),
        )?
        .into_target()
        .0;
    let owned: Vec<String> = state
        .namespaces
        .list()
        .into_iter()
        .filter(|n| n.organization() == name)
        .map(|n| n.name)
        .collect();
    if !owned.is_empty() {
        return Err(ApiError::Conflict(format!(
            "organization `{name}` still owns namespaces: {}",
            owned.join(", ")
        )));
    }
    state
        .organizations
        .delete(&name)
        .await
        .map_err(ApiError::from_table(Record::Organization))?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/system/policies", tag = "access", params(OrganizationQuery), responses((status = 200, body = Vec<Policy>)))]
pub(crate) async fn policies(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(query): Query<OrganizationQuery>,
) -> Result<Json<Vec<Policy>>, ApiError> {
    let organization = administered(&state, &caller, query.get())?.into_target().0;
    let mut all: Vec<Policy> = state
        .policies
        .list()
        .into_iter()
        .filter(|p| p.organization == organization)
        .collect();
    all.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Json(all))
}

fn checked_policy(state: &AppState, caller: &Caller, body: &[u8]) -> Result<Policy, ApiError> {
    let mut policy: Policy = parse("policy", body)?;
    policy.validate().map_err(ApiError::BadRequest)?;
    administered(state, caller, &policy.organization)?;
    if let Some(namespace) = &policy.namespace {
        if state.scope_of(namespace).organization() != Some(policy.organization.as_str()) {
            return Err(ApiError::BadRequest(format!(
                "namespace `{namespace}` does not belong to organization `{}`",
                policy.organization
            )));
        }
    }
    policy.created_at = Utc::now();
    Ok(policy)
}

#[utoipa::path(post, path = "/system/policies", tag = "access", request_body = Policy,
    responses((status = 201, body = Policy), (status = 400, body = String, content_type = "text/plain"), (status = 409, body = String, content_type = "text/plain")))]
pub(crate) async fn create_policy(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    body: Bytes,
) -> Result<(StatusCode, Json<Policy>), ApiError> {
    let policy = checked_policy(&state, &caller, &body)?;
    state
        .policies
        .create(&policy.key(), &policy)
        .await
        .map_err(ApiError::from_table(Record::Policy))?;
    tracing::info!(policy = %policy.key(), role = ?policy.role, "policy created");
    Ok((StatusCode::CREATED, Json(policy)))
}

#[utoipa::path(get, path = "/system/policies/{organization}/{name}", tag = "access", params(("organization" = String, Path), ("name" = String, Path)),
    responses((status = 200, body = Policy), (status = 404, body = String, content_type = "text/plain")))]
pub(crate) async fn policy(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((organization, name)): Path<(String, String)>,
) -> Result<Json<Policy>, ApiError> {
    let organization = administered(&state, &caller, &organization)?
        .into_target()
        .0;
    let key = scoped_key(&organization, &name);
    state
        .policies
        .get(&key)
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("policy `{key}` not found")))
}

#[utoipa::path(put, path = "/system/policies/{organization}/{name}", tag = "access", request_body = Policy, params(("organization" = String, Path), ("name" = String, Path)),
    responses((status = 200, body = Policy), (status = 400, body = String, content_type = "text/plain"), (status = 404, body = String, content_type = "text/plain")))]
pub(crate) async fn update_policy(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((organization, name)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<Policy>, ApiError> {
    let organization = administered(&state, &caller, &organization)?
        .into_target()
        .0;
    let policy = checked_policy(&state, &caller, &body)?;
    if policy.organization != organization || policy.name != name {
        return Err(ApiError::BadRequest(
            "the body's organization and name must be the path's".into(),
        ));
    }
    let key = policy.key();
    let created_at = state
        .policies
        .get(&key)
        .ok_or_else(|| ApiError::NotFound(format!("policy `{key}` not found")))?
        .created_at;
    let policy = Policy {
        created_at,
        ..policy
    };
    state
        .policies
        .put(&key, &policy)
        .await
        .map_err(ApiError::from_table(Record::Policy))?;
    Ok(Json(policy))
}

#[utoipa::path(delete, path = "/system/policies/{organization}/{name}", tag = "access", params(("organization" = String, Path), ("name" = String, Path)),
    responses((status = 204, description = "Removed"), (status = 404, body = String, content_type = "text/plain")))]
pub(crate) async fn remove_policy(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((organization, name)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let organization = administered(&state, &caller, &organization)?
        .into_target()
        .0;
    state
        .policies
        .delete(&scoped_key(&organization, &name))
        .await
        .map_err(ApiError::from_table(Record::Policy))?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/system/service-accounts", tag = "access", params(OrganizationQuery), responses((status = 200, body = Vec<ServiceAccount>)))]
pub(crate) async fn service_accounts(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(query): Query<OrganizationQuery>,
) -> Result<Json<Vec<ServiceAccount>>, ApiError> {
    let organization = administered(&state, &caller, query.get())?.into_target().0;
    let mut all: Vec<ServiceAccount> = state
        .service_accounts
        .list()
        .into_iter()
        .filter(|a| a.organization == organization)
        .collect();
    all.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Json(all))
}

#[utoipa::path(post, path = "/system/service-accounts", tag = "access", request_body = ServiceAccount,
    responses((status = 201, body = ServiceAccount), (status = 400, body = String, content_type = "text/plain"), (status = 409, body = String, content_type = "text/plain")))]
pub(crate) async fn create_service_account(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    body: Bytes,
) -> Result<(StatusCode, Json<ServiceAccount>), ApiError> {
    let mut account: ServiceAccount = parse("service account", &body)?;
    validate_name("service account", &account.name).map_err(ApiError::BadRequest)?;
    administered(&state, &caller, &account.organization)?;
    if account.description.as_ref().is_some_and(|d| d.len() > 1024) {
        return Err(ApiError::BadRequest(
            "description: at most 1024 bytes".into(),
        ));
    }
    account.created_at = Utc::now();
    state
        .service_accounts
        .create(&account.key(), &account)
        .await
        .map_err(ApiError::from_table(Record::ServiceAccount))?;
    Ok((StatusCode::CREATED, Json(account)))
}

#[utoipa::path(delete, path = "/system/service-accounts/{organization}/{name}", tag = "access", params(("organization" = String, Path), ("name" = String, Path)),
    description = "Removes the service account and revokes its tokens.",
    responses((status = 204, description = "Removed"), (status = 404, body = String, content_type = "text/plain")))]
pub(crate) async fn remove_service_account(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((organization, name)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let organization = administered(&state, &caller, &organization)?
        .into_target()
        .0;
    state
        .service_accounts
        .delete(&scoped_key(&organization, &name))
        .await
        .map_err(ApiError::from_table(Record::ServiceAccount))?;
    for token in state.tokens.list() {
        if token.organization == organization && token.service_account == name {
            revoke(&state, &token.id).await?;
        }
    }
    Ok(StatusCode::NO_CONTENT)
}

/// A token as listed: never its secret or digest.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TokenView {
    id: String,
    organization: String,
    service_account: String,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    revoked_at: Option<DateTime<Utc>>,
    /// Only in the answer that issues it: the token itself, shown once.
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<String>,
}

impl TokenView {
    fn of(token: &ApiToken, shown: Option<String>) -> Self {
        TokenView {
            id: token.id.clone(),
            organization: token.organization.clone(),
            service_account: token.service_account.clone(),
            created_at: token.created_at,
            expires_at: token.expires_at,
            revoked_at: token.revoked_at,
            token: shown,
        }
    }
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct TokenRequest {
    /// How long the token is valid (seconds or a Go duration; default 30 days, at most 366).
    #[serde(default)]
    expires_in: Option<String>,
}

const DEFAULT_TOKEN_LIFETIME: std::time::Duration = std::time::Duration::from_secs(30 * 24 * 3600);
const MAX_TOKEN_LIFETIME: std::time::Duration = std::time::Duration::from_secs(366 * 24 * 3600);

#[utoipa::path(post, path = "/system/service-accounts/{organization}/{name}/tokens", tag = "access", request_body = TokenRequest,
    params(("organization" = String, Path), ("name" = String, Path)),
    responses((status = 201, description = "The token, shown this once", body = TokenView), (status = 400, body = String, content_type = "text/plain"), (status = 404, body = String, content_type = "text/plain")))]
pub(crate) async fn issue_token(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((organization, name)): Path<(String, String)>,
    body: Bytes,
) -> Result<(StatusCode, Json<TokenView>), ApiError> {
    let organization = administered(&state, &caller, &organization)?
        .into_target()
        .0;
    let request: TokenRequest = if body.is_empty() {
        TokenRequest::default()
    } else {
        parse("token request", &body)?
    };
    if !state
        .service_accounts
        .contains(&scoped_key(&organization, &name))
    {
        return Err(ApiError::NotFound(format!(
            "service account `{name}` not found in organization `{organization}`"
        )));
    }
    let lifetime = match request.expires_in.as_deref() {
        None => DEFAULT_TOKEN_LIFETIME,
        Some(text) => switchyard_broker::duration::parse_duration(text)
            .map_err(|e| ApiError::BadRequest(format!("expiresIn: {e}")))?,
    };
    if lifetime.is_zero() || lifetime > MAX_TOKEN_LIFETIME {
        return Err(ApiError::BadRequest(
            "expiresIn: more than 0 and at most 366 days".into(),
        ));
    }
    let expires_at = Utc::now()
        + chrono::Duration::from_std(lifetime).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let (token, shown) = ApiToken::issue(&organization, &name, expires_at);
    state
        .tokens
        .create(&token.id, &token)
        .await
        .map_err(ApiError::from_table(Record::Token))?;
    tracing::info!(token = %token.id, %organization, service_account = %name, "token issued");
    Ok((
        StatusCode::CREATED,
        Json(TokenView::of(&token, Some(shown))),
    ))
}

#[utoipa::path(get, path = "/system/service-accounts/{organization}/{name}/tokens", tag = "access",
    params(("organization" = String, Path), ("name" = String, Path)), responses((status = 200, body = Vec<TokenView>)))]
pub(crate) async fn tokens(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((organization, name)): Path<(String, String)>,
) -> Result<Json<Vec<TokenView>>, ApiError> {
    let organization = administered(&state, &caller, &organization)?
        .into_target()
        .0;
    let mut all: Vec<TokenView> = state
        .tokens
        .list()
        .iter()
        .filter(|t| t.organization == organization && t.service_account == name)
        .map(|t| TokenView::of(t, None))
        .collect();
    all.sort_by_key(|t| t.created_at);
    Ok(Json(all))
}

#[utoipa::path(delete, path = "/system/tokens/{id}", tag = "access", params(("id" = String, Path)),
    responses((status = 204, description = "Revoked"), (status = 404, body = String, content_type = "text/plain")))]
pub(crate) async fn revoke_token(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let token = state
        .tokens
        .fetch(&id)
        .await
        .map_err(ApiError::from_table(Record::Token))?
        .ok_or_else(|| ApiError::NotFound(format!("token `{id}` not found")))?;
    administered(&state, &caller, &token.organization)?;
    revoke(&state, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn revoke(state: &AppState, id: &str) -> Result<(), ApiError> {
    let now = Utc::now();
    state
        .tokens
        .modify(id, |token| ApiToken {
            revoked_at: token.revoked_at.or(Some(now)),
            ..token
        })
        .await
        .map_err(ApiError::from_table(Record::Token))?;
    tracing::info!(token = %id, "token revoked");
    Ok(())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct AuditQuery {
    /// How many of the latest entries (default 100, at most 1000).
    limit: Option<u64>,
}

#[utoipa::path(get, path = "/system/audit", tag = "access", params(AuditQuery),
    description = "The latest changes made through the API, newest first.",
    responses((status = 200, body = Vec<AuditEntry>)))]
pub(crate) async fn audit(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(query): Query<AuditQuery>,
) -> Result<Json<Vec<AuditEntry>>, ApiError> {
    caller.operator(&state, "the audit log of every organization")?;
    let limit = query.limit.unwrap_or(100).clamp(1, 1000);
    switchyard_broker::audit::recent(&state.js, limit)
        .await
        .map(Json)
        .map_err(|e| ApiError::Unavailable(format!("audit log unavailable: {e}")))
}
