//! `/system/info`, `/system/metrics-targets`, `/healthz`, `/metrics`.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use switchyard_broker::provider;
use switchyard_broker::records::{ready_counts, split_qualified};

use super::AppState;
use crate::access::Caller;
use crate::error::ApiError;
use crate::metrics::metric_name;

const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The git commit of this build, empty when it was built outside a git work tree.
const GIT_SHA: &str = env!("SWITCHYARD_GIT_SHA");
const GIT_MESSAGE: &str = env!("SWITCHYARD_GIT_MESSAGE");

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
            "version": { "release": VERSION, "sha": GIT_SHA }
        },
        "version": { "release": VERSION, "sha": GIT_SHA, "commit_message": GIT_MESSAGE },
        "arch": std::env::consts::ARCH,
    })))
}

/// A group of Prometheus scrape targets, as its HTTP service discovery reads them.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub(crate) struct TargetGroup {
    /// `host:port` of one replica's watchdog (its metrics are at `/_/metrics`).
    targets: Vec<String>,
    /// `function_name` (`<name>.<namespace>`), `namespace` and `replica`.
    labels: std::collections::BTreeMap<String, String>,
}

/// The watchdogs Switchyard runs, for Prometheus's `http_sd_configs`: operators only, so that
/// Prometheus finds function replicas without the Docker socket. External functions' endpoints
/// are left out (they are a tenant's addresses, not watchdogs).
#[utoipa::path(get, path = "/system/metrics-targets", tag = "system",
    responses((status = 200, body = Vec<TargetGroup>), (status = 403, description = "not an operator")))]
pub(crate) async fn metrics_targets(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<Vec<TargetGroup>>, ApiError> {
    caller.operator(&state, "the addresses of every function's replicas")?;
    let now = chrono::Utc::now();
    let mut groups: Vec<TargetGroup> = state.endpoints.read(|map| {
        map.values()
            .filter(|e| !e.is_external() && e.is_fresh(now))
            .filter_map(|e| {
                let address = reqwest::Url::parse(&e.url).ok()?;
                let host = address.host_str()?;
                let target = format!("{host}:{}", address.port_or_known_default()?);
                let (_, namespace) = split_qualified(&e.function);
                let labels = [
                    ("function_name", metric_name(&e.function)),
                    ("namespace", namespace.to_string()),
                    ("replica", e.replica.clone()),
                ];
                Some(TargetGroup {
                    targets: vec![target],
                    labels: labels
                        .into_iter()
                        .map(|(k, v)| (k.to_string(), v))
                        .collect(),
                })
            })
            .collect()
    });
    groups.sort_by(|a, b| a.labels.cmp(&b.labels));
    Ok(Json(groups))
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
    let counts = state.endpoints.read(ready_counts);
    for spec in state.registry.list() {
        let ready = counts.get(&spec.name()).copied().unwrap_or(0);
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
