//! API routes served: a request that no built-in path takes is matched against the routes
//! (`/system/routes`) by host, path and method, checked against the route's authentication,
//! and invoked exactly as `/function/NAME` (or `/async-function/NAME` for an `async` route)
//! would: same headers, limits and metrics. The function sees the request's own path, the
//! path parameters as `X-Route-Param-<name>` headers and the route as `X-Route-Name`.
//!
//! - [`table`]: which route a request takes (the most specific), or 404, or 405 with `Allow`.
//! - [`auth`]: `public`, `basic`, `api-key` and `jwt` routes.
//! - [`cors`]: preflights answered, allowing headers added.

mod auth;
mod cors;

pub(crate) use auth::bearer;
mod table;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::api::{enqueue_function, invoke_function, AppState};
use table::Matched;

/// Headers the function gets from the route, which a caller may not set.
const PARAM_HEADER_PREFIX: &str = "x-route-param-";
const ROUTE_NAME_HEADER: &str = "x-route-name";

/// The router's fallback: requests for paths the gateway does not serve itself.
pub(crate) async fn serve(State(state): State<Arc<AppState>>, request: Request<Body>) -> Response {
    let host = request_host(&request);
    let path = request.uri().path().to_string();
    // A host answers only its owner's routes (names nobody was given: the default
    // organization's), so one organization's catch-all never sees another's customers.
    let owner = state
        .hosts
        .cache()
        .read(|hosts| switchyard_broker::records::host_owner(hosts.values(), &host).to_string());
    // Matched in place: only the route that wins is copied out of the cache.
    let find = |method: &str| {
        state.namespaces.cache().read(|namespaces| {
            let owns = |route: &&switchyard_broker::records::Route| {
                namespaces
                    .get(&route.namespace)
                    .map_or(switchyard_broker::records::DEFAULT_ORGANIZATION, |n| {
                        n.organization()
                    })
                    == owner
            };
            state
                .routes
                .cache()
                .read(|routes| table::find(routes.values().filter(owns), method, &host, &path))
        })
    };
    if cors::is_preflight(request.method(), request.headers()) {
        let wanted = request
            .headers()
            .get(header::ACCESS_CONTROL_REQUEST_METHOD)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if let Matched::Route(route, _) = find(wanted) {
            if let Some(cors) = &route.cors {
                return cors::preflight(&route, cors, request.headers());
            }
        }
    }
    let (route, params) = match find(request.method().as_str()) {
        Matched::Route(route, params) => (route, params),
        Matched::WrongMethod(allowed) => {
            let allowed: Vec<String> = allowed.into_iter().collect();
            let allowed = allowed.join(", ");
            let mut response = (
                StatusCode::METHOD_NOT_ALLOWED,
                format!(
                    "{} is not allowed on {path}; allowed: {allowed}\n",
                    request.method()
                ),
            )
                .into_response();
            if let Ok(value) = HeaderValue::from_str(&allowed) {
                response.headers_mut().insert(header::ALLOW, value);
            }
            return response;
        }
        Matched::NotFound => {
            return (
                StatusCode::NOT_FOUND,
                format!("no function or route at {path}\n"),
            )
                .into_response()
        }
    };
    let (mut parts, body) = request.into_parts();
    if let Err(refused) = auth::check(&state, &route, &mut parts.headers).await {
        return refused;
    }
    let caller_headers = route.cors.as_ref().map(|_| parts.headers.clone());
    set_route_headers(&mut parts.headers, &route.name, &params);
    let request = Request::from_parts(parts, body);
    let function = route.function_id();
    let mut response = if route.is_async {
        enqueue_function(state, request, function, path).await
    } else {
        invoke_function(state, request, function, path).await
    };
    if let (Some(cors), Some(headers)) = (&route.cors, caller_headers) {
        cors::decorate(&mut response, cors, &headers);
    }
    response
}

/// The host the request is for, lower case, without a port (HTTP/2's authority, else `Host`).
fn request_host(request: &Request<Body>) -> String {
    let host = request.uri().host().map(str::to_string).or_else(|| {
        request
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(|h| match h.rsplit_once(':') {
                Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name.to_string(),
                _ => h.to_string(),
            })
    });
    host.unwrap_or_default().to_ascii_lowercase()
}

/// Replaces whatever the caller sent as route headers with the route's own.
fn set_route_headers(
    headers: &mut axum::http::HeaderMap,
    route: &str,
    params: &[(String, String)],
) {
    let spoofed: Vec<HeaderName> = headers
        .keys()
        .filter(|k| k.as_str().starts_with(PARAM_HEADER_PREFIX) || k.as_str() == ROUTE_NAME_HEADER)
        .cloned()
        .collect();
    for name in spoofed {
        headers.remove(name);
    }
    if let Ok(value) = HeaderValue::from_str(route) {
        headers.insert(ROUTE_NAME_HEADER, value);
    }
    for (name, value) in params {
        let name = HeaderName::from_bytes(
            format!("{PARAM_HEADER_PREFIX}{name}")
                .to_ascii_lowercase()
                .as_bytes(),
        );
        if let (Ok(name), Ok(value)) = (name, HeaderValue::from_str(value)) {
            headers.insert(name, value);
        }
    }
}
