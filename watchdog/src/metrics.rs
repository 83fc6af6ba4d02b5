//! Prometheus metrics with the names OpenFaaS's watchdogs export.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry, TextEncoder,
};

pub(crate) struct Metrics {
    registry: Registry,
    pub(crate) requests_total: IntCounterVec,
    pub(crate) request_duration: HistogramVec,
    pub(crate) in_flight: IntGauge,
}

impl Metrics {
    pub(crate) fn new() -> Self {
        let registry = Registry::new();
        let requests_total = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "Function requests by status code and method",
            ),
            &["code", "method"],
        )
        .expect("static metric definition");
        let request_duration = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "Function request duration in seconds",
            ),
            &["code", "method"],
        )
        .expect("static metric definition");
        let in_flight = IntGauge::new("http_requests_in_flight", "Function requests being served")
            .expect("static metric definition");
        for collector in [
            Box::new(requests_total.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(request_duration.clone()),
            Box::new(in_flight.clone()),
        ] {
            registry
                .register(collector)
                .expect("metric names are unique");
        }
        Metrics {
            registry,
            requests_total,
            request_duration,
            in_flight,
        }
    }

    pub(crate) fn render(&self) -> String {
        let mut buffer = Vec::new();
        // Encoding our own well-formed families into a Vec cannot fail.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buffer);
        String::from_utf8_lossy(&buffer).into_owned()
    }
}
