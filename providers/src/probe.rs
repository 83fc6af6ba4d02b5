//! Readiness probes of a watchdog.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::Empty;
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;

const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Clone)]
pub(crate) struct Prober {
    client: Client<HttpConnector, Empty<Bytes>>,
}

impl Prober {
    pub(crate) fn new() -> Self {
        Prober {
            client: Client::builder(TokioExecutor::new()).build(HttpConnector::new()),
        }
    }

    /// True when `GET {base}/_/ready` answers 200 in time.
    pub(crate) async fn ready(&self, base: &str) -> bool {
        let Ok(uri) = format!("{base}/_/ready").parse() else {
            return false;
        };
        matches!(
            tokio::time::timeout(PROBE_TIMEOUT, self.client.get(uri)).await,
            Ok(Ok(response)) if response.status().is_success()
        )
    }
}
