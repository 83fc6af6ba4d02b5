//! Function management, as OpenFaaS's gateway does it and faas-cli expects.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::Utc;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use switchyard_broker::records::{
    endpoints_of, validate_function_name, validate_namespace, validate_secret_names,
    validate_tuning, FunctionDeployment, FunctionSpec, FunctionStatus, DEFAULT_NAMESPACE,
    MAX_REPLICAS,
};

use switchyard_broker::streams;

use super::namespaces::NamespaceQuery;
use super::AppState;
use crate::error::{ApiError, Record};
use crate::provider_client;

/// `GET /system/functions[?namespace=]`: the functions of one namespace (the default one
/// unless named), as OpenFaaS lists them.
#[utoipa::path(get, path = "/system/functions", tag = "functions", params(NamespaceQuery),
    description = "The functions of one namespace (the default one unless `namespace` names another), as OpenFaaS lists them.",
    responses((status = 200, body = Vec<FunctionStatus>), (status = 400, description = "Unknown namespace", body = String, content_type = "text/plain")))]
pub(crate) async fn list(
    State(state): State<Arc<AppState>>,
    Query(query): Query<NamespaceQuery>,
) -> Result<Json<Vec<FunctionStatus>>, ApiError> {
    let namespace = query.get().unwrap_or(DEFAULT_NAMESPACE);
    state.existing_namespace(namespace).await?;
    let counts = state.metrics.invocation_counts();
    let mut specs = state.registry.list();
    specs.retain(|spec| spec.namespace() == namespace);
    specs.sort_by(|a, b| a.deployment.service.cmp(&b.deployment.service));
    Ok(Json(
        specs
            .iter()
            .map(|spec| status_of(&state, spec, &counts))
            .collect(),
    ))
}

#[utoipa::path(get, path = "/system/function/{name}", tag = "functions",
    params(("name" = String, Path, description = "`name` or `name.namespace`"), NamespaceQuery),
    responses((status = 200, body = FunctionStatus), (status = 400, description = "Unknown namespace", body = String, content_type = "text/plain"), (status = 404, body = String, content_type = "text/plain")))]
pub(crate) async fn status(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    Query(query): Query<NamespaceQuery>,
) -> Result<Json<FunctionStatus>, ApiError> {
    let name = state.qualified(&name, &query).await?;
    let spec = state
        .registry
        .get(&name)
        .ok_or_else(|| ApiError::FunctionNotFound(name.clone()))?;
    Ok(Json(status_of(
        &state,
        &spec,
        &state.metrics.invocation_counts(),
    )))
}

#[utoipa::path(post, path = "/system/functions", tag = "functions", request_body = FunctionDeployment,
    description = "Deploys a function. The provider checks it first (a command that exists, an image it can run).",
    responses((status = 202, description = "Accepted: replicas start"), (status = 400, description = "What is wrong with the deployment", body = String, content_type = "text/plain"), (status = 409, description = "It exists: update with PUT", body = String, content_type = "text/plain"), (status = 503, description = "No provider answered", body = String, content_type = "text/plain")))]
pub(crate) async fn create(
    State(state): State<Arc<AppState>>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let deployment = checked_deployment(&state, &body).await?;
    let topic_start_sequence = topic_start(&state, &deployment).await?;
    let spec = FunctionSpec {
        replicas: FunctionSpec::initial_replicas(&deployment),
        deployment,
        created_at: Utc::now(),
        topic_start_sequence,
    };
    state
        .registry
        .create(&spec.name(), &spec)
        .await
        .map_err(ApiError::from_table(Record::Function))?;
    tracing::info!(
        function = %spec.name(),
        replicas = spec.replicas,
        "function deployed"
    );
    Ok(StatusCode::ACCEPTED)
}

#[utoipa::path(put, path = "/system/functions", tag = "functions", request_body = FunctionDeployment,
    responses((status = 202, description = "Accepted: replicas are replaced"), (status = 400, body = String, content_type = "text/plain"), (status = 404, description = "No such function: faas-cli then POSTs", body = String, content_type = "text/plain")))]
pub(crate) async fn update(
    State(state): State<Arc<AppState>>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let deployment = checked_deployment(&state, &body).await?;
    let name = deployment.id();
    let fresh_start = topic_start(&state, &deployment).await?;
    state
        .registry
        .modify(&name, |current| {
            // The same topics keep their start; new ones start now.
            let same_topics = current.deployment.annotation(TOPIC) == deployment.annotation(TOPIC);
            FunctionSpec {
                topic_start_sequence: if same_topics {
                    current.topic_start_sequence
                } else {
                    fresh_start
                },
                deployment: deployment.clone(),
                ..current
            }
        })
        .await
        .map_err(ApiError::from_table(Record::Function))?;
    tracing::info!(function = %name, "function updated");
    Ok(StatusCode::ACCEPTED)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DeleteRequest {
    function_name: String,
    #[serde(default)]
    namespace: Option<String>,
}

#[utoipa::path(delete, path = "/system/functions", tag = "functions", request_body = DeleteRequest, params(NamespaceQuery),
    responses((status = 202, description = "Removed"), (status = 400, body = String, content_type = "text/plain"), (status = 404, body = String, content_type = "text/plain")))]
pub(crate) async fn remove(
    State(state): State<Arc<AppState>>,
    Query(query): Query<NamespaceQuery>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let request: DeleteRequest = parse(&body, "delete request")?;
    let query = NamespaceQuery {
        namespace: request
            .namespace
            .filter(|n| !n.is_empty())
            .or(query.namespace),
    };
    let name = state.qualified(&request.function_name, &query).await?;
    state
        .registry
        .delete(&name)
        .await
        .map_err(ApiError::from_table(Record::Function))?;
    tracing::info!(function = %name, "function removed");
    Ok(StatusCode::ACCEPTED)
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct ScaleRequest {
    replicas: i64,
    #[serde(default)]
    namespace: Option<String>,
}

#[utoipa::path(post, path = "/system/scale-function/{name}", tag = "functions", request_body = ScaleRequest,
    params(("name" = String, Path, description = "`name` or `name.namespace`"), NamespaceQuery),
    responses((status = 202, description = "Accepted"), (status = 400, description = "Replicas out of range", body = String, content_type = "text/plain"), (status = 404, body = String, content_type = "text/plain")))]
pub(crate) async fn scale(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    Query(query): Query<NamespaceQuery>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let request: ScaleRequest = parse(&body, "scale request")?;
    let query = NamespaceQuery {
        namespace: request
            .namespace
            .clone()
            .filter(|n| !n.is_empty())
            .or(query.namespace),
    };
    let name = state.qualified(&name, &query).await?;
    let spec = state
        .registry
        .get(&name)
        .ok_or_else(|| ApiError::FunctionNotFound(name.clone()))?;
    let max = spec
        .deployment
        .labels
        .as_ref()
        .and_then(|l| l.get("com.openfaas.scale.max"))
        .and_then(|v| v.parse().ok())
        .unwrap_or(MAX_REPLICAS)
        .min(MAX_REPLICAS);
    let replicas = u32::try_from(request.replicas)
        .ok()
        .filter(|r| *r <= max)
        .ok_or_else(|| {
            ApiError::BadRequest(format!(
                "replicas must be between 0 and {max}, got {}",
                request.replicas
            ))
        })?;
    state
        .registry
        .modify(&name, |current| FunctionSpec {
            replicas,
            ..current
        })
        .await
        .map_err(ApiError::from_table(Record::Function))?;
    tracing::info!(function = %name, replicas, "function scaled");
    Ok(StatusCode::ACCEPTED)
}

/// The annotation that subscribes a function to events by `subject` or `type`.
const TOPIC: &str = "topic";

/// Where a function's `topic` subscription starts: the next event stored after this answer.
async fn topic_start(
    state: &AppState,
    deployment: &FunctionDeployment,
) -> Result<Option<u64>, ApiError> {
    if deployment.annotation(TOPIC).is_none() {
        return Ok(None);
    }
    streams::next_sequence(&state.js, streams::EVENTS)
        .await
        .map(Some)
        .map_err(|e| ApiError::Unavailable(format!("events unavailable: {e}")))
}

fn status_of(
    state: &AppState,
    spec: &FunctionSpec,
    invocations: &HashMap<String, u64>,
) -> FunctionStatus {
    let id = spec.name();
    let available = state.endpoints.read(|map| endpoints_of(map, &id).len()) as u64;
    let count = invocations.get(&id).copied().unwrap_or(0);
    FunctionStatus::new(spec, available, count)
}

fn parse<T: DeserializeOwned>(body: &[u8], what: &str) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::BadRequest(format!("invalid {what}: {e}")))
}

/// Parses and validates a deployment: name rule, namespace, and what the provider needs.
async fn checked_deployment(state: &AppState, body: &[u8]) -> Result<FunctionDeployment, ApiError> {
    let mut deployment: FunctionDeployment = parse(body, "function deployment")?;
    validate_function_name(&deployment.service).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    // Stored as given unless default, so a function's id is `name` or `name.namespace`.
    match deployment.namespace.as_deref() {
        None | Some("") | Some(DEFAULT_NAMESPACE) => deployment.namespace = None,
        Some(namespace) => {
            validate_namespace(namespace).map_err(ApiError::BadRequest)?;
            state.existing_namespace(namespace).await?;
        }
    }
    validate_secret_names(&deployment).map_err(ApiError::BadRequest)?;
    validate_tuning(&deployment).map_err(ApiError::BadRequest)?;
    super::secrets::check_deployment_secrets(state, &deployment).await?;
    // The provider refuses what it cannot run, so nothing is stored for it.
    provider_client::prepare(&state.nats, &deployment).await?;
    Ok(deployment)
}
