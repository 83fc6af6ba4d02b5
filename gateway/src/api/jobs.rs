//! Job records: `GET /system/jobs`, `GET /system/jobs/{callId}`, `GET /system/jobs/{callId}/result`.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use axum::Json;
use serde::Deserialize;
use switchyard_broker::jobs::{delay, validate_call_id, JobFilter, JobRecord, JobStatus};

use switchyard_access::Authorized;
use switchyard_broker::records::{split_qualified, Action};

use super::AppState;
use crate::access::resolve::{given, Kind};
use crate::access::Caller;
use crate::error::ApiError;

const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1000;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    /// Only this function's jobs (its id: `name` or `name.namespace`).
    function: Option<String>,
    /// `scheduled`, `queued`, `running`, `succeeded`, `failed` or `cancelled`.
    status: Option<String>,
    /// At most this many, 1 to 1000 (default 100).
    limit: Option<usize>,
}

#[utoipa::path(get, path = "/system/jobs", tag = "jobs", params(ListQuery),
    description = "Job records, newest first.",
    responses((status = 200, body = Vec<JobRecord>), (status = 400, description = "A bad filter", body = String, content_type = "text/plain")))]
pub(crate) async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(query): Query<ListQuery>,
) -> Result<Json<Vec<JobRecord>>, ApiError> {
    // One function's jobs in its namespace; everyone's only for operators.
    let function = match given(query.function.as_deref()) {
        Some(reference) => {
            let (function, scope) = state.resolve(Kind::Function, reference, None).await?;
            Some(
                caller
                    .authorize(&state, Action::Read, &scope, function)?
                    .id(),
            )
        }
        None => {
            caller.operator(&state, "the jobs of every function")?;
            None
        }
    };
    let status = query
        .status
        .as_deref()
        .map(str::parse::<JobStatus>)
        .transpose()
        .map_err(ApiError::BadRequest)?;
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(ApiError::BadRequest(format!(
            "limit must be between 1 and {MAX_LIMIT}, got {limit}"
        )));
    }
    let filter = JobFilter {
        function,
        status,
        limit,
    };
    let records = state
        .jobs
        .list(&filter)
        .await
        .map_err(|e| ApiError::Unavailable(e.to_string()))?;
    Ok(Json(records))
}

#[utoipa::path(get, path = "/system/jobs/{call_id}", tag = "jobs", params(("call_id" = String, Path)),
    responses((status = 200, body = JobRecord), (status = 400, description = "Not a call id", body = String, content_type = "text/plain"), (status = 404, body = String, content_type = "text/plain")))]
pub(crate) async fn get(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(call_id): Path<String>,
) -> Result<Json<JobRecord>, ApiError> {
    let job = authorized_job(&state, &caller, call_id).await?;
    Ok(Json(job.into_target().0))
}

/// A job record as a target: it lives in its function's namespace.
pub(crate) struct JobTarget(pub(crate) JobRecord);

impl std::fmt::Display for JobTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "job `{}` of function `{}`",
            self.0.call_id, self.0.function
        )
    }
}

/// The job `call_id`, authorized for reading in its function's namespace. 404 when there is
/// none, and for a job older than its namespace: it belonged to a namespace of that name that
/// was deleted, whose records are not the new owner's.
pub(crate) async fn authorized_job(
    state: &AppState,
    caller: &Caller,
    call_id: String,
) -> Result<Authorized<JobTarget>, ApiError> {
    validate_call_id(&call_id).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let record = job_record(state, &call_id)
        .await?
        .ok_or_else(|| ApiError::JobNotFound(call_id.clone()))?;
    let namespace = split_qualified(&record.function).1;
    if !state.namespace_holds(namespace, record.created_at) {
        return Err(ApiError::JobNotFound(call_id));
    }
    let scope = state.scope_of(namespace);
    caller.authorize(state, Action::Read, &scope, JobTarget(record))
}

/// The record of `call_id`; for a delayed job whose record has expired, the one read back
/// from the message that holds the job until it is due.
pub(crate) async fn job_record(
    state: &AppState,
    call_id: &str,
) -> Result<Option<JobRecord>, ApiError> {
    let record = state
        .jobs
        .get(call_id)
        .await
        .map_err(|e| ApiError::Unavailable(e.to_string()))?;
    match record {
        Some(record) => Ok(Some(record)),
        None => delay::held(&state.js, call_id)
            .await
            .map_err(|e| ApiError::Unavailable(e.to_string())),
    }
}

/// The stored answer: the function's body and headers, its status in `X-Function-Status`.
#[utoipa::path(get, path = "/system/jobs/{call_id}/result", tag = "jobs", params(("call_id" = String, Path)),
    responses((status = 200, description = "The function's answer: its body and headers; its status in `X-Function-Status`", body = Vec<u8>, content_type = "*/*",
        headers(("x-function-status" = u16, description = "The function's status code"), ("x-call-id" = String))),
        (status = 400, body = String, content_type = "text/plain"), (status = 404, description = "Not finished, too large or expired", body = String, content_type = "text/plain")))]
pub(crate) async fn result(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(call_id): Path<String>,
) -> Result<Response, ApiError> {
    let call_id = authorized_job(&state, &caller, call_id)
        .await?
        .into_target()
        .0
        .call_id;
    let stored = state
        .results
        .get(&call_id)
        .await
        .map_err(|e| ApiError::Unavailable(e.to_string()))?
        .ok_or_else(|| ApiError::ResultNotFound(call_id.clone()))?;
    let mut response = Response::new(Body::from(stored.body));
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    super::append_headers(headers, &stored.headers);
    crate::api::invoke::sandbox(headers);
    headers.insert("x-function-status", HeaderValue::from(stored.status));
    headers.insert(
        "x-call-id",
        HeaderValue::from_str(&call_id).map_err(|e| ApiError::Internal(e.to_string()))?,
    );
    Ok(response)
}
