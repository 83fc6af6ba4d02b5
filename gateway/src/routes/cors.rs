//! Cross-origin requests on API routes: browsers' preflight answered by the gateway, and the
//! allowing headers added to the function's answers, for the origins a route names.

use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use switchyard_broker::records::{Cors, Route};

/// The request's `Origin` when the route allows it.
pub fn allowed_origin<'a>(cors: &Cors, headers: &'a HeaderMap) -> Option<&'a str> {
    let origin = headers.get(header::ORIGIN)?.to_str().ok()?;
    cors.allowed_origins
        .iter()
        .any(|o| o == "*" || o == origin)
        .then_some(origin)
}

/// Whether `method` with these headers is a browser's preflight.
pub fn is_preflight(method: &Method, headers: &HeaderMap) -> bool {
    method == Method::OPTIONS
        && headers.contains_key(header::ORIGIN)
        && headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
}

/// The answer to a preflight for `route`: 204 with what is allowed, or 403 naming what is not.
pub fn preflight(route: &Route, cors: &Cors, headers: &HeaderMap) -> Response {
    let Some(origin) = allowed_origin(cors, headers) else {
        return (
            StatusCode::FORBIDDEN,
            "CORS: this origin is not allowed on this route\n",
        )
            .into_response();
    };
    let methods = if cors.allowed_methods.is_empty() {
        if route.methods.is_empty() {
            vec!["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
        } else {
            route.methods.iter().map(String::as_str).collect()
        }
    } else {
        cors.allowed_methods.iter().map(String::as_str).collect()
    };
    let mut response = StatusCode::NO_CONTENT.into_response();
    let out = response.headers_mut();
    allow_origin(out, cors, origin);
    put(
        out,
        header::ACCESS_CONTROL_ALLOW_METHODS,
        &methods.join(", "),
    );
    if !cors.allowed_headers.is_empty() {
        put(
            out,
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            &cors.allowed_headers.join(", "),
        );
    }
    if let Some(max_age) = cors.max_age {
        put(out, header::ACCESS_CONTROL_MAX_AGE, &max_age.to_string());
    }
    response
}

/// Adds the allowing headers to the function's answer when the origin is allowed.
pub fn decorate(response: &mut Response, cors: &Cors, request_headers: &HeaderMap) {
    if let Some(origin) = allowed_origin(cors, request_headers) {
        let out = response.headers_mut();
        allow_origin(out, cors, origin);
        if !cors.expose_headers.is_empty() {
            put(
                out,
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                &cors.expose_headers.join(", "),
            );
        }
    }
}

fn allow_origin(out: &mut HeaderMap, cors: &Cors, origin: &str) {
    let any = cors.allowed_origins.iter().any(|o| o == "*");
    put(
        out,
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        if any { "*" } else { origin },
    );
    if !any {
        out.append(header::VARY, HeaderValue::from_static("Origin"));
    }
    if cors.allow_credentials {
        put(out, header::ACCESS_CONTROL_ALLOW_CREDENTIALS, "true");
    }
}

fn put(out: &mut HeaderMap, name: header::HeaderName, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        out.insert(name, value);
    }
}
