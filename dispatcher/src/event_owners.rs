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
    /// Whether `event` may be delivered to `function` (its id).
    pub(crate) fn may_deliver(&self, event: &Event, function: &str) -> bool {
        let ingress = event
            .extension(INGRESS_EXTENSION)
            .map(|v| v.to_string())
            .unwrap_or_default();
        let source = (ingress != REPLY_INGRESS)
            .then(|| self.sources.get(&ingress))
            .flatten();
        // Events stored before the stamp existed belong to their source's namespace.
        let namespace = event
            .extension(NAMESPACE_EXTENSION)
            .map(|v| v.to_string())
            .or_else(|| source.as_ref().map(|s| s.namespace().to_string()))
            .unwrap_or_else(|| DEFAULT_NAMESPACE.to_string());
        let shared_with = source.map(|s| s.shared_with).unwrap_or_default();
        events::may_deliver(
            &self.organization_of(&namespace),
            &self.organization_of(split_qualified(function).1),
            &shared_with,
        )
    }

    fn organization_of(&self, namespace: &str) -> String {
        self.namespaces
            .read(|map| map.get(namespace).map(|n| n.organization().to_string()))
            .unwrap_or_else(|| DEFAULT_ORGANIZATION.to_string())
    }
}
