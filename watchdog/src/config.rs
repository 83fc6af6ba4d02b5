//! Configuration from the OpenFaaS watchdog environment variables.

use std::time::Duration;

use crate::duration::{parse_duration, InvalidDuration};

/// How the function process is run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A process per request: body on stdin, response from stdout.
    Fork,
    /// One long-running HTTP server behind a reverse proxy.
    Http,
}

/// The environment variable that carries [`Config::replica_token`].
pub const REPLICA_TOKEN_VARIABLE: &str = "replica_token";
/// The request header that must carry it. (The dispatcher and the process provider spell it
/// `switchyard_broker::records::REPLICA_TOKEN_HEADER`: this crate depends on none of ours.)
pub const REPLICA_TOKEN_HEADER: &str = "x-switchyard-replica-token";

/// Watchdog settings. Each field is read from the environment variable of the same name, as
/// OpenFaaS's classic watchdog and of-watchdog read them.
#[derive(Debug, Clone)]
pub struct Config {
    /// `fprocess`: the function's command line, split on spaces (no shell). Required.
    pub fprocess: Vec<String>,
    /// `mode`: `fork` (also `serializing`, `streaming`, or unset) or `http`.
    pub mode: Mode,
    /// `upstream_url`: where the http-mode process listens. Required in http mode.
    pub upstream_url: Option<String>,
    /// `port`: the port to listen on, on all interfaces unless `listen_host` says otherwise.
    /// Default 8080; 0 picks a free port.
    pub port: u16,
    /// `listen_host` (Switchyard's own): the address to bind. Default `0.0.0.0`, as OpenFaaS.
    pub listen_host: String,
    /// `read_timeout`: how long reading a request body may take (fork mode). Default 10s.
    pub read_timeout: Option<Duration>,
    /// `write_timeout`: how long producing and writing a response may take. Default 10s.
    pub write_timeout: Option<Duration>,
    /// `exec_timeout`: how long the function may run before its process group is killed
    /// (answer: 504). Default 10s; `0` means no limit.
    pub exec_timeout: Option<Duration>,
    /// `healthcheck_interval`: on SIGTERM, how long to answer 503 on `/_/ready` before closing
    /// the listener, so that load balancers notice. Default 0.
    pub healthcheck_interval: Duration,
    /// `max_inflight`: concurrent requests beyond which the answer is 429. Default 0 (no limit).
    pub max_inflight: usize,
    /// `content_type`: forces the response `Content-Type` (fork mode). Default: the request's.
    pub content_type: Option<String>,
    /// `combine_output`: stderr joins stdout in the response (fork mode). Default true.
    pub combine_output: bool,
    /// `write_debug`: log request and response bodies. Default false.
    pub write_debug: bool,
    /// `max_request_bytes`: the largest request body (fork mode); larger ones get 413. Default
    /// 16 MiB.
    pub max_request_bytes: usize,
    /// `max_response_bytes`: the most a function may write to stdout (fork mode); more is a
    /// 502. Default 16 MiB.
    pub max_response_bytes: usize,
    /// `replica_token`: when set, every request must carry it in `X-Switchyard-Replica-Token`
    /// (403 otherwise), so that only the Switchyard parts that started this replica reach it,
    /// not other functions on the same host. The header is removed before the function sees
    /// the request, and the variable from the environment the function inherits.
    pub replica_token: Option<String>,
}

const DEFAULT_MAX_BODY_BYTES: u64 = 16 * 1024 * 1024;

/// An environment variable with a value the watchdog cannot use.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("`fprocess` is not set: it names the function's command, e.g. fprocess=cat")]
    MissingFprocess,
    #[error("`upstream_url` is required in http mode, e.g. upstream_url=http://127.0.0.1:5000")]
    MissingUpstream,
    #[error("`upstream_url` must be an http:// URL, got `{0}`")]
    BadUpstream(String),
    #[error("`mode={0}` is not supported: use fork (serializing, streaming) or http")]
    BadMode(String),
    #[error("`{name}`: {source}")]
    Duration {
        name: &'static str,
        source: InvalidDuration,
    },
    #[error("`{name}` must be {expected}, got `{value}`")]
    Invalid {
        name: &'static str,
        expected: &'static str,
        value: String,
    },
}

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup` (a name → value function), for tests and embedding.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let fprocess: Vec<String> = get("fprocess")
            .ok_or(ConfigError::MissingFprocess)?
            .split_whitespace()
            .map(str::to_string)
            .collect();
        let mode = match get("mode").as_deref() {
            None | Some("fork") | Some("serializing") | Some("streaming") => Mode::Fork,
            Some("http") => Mode::Http,
            Some(other) => return Err(ConfigError::BadMode(other.to_string())),
        };
        let upstream_url = get("upstream_url");
        if mode == Mode::Http {
            match &upstream_url {
                None => return Err(ConfigError::MissingUpstream),
                Some(url) if !url.starts_with("http://") => {
                    return Err(ConfigError::BadUpstream(url.clone()))
                }
                Some(_) => {}
            }
        }
        let timeout = |name: &'static str| -> Result<Option<Duration>, ConfigError> {
            let value = match get(name) {
                None => DEFAULT_TIMEOUT,
                Some(text) => parse_duration(&text)
                    .map_err(|source| ConfigError::Duration { name, source })?,
            };
            Ok((!value.is_zero()).then_some(value))
        };
        let boolean = |name: &'static str, default: bool| -> Result<bool, ConfigError> {
            match get(name).as_deref() {
                None => Ok(default),
                Some("true") | Some("1") => Ok(true),
                Some("false") | Some("0") => Ok(false),
                Some(other) => Err(ConfigError::Invalid {
                    name,
                    expected: "true or false",
                    value: other.to_string(),
                }),
            }
        };
        let number = |name: &'static str, default: u64| -> Result<u64, ConfigError> {
            match get(name) {
                None => Ok(default),
                Some(text) => text.trim().parse().map_err(|_| ConfigError::Invalid {
                    name,
                    expected: "a whole number",
                    value: text,
                }),
            }
        };
        let port = number("port", 8080)?;
        Ok(Config {
            fprocess,
            mode,
            upstream_url,
            port: u16::try_from(port).map_err(|_| ConfigError::Invalid {
                name: "port",
                expected: "a port number",
                value: port.to_string(),
            })?,
            listen_host: get("listen_host").unwrap_or_else(|| "0.0.0.0".to_string()),
            read_timeout: timeout("read_timeout")?,
            write_timeout: timeout("write_timeout")?,
            exec_timeout: timeout("exec_timeout")?,
            healthcheck_interval: match get("healthcheck_interval") {
                None => Duration::ZERO,
                Some(text) => parse_duration(&text).map_err(|source| ConfigError::Duration {
                    name: "healthcheck_interval",
                    source,
                })?,
            },
            max_inflight: number("max_inflight", 0)? as usize,
            content_type: get("content_type"),
            combine_output: boolean("combine_output", true)?,
            write_debug: boolean("write_debug", false)?,
            max_request_bytes: number("max_request_bytes", DEFAULT_MAX_BODY_BYTES)? as usize,
            max_response_bytes: number("max_response_bytes", DEFAULT_MAX_BODY_BYTES)? as usize,
            replica_token: get(REPLICA_TOKEN_VARIABLE),
        })
    }

    /// The deadline for one request: the shorter of `exec_timeout`, `write_timeout` and the
    /// request's `X-Timeout`.
    pub(crate) fn deadline(&self, requested: Option<Duration>) -> Option<Duration> {
        [self.exec_timeout, self.write_timeout, requested]
            .into_iter()
            .flatten()
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_lookup(|name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn defaults_match_openfaas() {
        let c = config(&[("fprocess", "wc -c")]).expect("valid");
        assert_eq!(c.fprocess, ["wc", "-c"]);
        assert_eq!(c.mode, Mode::Fork);
        assert_eq!(c.port, 8080);
        assert_eq!(c.exec_timeout, Some(DEFAULT_TIMEOUT));
        assert!(c.combine_output);
        assert_eq!(c.max_inflight, 0);
    }

    #[test]
    fn bad_settings_are_named() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[], "`fprocess` is not set"),
            (
                &[("fprocess", "cat"), ("mode", "static")],
                "`mode=static` is not supported",
            ),
            (
                &[("fprocess", "cat"), ("mode", "http")],
                "`upstream_url` is required",
            ),
            (
                &[("fprocess", "cat"), ("exec_timeout", "soon")],
                "`exec_timeout`: invalid duration",
            ),
            (
                &[("fprocess", "cat"), ("max_inflight", "-1")],
                "`max_inflight` must be a whole number",
            ),
            (
                &[("fprocess", "cat"), ("combine_output", "yes")],
                "`combine_output` must be true or false",
            ),
        ];
        for (vars, message) in cases {
            let error = config(vars).expect_err(message).to_string();
            assert!(error.contains(message), "{error}");
        }
    }

    #[test]
    fn zero_exec_timeout_means_no_limit_and_x_timeout_shortens() {
        let c = config(&[
            ("fprocess", "cat"),
            ("exec_timeout", "0"),
            ("write_timeout", "0"),
        ])
        .expect("valid");
        assert_eq!(c.deadline(None), None);
        assert_eq!(
            c.deadline(Some(Duration::from_secs(2))),
            Some(Duration::from_secs(2))
        );
        let c = config(&[("fprocess", "cat"), ("exec_timeout", "5s")]).expect("valid");
        assert_eq!(
            c.deadline(Some(Duration::from_secs(60))),
            Some(Duration::from_secs(5))
        );
    }
}
