//! Whose an event is, for the router: the organization owning the namespace the event was
//! stamped with when it was stored (its source's, or its replying function's), compared with
//! the organization of the function a route would deliver it to. A source's `sharedWith`
//! opens its events to other organizations.

use cloudevents::Event;
use switchyard_broker::cache::KvCache;
use switchyard_broker::events::{self, INGRESS_EXTENSION, NAMESPACE_EXTENSION, REPLY_INGRESS};
use switchyard_broker::records::{
    split_qualified, EventSource, Namespace, DEFAULT_NAMESPACE, DEFAULT_ORGANIZATION,
};

#[derive(Clone)]
pub(crate) struct EventOwners {
    pub(crate) namespaces: KvCache<Namespace>,
    pub(crate) sources: KvCache<EventSource>,
}

impl EventOwners {
    /// Whether `event` may be delivered to `function` (its id). Reads the caches in place:
    /// this runs for every event on every route.
    pub(crate) fn may_deliver(&self, event: &Event, function: &str) -> bool {
        let ingress = event.extension(INGRESS_EXTENSION).map(|v| v.to_string());
        let stamped = event.extension(NAMESPACE_EXTENSION).map(|v| v.to_string());
        let function_namespace = split_qualified(function).1;
        self.namespaces.read(|namespaces| {
            let organization = |namespace: &str| {
                namespaces
                    .get(namespace)
                    .map_or(DEFAULT_ORGANIZATION, |n| n.organization())
                    .to_string()
            };
            let function_organization = organization(function_namespace);
            self.sources.read(|sources| {
                let source = ingress
                    .as_deref()
                    .filter(|i| *i != REPLY_INGRESS)
                    .and_then(|i| sources.get(i));
                // Events stored before the stamp existed belong to their source's namespace.
                let namespace = stamped
                    .as_deref()
                    .or_else(|| source.map(EventSource::namespace))
                    .unwrap_or(DEFAULT_NAMESPACE);
                let shared_with = source.map_or(&[][..], |s| &s.shared_with[..]);
                events::may_deliver(
                    &organization(namespace),
                    &function_organization,
                    shared_with,
                )
            })
        })
    }
}
