use serde::{Deserialize, Serialize};

/// Where one ready replica of a function listens. Written by the provider that runs it, read by
/// dispatchers (to route calls) and gateways (to count available replicas).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    pub function: String,
    /// Unique among the function's replicas; also the last token of the KV key.
    pub replica: String,
    /// Base URL of the replica's watchdog, e.g. `http://127.0.0.1:41234`.
    pub url: String,
}

impl Endpoint {
    /// The KV key of this endpoint: `<function>.<replica>`.
    pub fn key(&self) -> String {
        format!("{}.{}", self.function, self.replica)
    }
}
