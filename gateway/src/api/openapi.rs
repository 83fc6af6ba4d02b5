//! The OpenAPI 3.1 document, `GET /system/openapi.json`. It is generated from the same calls
//! that build the router ([`super::system_routes`] and [`super::open_routes`]: each route is
//! registered together with its handler's `#[utoipa::path]`), so a route cannot be served
//! without being documented, nor documented without being served.

use std::sync::LazyLock;

use axum::response::{IntoResponse, Response};
use utoipa::openapi::path::Operation;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ContentBuilder, InfoBuilder, OpenApi, Tag};

/// The name of the basic-auth security scheme (the bootstrap admin).
const BASIC: &str = "basic";
/// The name of the bearer scheme (service-account API tokens, OpenID Connect tokens).
const BEARER: &str = "bearer";

static DOCUMENT: LazyLock<String> = LazyLock::new(|| {
    serde_json::to_string_pretty(&document()).expect("an OpenAPI document serializes")
});

#[utoipa::path(get, path = "/system/openapi.json", tag = "system",
    description = "This document.",
    responses((status = 200, description = "OpenAPI 3.1", body = Object)))]
pub(crate) async fn openapi_json() -> Response {
    ([("content-type", "application/json")], DOCUMENT.as_str()).into_response()
}

/// The document: every route of [`super::app`], with basic auth or a bearer token on
/// `/system/*`.
pub fn document() -> OpenApi {
    let system = super::system_routes().into_openapi();
    let open = super::open_routes().into_openapi();
    let mut api = OpenApi::default();
    api.info = InfoBuilder::new()
        .title("Switchyard")
        .version(env!("CARGO_PKG_VERSION"))
        .description(Some(
            "Event-driven broker and function dispatcher. OpenFaaS's gateway API, plus jobs, \
             events, namespaces, secrets, dead letters, API routes, TLS certificates, organizations, \
             policies, service accounts and the audit log. `/system/*` needs the admin's basic \
             auth, or a bearer token (an API token or an OpenID Connect token) whose policies \
             allow the request (403 otherwise).",
        ))
        .build();
    api.merge(system.clone());
    api.merge(open);
    let components = api.components.get_or_insert_with(Default::default);
    components.security_schemes.insert(
        BASIC.to_string(),
        SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Basic).build()),
    );
    components.security_schemes.insert(
        BEARER.to_string(),
        SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
    );
    for (path, item) in api.paths.paths.iter_mut() {
        let guarded = system.paths.paths.contains_key(path);
        for (method, operation) in operations(item) {
            // Handler names repeat across modules (`list`, `get`); method and path do not.
            operation.operation_id = Some(operation_id(method, path));
            if guarded {
                operation.security = Some(vec![
                    SecurityRequirement::new(BASIC, Vec::<String>::new()),
                    SecurityRequirement::new(BEARER, Vec::<String>::new()),
                ]);
                operation.responses.responses.insert(
                    "401".to_string(),
                    ResponseBuilder::new()
                        .description("No, wrong, revoked or expired credentials")
                        .content("text/plain", ContentBuilder::new().build())
                        .build()
                        .into(),
                );
                operation.responses.responses.insert(
                    "403".to_string(),
                    ResponseBuilder::new()
                        .description("The caller's policies do not allow this (the answer says what is needed)")
                        .content("text/plain", ContentBuilder::new().build())
                        .build()
                        .into(),
                );
            }
        }
    }
    api.paths.paths = api
        .paths
        .paths
        .into_iter()
        .map(|(path, item)| (path.replace("{*", "{"), item))
        .collect();
    api.tags = Some(
        [
            (
                "functions",
                "Deploy, list, scale and remove functions (OpenFaaS's API)",
            ),
            ("invoke", "Call functions, synchronously or as jobs"),
            ("jobs", "Asynchronous jobs: records and answers"),
            (
                "dead letters",
                "Jobs that failed for good: inspect, redrive, purge",
            ),
            ("events", "Subscriptions and event sources"),
            ("namespaces", "Namespaces (OpenFaaS's)"),
            (
                "secrets",
                "Function secrets (OpenFaaS's); values are write-only",
            ),
            ("system", "Health, metrics, version, this document"),
            (
                "routes",
                "API routes: hosts, paths and methods bound to functions",
            ),
            ("tls", "Certificates the HTTPS listener serves by SNI"),
            (
                "access",
                "Organizations, policies, service accounts, API tokens, the audit log",
            ),
            ("ui", "The web UI's files"),
        ]
        .into_iter()
        .map(|(name, description)| {
            let mut tag = Tag::new(name);
            tag.description = Some(description.to_string());
            tag
        })
        .collect(),
    );
    api
}

/// `get /system/jobs/{call_id}` → `get_system_jobs_call_id`; a trailing `/` adds `_slash`.
fn operation_id(method: &str, path: &str) -> String {
    let words: Vec<&str> = path
        .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .filter(|w| !w.is_empty())
        .collect();
    let slash = if path.len() > 1 && path.ends_with('/') {
        "_slash"
    } else {
        ""
    };
    if words.is_empty() {
        format!("{method}_root")
    } else {
        format!("{method}_{}{slash}", words.join("_"))
    }
}

fn operations(
    item: &mut utoipa::openapi::PathItem,
) -> impl Iterator<Item = (&'static str, &mut Operation)> {
    [
        ("get", &mut item.get),
        ("put", &mut item.put),
        ("post", &mut item.post),
        ("delete", &mut item.delete),
        ("options", &mut item.options),
        ("head", &mut item.head),
        ("patch", &mut item.patch),
        ("trace", &mut item.trace),
    ]
    .into_iter()
    .filter_map(|(method, operation)| Some((method, operation.as_mut()?)))
}
