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
use switchyard_access::Authorized;
use switchyard_broker::records::{
    endpoints_of, ready_counts, validate_function_name, validate_secret_names, validate_tuning,
    Action, FunctionDeployment, FunctionSpec, FunctionStatus, DEFAULT_NAMESPACE, MAX_REPLICAS,
};

use switchyard_broker::streams;

use super::namespaces::NamespaceQuery;
use super::AppState;
use crate::access::resolve::{given, one_namespace, split_reference, Kind};
use crate::access::Caller;
use crate::error::{ApiError, Record};
use crate::provider_client;
use switchyard_scheduler::ScheduleSpec;

/// `GET /system/functions[?namespace=]`: the functions of one namespace (the default one
/// unless named), as OpenFaaS lists them.
#[utoipa::path(get, path = "/system/functions", tag = "functions", params(NamespaceQuery),
    description = "The functions of one namespace (the default one unless `namespace` names another), as OpenFaaS lists them.",
    responses((status = 200, body = Vec<FunctionStatus>), (status = 400, description = "Unknown namespace", body = String, content_type = "text/plain")))]
pub(crate) async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(query): Query<NamespaceQuery>,
) -> Result<Json<Vec<FunctionStatus>>, ApiError> {
    let (namespace, scope) = state.namespace_named(query.get()).await?;
    let namespace = caller.authorize(&state, Action::Read, &scope, namespace)?;
    let namespace = namespace.0.as_str();
    let counts = state.metrics.invocation_counts();
    let ready = state.endpoints.read(ready_counts);
    let mut specs = state.registry.list();
    specs.retain(|spec| spec.namespace() == namespace);
    specs.sort_by(|a, b| a.deployment.service.cmp(&b.deployment.service));
    Ok(Json(
        specs
            .iter()
            .map(|spec| {
                let id = spec.name();
                let available = ready.get(&id).copied().unwrap_or(0);
                status_of(spec, &id, available, &counts)
            })
            .collect(),
    ))
}

#[utoipa::path(get, path = "/system/function/{name}", tag = "functions",
    params(("name" = String, Path, description = "`name` or `name.namespace`"), NamespaceQuery),
    responses((status = 200, body = FunctionStatus), (status = 400, description = "Unknown namespace", body = String, content_type = "text/plain"), (status = 404, body = String, content_type = "text/plain")))]
pub(crate) async fn status(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(name): Path<String>,
    Query(query): Query<NamespaceQuery>,
) -> Result<Json<FunctionStatus>, ApiError> {
    let (function, scope) = state.resolve(Kind::Function, &name, query.get()).await?;
    let name = caller
        .authorize(&state, Action::Read, &scope, function)?
        .id();
    let spec = state
        .registry
        .get(&name)
        .ok_or_else(|| ApiError::FunctionNotFound(name.clone()))?;
    let available = state.endpoints.read(|map| endpoints_of(map, &name).len()) as u64;
    Ok(Json(status_of(
        &spec,
        &name,
        available,
        &state.metrics.invocation_counts(),
    )))
}

#[utoipa::path(post, path = "/system/functions", tag = "functions", request_body = FunctionDeployment,
    description = "Deploys a function. The provider checks it first (a command that exists, an image it can run).",
    responses((status = 202, description = "Accepted: replicas start"), (status = 400, description = "What is wrong with the deployment", body = String, content_type = "text/plain"), (status = 409, description = "It exists: update with PUT", body = String, content_type = "text/plain"), (status = 503, description = "No provider answered", body = String, content_type = "text/plain")))]
pub(crate) async fn create(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let deployment = checked_deployment(&state, &caller, &body)
        .await?
        .into_target();
    let topic_start_sequence = topic_start(&state, &deployment).await?;
    let spec = FunctionSpec {
        replicas: FunctionSpec::initial_replicas(&deployment),
        deployment,
        created_at: Utc::now(),
        topic_start_sequence,
        start_failure: None,
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
    caller: Caller,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let deployment = checked_deployment(&state, &caller, &body)
        .await?
        .into_target();
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
                // The provider says again if the new deployment cannot start either.
                start_failure: None,
                ..current
            }
        })
        .await
        .map_err(ApiError::from_table(Record::Function))?;
    tracing::info!(function = %name, "function updated");
    Ok(StatusCode::ACCEPTED)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct DeleteRequest {
    function_name: String,
    #[serde(default)]
    namespace: Option<String>,
}

#[utoipa::path(delete, path = "/system/functions", tag = "functions", request_body = DeleteRequest, params(NamespaceQuery),
    responses((status = 202, description = "Removed"), (status = 400, body = String, content_type = "text/plain"), (status = 404, body = String, content_type = "text/plain")))]
pub(crate) async fn remove(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(query): Query<NamespaceQuery>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let request: DeleteRequest = parse(&body, "delete request")?;
    let namespace = one_namespace(request.namespace.as_deref(), query.get())?;
    let (function, scope) = state
        .resolve(Kind::Function, &request.function_name, namespace)
        .await?;
    let name = caller
        .authorize(&state, Action::Write, &scope, function)?
        .id();
    state
        .registry
        .delete(&name)
        .await
        .map_err(ApiError::from_table(Record::Function))?;
    // A function deployed again under this name starts its schedule afresh, with no ticks
    // missed while it was gone.
    if state.schedules.contains(&name) {
        if let Err(error) = state.schedules.delete(&name).await {
            tracing::warn!(function = %name, %error, "schedule state not removed");
        }
    }
    tracing::info!(function = %name, "function removed");
    Ok(StatusCode::ACCEPTED)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct ScaleRequest {
    /// faas-cli sends it; the path names the function.
    #[serde(default)]
    service_name: Option<String>,
    replicas: i64,
    #[serde(default)]
    namespace: Option<String>,
}

#[utoipa::path(post, path = "/system/scale-function/{name}", tag = "functions", request_body = ScaleRequest,
    params(("name" = String, Path, description = "`name` or `name.namespace`"), NamespaceQuery),
    responses((status = 202, description = "Accepted"), (status = 400, description = "Replicas out of range", body = String, content_type = "text/plain"), (status = 404, body = String, content_type = "text/plain")))]
pub(crate) async fn scale(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(name): Path<String>,
    Query(query): Query<NamespaceQuery>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let request: ScaleRequest = parse(&body, "scale request")?;
    let namespace = one_namespace(request.namespace.as_deref(), query.get())?;
    let (function, scope) = state.resolve(Kind::Function, &name, namespace).await?;
    if let Some(service_name) = given(request.service_name.as_deref()) {
        let named = split_reference(Kind::Function, service_name, namespace)?;
        if named != function {
            return Err(ApiError::BadRequest(format!(
                "`serviceName` `{service_name}` differs from the path's `{name}`"
            )));
        }
    }
    let name = caller
        .authorize(&state, Action::Write, &scope, function)?
        .id();
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
    spec: &FunctionSpec,
    id: &str,
    available: u64,
    invocations: &HashMap<String, u64>,
) -> FunctionStatus {
    let count = invocations.get(id).copied().unwrap_or(0);
    FunctionStatus::new(spec, available, count)
}

fn parse<T: DeserializeOwned>(body: &[u8], what: &str) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::BadRequest(format!("invalid {what}: {e}")))
}

/// Parses a deployment, resolves and authorizes the function it names (write in its
/// namespace), then validates the rest and asks the provider.
async fn checked_deployment(
    state: &AppState,
    caller: &Caller,
    body: &[u8],
) -> Result<Authorized<FunctionDeployment>, ApiError> {
    let mut deployment: FunctionDeployment = parse(body, "function deployment")?;
    // `service` is a bare name: the namespace is `namespace` alone.
    validate_function_name(&deployment.service).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let (function, scope) = state
        .resolve(
            Kind::Function,
            &deployment.service,
            deployment.namespace.as_deref(),
        )
        .await?;
    let function = caller.authorize(state, Action::Write, &scope, function)?;
    // Stored as given unless default, so a function's id is `name` or `name.namespace`.
    deployment.namespace =
        (function.namespace != DEFAULT_NAMESPACE).then(|| function.namespace.clone());
    validate_secret_names(&deployment).map_err(ApiError::BadRequest)?;
    external_endpoints_allowed(state, &deployment).await?;
    validate_tuning(&deployment).map_err(ApiError::BadRequest)?;
    if let Some(Err(invalid)) = ScheduleSpec::of(deployment.annotations.as_ref()) {
        return Err(ApiError::BadRequest(invalid.to_string()));
    }
    super::secrets::check_deployment_secrets(state, &deployment).await?;
    // The provider refuses what it cannot run, so nothing is stored for it.
    provider_client::prepare(&state.nats, &deployment).await?;
    Ok(function.map(|_| deployment))
}

/// An external function's endpoints may be only where callbacks may go
/// (`SWITCHYARD_CALLBACK_ALLOW` / `_DENY`): every address the host resolves to now, and the
/// address written in the URL. (The provider checks them again each time it probes them.)
async fn external_endpoints_allowed(
    state: &AppState,
    deployment: &FunctionDeployment,
) -> Result<(), ApiError> {
    let Some(urls) = deployment.external_endpoints() else {
        return Ok(());
    };
    let urls = urls.map_err(ApiError::BadRequest)?;
    let networks = &state.config.callback_networks;
    for url in urls {
        let refused = |reason: String| {
            ApiError::BadRequest(format!(
                "annotation `{}`: `{url}`: {reason} (SWITCHYARD_CALLBACK_ALLOW, SWITCHYARD_CALLBACK_DENY)",
                switchyard_broker::records::ENDPOINT_ANNOTATION
            ))
        };
        if let Some(reason) =
            switchyard_broker::networks::guard::literal_refusal(networks, url.as_str())
        {
            return Err(refused(reason));
        }
        let (Some(host), Some(port)) = (url.host_str(), url.port_or_known_default()) else {
            continue;
        };
        if let Ok(addresses) = tokio::net::lookup_host((host, port)).await {
            for address in addresses {
                if let Some(reason) = networks.refusal(address.ip()) {
                    return Err(refused(format!(
                        "{host} resolves to {}: {reason}",
                        address.ip()
                    )));
                }
            }
        }
    }
    Ok(())
}
