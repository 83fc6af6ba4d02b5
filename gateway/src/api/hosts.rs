//! `GET|POST /system/hosts`, `DELETE /system/hosts/{host}`: operators give host names (or
//! `*.example.com` patterns) to organizations. An organization's routes may use only its own
//! hosts, and a request to a host reaches only its owner's routes.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::Utc;
use switchyard_broker::records::{HostAssignment, DEFAULT_ORGANIZATION};

use super::AppState;
use crate::access::Caller;
use crate::error::{ApiError, Record};

#[utoipa::path(get, path = "/system/hosts", tag = "routes",
    responses((status = 200, body = Vec<HostAssignment>)))]
pub(crate) async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<Vec<HostAssignment>>, ApiError> {
    caller.operator(&state, "the host names of every organization")?;
    let mut all = state.hosts.list();
    all.sort_by(|a, b| a.host.cmp(&b.host));
    Ok(Json(all))
}

#[utoipa::path(post, path = "/system/hosts", tag = "routes", request_body = HostAssignment,
    responses((status = 201, body = HostAssignment), (status = 400, body = String, content_type = "text/plain"),
        (status = 409, description = "The host is given already", body = String, content_type = "text/plain")))]
pub(crate) async fn create(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    body: Bytes,
) -> Result<(StatusCode, Json<HostAssignment>), ApiError> {
    let assignment: HostAssignment = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("invalid host: {e}")))?;
    assignment.validate().map_err(ApiError::BadRequest)?;
    let mut assignment = caller
        .operator(&state, "giving host names to organizations")?
        .map(|_| assignment)
        .into_target();
    if assignment.organization != DEFAULT_ORGANIZATION
        && !state.organizations.contains(&assignment.organization)
    {
        return Err(ApiError::BadRequest(format!(
            "organization `{}` does not exist",
            assignment.organization
        )));
    }
    assignment.created_at = Utc::now();
    state
        .hosts
        .create(&HostAssignment::key(&assignment.host), &assignment)
        .await
        .map_err(ApiError::from_table(Record::Host))?;
    tracing::info!(host = %assignment.host, organization = %assignment.organization, "host given");
    Ok((StatusCode::CREATED, Json(assignment)))
}

#[utoipa::path(delete, path = "/system/hosts/{host}", tag = "routes", params(("host" = String, Path)),
    responses((status = 204, description = "Taken back"), (status = 404, body = String, content_type = "text/plain"),
        (status = 409, description = "Routes still use it", body = String, content_type = "text/plain")))]
pub(crate) async fn remove(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(host): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.operator(&state, "taking host names back")?;
    let using: Vec<String> = state
        .routes
        .list()
        .into_iter()
        .filter(|r| {
            r.hosts
                .iter()
                .any(|h| switchyard_broker::records::host_covers(&host, h))
        })
        .map(|r| format!("{}.{}", r.name, r.namespace))
        .collect();
    if !using.is_empty() {
        return Err(ApiError::Conflict(format!(
            "routes still use host `{host}`: {}; change or remove them first",
            using.join(", ")
        )));
    }
    state
        .hosts
        .delete(&HostAssignment::key(&host))
        .await
        .map_err(ApiError::from_table(Record::Host))?;
    Ok(StatusCode::NO_CONTENT)
}
