//! A vCenter event source's configuration (`kind: vcenter` under `/system/event-sources`).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::duration::parse_iso8601;

/// Largest page a vCenter event collector accepts.
pub const MAX_PAGE_SIZE: u32 = 1000;

/// Smallest page: a collector starts with 10, and vcsim loses track of a page made smaller.
pub const MIN_PAGE_SIZE: u32 = 10;

/// The largest `caPem` accepted.
pub const MAX_CA_PEM_BYTES: usize = 64 * 1024;

/// How to reach a vCenter and follow its events.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VcenterConfig {
    /// The SDK URL, `https://vcenter.example/sdk`. It is also the `source` of every event, so
    /// it must not carry credentials.
    pub url: String,
    pub username: String,
    /// Write-only: never shown by the API. On an update, empty keeps the current one.
    #[serde(default)]
    pub password: String,
    /// Accept any TLS certificate. For test set-ups only; off by default.
    #[serde(default)]
    pub insecure: bool,
    /// Allow an `http://` URL, which sends the password in clear. Off by default.
    #[serde(default)]
    pub allow_plain_http: bool,
    /// A PEM file on the Switchyard host with the CA certificate(s) of the vCenter, trusted
    /// besides the system's. Operators only: it opens a path on the server.
    #[serde(default)]
    pub ca_file: Option<String>,
    /// The vCenter's CA certificate(s) themselves, PEM (at most 64 KiB): what tenants give.
    #[serde(default)]
    pub ca_pem: Option<String>,
    /// Events per page of the collector that follows new events, 10 to 1000 (default 10).
    /// Every change of the page carries the whole page, so a small page is much cheaper (see
    /// the README's benchmark); a burst that outruns the page is read back with
    /// ReadNextEvents, and so is the backlog after a pause, whatever this size.
    #[serde(default)]
    pub page_size: Option<u32>,
    /// The longest one wait for new events lasts before the poller checks in, ISO-8601
    /// (default `PT10S`). New events arrive as soon as vCenter reports them, not on this beat.
    #[serde(default)]
    pub poll_interval: Option<String>,
    /// On restart, events older than this (ISO-8601, default `PT1H`) are not replayed even if
    /// they came after the checkpoint.
    #[serde(default)]
    pub replay_window: Option<String>,
    /// How an event's data is encoded: `json` (default: the event as govmomi's
    /// `encoding/json` writes it) or `xml` (the SOAP element as vCenter sent it). Tanzu
    /// Sources' `application/json` and `application/xml` are accepted too.
    #[serde(default)]
    pub payload_encoding: PayloadEncoding,
}

/// How a vCenter source encodes its events' data.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PayloadEncoding {
    #[default]
    #[serde(alias = "application/json")]
    Json,
    #[serde(alias = "application/xml")]
    Xml,
}

impl VcenterConfig {
    /// Checks everything that can be checked without reaching the vCenter.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(pem) = &self.ca_pem {
            if pem.len() > MAX_CA_PEM_BYTES || !pem.contains("-----BEGIN CERTIFICATE-----") {
                return Err(format!(
                    "`caPem`: PEM certificates of at most {MAX_CA_PEM_BYTES} bytes"
                ));
            }
        }
        let url = url::Url::parse(&self.url).map_err(|e| format!("`url` `{}`: {e}", self.url))?;
        match url.scheme() {
            "https" => {}
            "http" if self.allow_plain_http => {}
            "http" => {
                return Err(format!(
                    "`url` `{}`: plain http sends the password in clear; use https, or set `allowPlainHttp: true`",
                    self.url
                ))
            }
            _ => return Err(format!("`url` `{}`: use https://host/sdk", self.url)),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("`url` must not carry credentials: use `username` and `password`".into());
        }
        if self.username.is_empty() || self.password.is_empty() {
            return Err("`username` and `password` are required".into());
        }
        if !(MIN_PAGE_SIZE..=MAX_PAGE_SIZE).contains(&self.page_size()) {
            return Err(format!(
                "`pageSize` must be {MIN_PAGE_SIZE} to {MAX_PAGE_SIZE}"
            ));
        }
        for (name, value) in [
            ("pollInterval", &self.poll_interval),
            ("replayWindow", &self.replay_window),
        ] {
            if let Some(text) = value {
                parse_iso8601(text).map_err(|_| {
                    format!("`{name}` `{text}`: use an ISO-8601 duration like PT5M")
                })?;
            }
        }
        if self.poll_interval().is_zero() {
            return Err("`pollInterval` must be more than zero".into());
        }
        Ok(())
    }

    pub fn page_size(&self) -> u32 {
        self.page_size.unwrap_or(MIN_PAGE_SIZE)
    }

    pub fn poll_interval(&self) -> Duration {
        duration_or(&self.poll_interval, Duration::from_secs(10))
    }

    pub fn replay_window(&self) -> Duration {
        duration_or(&self.replay_window, Duration::from_secs(3600))
    }
}

fn duration_or(text: &Option<String>, default: Duration) -> Duration {
    text.as_deref()
        .and_then(|t| parse_iso8601(t).ok())
        .unwrap_or(default)
}

/// Every vSphere event class (`Event` and all that descend from it) in govmomi's types,
/// generated with the vCenter source's type table by `scripts/vsphere-schema.py`.
pub fn vsphere_event_classes() -> impl Iterator<Item = &'static str> {
    include_str!("vsphere_event_classes.txt").lines()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_must_be_asked_for() {
        let mut config = VcenterConfig {
            url: "http://vc.example/sdk".into(),
            username: "u".into(),
            password: "p".into(),
            ..Default::default()
        };
        let error = config.validate().expect_err("plain http");
        assert!(error.contains("allowPlainHttp"), "{error}");
        config.allow_plain_http = true;
        assert!(config.validate().is_ok());
    }

    fn config(json: serde_json::Value) -> Result<VcenterConfig, String> {
        let config: VcenterConfig = serde_json::from_value(json).map_err(|e| e.to_string())?;
        config.validate().map(|()| config)
    }

    #[test]
    fn defaults_and_bounds() {
        let ok =
            config(serde_json::json!({"url": "https://vc/sdk", "username": "u", "password": "p"}))
                .expect("valid");
        assert_eq!(ok.page_size(), 10);
        assert_eq!(ok.poll_interval(), Duration::from_secs(10));
        assert_eq!(ok.replay_window(), Duration::from_secs(3600));
        let bad = [
            serde_json::json!({"url": "https://u:p@vc/sdk", "username": "u", "password": "p"}),
            serde_json::json!({"url": "vc", "username": "u", "password": "p"}),
            serde_json::json!({"url": "https://vc/sdk", "username": "u", "password": ""}),
            serde_json::json!({"url": "https://vc/sdk", "username": "u", "password": "p", "pageSize": 5000}),
            serde_json::json!({"url": "https://vc/sdk", "username": "u", "password": "p", "replayWindow": "5m"}),
            serde_json::json!({"url": "https://vc/sdk", "username": "u", "password": "p", "pageSze": 5}),
        ];
        for json in bad {
            assert!(config(json.clone()).is_err(), "{json}");
        }
    }
}
