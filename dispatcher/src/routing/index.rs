//! The routes an event may match, found without testing every route: each route is filed
//! under one condition its filters require (an attribute equal to a value, or starting with
//! one), and an event looks up only its own attributes' values. A route whose filters require
//! nothing indexable (only `suffix` or `not`) is tested for every event. Candidates are then
//! matched in full.

use std::collections::HashMap;
use std::sync::Arc;

use cloudevents::Event;
use switchyard_broker::events::{attribute, Filter};

use super::route::Route;

/// A condition that must hold for a route to match.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Anchor {
    Exact(String, String),
    Prefix(String, String),
}

/// Attribute → value → routes.
type Table = HashMap<String, HashMap<String, Vec<usize>>>;

#[derive(Default)]
pub(crate) struct RouteIndex {
    routes: Vec<Arc<Route>>,
    exact: Table,
    prefix: Table,
    /// Routes tested for every event.
    unanchored: Vec<usize>,
}

impl RouteIndex {
    pub(crate) fn new(routes: impl IntoIterator<Item = Route>) -> Self {
        let mut index = RouteIndex::default();
        for route in routes {
            let position = index.routes.len();
            match anchors_of_all(&route.filters) {
                Some(anchors) => {
                    for anchor in anchors {
                        let (table, name, value) = match anchor {
                            Anchor::Exact(n, v) => (&mut index.exact, n, v),
                            Anchor::Prefix(n, v) => (&mut index.prefix, n, v),
                        };
                        let slot = table.entry(name).or_default().entry(value).or_default();
                        if slot.last() != Some(&position) {
                            slot.push(position);
                        }
                    }
                }
                None => index.unanchored.push(position),
            }
            index.routes.push(Arc::new(route));
        }
        index
    }

    pub(crate) fn len(&self) -> usize {
        self.routes.len()
    }

    pub(crate) fn routes(&self) -> &[Arc<Route>] {
        &self.routes
    }

    /// The routes `event` matches, each once, in the order they were given.
    pub(crate) fn matching(&self, event: &Event) -> Vec<Arc<Route>> {
        let mut candidates: Vec<usize> = self.unanchored.clone();
        for (name, values) in &self.exact {
            if let Some(found) = attribute(event, name).and_then(|value| values.get(&value)) {
                candidates.extend(found);
            }
        }
        for (name, prefixes) in &self.prefix {
            let Some(value) = attribute(event, name) else {
                continue;
            };
            let ends = value
                .char_indices()
                .map(|(i, _)| i)
                .chain(std::iter::once(value.len()));
            for end in ends {
                if let Some(found) = prefixes.get(&value[..end]) {
                    candidates.extend(found);
                }
            }
        }
        candidates.sort_unstable();
        candidates.dedup();
        candidates
            .into_iter()
            .map(|i| &self.routes[i])
            .filter(|route| route.matches(event))
            .cloned()
            .collect()
    }
}

/// Conditions of which at least one holds whenever all of `filters` match, or `None` when
/// there are none to use.
fn anchors_of_all(filters: &[Filter]) -> Option<Vec<Anchor>> {
    filters.iter().find_map(anchors)
}

fn anchors(filter: &Filter) -> Option<Vec<Anchor>> {
    // `type` is the most telling attribute; any other will do.
    let pick = |map: &std::collections::BTreeMap<String, String>| {
        map.get_key_value("type")
            .or_else(|| map.iter().next())
            .map(|(n, v)| (n.clone(), v.clone()))
    };
    match filter {
        Filter::Exact(map) => pick(map).map(|(n, v)| vec![Anchor::Exact(n, v)]),
        Filter::Prefix(map) => pick(map).map(|(n, v)| vec![Anchor::Prefix(n, v)]),
        Filter::All(filters) => anchors_of_all(filters),
        Filter::Any(filters) => {
            let mut all = Vec::new();
            for filter in filters {
                all.extend(anchors(filter)?);
            }
            (!all.is_empty()).then_some(all)
        }
        Filter::Suffix(_) | Filter::Not(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use cloudevents::{EventBuilder, EventBuilderV10};
    use switchyard_broker::events::DeliveryMode;

    use super::*;

    fn route(key: &str, filters: &str) -> Route {
        Route {
            key: key.to_string(),
            subscription: Some(key.to_string()),
            function: "f".to_string(),
            filters: serde_json::from_str(filters).expect("filters"),
            live_from: 0,
            mode: DeliveryMode::Binary,
            delay: None,
        }
    }

    fn event(ty: &str, source: &str, subject: Option<&str>) -> Event {
        let mut builder = EventBuilderV10::new().id("1").ty(ty).source(source);
        if let Some(subject) = subject {
            builder = builder.subject(subject);
        }
        builder.build().expect("event")
    }

    fn keys(routes: Vec<Arc<Route>>) -> Vec<String> {
        routes.iter().map(|r| r.key.clone()).collect()
    }

    #[test]
    fn an_event_finds_exactly_the_routes_that_match() {
        let index = RouteIndex::new([
            route("by-type", r#"[{"exact":{"type":"vm.created"}}]"#),
            route("other-type", r#"[{"exact":{"type":"vm.deleted"}}]"#),
            route("by-source", r#"[{"exact":{"source":"/vc"}}]"#),
            route("by-prefix", r#"[{"prefix":{"type":"vm."}}]"#),
            route("empty-prefix", r#"[{"prefix":{"type":""}}]"#),
            route("everything", r#"[]"#),
            route("suffix", r#"[{"suffix":{"type":".created"}}]"#),
            route("not", r#"[{"not":{"exact":{"type":"vm.created"}}}]"#),
            route(
                "any",
                r#"[{"any":[{"exact":{"subject":"vm-1"}},{"exact":{"type":"host.added"}}]}]"#,
            ),
            route(
                "all",
                r#"[{"all":[{"exact":{"type":"vm.created"}},{"exact":{"source":"/elsewhere"}}]}]"#,
            ),
            route(
                "type-and-subject",
                r#"[{"exact":{"type":"vm.created","subject":"vm-1"}}]"#,
            ),
        ]);
        assert_eq!(
            keys(index.matching(&event("vm.created", "/vc", Some("vm-1")))),
            [
                "by-type",
                "by-source",
                "by-prefix",
                "empty-prefix",
                "everything",
                "suffix",
                "any",
                "type-and-subject"
            ]
        );
        assert_eq!(
            keys(index.matching(&event("host.added", "/x", None))),
            ["empty-prefix", "everything", "not", "any"]
        );
    }

    #[test]
    fn a_route_under_several_anchors_is_found_once() {
        let index = RouteIndex::new([route(
            "any",
            r#"[{"any":[{"exact":{"subject":"a"}},{"exact":{"type":"a"}},{"prefix":{"type":"a"}}]}]"#,
        )]);
        assert_eq!(keys(index.matching(&event("a", "/s", Some("a")))), ["any"]);
    }

    #[test]
    fn routes_that_cannot_match_are_not_tested() {
        let routes = (0..10_000).map(|i| {
            route(
                &format!("r{i}"),
                &format!(r#"[{{"exact":{{"type":"t{i}"}}}}]"#),
            )
        });
        let index = RouteIndex::new(routes);
        assert!(index.unanchored.is_empty());
        assert_eq!(keys(index.matching(&event("t9999", "/s", None))), ["r9999"]);
        assert!(index.matching(&event("none", "/s", None)).is_empty());
    }
}
