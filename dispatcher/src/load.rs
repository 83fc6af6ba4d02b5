//! What this dispatcher has in flight and has finished, per function, reported on NATS about
//! once a second for the autoscaler ([`switchyard_broker::load`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use switchyard_broker::load::{FunctionLoad, LoadReport};
use switchyard_broker::subjects;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

const REPORT_EVERY: Duration = Duration::from_secs(1);

/// Per-function counters, shared by every delivery.
#[derive(Clone, Default)]
pub(crate) struct Load {
    functions: Arc<Mutex<HashMap<String, FunctionLoad>>>,
}

/// A call in flight: counted finished when dropped.
pub(crate) struct InFlight {
    load: Load,
    function: String,
}

impl Load {
    pub(crate) fn start(&self, function: &str) -> InFlight {
        if let Ok(mut functions) = self.functions.lock() {
            functions.entry(function.to_string()).or_default().in_flight += 1;
        }
        InFlight {
            load: self.clone(),
            function: function.to_string(),
        }
    }

    fn snapshot(&self) -> HashMap<String, FunctionLoad> {
        self.functions.lock().map(|f| f.clone()).unwrap_or_default()
    }

    /// Publishes a report every second until `shutdown`.
    pub(crate) fn report(
        &self,
        nats: async_nats::Client,
        shutdown: CancellationToken,
    ) -> JoinHandle<()> {
        let load = self.clone();
        let dispatcher = uuid::Uuid::new_v4().simple().to_string();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(REPORT_EVERY);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    () = shutdown.cancelled() => return,
                }
                let report = LoadReport {
                    dispatcher: dispatcher.clone(),
                    functions: load.snapshot().into_iter().collect(),
                    at: chrono::Utc::now(),
                };
                if let Err(error) = nats.publish(subjects::LOAD, report.to_bytes()).await {
                    tracing::debug!(%error, "load report not sent");
                }
            }
        })
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Ok(mut functions) = self.load.functions.lock() {
            let entry = functions
                .entry(std::mem::take(&mut self.function))
                .or_default();
            entry.in_flight = entry.in_flight.saturating_sub(1);
            entry.finished += 1;
        }
    }
}
