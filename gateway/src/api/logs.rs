//! `GET /system/logs?name=&instance=&since=&tail=&follow=`: a function's logs as OpenFaaS
//! streams them (`application/x-ndjson`), from its containers (Docker provider).

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::AppState;
use crate::access::resolve::Kind;
use crate::access::Caller;
use crate::error::ApiError;
use crate::provider_client;
use switchyard_broker::provider::LogsRequest;
use switchyard_broker::records::Action;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct LogParams {
    name: Option<String>,
    namespace: Option<String>,
    instance: Option<String>,
    since: Option<String>,
    tail: Option<i64>,
    #[serde(default)]
    follow: bool,
}

#[utoipa::path(get, path = "/system/logs", tag = "functions", params(LogParams),
    responses((status = 200, description = "Lines of `{name,namespace,instance,timestamp,text}`", body = String, content_type = "application/x-ndjson"),
        (status = 400, description = "No name", body = String, content_type = "text/plain"), (status = 404, body = String, content_type = "text/plain"), (status = 501, description = "The provider keeps no logs", body = String, content_type = "text/plain")))]
pub(crate) async fn logs(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(params): Query<LogParams>,
) -> Result<Response, ApiError> {
    let name = params
        .name
        .as_deref()
        .filter(|n| !n.is_empty())
        .ok_or_else(|| {
            ApiError::BadRequest("`name` is required: the function whose logs to read".into())
        })?;
    let (function, scope) = state
        .resolve(Kind::Function, name, params.namespace.as_deref())
        .await?;
    let function = caller
        .authorize(&state, Action::Read, &scope, function)?
        .id();
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
    let request = LogsRequest {
        function,
        instance: params.instance.filter(|i| !i.is_empty()),
        since,
        tail: params.tail.and_then(|t| u32::try_from(t).ok()),
        follow: params.follow,
        inbox: String::new(),
    };
    provider_client::logs(&state.nats, request).await
}
