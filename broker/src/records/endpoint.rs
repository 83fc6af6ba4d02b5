use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// An endpoint whose heartbeat is older than this is considered gone (its provider died without
/// removing it). Providers refresh their endpoints well within it.
pub const ENDPOINT_STALE_AFTER: Duration = Duration::from_secs(30);

/// Where one ready replica of a function listens. Written by the provider that runs it, read by
/// dispatchers (to route calls) and gateways (to count available replicas).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    pub function: String,
    /// Unique among the function's replicas; also the last token of the KV key.
    pub replica: String,
    /// Base URL of the replica's watchdog, e.g. `http://127.0.0.1:41234`.
    pub url: String,
    /// Last time the provider confirmed the replica is ready.
    pub heartbeat: DateTime<Utc>,
    /// What the replica's watchdog wants in [`REPLICA_TOKEN_HEADER`] (process replicas: so
    /// that other functions on the host cannot call it directly). Kept in NATS, which only
    /// Switchyard's parts can read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

/// Replicas of external functions (`com.switchyard.endpoint`) are listed as `<function>.x<n>`:
/// addresses a tenant chose, not watchdogs Switchyard started.
pub const EXTERNAL_REPLICA_PREFIX: &str = "x";

/// The request header a replica's token travels in (the watchdog's `replica_token`).
pub const REPLICA_TOKEN_HEADER: &str = "x-switchyard-replica-token";

impl Endpoint {
    /// The KV key of this endpoint: `<function>.<replica>`.
    pub fn key(&self) -> String {
        format!("{}.{}", self.function, self.replica)
    }

    /// True for the endpoint of an external function, whose address a tenant chose.
    pub fn is_external(&self) -> bool {
        self.replica.starts_with(EXTERNAL_REPLICA_PREFIX)
    }

    /// True while the provider keeps confirming the replica.
    pub fn is_fresh(&self, now: DateTime<Utc>) -> bool {
        now.signed_duration_since(self.heartbeat)
            .to_std()
            .map_or(true, |age| age < ENDPOINT_STALE_AFTER)
    }
}

/// How many fresh endpoints each function has, in one pass over the directory (a listing of
/// thousands of functions must not scan it once per function).
pub fn ready_counts(
    map: &std::collections::HashMap<String, Endpoint>,
) -> std::collections::HashMap<String, u64> {
    let now = Utc::now();
    let mut counts = std::collections::HashMap::new();
    for endpoint in map.values().filter(|e| e.is_fresh(now)) {
        *counts.entry(endpoint.function.clone()).or_insert(0) += 1;
    }
    counts
}

/// The fresh endpoints of `function` in a cached endpoint map, in key order.
pub fn endpoints_of<'a>(
    map: &'a std::collections::HashMap<String, Endpoint>,
    function: &str,
) -> Vec<&'a Endpoint> {
    let now = Utc::now();
    let mut found: Vec<&Endpoint> = map
        .values()
        .filter(|e| e.function == function && e.is_fresh(now))
        .collect();
    found.sort_by(|a, b| a.replica.cmp(&b.replica));
    found
}
