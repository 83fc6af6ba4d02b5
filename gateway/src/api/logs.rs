//! `GET /system/logs?name=&instance=&since=&tail=&follow=`: a function's logs as OpenFaaS
//! streams them (`application/x-ndjson`), from its containers (Docker provider).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde::Deserialize;
use switchyard_broker::records::resolve_function_name;

use super::AppState;
use crate::error::ApiError;
use crate::provider::docker::{function_logs, LogQuery};
use crate::provider::ProviderKind;

#[derive(Debug, Deserialize)]
pub(crate) struct LogParams {
    name: Option<String>,
    instance: Option<String>,
    since: Option<String>,
    tail: Option<i64>,
    #[serde(default)]
    follow: bool,
}

pub(crate) async fn logs(
    State(state): State<Arc<AppState>>,
    Query(params): Query<LogParams>,
) -> Result<Response, ApiError> {
    let name = params
        .name
        .as_deref()
        .filter(|n| !n.is_empty())
        .ok_or_else(|| {
            ApiError::BadRequest("`name` is required: the function whose logs to read".into())
        })?;
    let function = resolve_function_name(name)
        .ok_or_else(|| ApiError::FunctionNotFound(name.to_string()))?
        .to_string();
    if state.provider != ProviderKind::Docker {
        return Ok((
            StatusCode::NOT_IMPLEMENTED,
            "logs are served with the Docker provider; the process provider's functions log to Switchyard's own output\n",
        )
            .into_response());
    }
    if !state.registry.contains(&function) {
        return Err(ApiError::FunctionNotFound(function));
    }
    let since = params
        .since
        .as_deref()
        .map(|s| {
            DateTime::parse_from_rfc3339(s)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|e| ApiError::BadRequest(format!("`since` `{s}`: {e} (use RFC 3339)")))
        })
        .transpose()?;
    let query = LogQuery {
        function,
        instance: params.instance.filter(|i| !i.is_empty()),
        since,
        tail: params.tail.and_then(|t| u32::try_from(t).ok()),
        follow: params.follow,
    };
    let lines = function_logs(query).await.map_err(ApiError::Unavailable)?;
    let body = Body::from_stream(lines.map(Ok::<_, std::convert::Infallible>));
    Ok(([("content-type", "application/x-ndjson")], body).into_response())
}
