//! Schedules: `GET /system/schedules` (each scheduled function with its next and last run),
//! `GET /system/schedules/{function}?from=&count=` (the next instants, to see what daylight
//! saving does before it happens), `POST /system/schedules/{function}/pause` and `/resume`.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use switchyard_broker::records::{Action, FunctionSpec, ScheduleState, TickOutcome};
use switchyard_scheduler::ScheduleSpec;

use super::namespaces::NamespaceQuery;
use super::AppState;
use crate::access::resolve::Kind;
use crate::access::Caller;
use crate::error::ApiError;

const DEFAULT_COUNT: usize = 10;
const MAX_COUNT: usize = 1000;

/// A scheduled function and where its schedule stands.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ScheduleView {
    function: String,
    schedule: String,
    timezone: &'static str,
    /// `skip`, `latest` or `all`.
    misfire: &'static str,
    /// `allow`, `skip` or `queue`.
    overlap: &'static str,
    paused: bool,
    /// The next tick (none while paused).
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_tick: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_outcome: Option<TickOutcome>,
    /// The job of the latest tick fired.
    #[serde(skip_serializing_if = "Option::is_none")]
    last_call_id: Option<String>,
}

/// The next instants of a schedule.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Preview {
    function: String,
    schedule: String,
    timezone: &'static str,
    /// In UTC.
    next: Vec<String>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct PreviewQuery {
    /// From this time (RFC 3339; default now).
    from: Option<String>,
    /// How many instants, 1 to 1000 (default 10).
    count: Option<usize>,
    /// The function's namespace (default `openfaas-fn`).
    namespace: Option<String>,
}

#[utoipa::path(get, path = "/system/schedules", tag = "schedules", params(NamespaceQuery),
    description = "The scheduled functions of one namespace (annotations `topic: cron-function` and `schedule`), with their next and last run.",
    responses((status = 200, body = Vec<ScheduleView>), (status = 400, description = "Unknown namespace", body = String, content_type = "text/plain")))]
pub(crate) async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(query): Query<NamespaceQuery>,
) -> Result<Json<Vec<ScheduleView>>, ApiError> {
    let (namespace, scope) = state.namespace_named(query.get()).await?;
    let namespace = caller.authorize(&state, Action::Read, &scope, namespace)?;
    let mut specs = state.registry.list();
    specs.retain(|spec| spec.namespace() == namespace.0.as_str());
    specs.sort_by(|a, b| a.deployment.service.cmp(&b.deployment.service));
    let now = Utc::now();
    Ok(Json(
        specs
            .iter()
            .filter_map(|spec| view(&state, spec, now))
            .collect(),
    ))
}

fn view(state: &AppState, spec: &FunctionSpec, now: DateTime<Utc>) -> Option<ScheduleView> {
    let schedule = ScheduleSpec::of(spec.deployment.annotations.as_ref())?.ok()?;
    let function = spec.name();
    let current = state.schedules.get(&function);
    let paused = current.as_ref().is_some_and(|s| s.paused);
    let from = current.as_ref().map_or(now, |s| s.handled_until().max(now));
    Some(ScheduleView {
        schedule: schedule.text.clone(),
        timezone: schedule.schedule.zone(),
        misfire: schedule.misfire.as_str(),
        overlap: schedule.overlap.as_str(),
        paused,
        next: (!paused)
            .then(|| schedule.schedule.next_after(from))
            .flatten()
            .map(rfc3339),
        last_tick: current.as_ref().and_then(|s| s.last_tick).map(rfc3339),
        last_outcome: current.as_ref().and_then(|s| s.last_outcome),
        last_call_id: current.and_then(|s| s.last_call_id),
        function,
    })
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The scheduled function `name` (in `namespace`), authorized for `action`.
async fn scheduled(
    state: &AppState,
    caller: &Caller,
    name: &str,
    namespace: Option<&str>,
    action: Action,
) -> Result<(String, ScheduleSpec), ApiError> {
    let (function, scope) = state.resolve(Kind::Function, name, namespace).await?;
    let id = caller.authorize(state, action, &scope, function)?.id();
    let spec = state
        .registry
        .get(&id)
        .ok_or_else(|| ApiError::FunctionNotFound(id.clone()))?;
    match ScheduleSpec::of(spec.deployment.annotations.as_ref()) {
        Some(Ok(schedule)) => Ok((id, schedule)),
        Some(Err(invalid)) => Err(ApiError::BadRequest(invalid.to_string())),
        None => Err(ApiError::NotFound(format!(
            "function `{id}` has no schedule (annotations `topic: cron-function` and `schedule`)"
        ))),
    }
}

#[utoipa::path(get, path = "/system/schedules/{function}", tag = "schedules",
    params(("function" = String, Path, description = "`name` or `name.namespace`"), PreviewQuery),
    description = "The schedule's next instants (in UTC) from a time: what daylight saving does, before it happens.",
    responses((status = 200, body = Preview), (status = 400, body = String, content_type = "text/plain"), (status = 404, body = String, content_type = "text/plain")))]
pub(crate) async fn preview(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(name): Path<String>,
    Query(query): Query<PreviewQuery>,
) -> Result<Json<Preview>, ApiError> {
    let namespace = query.namespace.as_deref().filter(|n| !n.is_empty());
    let (function, schedule) = scheduled(&state, &caller, &name, namespace, Action::Read).await?;
    let count = query.count.unwrap_or(DEFAULT_COUNT);
    if count == 0 || count > MAX_COUNT {
        return Err(ApiError::BadRequest(format!(
            "count must be between 1 and {MAX_COUNT}, got {count}"
        )));
    }
    let from = match query.from.as_deref() {
        Some(text) => DateTime::parse_from_rfc3339(text)
            .map_err(|_| ApiError::BadRequest(format!("from `{text}`: use an RFC 3339 time")))?
            .with_timezone(&Utc),
        None => Utc::now(),
    };
    // The instant `from` itself counts.
    let before = from - chrono::Duration::nanoseconds(1);
    Ok(Json(Preview {
        function,
        timezone: schedule.schedule.zone(),
        next: schedule
            .schedule
            .upcoming(before, count)
            .into_iter()
            .map(rfc3339)
            .collect(),
        schedule: schedule.text,
    }))
}

#[utoipa::path(post, path = "/system/schedules/{function}/pause", tag = "schedules",
    params(("function" = String, Path, description = "`name` or `name.namespace`"), NamespaceQuery),
    description = "Pauses the schedule: no tick runs until it is resumed (ticks meanwhile are missed, and run as its misfire policy says).",
    responses((status = 204, description = "Paused"), (status = 404, body = String, content_type = "text/plain")))]
pub(crate) async fn pause(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(name): Path<String>,
    Query(query): Query<NamespaceQuery>,
) -> Result<StatusCode, ApiError> {
    set_paused(&state, &caller, &name, query.get(), true).await
}

#[utoipa::path(post, path = "/system/schedules/{function}/resume", tag = "schedules",
    params(("function" = String, Path, description = "`name` or `name.namespace`"), NamespaceQuery),
    responses((status = 204, description = "Resumed"), (status = 404, body = String, content_type = "text/plain")))]
pub(crate) async fn resume(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(name): Path<String>,
    Query(query): Query<NamespaceQuery>,
) -> Result<StatusCode, ApiError> {
    set_paused(&state, &caller, &name, query.get(), false).await
}

async fn set_paused(
    state: &AppState,
    caller: &Caller,
    name: &str,
    namespace: Option<&str>,
    paused: bool,
) -> Result<StatusCode, ApiError> {
    let (function, _) = scheduled(state, caller, name, namespace, Action::Write).await?;
    let unavailable =
        |e: switchyard_broker::table::TableError| ApiError::Unavailable(e.to_string());
    if state
        .schedules
        .fetch(&function)
        .await
        .map_err(unavailable)?
        .is_none()
    {
        let fresh = ScheduleState::new(&function, Utc::now());
        match state.schedules.create(&function, &fresh).await {
            Ok(()) | Err(switchyard_broker::table::TableError::Exists { .. }) => {}
            Err(error) => return Err(unavailable(error)),
        }
    }
    state
        .schedules
        .modify(&function, |s| ScheduleState { paused, ..s })
        .await
        .map_err(unavailable)?;
    tracing::info!(function = %function, paused, "schedule paused or resumed");
    Ok(StatusCode::NO_CONTENT)
}
