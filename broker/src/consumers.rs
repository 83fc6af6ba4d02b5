//! Durable JetStream consumer names. Every dispatcher binds to the same names, so the work of
//! one consumer is shared among them.

/// The consumer of `function`'s invocations on `SY_INVOCATIONS`.
pub fn worker(function: &str) -> String {
    format!("sy-worker-{}", without_dots(function))
}

/// A function id in a consumer name, which may not hold a dot: `name.namespace` becomes
/// `name~namespace` (neither part can hold a `~`).
fn without_dots(function: &str) -> String {
    function.replace('.', "~")
}

/// The consumer of `SY_EVENTS` that keeps the event catalog (see [`crate::catalog`]).
pub const CATALOG: &str = "sy-catalog";

/// The consumer of `SY_DELAYED` that moves jobs come due to `SY_INVOCATIONS`.
pub const DUE: &str = "sy-due";

/// The consumer of `SY_CALLBACKS`.
pub const CALLBACKS: &str = "sy-callbacks";

/// The consumer of `SY_EVENTS` shared by every dispatcher's event router: it reads each event
/// once, whatever the number of subscriptions.
pub const ROUTER: &str = "sy-router";

/// The route of the subscription `name`: the key of its routed call ids and, before the shared
/// router, the name of its own consumer of `SY_EVENTS` (one left from then is read to its end).
pub fn subscription(name: &str) -> String {
    format!("sy-sub-{name}")
}

/// The route of `function`'s `topic` annotation (as [`subscription`]).
pub fn topic(function: &str) -> String {
    format!("sy-topic-{}", without_dots(function))
}

/// The consumer replaying the events the subscription `name` asked for (`startAt: all` or a
/// time) that were stored before it was created; the router delivers the rest.
pub fn replay(name: &str) -> String {
    format!("sy-replay-{name}")
}

/// The route a consumer of `SY_EVENTS` other than the router reads for: a replay, or a
/// consumer left from before the shared router.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventsConsumer {
    Replay { subscription: String },
    Subscription { subscription: String },
    Topic { function: String },
}

/// What the consumer `name` of `SY_EVENTS` is for; `None` for the router and the catalog.
pub fn parse_events_consumer(name: &str) -> Option<EventsConsumer> {
    if let Some(subscription) = name.strip_prefix("sy-replay-") {
        return Some(EventsConsumer::Replay {
            subscription: subscription.to_string(),
        });
    }
    if let Some(subscription) = name.strip_prefix("sy-sub-") {
        return Some(EventsConsumer::Subscription {
            subscription: subscription.to_string(),
        });
    }
    name.strip_prefix("sy-topic-")
        .map(|function| EventsConsumer::Topic {
            function: function.replace('~', "."),
        })
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_are_distinct_per_kind() {
        assert_ne!(super::subscription("a"), super::topic("a"));
        assert_ne!(super::worker("a"), super::topic("a"));
        assert_eq!(super::worker("echo"), "sy-worker-echo");
        assert_eq!(super::worker("echo.team-a"), "sy-worker-echo~team-a");
    }

    #[test]
    fn events_consumers_name_their_route() {
        use super::{parse_events_consumer, EventsConsumer};
        assert_eq!(
            parse_events_consumer(&super::replay("s")),
            Some(EventsConsumer::Replay {
                subscription: "s".into()
            })
        );
        assert_eq!(
            parse_events_consumer(&super::subscription("s")),
            Some(EventsConsumer::Subscription {
                subscription: "s".into()
            })
        );
        assert_eq!(
            parse_events_consumer(&super::topic("f.team-a")),
            Some(EventsConsumer::Topic {
                function: "f.team-a".into()
            })
        );
        assert_eq!(parse_events_consumer(super::ROUTER), None);
        assert_eq!(parse_events_consumer(super::CATALOG), None);
    }
}
