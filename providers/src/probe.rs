//! Readiness probes of a watchdog: `GET /_/health`, the one path every watchdog OpenFaaS ships
//! answers itself (the classic watchdog runs the function for any other path, `/_/ready`
//! included) and ours answers once its function can take calls.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::Empty;
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use switchyard_broker::records::REPLICA_TOKEN_HEADER;

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

    /// True when `GET {base}/_/health` answers 200 in time.
    pub(crate) async fn ready(&self, base: &str) -> bool {
        self.ready_with(base, None).await
    }

    /// [`Self::ready`] of a watchdog that wants its replica token.
    pub(crate) async fn ready_with(&self, base: &str, token: Option<&str>) -> bool {
        let mut request = http::Request::get(format!("{base}/_/health"));
        if let Some(token) = token {
            request = request.header(REPLICA_TOKEN_HEADER, token);
        }
        let Ok(request) = request.body(Empty::new()) else {
            return false;
        };
        matches!(
            tokio::time::timeout(PROBE_TIMEOUT, self.client.request(request)).await,
            Ok(Ok(response)) if response.status().is_success()
        )
    }
}
