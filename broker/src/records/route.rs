//! API routes, as VMware Dispatch had them: a host, a path and methods bound to a function, so
//! that `GET https://api.example.com/users/42` invokes `users` with `id = 42`. KV bucket
//! `sy_routes`, key = the route's name.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::namespace::{validate_namespace, DEFAULT_NAMESPACE};
use super::validate_function_name;

/// Paths the gateway serves itself: no route may take them.
pub const RESERVED_PREFIXES: [&str; 6] = [
    "/system",
    "/function",
    "/async-function",
    "/ui",
    "/healthz",
    "/metrics",
];

/// Bounds on what a route may hold.
pub const MAX_HOSTS: usize = 16;
pub const MAX_PATH_BYTES: usize = 1024;
pub const MAX_API_KEYS: usize = 16;
pub const MAX_CORS_ENTRIES: usize = 32;

/// A route as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Route {
    pub name: String,
    /// The namespace the route belongs to; its function is looked up there.
    pub namespace: String,
    /// The function it invokes, in the route's namespace.
    pub function: String,
    /// Host names it answers (`api.example.com`, or `*.example.com` for any subdomain); empty:
    /// any host.
    #[serde(default)]
    pub hosts: Vec<String>,
    /// `/users/{id}`: literal segments and `{name}` parameters (one segment each).
    pub path: String,
    #[serde(default)]
    pub path_match: PathMatch,
    /// Upper-case methods it answers; empty: any.
    #[serde(default)]
    pub methods: Vec<String>,
    /// Invoke asynchronously (202 and a call id) instead of waiting for the answer.
    #[serde(default, rename = "async")]
    pub is_async: bool,
    #[serde(default)]
    pub auth: RouteAuth,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cors: Option<Cors>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// How the path is matched.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PathMatch {
    /// The whole path, segment by segment.
    #[default]
    Exact,
    /// The route's segments, then anything below them.
    Prefix,
}

/// Who may call a route, as stored: API keys only as SHA-256 digests.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum RouteAuth {
    /// Anyone.
    #[default]
    Public,
    /// Switchyard's own credentials (basic auth, or a token of a user allowed to invoke).
    Basic,
    /// `X-API-Key: <key>` with one of the route's keys.
    #[serde(rename_all = "camelCase")]
    ApiKey { key_digests: Vec<String> },
    /// `Authorization: Bearer <JWT>` signed by a key of `jwks_url`, from `issuer`, for
    /// `audience`.
    #[serde(rename_all = "camelCase")]
    Jwt {
        issuer: String,
        audience: String,
        jwks_url: String,
    },
}

/// Cross-origin requests a route allows (browsers' preflight answered by the gateway).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Cors {
    /// Origins (`https://app.example.com`) or `*`.
    pub allowed_origins: Vec<String>,
    /// Methods allowed from those origins; empty: the route's.
    #[serde(default)]
    pub allowed_methods: Vec<String>,
    #[serde(default)]
    pub allowed_headers: Vec<String>,
    #[serde(default)]
    pub expose_headers: Vec<String>,
    /// Seconds a browser may cache the preflight's answer.
    #[serde(default)]
    pub max_age: Option<u32>,
    #[serde(default)]
    pub allow_credentials: bool,
}

/// The SHA-256 digest of an API key, as stored and compared.
pub fn api_key_digest(key: &str) -> String {
    Sha256::digest(key.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// One segment of a route's path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Literal(String),
    Param(String),
}

impl Route {
    /// The path's segments (the path was validated when the route was stored).
    pub fn segments(&self) -> Vec<Segment> {
        parse_path(&self.path).unwrap_or_default()
    }

    /// Whether the route answers `method` (upper case).
    pub fn allows(&self, method: &str) -> bool {
        self.methods.is_empty() || self.methods.iter().any(|m| m == method)
    }

    /// The id of the function the route invokes.
    pub fn function_id(&self) -> String {
        super::namespace::qualify(&self.function, Some(&self.namespace))
    }

    /// Checks everything a client sent; the first problem, named, for a 400.
    pub fn validate(&self) -> Result<(), String> {
        validate_function_name(&self.name)
            .map_err(|_| format!("route name `{}`: use 1 to 63 characters of a-z, A-Z, 0-9, `-` and `_`, starting with a letter or digit", self.name))?;
        validate_namespace(&self.namespace)?;
        validate_function_name(&self.function).map_err(|_| {
            format!(
                "function `{}`: name a function of the route's namespace (no dot)",
                self.function
            )
        })?;
        if self.hosts.len() > MAX_HOSTS {
            return Err(format!("hosts: at most {MAX_HOSTS}"));
        }
        for host in &self.hosts {
            validate_host(host)?;
        }
        // The path served is the path checked: no form a client or proxy normalizes into
        // something else (`//ui`, `/x/../system`, `%2Fsystem`).
        if self.path.contains("//")
            || self.path.contains('%')
            || self.path.contains('\\')
            || self
                .path
                .split('/')
                .any(|segment| segment == "." || segment == "..")
        {
            return Err(format!(
                "path `{}`: write it normalized (no `//`, `.` or `..` segments, percent-encoding or `\\`)",
                self.path
            ));
        }
        let segments = parse_path(&self.path)?;
        let lowered = self.path.to_ascii_lowercase();
        let reserved = RESERVED_PREFIXES
            .iter()
            .any(|p| lowered == *p || lowered.starts_with(&format!("{p}/")));
        if reserved || (self.path == "/" && self.path_match == PathMatch::Exact) {
            return Err(format!(
                "path `{}` is the gateway's own (reserved: `/` exactly, {})",
                self.path,
                RESERVED_PREFIXES.join(", ")
            ));
        }
        let mut names = BTreeSet::new();
        for segment in &segments {
            if let Segment::Param(name) = segment {
                if !names.insert(name) {
                    return Err(format!("path: parameter `{name}` appears twice"));
                }
            }
        }
        for method in &self.methods {
            validate_method(method)?;
        }
        match &self.auth {
            RouteAuth::ApiKey { key_digests } if key_digests.is_empty() => {
                return Err("auth: an api-key route needs at least one key".into())
            }
            RouteAuth::ApiKey { key_digests } if key_digests.len() > MAX_API_KEYS => {
                return Err(format!("auth: at most {MAX_API_KEYS} keys"))
            }
            RouteAuth::Jwt {
                issuer,
                audience,
                jwks_url,
            } => {
                if issuer.is_empty() || audience.is_empty() {
                    return Err("auth: a jwt route needs `issuer` and `audience`".into());
                }
                let url_ok = url_like(jwks_url);
                if !url_ok {
                    return Err(format!("auth: jwksUrl `{jwks_url}` is not an http(s) URL"));
                }
            }
            _ => {}
        }
        if let Some(cors) = &self.cors {
            cors.validate()?;
        }
        Ok(())
    }

    /// The first of `others` (the stored routes but `self`) that `self` would be ambiguous
    /// with: the same kind of match on the same path shape (parameters are equal whatever their names), a host both answer, and a
    /// method both answer. (Routes differing only in specificity are not ambiguous: the more
    /// specific one wins.)
    pub fn conflicts_with<'a>(&self, others: &'a [Route]) -> Option<&'a Route> {
        let shape = path_shape(&self.path);
        others.iter().find(|other| {
            other.path_match == self.path_match
                && path_shape(&other.path) == shape
                && overlap(&self.hosts, &other.hosts)
                && overlap(&self.methods, &other.methods)
        })
    }
}

impl Cors {
    fn validate(&self) -> Result<(), String> {
        let lists = [
            &self.allowed_origins,
            &self.allowed_methods,
            &self.allowed_headers,
            &self.expose_headers,
        ];
        if lists.iter().any(|l| l.len() > MAX_CORS_ENTRIES) {
            return Err(format!("cors: at most {MAX_CORS_ENTRIES} entries per list"));
        }
        if self.allowed_origins.is_empty() {
            return Err("cors: allowedOrigins needs at least one origin (or `*`)".into());
        }
        for origin in &self.allowed_origins {
            if origin != "*" && !url_like(origin) {
                return Err(format!(
                    "cors: origin `{origin}`: use `https://host[:port]` or `*`"
                ));
            }
        }
        if self.allow_credentials && self.allowed_origins.iter().any(|o| o == "*") {
            return Err("cors: allowCredentials cannot go with the origin `*`".into());
        }
        for method in &self.allowed_methods {
            validate_method(method)?;
        }
        for header in self.allowed_headers.iter().chain(&self.expose_headers) {
            let ok = !header.is_empty()
                && header.len() <= 128
                && header
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !ok {
                return Err(format!("cors: header name `{header}` is not valid"));
            }
        }
        Ok(())
    }
}

/// Parses `/a/{b}/c` into segments; says what is wrong otherwise.
pub fn parse_path(path: &str) -> Result<Vec<Segment>, String> {
    if !path.starts_with('/') || path.len() > MAX_PATH_BYTES {
        return Err(format!(
            "path `{path}`: must start with `/` and be at most {MAX_PATH_BYTES} bytes"
        ));
    }
    let mut segments = Vec::new();
    for segment in path[1..].split('/') {
        if segment.is_empty() {
            continue;
        }
        if let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            let ok = name
                .bytes()
                .next()
                .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                && name.len() <= 64;
            if !ok {
                return Err(format!(
                    "path: parameter `{{{name}}}`: use letters, digits and `_`"
                ));
            }
            segments.push(Segment::Param(name.to_string()));
        } else {
            let ok = segment != "."
                && segment != ".."
                && segment
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@%".contains(&b));
            if !ok {
                return Err(format!(
                    "path: segment `{segment}` is not a plain URL segment"
                ));
            }
            segments.push(Segment::Literal(segment.to_string()));
        }
    }
    Ok(segments)
}

/// The path with parameters unnamed: `/users/{}`.
fn path_shape(path: &str) -> Vec<Option<String>> {
    parse_path(path)
        .unwrap_or_default()
        .into_iter()
        .map(|s| match s {
            Segment::Literal(l) => Some(l),
            Segment::Param(_) => None,
        })
        .collect()
}

/// Whether two lists where empty means "any" share an entry.
fn overlap(a: &[String], b: &[String]) -> bool {
    a.is_empty() || b.is_empty() || a.iter().any(|x| b.contains(x))
}

/// Checks a host name: a lower-case DNS name, or `*.` and one.
pub fn validate_host(host: &str) -> Result<(), String> {
    let name = host.strip_prefix("*.").unwrap_or(host);
    let ok = !name.is_empty()
        && host.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        });
    if ok {
        Ok(())
    } else {
        Err(format!(
            "host `{host}`: use a lower-case DNS name (`api.example.com`) or `*.example.com`"
        ))
    }
}

fn validate_method(method: &str) -> Result<(), String> {
    const METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];
    if METHODS.contains(&method) {
        Ok(())
    } else {
        Err(format!(
            "method `{method}`: use one of {}",
            METHODS.join(", ")
        ))
    }
}

fn url_like(text: &str) -> bool {
    let rest = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"));
    rest.is_some_and(|r| !r.is_empty() && r.len() <= 512 && !r.chars().any(char::is_whitespace))
}

/// A route for tests and examples: `GET`-less (any method), public, exact.
pub fn route(name: &str, function: &str, path: &str) -> Route {
    Route {
        name: name.to_string(),
        namespace: DEFAULT_NAMESPACE.to_string(),
        function: function.to_string(),
        hosts: Vec::new(),
        path: path.to_string(),
        path_match: PathMatch::Exact,
        methods: Vec::new(),
        is_async: false,
        auth: RouteAuth::Public,
        cors: None,
        created_at: Utc::now(),
        updated_at: Utc::now(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_parse_into_literals_and_parameters() {
        assert_eq!(
            parse_path("/users/{id}/orders").expect("valid"),
            vec![
                Segment::Literal("users".into()),
                Segment::Param("id".into()),
                Segment::Literal("orders".into())
            ]
        );
        assert!(parse_path("users").is_err());
        assert!(parse_path("/a/../b").is_err());
        assert!(parse_path("/a/{1x}").is_err());
        assert!(parse_path("/a b").is_err());
    }

    #[test]
    fn reserved_paths_bad_hosts_and_bad_methods_are_refused_by_name() {
        let mut r = route("r", "f", "/system/functions");
        assert!(r.validate().expect_err("reserved").contains("/system"));
        for sneaky in [
            "//ui",
            "//system/functions",
            "/x/../system",
            "/%73ystem",
            "/./ui",
            "/UI/x",
        ] {
            r.path = sneaky.into();
            assert!(
                r.validate().is_err(),
                "{sneaky} passes as the gateway's own path"
            );
        }
        r.path = "/".into();
        assert!(r.validate().is_err(), "`/` exactly is invoke's");
        r.path_match = PathMatch::Prefix;
        assert!(
            r.validate().is_ok(),
            "a prefix `/` takes what nothing else serves"
        );
        r.hosts = vec!["API.example.com".into()];
        assert!(r
            .validate()
            .expect_err("upper case")
            .contains("API.example.com"));
        r.hosts = vec!["*.example.com".into()];
        r.methods = vec!["FETCH".into()];
        assert!(r.validate().expect_err("method").contains("FETCH"));
        r.methods = vec!["GET".into()];
        r.auth = RouteAuth::ApiKey {
            key_digests: vec![],
        };
        assert!(r.validate().is_err());
        r.auth = RouteAuth::Public;
        r.cors = Some(Cors {
            allowed_origins: vec!["*".into()],
            allow_credentials: true,
            ..Default::default()
        });
        assert!(r.validate().expect_err("cors").contains("allowCredentials"));
    }

    #[test]
    fn the_same_shape_host_and_method_conflict_and_specific_ones_do_not() {
        let mut a = route("a", "f", "/users/{id}");
        a.methods = vec!["GET".into()];
        let mut b = route("b", "g", "/users/{user}");
        b.methods = vec!["GET".into(), "POST".into()];
        assert_eq!(
            b.conflicts_with(std::slice::from_ref(&a)).map(|r| &r.name),
            Some(&a.name)
        );
        b.methods = vec!["POST".into()];
        assert!(
            b.conflicts_with(std::slice::from_ref(&a)).is_none(),
            "other methods"
        );
        b.methods = vec![];
        b.hosts = vec!["api.example.com".into()];
        a.hosts = vec!["www.example.com".into()];
        assert!(
            b.conflicts_with(std::slice::from_ref(&a)).is_none(),
            "other hosts"
        );
        let me = route("me", "h", "/users/me");
        assert!(
            me.conflicts_with(std::slice::from_ref(&a)).is_none(),
            "more specific"
        );
    }

    #[test]
    fn api_keys_are_kept_as_digests() {
        let digest = api_key_digest("k-0123456789abcdef");
        assert_eq!(digest.len(), 64);
        assert!(!digest.contains("0123456789abcdef"));
    }
}
