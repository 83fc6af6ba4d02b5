//! Metrics of the vCenter pollers, labelled by source name.

use prometheus::{Gauge, GaugeVec, IntCounterVec, Opts, Registry};

#[derive(Clone)]
pub(crate) struct Metrics {
    /// Events read from vCenter pages (each event once, however many pages carried it).
    pub(crate) read: IntCounterVec,
    pub(crate) published: IntCounterVec,
    /// Seconds from an event's creation in vCenter to its storage in `SY_EVENTS`.
    pub(crate) lag: GaugeVec,
    pub(crate) reconnects: IntCounterVec,
    /// Gaps between two pages read back with ReadNextEvents.
    pub(crate) backfills: IntCounterVec,
    pub(crate) errors: IntCounterVec,
    /// When the last error happened (Unix seconds); its text is in the source's status.
    pub(crate) last_error: GaugeVec,
}

fn counter(name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    IntCounterVec::new(Opts::new(name, help), labels).expect("static metric definition")
}

fn gauge(name: &str, help: &str) -> GaugeVec {
    GaugeVec::new(Opts::new(name, help), &["source"]).expect("static metric definition")
}

impl Metrics {
    pub(crate) fn new(registry: &Registry) -> Self {
        let metrics = Self {
            read: counter(
                "switchyard_vcenter_events_read_total",
                "New events read from vCenter",
                &["source"],
            ),
            published: counter(
                "switchyard_vcenter_events_published_total",
                "Events stored in SY_EVENTS",
                &["source"],
            ),
            lag: gauge(
                "switchyard_vcenter_lag_seconds",
                "Seconds from the last event's creation in vCenter to its storage",
            ),
            reconnects: counter(
                "switchyard_vcenter_reconnects_total",
                "Sessions opened again after a failure",
                &["source"],
            ),
            backfills: counter(
                "switchyard_vcenter_backfills_total",
                "Gaps between two collector pages read back from vCenter",
                &["source"],
            ),
            errors: counter(
                "switchyard_vcenter_errors_total",
                "Failures, by kind",
                &["source", "kind"],
            ),
            last_error: gauge(
                "switchyard_vcenter_last_error_timestamp_seconds",
                "When the last failure happened",
            ),
        };
        for collector in [
            Box::new(metrics.read.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(metrics.published.clone()),
            Box::new(metrics.lag.clone()),
            Box::new(metrics.reconnects.clone()),
            Box::new(metrics.backfills.clone()),
            Box::new(metrics.errors.clone()),
            Box::new(metrics.last_error.clone()),
        ] {
            if let Err(error) = registry.register(collector) {
                tracing::debug!(%error, "metric already registered");
            }
        }
        metrics
    }

    pub(crate) fn lag_of(&self, source: &str) -> Gauge {
        self.lag.with_label_values(&[source])
    }
}
