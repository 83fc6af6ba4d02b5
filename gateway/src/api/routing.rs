//! `GET|POST /system/routes`, `GET|PUT|DELETE /system/routes/{name}`: API routes binding
//! hosts, paths and methods to functions (served by [`crate::routes`]).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use switchyard_broker::records::{
    api_key_digest, host_owner, Action, Cors, PathMatch, Route, RouteAuth, DEFAULT_NAMESPACE,
    DEFAULT_ORGANIZATION,
};

use super::AppState;
use crate::access::resolve::{given, Kind};
use crate::access::Caller;
use crate::error::{ApiError, Record};

/// A route as clients send it (API keys in the clear, once; they are stored as digests).
// No Debug: it may hold API keys, which must not reach a log.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct RouteRequest {
    name: String,
    #[serde(default)]
    namespace: Option<String>,
    function: String,
    #[serde(default)]
    hosts: Vec<String>,
    path: String,
    #[serde(default)]
    path_match: PathMatch,
    #[serde(default)]
    methods: Vec<String>,
    #[serde(default, rename = "async")]
    is_async: bool,
    #[serde(default)]
    auth: AuthRequest,
    #[serde(default)]
    cors: Option<Cors>,
}

/// Who may call the route: `public` (default), `basic` (Switchyard's credentials), `api-key`
/// (`X-API-Key`; `keys` write-only, at least 16 characters each; left out on update: kept),
/// `jwt` (a bearer token from `issuer` for `audience`, signed by a key of `jwksUrl`).
#[derive(Default, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
pub(crate) enum AuthRequest {
    #[default]
    Public,
    Basic,
    ApiKey {
        #[serde(default)]
        keys: Option<Vec<String>>,
    },
    #[serde(rename_all = "camelCase")]
    Jwt {
        issuer: String,
        audience: String,
        jwks_url: String,
    },
}

/// A route as the API shows it: API keys only counted.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RouteView {
    name: String,
    namespace: String,
    function: String,
    hosts: Vec<String>,
    path: String,
    path_match: PathMatch,
    methods: Vec<String>,
    #[serde(rename = "async")]
    is_async: bool,
    auth: AuthView,
    #[serde(skip_serializing_if = "Option::is_none")]
    cors: Option<Cors>,
    created_at: chrono::DateTime<Utc>,
    updated_at: chrono::DateTime<Utc>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub(crate) enum AuthView {
    Public,
    Basic,
    ApiKey {
        keys: usize,
    },
    #[serde(rename_all = "camelCase")]
    Jwt {
        issuer: String,
        audience: String,
        jwks_url: String,
    },
}

impl From<&Route> for RouteView {
    fn from(route: &Route) -> Self {
        RouteView {
            name: route.name.clone(),
            namespace: route.namespace.clone(),
            function: route.function.clone(),
            hosts: route.hosts.clone(),
            path: route.path.clone(),
            path_match: route.path_match,
            methods: route.methods.clone(),
            is_async: route.is_async,
            auth: match &route.auth {
                RouteAuth::Public => AuthView::Public,
                RouteAuth::Basic => AuthView::Basic,
                RouteAuth::ApiKey { key_digests } => AuthView::ApiKey {
                    keys: key_digests.len(),
                },
                RouteAuth::Jwt {
                    issuer,
                    audience,
                    jwks_url,
                } => AuthView::Jwt {
                    issuer: issuer.clone(),
                    audience: audience.clone(),
                    jwks_url: jwks_url.clone(),
                },
            },
            cors: route.cors.clone(),
            created_at: route.created_at,
            updated_at: route.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct NamespaceQuery {
    /// Only routes of this namespace (list), or the route's namespace (default `openfaas-fn`).
    namespace: Option<String>,
}

#[utoipa::path(get, path = "/system/routes", tag = "routes", params(NamespaceQuery),
    responses((status = 200, body = Vec<RouteView>)))]
pub(crate) async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(query): Query<NamespaceQuery>,
) -> Result<Json<Vec<RouteView>>, ApiError> {
    // One namespace's routes when it is named; else those of every namespace the caller reads.
    let only = match given(query.namespace.as_deref()) {
        Some(namespace) => {
            let (namespace, scope) = state.namespace_named(Some(namespace)).await?;
            Some(
                caller
                    .authorize(&state, Action::Read, &scope, namespace)?
                    .into_target()
                    .0,
            )
        }
        None => None,
    };
    let mut routes: Vec<RouteView> = state
        .routes
        .list()
        .iter()
        .filter(|r| match &only {
            Some(namespace) => &r.namespace == namespace,
            None => caller.may(&state, Action::Read, &state.scope_of(&r.namespace)),
        })
        .map(RouteView::from)
        .collect();
    routes.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    Ok(Json(routes))
}

#[utoipa::path(get, path = "/system/routes/{name}", tag = "routes", params(("name" = String, Path), NamespaceQuery),
    responses((status = 200, body = RouteView), (status = 404, body = String, content_type = "text/plain")))]
pub(crate) async fn get(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(name): Path<String>,
    Query(query): Query<NamespaceQuery>,
) -> Result<Json<RouteView>, ApiError> {
    let (route, scope) = state
        .resolve(Kind::Route, &name, query.namespace.as_deref())
        .await?;
    let key = caller.authorize(&state, Action::Read, &scope, route)?.id();
    state
        .routes
        .get(&key)
        .map(|r| Json(RouteView::from(&r)))
        .ok_or_else(|| not_found(&key))
}

#[utoipa::path(post, path = "/system/routes", tag = "routes", request_body = RouteRequest,
    responses((status = 201, body = RouteView), (status = 400, description = "What is wrong, by field", body = String, content_type = "text/plain"),
        (status = 409, description = "The name exists, or another route already answers the same host, path and method (named)", body = String, content_type = "text/plain")))]
pub(crate) async fn create(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    body: Bytes,
) -> Result<(StatusCode, Json<RouteView>), ApiError> {
    let request = parse(&body)?;
    let (route, scope) = state
        .resolve(Kind::Route, &request.name, request.namespace.as_deref())
        .await?;
    let key = caller.authorize(&state, Action::Write, &scope, route)?.id();
    let route = checked(&state, request, None)?;
    state
        .routes
        .create(&key, &route)
        .await
        .map_err(ApiError::from_table(Record::Route))?;
    tracing::info!(route = %key, function = %route.function, path = %route.path, "route created");
    Ok((StatusCode::CREATED, Json(RouteView::from(&route))))
}

#[utoipa::path(put, path = "/system/routes/{name}", tag = "routes", request_body = RouteRequest, params(("name" = String, Path)),
    responses((status = 200, body = RouteView), (status = 400, body = String, content_type = "text/plain"),
        (status = 404, body = String, content_type = "text/plain"), (status = 409, body = String, content_type = "text/plain")))]
pub(crate) async fn update(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Json<RouteView>, ApiError> {
    let request = parse(&body)?;
    if request.name != name {
        return Err(ApiError::BadRequest(format!(
            "`name` `{}` differs from the path's `{name}`",
            request.name
        )));
    }
    let (route, scope) = state
        .resolve(Kind::Route, &request.name, request.namespace.as_deref())
        .await?;
    let key = caller.authorize(&state, Action::Write, &scope, route)?.id();
    let current = state.routes.get(&key).ok_or_else(|| not_found(&key))?;
    let route = checked(&state, request, Some(&current))?;
    state
        .routes
        .put(&key, &route)
        .await
        .map_err(|e| ApiError::Unavailable(e.to_string()))?;
    tracing::info!(route = %key, "route updated");
    Ok(Json(RouteView::from(&route)))
}

#[utoipa::path(delete, path = "/system/routes/{name}", tag = "routes", params(("name" = String, Path), NamespaceQuery),
    responses((status = 204, description = "Removed"), (status = 404, body = String, content_type = "text/plain")))]
pub(crate) async fn remove(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(name): Path<String>,
    Query(query): Query<NamespaceQuery>,
) -> Result<StatusCode, ApiError> {
    let (route, scope) = state
        .resolve(Kind::Route, &name, query.namespace.as_deref())
        .await?;
    let key = caller.authorize(&state, Action::Write, &scope, route)?.id();
    state
        .routes
        .delete(&key)
        .await
        .map_err(ApiError::from_table(Record::Route))?;
    tracing::info!(route = %key, "route removed");
    Ok(StatusCode::NO_CONTENT)
}

fn not_found(key: &str) -> ApiError {
    ApiError::NotFound(format!("route `{key}` not found"))
}

fn parse(body: &[u8]) -> Result<RouteRequest, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::BadRequest(format!("invalid route: {e}")))
}

/// The route to store: validated, its function existing, its API keys digested (kept from
/// `current` when left out), and ambiguous with no other route.
fn checked(
    state: &AppState,
    request: RouteRequest,
    current: Option<&Route>,
) -> Result<Route, ApiError> {
    let namespace = request
        .namespace
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| DEFAULT_NAMESPACE.to_string());
    let auth = match request.auth {
        AuthRequest::Public => RouteAuth::Public,
        AuthRequest::Basic => RouteAuth::Basic,
        AuthRequest::ApiKey { keys: Some(keys) } => {
            if let Some(short) = keys.iter().find(|k| k.len() < MIN_API_KEY_CHARS) {
                return Err(ApiError::BadRequest(format!(
                    "auth: an API key of {} characters is too short (at least {MIN_API_KEY_CHARS})",
                    short.len()
                )));
            }
            RouteAuth::ApiKey {
                key_digests: keys.iter().map(|k| api_key_digest(k)).collect(),
            }
        }
        AuthRequest::ApiKey { keys: None } => match current.map(|c| &c.auth) {
            Some(kept @ RouteAuth::ApiKey { .. }) => kept.clone(),
            _ => {
                return Err(ApiError::BadRequest(
                    "auth: an api-key route needs `keys`".into(),
                ))
            }
        },
        AuthRequest::Jwt {
            issuer,
            audience,
            jwks_url,
        } => RouteAuth::Jwt {
            issuer,
            audience,
            jwks_url,
        },
    };
    let now = Utc::now();
    let route = Route {
        name: request.name,
        namespace,
        function: request.function,
        hosts: request.hosts,
        path: request.path,
        path_match: request.path_match,
        methods: request
            .methods
            .iter()
            .map(|m| m.to_ascii_uppercase())
            .collect(),
        is_async: request.is_async,
        auth,
        cors: request.cors,
        created_at: current.map_or(now, |c| c.created_at),
        updated_at: now,
    };
    route
        .validate()
        .map_err(|e| ApiError::BadRequest(format!("invalid route: {e}")))?;
    // Hosts are owned: a route uses only its organization's, and only the default
    // organization's routes may answer on any host.
    let organization = state
        .scope_of(&route.namespace)
        .organization()
        .unwrap_or(DEFAULT_ORGANIZATION)
        .to_string();
    if route.hosts.is_empty() && organization != DEFAULT_ORGANIZATION {
        return Err(ApiError::BadRequest(format!(
            "invalid route: `hosts`: a route of organization `{organization}` names the hosts it was given (an operator gives them: POST /system/hosts)"
        )));
    }
    for host in &route.hosts {
        let owner = state
            .hosts
            .cache()
            .read(|hosts| host_owner(hosts.values(), host).to_string());
        if owner != organization {
            return Err(ApiError::BadRequest(format!(
                "invalid route: host `{host}` belongs to organization `{owner}`, not `{organization}`"
            )));
        }
    }
    if let RouteAuth::Jwt { jwks_url, .. } = &route.auth {
        let networks = &state.config.callback_networks;
        if let Some(refusal) =
            switchyard_broker::networks::guard::literal_refusal(networks, jwks_url)
        {
            return Err(ApiError::BadRequest(format!(
                "invalid route: auth: jwksUrl `{jwks_url}`: {refusal} (SWITCHYARD_CALLBACK_ALLOW, SWITCHYARD_CALLBACK_DENY)"
            )));
        }
    }
    let function = route.function_id();
    if !state.registry.contains(&function) {
        return Err(ApiError::BadRequest(format!(
            "invalid route: `function`: function `{}` not found in namespace `{}`",
            route.function, route.namespace
        )));
    }
    let others: Vec<Route> = state
        .routes
        .list()
        .into_iter()
        .filter(|r| !(r.name == route.name && r.namespace == route.namespace))
        .collect();
    if let Some(other) = route.conflicts_with(&others) {
        return Err(ApiError::Conflict(format!(
            "route `{}` already answers {} {} on {}: change the path, hosts or methods",
            other.name,
            if other.methods.is_empty() {
                "every method".to_string()
            } else {
                other.methods.join(",")
            },
            other.path,
            if other.hosts.is_empty() {
                "any host".to_string()
            } else {
                other.hosts.join(",")
            },
        )));
    }
    Ok(route)
}

/// The shortest API key accepted.
const MIN_API_KEY_CHARS: usize = 16;
