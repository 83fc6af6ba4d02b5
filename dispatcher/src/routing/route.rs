//! One route: an explicit subscription, or a function's `topic` annotation, and the invocation
//! it makes of an event.

use cloudevents::{AttributesReader, Event};
use switchyard_broker::codec;
use switchyard_broker::consumers;
use switchyard_broker::events::{self, DeliveryMode, Filter, Subscription, HOPS_EXTENSION};
use switchyard_broker::invocation::Invocation;
use switchyard_broker::records::FunctionSpec;

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Route {
    /// What routed call ids are keyed with (`sy-sub-<name>` or `sy-topic-<function>`).
    pub(crate) key: String,
    /// Set for explicit subscriptions: its delivery policy applies to the invocations.
    pub(crate) subscription: Option<String>,
    pub(crate) function: String,
    pub(crate) filters: Vec<Filter>,
    /// The first `SY_EVENTS` sequence the router delivers through this route (earlier ones
    /// come from its replay, if it asked for them).
    pub(crate) live_from: u64,
    pub(crate) mode: DeliveryMode,
    /// Each event waits this long before it is delivered (`delivery.delay`).
    pub(crate) delay: Option<std::time::Duration>,
}

impl Route {
    pub(crate) fn explicit(s: &Subscription) -> Self {
        Route {
            key: consumers::subscription(&s.name),
            subscription: Some(s.name.clone()),
            function: s.function.clone(),
            filters: s.filters.clone(),
            live_from: s.start_sequence.unwrap_or(0),
            mode: s.mode,
            delay: s.delay(),
        }
    }

    /// `topic: A,B` matches events whose `subject` or `type` is A or B.
    pub(crate) fn topic(spec: &FunctionSpec) -> Option<Self> {
        let topics: Vec<&str> = spec
            .annotation("topic")?
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .collect();
        if topics.is_empty() {
            return None;
        }
        let any = topics
            .iter()
            .flat_map(|t| {
                ["subject", "type"]
                    .map(|attribute| Filter::Exact([(attribute.to_string(), t.to_string())].into()))
            })
            .collect();
        Some(Route {
            key: consumers::topic(&spec.name()),
            subscription: None,
            function: spec.name(),
            filters: vec![Filter::Any(any)],
            live_from: spec.topic_start_sequence.unwrap_or(0),
            mode: DeliveryMode::Binary,
            delay: None,
        })
    }

    pub(crate) fn matches(&self, event: &Event) -> bool {
        self.filters.iter().all(|f| f.matches(event))
    }

    /// The invocation delivering `event` through this route: a CloudEvents HTTP request in
    /// binary mode (attributes in `ce-` headers) or structured mode (the event as JSON). Its
    /// call id is derived from (route, ingress, source, id): the same event routed twice is
    /// the same job.
    pub(crate) fn invocation(&self, routing_key: &[u8], event: &Event) -> Invocation {
        let ingress = event
            .extension(events::INGRESS_EXTENSION)
            .map(|v| v.to_string())
            .unwrap_or_default();
        let call_id =
            events::routed_call_id(routing_key, &self.key, &ingress, event.source(), event.id());
        let hops = event
            .extension(HOPS_EXTENSION)
            .and_then(|v| v.to_string().parse::<u32>().ok())
            .unwrap_or(0);
        let (headers, content_type, body) = match self.mode {
            DeliveryMode::Binary => {
                let (nats_headers, payload) = codec::encode_binary(event);
                let mut headers = Vec::new();
                for (name, values) in nats_headers.iter() {
                    let name: &str = name.as_ref();
                    if name.eq_ignore_ascii_case("content-type") {
                        continue;
                    }
                    for value in values {
                        headers.push((name.to_string(), value.as_str().to_string()));
                    }
                }
                (
                    headers,
                    event.datacontenttype().map(str::to_string),
                    payload,
                )
            }
            DeliveryMode::Structured => {
                let payload = codec::encode_structured(event)
                    .map(|(_, p)| p)
                    .unwrap_or_default();
                (
                    Vec::new(),
                    Some(codec::STRUCTURED_CONTENT_TYPE.to_string()),
                    payload,
                )
            }
        };
        Invocation {
            call_id,
            function: self.function.clone(),
            method: "POST".to_string(),
            path: "/".to_string(),
            query: None,
            content_type,
            headers,
            body,
            time: chrono::Utc::now(),
            callback_url: None,
            subscription: self.subscription.clone(),
            hops,
        }
    }
}
