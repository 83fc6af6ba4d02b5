//! `GET|POST /system/event-sources`, `GET|DELETE /system/event-sources/{name}`. Credentials in a
//! source's configuration are write-only: answers never contain them.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::Utc;
use serde_json::{json, Value};
use switchyard_access::Authorized;
use switchyard_broker::records::{validate_function_name, Action, EventSource, SourceSpec};

use super::AppState;
use crate::access::Caller;
use crate::error::{ApiError, Record};

#[utoipa::path(get, path = "/system/event-sources", tag = "events",
    responses((status = 200, description = "Sources without their credentials, each with its `status`", body = Vec<EventSource>)))]
pub(crate) async fn list(State(state): State<Arc<AppState>>, caller: Caller) -> Json<Vec<Value>> {
    Json(
        state
            .sources
            .list()
            .iter()
            .filter(|s| caller.may(&state, Action::Read, &state.scope_of(s.namespace())))
            .map(|s| shown(&state, s))
            .collect(),
    )
}

#[utoipa::path(get, path = "/system/event-sources/{name}", tag = "events", params(("name" = String, Path)),
    responses((status = 200, description = "Without credentials, with `status`", body = EventSource), (status = 404, body = String, content_type = "text/plain")))]
pub(crate) async fn get(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let source = existing(&state, &caller, Action::Read, name).await?;
    Ok(Json(shown(&state, &source.0)))
}

#[utoipa::path(post, path = "/system/event-sources", tag = "events", request_body = EventSource,
    responses((status = 201, description = "Without credentials", body = EventSource), (status = 400, description = "What is wrong, by field", body = String, content_type = "text/plain"), (status = 409, description = "It exists", body = String, content_type = "text/plain")))]
pub(crate) async fn create(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let source: EventSource = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("invalid event source: {e}")))?;
    if validate_function_name(&source.name).is_err() {
        return Err(ApiError::BadRequest(format!(
            "invalid event source: `name` `{}`: use 1 to 63 characters of a-z, A-Z, 0-9, `-` and `_`",
            source.name
        )));
    }
    if EventSource::RESERVED_NAMES.contains(&source.name.as_str()) {
        return Err(ApiError::BadRequest(format!(
            "invalid event source: `name` `{}` is reserved for Switchyard's own events",
            source.name
        )));
    }
    let (_, scope) = state.namespace_named(Some(source.namespace())).await?;
    let mut source = caller
        .authorize(&state, Action::Write, &scope, SourceTarget(source))?
        .into_target()
        .0;
    operators_only_settings(&state, &caller, &source)?;
    validate_config(&source.spec)
        .map_err(|e| ApiError::BadRequest(format!("invalid event source: {e}")))?;
    source.created_at = Some(Utc::now());
    state
        .sources
        .create(&source.name, &source)
        .await
        .map_err(ApiError::from_table(Record::Source))?;
    tracing::info!(source = %source.name, kind = source.kind(), "event source created");
    Ok((StatusCode::CREATED, Json(shown(&state, &source))))
}

#[utoipa::path(put, path = "/system/event-sources/{name}", tag = "events", request_body = EventSource, params(("name" = String, Path)),
    description = "Replaces a source's configuration. Credentials left out (vCenter `password`, webhook `auth`) are kept.",
    responses((status = 200, description = "Without credentials", body = EventSource),
        (status = 400, description = "What is wrong, by field", body = String, content_type = "text/plain"),
        (status = 404, body = String, content_type = "text/plain")))]
pub(crate) async fn update(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let current = existing(&state, &caller, Action::Write, name.clone())
        .await?
        .into_target()
        .0;
    let mut source: EventSource = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("invalid event source: {e}")))?;
    if source.name != name {
        return Err(ApiError::BadRequest(format!(
            "invalid event source: `name` `{}` differs from the path's `{name}`",
            source.name
        )));
    }
    operators_only_settings(&state, &caller, &source)?;
    source
        .keep_credentials_of(&current)
        .map_err(|e| ApiError::BadRequest(format!("invalid event source: {e}")))?;
    validate_config(&source.spec)
        .map_err(|e| ApiError::BadRequest(format!("invalid event source: {e}")))?;
    if source.namespace() != current.namespace() {
        return Err(ApiError::BadRequest(format!(
            "invalid event source: `namespace`: a source stays in `{}`; delete and create it to move it",
            current.namespace()
        )));
    }
    source.created_at = current.created_at;
    state
        .sources
        .put(&name, &source)
        .await
        .map_err(ApiError::from_table(Record::Source))?;
    tracing::info!(source = %name, kind = source.kind(), "event source updated");
    Ok(Json(shown(&state, &source)))
}

#[utoipa::path(delete, path = "/system/event-sources/{name}", tag = "events", params(("name" = String, Path)),
    responses((status = 204, description = "Removed"), (status = 404, body = String, content_type = "text/plain")))]
pub(crate) async fn remove(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    let name = existing(&state, &caller, Action::Write, name)
        .await?
        .into_target()
        .0
        .name;
    state
        .sources
        .delete(&name)
        .await
        .map_err(ApiError::from_table(Record::Source))?;
    // A source created again under this name starts afresh; its poller also clears these.
    let _ = state.checkpoints.remove(&name).await;
    let _ = state.source_status.delete(&name).await;
    Ok(StatusCode::NO_CONTENT)
}

/// An event source as a target: it lives in its namespace.
pub(crate) struct SourceTarget(EventSource);

impl std::fmt::Display for SourceTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "event source `{}` in namespace `{}`",
            self.0.name,
            self.0.namespace()
        )
    }
}

/// The stored source `name`, authorized for `action` in its namespace; 404 when none.
async fn existing(
    state: &AppState,
    caller: &Caller,
    action: Action,
    name: String,
) -> Result<Authorized<SourceTarget>, ApiError> {
    let current = state
        .sources
        .fetch(&name)
        .await
        .map_err(ApiError::from_table(Record::Source))?
        .ok_or(ApiError::SourceNotFound(name))?;
    let scope = state.scope_of(current.namespace());
    caller.authorize(state, action, &scope, SourceTarget(current))
}

/// The most organizations a source is shared with by name.
const MAX_SHARED_WITH: usize = 64;

/// `caFile` opens a file on the server, and `sharedWith: ["*"]` gives a source's events to
/// every organization: operators only. Sharing with named organizations is the owner's to do.
fn operators_only_settings(
    state: &AppState,
    caller: &Caller,
    source: &EventSource,
) -> Result<(), ApiError> {
    if let SourceSpec::Vcenter(config) = &source.spec {
        if config.ca_file.is_some() {
            caller.operator(state, "an event source's `caFile` (a path on the server)")?;
        }
    }
    if source.shared_with.len() > MAX_SHARED_WITH {
        return Err(ApiError::BadRequest(format!(
            "invalid event source: `sharedWith`: at most {MAX_SHARED_WITH} organizations"
        )));
    }
    for organization in &source.shared_with {
        if organization == switchyard_broker::events::SHARED_WITH_EVERYONE {
            caller.operator(state, "sharing an event source with every organization")?;
        } else if organization != switchyard_broker::records::DEFAULT_ORGANIZATION
            && !state.organizations.contains(organization)
        {
            return Err(ApiError::BadRequest(format!(
                "invalid event source: `sharedWith`: organization `{organization}` does not exist"
            )));
        }
    }
    Ok(())
}

fn validate_config(spec: &SourceSpec) -> Result<(), String> {
    match spec {
        SourceSpec::Vcenter(config) => config.validate().map_err(|e| format!("`config`: {e}")),
        SourceSpec::Webhook(webhook) => webhook.validate(),
    }
}

/// The source without credentials, with its status: a webhook runs inside every ingester; a
/// poller reports its own (`starting` until one has).
fn shown(state: &AppState, source: &EventSource) -> Value {
    let mut value = source.redacted();
    value["status"] = match source.spec {
        SourceSpec::Webhook(_) => json!({ "state": "running" }),
        SourceSpec::Vcenter(_) => state
            .source_status
            .get(&source.name)
            .and_then(|status| serde_json::to_value(status).ok())
            .unwrap_or_else(|| json!({ "state": "starting" })),
    };
    value
}
