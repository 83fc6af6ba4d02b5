//! OpenFaaS's secrets API (`/system/secrets`), what `faas-cli secret create|list|update|remove`
//! calls. Values go in (`value`, or base64 `rawValue`) and never come out: the list names them,
//! and only the provider opens them, to hand them to the functions that name them.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::Json;
use base64::Engine;
use serde::Deserialize;
use switchyard_access::Authorized;
use switchyard_broker::errors::error_chain;
use switchyard_broker::records::{validate_function_name, Action};
use switchyard_broker::secrets::{SecretError, SecretName, Secrets, MAX_SECRET_BYTES};
use switchyard_broker::table::TableError;

use super::namespaces::NamespaceQuery;
use super::AppState;
use crate::access::resolve::{one_namespace, Kind};
use crate::access::Caller;
use crate::error::ApiError;

/// OpenFaaS's `Secret`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct SecretRequest {
    #[serde(default)]
    name: String,
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    value: Option<String>,
    /// Bytes, base64-encoded (Go's `[]byte` in JSON).
    #[serde(default)]
    raw_value: Option<String>,
}

/// A request's secret: its name, its namespace (checked to exist) and its value.
struct Checked {
    name: String,
    namespace: String,
    value: Vec<u8>,
}

fn store(state: &AppState) -> Result<&Secrets, ApiError> {
    state.secrets.as_ref().ok_or_else(|| {
        ApiError::Unavailable(
            "secrets are not configured: this gateway has no secrets key file".into(),
        )
    })
}

fn failed(name: &str) -> impl Fn(SecretError) -> ApiError + '_ {
    move |error| match error {
        SecretError::Table(TableError::Exists { .. }) => ApiError::Conflict(format!(
            "secret `{name}` already exists; update it with PUT"
        )),
        SecretError::Table(TableError::NotFound { .. }) => {
            ApiError::NotFound(format!("secret `{name}` not found"))
        }
        other => ApiError::Unavailable(error_chain(&other)),
    }
}

/// The secret a request names, resolved (a bare name; `namespace` from the body or the
/// query) and authorized for writing, with its value.
async fn checked(
    state: &AppState,
    caller: &Caller,
    body: &[u8],
    query: &NamespaceQuery,
    needs_value: bool,
) -> Result<Authorized<Checked>, ApiError> {
    let request: SecretRequest = serde_json::from_slice(body)
        .map_err(|e| ApiError::BadRequest(format!("invalid secret: {e}")))?;
    // A bare name: the namespace is never taken from a dot in it.
    validate_function_name(&request.name).map_err(|_| {
        ApiError::BadRequest(format!(
            "secret name `{}`: use 1 to 63 characters of a-z, A-Z, 0-9, `-` and `_`, starting with a letter or digit",
            request.name
        ))
    })?;
    let namespace = one_namespace(request.namespace.as_deref(), query.get())?;
    let (secret, scope) = state
        .resolve(Kind::Secret, &request.name, namespace)
        .await?;
    let secret = caller.authorize(state, Action::Write, &scope, secret)?;
    let value = match (request.value, request.raw_value) {
        (_, Some(raw)) if !raw.is_empty() => base64::engine::general_purpose::STANDARD
            .decode(raw.as_bytes())
            .map_err(|e| ApiError::BadRequest(format!("`rawValue` is not base64: {e}")))?,
        (Some(value), _) => value.into_bytes(),
        _ if needs_value => {
            return Err(ApiError::BadRequest(
                "a secret needs `value` (text) or `rawValue` (base64)".into(),
            ))
        }
        _ => Vec::new(),
    };
    if value.len() > MAX_SECRET_BYTES {
        return Err(ApiError::BadRequest(format!(
            "secret `{}` is {} bytes; at most {MAX_SECRET_BYTES} are accepted",
            secret.name,
            value.len()
        )));
    }
    Ok(secret.map(|secret| Checked {
        name: secret.name,
        namespace: secret.namespace,
        value,
    }))
}

/// `GET /system/secrets[?namespace=]`: names only.
#[utoipa::path(get, path = "/system/secrets", tag = "secrets", params(NamespaceQuery),
    responses((status = 200, description = "Names only; values never leave", body = Vec<SecretName>), (status = 400, description = "Unknown namespace", body = String, content_type = "text/plain"), (status = 503, description = "No secrets key configured", body = String, content_type = "text/plain")))]
pub(crate) async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(query): Query<NamespaceQuery>,
) -> Result<Json<Vec<SecretName>>, ApiError> {
    let (namespace, scope) = state.namespace_named(query.get()).await?;
    let namespace = caller.authorize(&state, Action::Read, &scope, namespace)?;
    let names = store(&state)?
        .names(&namespace.0)
        .await
        .map_err(|e| ApiError::Unavailable(error_chain(&e)))?;
    Ok(Json(names))
}

/// `POST /system/secrets`: 201; 409 when it exists.
#[utoipa::path(post, path = "/system/secrets", tag = "secrets", request_body = SecretRequest, params(NamespaceQuery),
    responses((status = 201, description = "Created"), (status = 400, body = String, content_type = "text/plain"), (status = 409, description = "It exists: update with PUT", body = String, content_type = "text/plain"), (status = 503, body = String, content_type = "text/plain")))]
pub(crate) async fn create(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(query): Query<NamespaceQuery>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let secret = checked(&state, &caller, &body, &query, true)
        .await?
        .into_target();
    store(&state)?
        .create(&secret.name, &secret.namespace, &secret.value)
        .await
        .map_err(failed(&secret.name))?;
    tracing::info!(secret = %secret.name, namespace = %secret.namespace, "secret created");
    Ok(StatusCode::CREATED)
}

/// `PUT /system/secrets`: 202; 404 when it does not exist. Replicas started from now on get
/// the new value; running ones keep theirs until redeployed, as with OpenFaaS.
#[utoipa::path(put, path = "/system/secrets", tag = "secrets", request_body = SecretRequest, params(NamespaceQuery),
    responses((status = 202, description = "Updated"), (status = 400, body = String, content_type = "text/plain"), (status = 404, body = String, content_type = "text/plain"), (status = 503, body = String, content_type = "text/plain")))]
pub(crate) async fn update(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(query): Query<NamespaceQuery>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let secret = checked(&state, &caller, &body, &query, true)
        .await?
        .into_target();
    store(&state)?
        .update(&secret.name, &secret.namespace, &secret.value)
        .await
        .map_err(failed(&secret.name))?;
    tracing::info!(secret = %secret.name, namespace = %secret.namespace, "secret updated");
    Ok(StatusCode::ACCEPTED)
}

/// `DELETE /system/secrets` with `{"name"}`: 202; 404 when it does not exist.
#[utoipa::path(delete, path = "/system/secrets", tag = "secrets", request_body = SecretRequest, params(NamespaceQuery),
    responses((status = 202, description = "Removed"), (status = 400, body = String, content_type = "text/plain"), (status = 404, body = String, content_type = "text/plain"), (status = 503, body = String, content_type = "text/plain")))]
pub(crate) async fn remove(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(query): Query<NamespaceQuery>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let secret = checked(&state, &caller, &body, &query, false)
        .await?
        .into_target();
    store(&state)?
        .delete(&secret.name, &secret.namespace)
        .await
        .map_err(failed(&secret.name))?;
    tracing::info!(secret = %secret.name, namespace = %secret.namespace, "secret removed");
    Ok(StatusCode::ACCEPTED)
}

/// Refuses a deployment naming a secret that does not exist in its namespace (400, as
/// faas-netes does).
pub(crate) async fn check_deployment_secrets(
    state: &AppState,
    deployment: &switchyard_broker::records::FunctionDeployment,
) -> Result<(), ApiError> {
    let names: Vec<&String> = deployment.secrets.iter().flatten().collect();
    if names.is_empty() {
        return Ok(());
    }
    let store = store(state)?;
    let mut missing = Vec::new();
    for name in names {
        let exists = store
            .exists(name, deployment.namespace())
            .await
            .map_err(|e| ApiError::Unavailable(error_chain(&e)))?;
        if !exists {
            missing.push(name.as_str());
        }
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(ApiError::BadRequest(format!(
            "unable to fetch secrets: {} not found in namespace `{}`; create with POST /system/secrets (faas-cli secret create)",
            missing.join(", "),
            deployment.namespace()
        )))
    }
}
