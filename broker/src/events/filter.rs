//! Knative Trigger filter dialects over CloudEvent attributes and extensions.

use std::collections::BTreeMap;

use cloudevents::{AttributesReader, Event};
use serde::{Deserialize, Serialize};

/// A filter, written as in Knative's `filters`: `{"exact": {"type": "…"}}`, `{"prefix": …}`,
/// `{"suffix": …}`, `{"all": [..]}`, `{"any": [..]}`, `{"not": {..}}`. In `exact`, `prefix`
/// and `suffix` every listed attribute must match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
#[schema(no_recursion)]
pub enum Filter {
    Exact(BTreeMap<String, String>),
    Prefix(BTreeMap<String, String>),
    Suffix(BTreeMap<String, String>),
    All(Vec<Filter>),
    Any(Vec<Filter>),
    Not(Box<Filter>),
}

impl Filter {
    pub fn matches(&self, event: &Event) -> bool {
        let each = |map: &BTreeMap<String, String>, test: fn(&str, &str) -> bool| {
            map.iter()
                .all(|(name, want)| attribute(event, name).is_some_and(|have| test(&have, want)))
        };
        match self {
            Filter::Exact(map) => each(map, |have, want| have == want),
            Filter::Prefix(map) => each(map, |have, want| have.starts_with(want)),
            Filter::Suffix(map) => each(map, |have, want| have.ends_with(want)),
            Filter::All(filters) => filters.iter().all(|f| f.matches(event)),
            Filter::Any(filters) => filters.iter().any(|f| f.matches(event)),
            Filter::Not(filter) => !filter.matches(event),
        }
    }

    /// The event type this filter requires exactly, when it does (for server-side filtering).
    pub fn exact_type(&self) -> Option<&str> {
        match self {
            Filter::Exact(map) => map.get("type").map(String::as_str),
            Filter::All(filters) => filters.iter().find_map(Filter::exact_type),
            _ => None,
        }
    }

    /// Checks attribute names (lowercase `a-z0-9`, as CloudEvents requires); `path` names the
    /// field in errors.
    pub fn validate(&self, path: &str) -> Result<(), String> {
        let names = |map: &BTreeMap<String, String>, dialect: &str| {
            if map.is_empty() {
                return Err(format!(
                    "`{path}.{dialect}` must name at least one attribute"
                ));
            }
            match map.keys().find(|n| {
                n.is_empty()
                    || !n
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            }) {
                Some(bad) => Err(format!(
                    "`{path}.{dialect}`: `{bad}` is not an attribute name (lowercase a-z and 0-9)"
                )),
                None => Ok(()),
            }
        };
        match self {
            Filter::Exact(map) => names(map, "exact"),
            Filter::Prefix(map) => names(map, "prefix"),
            Filter::Suffix(map) => names(map, "suffix"),
            Filter::All(filters) | Filter::Any(filters) => {
                let dialect = if matches!(self, Filter::All(_)) {
                    "all"
                } else {
                    "any"
                };
                filters
                    .iter()
                    .enumerate()
                    .try_for_each(|(i, f)| f.validate(&format!("{path}.{dialect}[{i}]")))
            }
            Filter::Not(filter) => filter.validate(&format!("{path}.not")),
        }
    }
}

/// An attribute or extension of `event` as a string.
pub fn attribute(event: &Event, name: &str) -> Option<String> {
    match name {
        "specversion" => Some("1.0".to_string()),
        "id" => Some(event.id().to_string()),
        "source" => Some(event.source().to_string()),
        "type" => Some(event.ty().to_string()),
        "subject" => event.subject().map(str::to_string),
        "time" => event
            .time()
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)),
        "datacontenttype" => event.datacontenttype().map(str::to_string),
        "dataschema" => event.dataschema().map(|u| u.to_string()),
        other => event.extension(other).map(|v| v.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use cloudevents::{EventBuilder, EventBuilderV10};

    use super::*;

    fn event() -> Event {
        EventBuilderV10::new()
            .id("1")
            .source("/vc")
            .ty("com.vmware.vsphere.VmPoweredOffEvent.v0")
            .subject("VmPoweredOffEvent")
            .extension("eventclass", "event")
            .build()
            .expect("valid")
    }

    fn filter(json: &str) -> Filter {
        serde_json::from_str(json).expect("a filter")
    }

    #[test]
    fn each_dialect_matches_as_knative_does() {
        let e = event();
        let cases = [
            (
                r#"{"exact":{"type":"com.vmware.vsphere.VmPoweredOffEvent.v0"}}"#,
                true,
            ),
            (
                r#"{"exact":{"type":"com.vmware.vsphere.VmPoweredOffEvent.v0","source":"/other"}}"#,
                false,
            ),
            (r#"{"prefix":{"type":"com.vmware."}}"#, true),
            (r#"{"suffix":{"type":".v0","subject":"Event"}}"#, true),
            (r#"{"exact":{"eventclass":"event"}}"#, true),
            (r#"{"exact":{"missing":"x"}}"#, false),
            (r#"{"not":{"prefix":{"subject":"Test"}}}"#, true),
            (
                r#"{"all":[{"prefix":{"type":"com."}},{"not":{"exact":{"source":"/vc"}}}]}"#,
                false,
            ),
            (
                r#"{"any":[{"exact":{"type":"x"}},{"all":[{"suffix":{"source":"vc"}},{"exact":{"id":"1"}}]}]}"#,
                true,
            ),
        ];
        for (json, expected) in cases {
            assert_eq!(filter(json).matches(&e), expected, "{json}");
        }
    }

    #[test]
    fn exact_type_is_found_for_server_side_filtering() {
        assert_eq!(filter(r#"{"exact":{"type":"t"}}"#).exact_type(), Some("t"));
        assert_eq!(
            filter(r#"{"all":[{"prefix":{"source":"/"}},{"exact":{"type":"t"}}]}"#).exact_type(),
            Some("t")
        );
        assert_eq!(
            filter(r#"{"any":[{"exact":{"type":"t"}}]}"#).exact_type(),
            None
        );
    }

    #[test]
    fn bad_filters_are_named() {
        assert!(serde_json::from_str::<Filter>(r#"{"regex":{"type":"x"}}"#).is_err());
        let error = filter(r#"{"all":[{"exact":{"Type":"x"}}]}"#)
            .validate("filters[0]")
            .expect_err("bad name");
        assert!(error.contains("filters[0].all[0].exact"), "{error}");
        let error = filter(r#"{"exact":{}}"#)
            .validate("filters[1]")
            .expect_err("empty");
        assert!(error.contains("filters[1].exact"), "{error}");
    }
}
