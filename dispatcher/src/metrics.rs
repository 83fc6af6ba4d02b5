//! Metrics of asynchronous jobs and callbacks.

use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry};

#[derive(Clone)]
pub(crate) struct Metrics {
    /// Jobs waiting in the queue, per function (from the consumer's pending count).
    pub(crate) queued: IntGaugeVec,
    pub(crate) in_flight: IntGaugeVec,
    pub(crate) finished: IntCounterVec,
    pub(crate) retries: IntCounterVec,
    pub(crate) dead_letters: IntCounterVec,
    pub(crate) duration: HistogramVec,
    pub(crate) callback_failures: IntCounterVec,
}

impl Metrics {
    /// Creates the metrics and registers them in `registry` (already registered ones, from a
    /// second dispatcher in the same process, are reused).
    pub(crate) fn new(registry: &Registry) -> Self {
        let metrics = Metrics {
            queued: IntGaugeVec::new(
                Opts::new("switchyard_jobs_queued", "Jobs waiting to run"),
                &["function_name"],
            )
            .expect("static metric definition"),
            in_flight: IntGaugeVec::new(
                Opts::new("switchyard_jobs_in_flight", "Jobs running"),
                &["function_name"],
            )
            .expect("static metric definition"),
            finished: IntCounterVec::new(
                Opts::new(
                    "switchyard_jobs_finished_total",
                    "Jobs finished, by final status",
                ),
                &["function_name", "status"],
            )
            .expect("static metric definition"),
            retries: IntCounterVec::new(
                Opts::new("switchyard_job_retries_total", "Job attempts retried"),
                &["function_name"],
            )
            .expect("static metric definition"),
            dead_letters: IntCounterVec::new(
                Opts::new("switchyard_dead_letters_total", "Jobs copied to SY_DEAD"),
                &["function_name"],
            )
            .expect("static metric definition"),
            duration: HistogramVec::new(
                HistogramOpts::new(
                    "switchyard_job_duration_seconds",
                    "Time from a job's first attempt to its end",
                ),
                &["function_name", "status"],
            )
            .expect("static metric definition"),
            callback_failures: IntCounterVec::new(
                Opts::new(
                    "switchyard_callback_failures_total",
                    "Callback attempts that failed",
                ),
                &["function_name"],
            )
            .expect("static metric definition"),
        };
        for collector in [
            Box::new(metrics.queued.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(metrics.in_flight.clone()),
            Box::new(metrics.finished.clone()),
            Box::new(metrics.retries.clone()),
            Box::new(metrics.dead_letters.clone()),
            Box::new(metrics.duration.clone()),
            Box::new(metrics.callback_failures.clone()),
        ] {
            if let Err(error) = registry.register(collector) {
                tracing::debug!(%error, "metric already registered");
            }
        }
        metrics
    }
}
