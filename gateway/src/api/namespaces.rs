//! Namespaces, as OpenFaaS (faas-netes) serves them: `GET /system/namespaces` lists their
//! names; `/system/namespace/{name}` creates, reads and deletes one. `openfaas-fn` always exists.
//! Every route that names a function or a secret takes `?namespace=` (or `name.namespace`), and
//! a namespace that does not exist is a 400 that says which exist.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::Utc;
use serde::Deserialize;
use switchyard_access::Scope;
use switchyard_broker::records::{
    split_qualified, validate_namespace, Action, Namespace, DEFAULT_NAMESPACE, DEFAULT_ORGANIZATION,
};

use super::AppState;
use crate::access::resolve::{given, NamespaceName};
use crate::access::Caller;
use crate::error::ApiError;

/// `?namespace=` on the routes that take one.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct NamespaceQuery {
    /// The namespace (default `openfaas-fn`).
    pub(crate) namespace: Option<String>,
}

impl NamespaceQuery {
    pub(crate) fn get(&self) -> Option<&str> {
        self.namespace.as_deref().filter(|n| !n.is_empty())
    }
}

impl AppState {
    /// Every namespace, the default first, then by name.
    pub(crate) fn namespace_names(&self) -> Vec<String> {
        let mut others: Vec<String> = self.namespaces.list().into_iter().map(|n| n.name).collect();
        others.sort();
        std::iter::once(DEFAULT_NAMESPACE.to_string())
            .chain(others)
            .collect()
    }

    /// `Ok` when `namespace` exists, else the 400 OpenFaaS gives.
    pub(crate) async fn existing_namespace(&self, namespace: &str) -> Result<(), ApiError> {
        if namespace == DEFAULT_NAMESPACE || self.namespaces.contains(namespace) {
            return Ok(());
        }
        // Created by another gateway a moment ago?
        if let Ok(Some(_)) = self.namespaces.fetch(namespace).await {
            return Ok(());
        }
        Err(ApiError::BadRequest(format!(
            "namespace `{namespace}` does not exist; namespace must be one of: {}",
            self.namespace_names().join(", ")
        )))
    }
}

#[utoipa::path(get, path = "/system/namespaces", tag = "namespaces",
    responses((status = 200, description = "Every namespace, `openfaas-fn` first", body = Vec<String>)))]
pub(crate) async fn list(State(state): State<Arc<AppState>>, caller: Caller) -> Json<Vec<String>> {
    // Only the namespaces the caller may read: other organizations' names are theirs.
    let mut names = state.namespace_names();
    names.retain(|name| caller.may(&state, Action::Read, &state.scope_of(name)));
    Json(names)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NamespaceRequest {
    #[serde(default)]
    name: String,
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
    #[serde(default)]
    annotations: Option<BTreeMap<String, String>>,
    /// The organization it belongs to (default `default`); set when it is created.
    #[serde(default)]
    organization: Option<String>,
}

/// `POST /system/namespace/`: 201, 409 when it exists, 400 for a bad name.
#[utoipa::path(post, path = "/system/namespace/", tag = "namespaces", request_body = NamespaceRequest,
    responses((status = 201, description = "Created"), (status = 400, description = "Not a DNS label", body = String, content_type = "text/plain"), (status = 409, description = "It exists", body = String, content_type = "text/plain")))]
pub(crate) async fn create(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let request: NamespaceRequest = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("invalid namespace request: {e}")))?;
    validate_namespace(&request.name).map_err(ApiError::BadRequest)?;
    let organization = given(request.organization.as_deref())
        .unwrap_or(DEFAULT_ORGANIZATION)
        .to_string();
    if organization != DEFAULT_ORGANIZATION && !state.organizations.contains(&organization) {
        return Err(ApiError::BadRequest(format!(
            "organization `{organization}` does not exist"
        )));
    }
    let scope = Scope::Organization(organization.clone());
    let name = caller.authorize(&state, Action::Admin, &scope, NamespaceName(request.name))?;
    if name.0 == DEFAULT_NAMESPACE {
        return Err(ApiError::Conflict(format!(
            "namespace `{DEFAULT_NAMESPACE}` already exists"
        )));
    }
    let record = Namespace {
        name: name.into_target().0,
        labels: request.labels,
        annotations: request.annotations,
        organization: (organization != DEFAULT_ORGANIZATION).then_some(organization),
        created_at: Utc::now(),
    };
    ensure(&state, record).await?;
    Ok(StatusCode::CREATED)
}

/// Creates a namespace; 409 when it exists.
pub(crate) async fn ensure(state: &AppState, record: Namespace) -> Result<(), ApiError> {
    state
        .namespaces
        .create(&record.name, &record)
        .await
        .map_err(|e| match e {
            switchyard_broker::table::TableError::Exists { key } => {
                ApiError::Conflict(format!("namespace `{key}` already exists"))
            }
            other => ApiError::Unavailable(switchyard_broker::errors::error_chain(&other)),
        })?;
    tracing::info!(namespace = %record.name, "namespace created");
    Ok(())
}

#[utoipa::path(get, path = "/system/namespace/{name}", tag = "namespaces", params(("name" = String, Path)),
    responses((status = 200, body = Namespace), (status = 404, body = String, content_type = "text/plain")))]
pub(crate) async fn get(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<Namespace>, ApiError> {
    let name = authorized_namespace(&state, &caller, Action::Read, name)?;
    if name == DEFAULT_NAMESPACE {
        return Ok(Json(Namespace {
            name,
            labels: None,
            annotations: None,
            organization: None,
            created_at: chrono::DateTime::UNIX_EPOCH,
        }));
    }
    state
        .namespaces
        .get(&name)
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("namespace `{name}` not found")))
}

#[utoipa::path(put, path = "/system/namespace/{name}", tag = "namespaces", request_body = NamespaceRequest, params(("name" = String, Path)),
    description = "Replaces a namespace's labels and annotations.",
    responses((status = 202, description = "Updated"), (status = 400, description = "The default namespace, or a name that differs from the path's", body = String, content_type = "text/plain"), (status = 404, body = String, content_type = "text/plain")))]
pub(crate) async fn update(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let request: NamespaceRequest = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("invalid namespace request: {e}")))?;
    let name = authorized_namespace(&state, &caller, Action::Admin, name)?;
    if given(request.organization.as_deref())
        .is_some_and(|o| state.scope_of(&name).organization() != Some(o))
    {
        return Err(ApiError::BadRequest(
            "a namespace's organization is fixed when it is created".into(),
        ));
    }
    if name == DEFAULT_NAMESPACE {
        return Err(ApiError::BadRequest(format!(
            "namespace `{DEFAULT_NAMESPACE}` has no labels or annotations to change"
        )));
    }
    if !request.name.is_empty() && request.name != name {
        return Err(ApiError::BadRequest(format!(
            "`name` `{}` differs from the path's `{name}`",
            request.name
        )));
    }
    state
        .namespaces
        .modify(&name, |current| Namespace {
            labels: request.labels.clone(),
            annotations: request.annotations.clone(),
            ..current
        })
        .await
        .map_err(|e| match e {
            switchyard_broker::table::TableError::NotFound { key } => {
                ApiError::NotFound(format!("namespace `{key}` not found"))
            }
            other => ApiError::Unavailable(switchyard_broker::errors::error_chain(&other)),
        })?;
    Ok(StatusCode::ACCEPTED)
}

/// `DELETE /system/namespace/{name}`: refused while functions or secrets live in it.
#[utoipa::path(delete, path = "/system/namespace/{name}", tag = "namespaces", params(("name" = String, Path)),
    responses((status = 202, description = "Deleted"), (status = 400, description = "The default namespace", body = String, content_type = "text/plain"), (status = 404, body = String, content_type = "text/plain"), (status = 409, description = "Functions, secrets, routes, subscriptions or event sources still live in it", body = String, content_type = "text/plain")))]
pub(crate) async fn remove(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    let name = authorized_namespace(&state, &caller, Action::Admin, name)?;
    if name == DEFAULT_NAMESPACE {
        return Err(ApiError::BadRequest(format!(
            "namespace `{DEFAULT_NAMESPACE}` cannot be deleted"
        )));
    }
    let functions: Vec<String> = state
        .registry
        .list()
        .iter()
        .filter(|spec| spec.namespace() == name)
        .map(|spec| spec.deployment.service.clone())
        .collect();
    if !functions.is_empty() {
        return Err(ApiError::Conflict(format!(
            "namespace `{name}` still has functions: {}; remove them first",
            functions.join(", ")
        )));
    }
    // Whatever else lives in it or points into it keeps it: a namespace deleted and created
    // again (perhaps by another organization) must start empty.
    let mut referring: Vec<String> = Vec::new();
    referring.extend(
        state
            .routes
            .list()
            .into_iter()
            .filter(|r| r.namespace == name)
            .map(|r| format!("route `{}`", r.name)),
    );
    referring.extend(
        state
            .subscriptions
            .list()
            .into_iter()
            .filter(|s| split_qualified(&s.function).1 == name)
            .map(|s| format!("subscription `{}`", s.name)),
    );
    referring.extend(
        state
            .sources
            .list()
            .into_iter()
            .filter(|s| s.namespace() == name)
            .map(|s| format!("event source `{}`", s.name)),
    );
    if !referring.is_empty() {
        return Err(ApiError::Conflict(format!(
            "namespace `{name}` still has {}; remove them first",
            referring.join(", ")
        )));
    }
    if let Some(secrets) = &state.secrets {
        let names = secrets
            .names(&name)
            .await
            .map_err(|e| ApiError::Unavailable(switchyard_broker::errors::error_chain(&e)))?;
        if !names.is_empty() {
            let names: Vec<&str> = names.iter().map(|s| s.name.as_str()).collect();
            return Err(ApiError::Conflict(format!(
                "namespace `{name}` still has secrets: {}; remove them first",
                names.join(", ")
            )));
        }
    }
    state.namespaces.delete(&name).await.map_err(|e| match e {
        switchyard_broker::table::TableError::NotFound { key } => {
            ApiError::NotFound(format!("namespace `{key}` not found"))
        }
        other => ApiError::Unavailable(switchyard_broker::errors::error_chain(&other)),
    })?;
    tracing::info!(namespace = %name, "namespace deleted");
    Ok(StatusCode::ACCEPTED)
}

/// The namespace a path names, valid and authorized for `action` (whether it exists is the
/// handler's to say: 404).
fn authorized_namespace(
    state: &AppState,
    caller: &Caller,
    action: Action,
    name: String,
) -> Result<String, ApiError> {
    validate_namespace(&name).map_err(ApiError::BadRequest)?;
    let scope = state.scope_of(&name);
    Ok(caller
        .authorize(state, action, &scope, NamespaceName(name))?
        .into_target()
        .0)
}
