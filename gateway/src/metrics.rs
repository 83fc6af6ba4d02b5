//! Gateway metrics, with OpenFaaS's names.

use std::collections::HashMap;

use prometheus::core::Collector;
use prometheus::{
    Encoder, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder,
};
use switchyard_broker::records::{qualify, split_qualified};

pub(crate) struct Metrics {
    registry: Registry,
    pub(crate) invocations: IntCounterVec,
    pub(crate) started: IntCounterVec,
    pub(crate) seconds: HistogramVec,
    pub(crate) service_count: GaugeVec,
    /// Requests to `/system` whose credentials were refused, and refused changes the audit
    /// log did not record (over the per-principal limit).
    refusals: IntCounterVec,
}

impl Metrics {
    /// Creates the gateway's metrics in `registry`, which `/metrics` renders whole (in solo
    /// mode it also holds the dispatcher's).
    pub(crate) fn new(registry: &Registry) -> Self {
        let registry = registry.clone();
        let invocations = IntCounterVec::new(
            Opts::new(
                "gateway_function_invocation_total",
                "Function invocations by status code",
            ),
            &["function_name", "code"],
        )
        .expect("static metric definition");
        let started = IntCounterVec::new(
            Opts::new(
                "gateway_function_invocation_started",
                "Function invocations started",
            ),
            &["function_name"],
        )
        .expect("static metric definition");
        let seconds = HistogramVec::new(
            HistogramOpts::new(
                "gateway_functions_seconds",
                "Function invocation time taken",
            ),
            &["function_name", "code"],
        )
        .expect("static metric definition");
        let service_count = GaugeVec::new(
            Opts::new("gateway_service_count", "Ready replicas per function"),
            &["function_name"],
        )
        .expect("static metric definition");
        let refusals = IntCounterVec::new(
            Opts::new(
                "switchyard_access_refusals_total",
                "Requests refused for their credentials (credentials), and refused changes not written to the audit log (unrecorded)",
            ),
            &["kind"],
        )
        .expect("static metric definition");
        for collector in [
            Box::new(invocations.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(refusals.clone()),
            Box::new(started.clone()),
            Box::new(seconds.clone()),
            Box::new(service_count.clone()),
        ] {
            registry
                .register(collector)
                .expect("metric names are unique");
        }
        Metrics {
            registry,
            invocations,
            started,
            seconds,
            service_count,
            refusals,
        }
    }

    pub(crate) fn count_refused_credentials(&self) {
        self.refusals.with_label_values(&["credentials"]).inc();
    }

    pub(crate) fn count_unrecorded_denial(&self) {
        self.refusals.with_label_values(&["unrecorded"]).inc();
    }

    /// Invocations so far per function (all status codes together), keyed by function name.
    pub(crate) fn invocation_counts(&self) -> HashMap<String, u64> {
        let mut counts = HashMap::new();
        for metric in self
            .invocations
            .collect()
            .iter()
            .flat_map(|family| family.get_metric())
        {
            let function = metric
                .get_label()
                .iter()
                .find(|l| l.name() == "function_name")
                .map(|l| {
                    let (name, namespace) = split_qualified(l.value());
                    qualify(name, Some(namespace))
                });
            if let Some(function) = function {
                *counts.entry(function).or_insert(0) += metric.get_counter().get_value() as u64;
            }
        }
        counts
    }

    pub(crate) fn render(&self) -> String {
        let mut buffer = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buffer);
        String::from_utf8_lossy(&buffer).into_owned()
    }
}

/// Functions are labelled `name.namespace`, as OpenFaaS does, whatever their namespace.
pub(crate) fn metric_name(function: &str) -> String {
    let (name, namespace) = split_qualified(function);
    format!("{name}.{namespace}")
}
