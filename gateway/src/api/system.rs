//! `/system/info`, `/healthz`, `/metrics`.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use switchyard_broker::provider;
use switchyard_broker::records::endpoints_of;

use super::AppState;
use crate::access::Caller;
use crate::error::ApiError;
use crate::metrics::metric_name;

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// What `faas-cli version` reads.
#[utoipa::path(get, path = "/system/info", tag = "system", responses((status = 200, description = "Version and provider, as faas-cli version reads them", body = Object)))]
pub(crate) async fn info(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<serde_json::Value>, ApiError> {
    caller.signed_in(&state, "the gateway's version")?;
    Ok(Json(json!({
        "provider": {
            "provider": "switchyard",
            "orchestration": provider::active(&state.js).await.map_or_else(|| "none".to_string(), |lease| lease.kind),
            "version": { "release": VERSION, "sha": "" }
        },
        "version": { "release": VERSION, "sha": "", "commit_message": "" },
        "arch": std::env::consts::ARCH,
    })))
}

#[utoipa::path(get, path = "/healthz", tag = "system", security(()), responses((status = 200, description = "OK", body = String, content_type = "text/plain")))]
pub(crate) async fn healthz() -> &'static str {
    "OK"
}

#[utoipa::path(get, path = "/metrics", tag = "system", security(()), responses((status = 200, description = "Prometheus text format", body = String, content_type = "text/plain")))]
pub(crate) async fn metrics(
    State(state): State<Arc<AppState>>,
    headers: axum::http::HeaderMap,
) -> Response {
    for spec in state.registry.list() {
        let ready = state
            .endpoints
            .read(|map| endpoints_of(map, &spec.name()).len());
        state
            .metrics
            .service_count
            .with_label_values(&[&metric_name(&spec.name())])
            .set(ready as f64);
    }
    let rendered = state.metrics.render();
    let whole = state.config.metrics_public || operator(&state, &headers).await;
    let body = if whole {
        rendered
    } else {
        // Function names are other organizations' business: their series stay out.
        rendered
            .lines()
            .filter(|line| !line.contains("function_name=\""))
            .flat_map(|line| [line, "\n"])
            .collect()
    };
    ([("content-type", "text/plain; version=0.0.4")], body).into_response()
}

/// Whether the request's credentials are an operator's.
async fn operator(state: &AppState, headers: &axum::http::HeaderMap) -> bool {
    match crate::access::authenticate(state, headers).await {
        Ok(principal) => state.policies.cache().read(|policies| {
            switchyard_access::permits(
                &principal,
                policies.values(),
                switchyard_broker::records::Action::Admin,
                &switchyard_access::Scope::Operators,
            )
        }),
        Err(_) => false,
    }
}
