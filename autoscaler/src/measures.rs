//! The load the autoscaler scales on, per function id: calls in flight and finished per second,
//! summed over the dispatchers' latest load reports, and jobs waiting in JetStream.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_nats::jetstream;
use futures::StreamExt;
use switchyard_broker::jobs::queue;
use switchyard_broker::load::LoadReport;
use switchyard_broker::subjects;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// A dispatcher that has not reported for this long is gone: its load no longer counts.
const REPORT_STALE_AFTER: Duration = Duration::from_secs(5);

/// One dispatcher's two latest reports (the rate needs two).
struct Reports {
    latest: LoadReport,
    previous: Option<LoadReport>,
    received: Instant,
}

/// The dispatchers' reports as they arrive.
#[derive(Clone, Default)]
pub struct Measures {
    dispatchers: Arc<Mutex<HashMap<String, Reports>>>,
}

impl Measures {
    /// Follows the load reports on `nats` until `shutdown`.
    pub async fn follow(
        &self,
        nats: &async_nats::Client,
        shutdown: CancellationToken,
    ) -> Result<JoinHandle<()>, async_nats::SubscribeError> {
        let mut reports = nats.subscribe(subjects::LOAD).await?;
        let measures = self.clone();
        Ok(tokio::spawn(async move {
            loop {
                let message = tokio::select! {
                    message = reports.next() => match message { Some(m) => m, None => return },
                    () = shutdown.cancelled() => return,
                };
                if let Some(report) = LoadReport::from_bytes(&message.payload) {
                    measures.add(report, Instant::now());
                }
            }
        }))
    }

    pub fn add(&self, report: LoadReport, received: Instant) {
        let Ok(mut dispatchers) = self.dispatchers.lock() else {
            return;
        };
        let previous = dispatchers.remove(&report.dispatcher).map(|r| r.latest);
        dispatchers.insert(
            report.dispatcher.clone(),
            Reports {
                latest: report,
                previous,
                received,
            },
        );
    }

    /// Calls of `function` in flight now, over every live dispatcher.
    pub fn in_flight(&self, function: &str, now: Instant) -> f64 {
        self.live(now, |reports| {
            reports
                .latest
                .functions
                .get(function)
                .map_or(0.0, |l| l.in_flight as f64)
        })
    }

    /// Calls of `function` finished per second, between each live dispatcher's last two reports.
    pub fn rate(&self, function: &str, now: Instant) -> f64 {
        self.live(now, |reports| {
            let Some(previous) = &reports.previous else {
                return 0.0;
            };
            let finished = |r: &LoadReport| r.functions.get(function).map_or(0, |l| l.finished);
            let seconds = (reports.latest.at - previous.at).num_milliseconds() as f64 / 1000.0;
            let done = finished(&reports.latest).saturating_sub(finished(previous)) as f64;
            if seconds > 0.0 {
                done / seconds
            } else {
                0.0
            }
        })
    }

    fn live(&self, now: Instant, each: impl Fn(&Reports) -> f64) -> f64 {
        let Ok(mut dispatchers) = self.dispatchers.lock() else {
            return 0.0;
        };
        dispatchers.retain(|_, r| now.duration_since(r.received) < REPORT_STALE_AFTER);
        dispatchers.values().map(each).sum()
    }
}

/// Jobs waiting or running per function (none when the queue cannot be read now).
pub async fn queued(js: &jetstream::Context) -> HashMap<String, u64> {
    queue::waiting_by_function(js).await.unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_broker::load::FunctionLoad;

    fn report(dispatcher: &str, in_flight: u64, finished: u64, at_ms: i64) -> LoadReport {
        LoadReport {
            dispatcher: dispatcher.into(),
            functions: [(
                "f".to_string(),
                FunctionLoad {
                    in_flight,
                    finished,
                },
            )]
            .into(),
            at: chrono::DateTime::from_timestamp_millis(at_ms).expect("time"),
        }
    }

    #[test]
    fn loads_add_up_over_dispatchers_and_stale_ones_drop_out() {
        let measures = Measures::default();
        let start = Instant::now();
        measures.add(report("a", 3, 10, 0), start);
        measures.add(report("a", 4, 30, 1000), start);
        measures.add(report("b", 2, 5, 0), start);
        measures.add(report("b", 1, 15, 500), start);
        assert_eq!(measures.in_flight("f", start), 5.0);
        assert_eq!(measures.rate("f", start), 20.0 + 20.0);
        assert_eq!(measures.in_flight("other", start), 0.0);
        assert_eq!(measures.in_flight("f", start + Duration::from_secs(6)), 0.0);
    }
}
