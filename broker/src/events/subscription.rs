//! A subscription: a filter over events, bound to a function, with a delivery policy.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::filter::Filter;
use crate::duration::parse_iso8601;
use crate::records::validate_function_name;

/// Most retries a subscription may ask for.
const MAX_RETRY: u32 = 100;
/// Longest wait between a subscription's delivery attempts.
pub const MAX_BACKOFF_DELAY: Duration = Duration::from_secs(3600);
/// Longest a subscription's delivery may take.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(24 * 3600);
/// The longest `delivery.delay`.
pub const MAX_DELIVERY_DELAY: Duration = Duration::from_secs(366 * 24 * 3600);

/// `POST /system/subscriptions`, as stored in the KV bucket `sy_subscriptions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Subscription {
    pub name: String,
    pub function: String,
    /// All must match.
    #[serde(default)]
    pub filters: Vec<Filter>,
    #[serde(default)]
    pub delivery: DeliveryPolicy,
    /// `new` (default), `all` (every retained event) or an RFC 3339 time (replay from then).
    #[serde(default)]
    #[schema(value_type = String, example = "new")]
    pub start_at: StartAt,
    /// Publish the function's CloudEvent answer back to `SY_EVENTS`.
    #[serde(default)]
    pub reply: bool,
    #[serde(default)]
    pub mode: DeliveryMode,
    /// Set by the server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<DateTime<Utc>>,
    /// Set by the server for `startAt: new`: the first `SY_EVENTS` sequence after the
    /// subscription was answered, so that every event stored after the answer is delivered
    /// however late its consumer starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_sequence: Option<u64>,
}

/// Knative's delivery spec.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeliveryPolicy {
    /// Retries after the first attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff_policy: Option<BackoffPolicy>,
    /// ISO-8601, e.g. `PT0.5S`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff_delay: Option<String>,
    /// ISO-8601 time limit of one delivery.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    /// ISO-8601 time each event waits before it is delivered (e.g. `PT30S`), at most a year.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<String>,
    /// Copy failed deliveries to `SY_DEAD` (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_letter: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum BackoffPolicy {
    Linear,
    Exponential,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryMode {
    #[default]
    Binary,
    Structured,
}

/// Where a subscription starts reading.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum StartAt {
    #[default]
    New,
    All,
    Since(DateTime<Utc>),
}

impl Serialize for StartAt {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            StartAt::New => serializer.serialize_str("new"),
            StartAt::All => serializer.serialize_str("all"),
            StartAt::Since(time) => serializer.serialize_str(&time.to_rfc3339()),
        }
    }
}

impl<'de> Deserialize<'de> for StartAt {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        match text.as_str() {
            "new" => Ok(StartAt::New),
            "all" => Ok(StartAt::All),
            other => DateTime::parse_from_rfc3339(other)
                .map(|t| StartAt::Since(t.to_utc()))
                .map_err(|_| {
                    serde::de::Error::custom(format!(
                        "startAt must be `new`, `all` or an RFC 3339 time, got `{other}`"
                    ))
                }),
        }
    }
}

/// A subscription that breaks a rule; the message names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid subscription: {0}")]
pub struct InvalidSubscription(pub String);

impl Subscription {
    /// Checks every field; the error names the first one that is wrong.
    pub fn validate(&self) -> Result<(), InvalidSubscription> {
        let bad = |m: String| Err(InvalidSubscription(m));
        if validate_function_name(&self.name).is_err() {
            return bad(format!(
                "`name` `{}`: use 1 to 63 characters of a-z, A-Z, 0-9, `-` and `_`",
                self.name
            ));
        }
        // `name` or `name.namespace`: a function id.
        let (function, namespace) = crate::records::split_qualified(&self.function);
        if let Err(e) = validate_function_name(function) {
            return bad(format!("`function`: {e}"));
        }
        if let Err(e) = crate::records::validate_namespace(namespace) {
            return bad(format!("`function`: {e}"));
        }
        for (i, filter) in self.filters.iter().enumerate() {
            filter
                .validate(&format!("filters[{i}]"))
                .map_err(InvalidSubscription)?;
        }
        if self.delivery.retry.is_some_and(|r| r > MAX_RETRY) {
            return bad(format!("`delivery.retry` must be at most {MAX_RETRY}"));
        }
        for (field, value, max) in [
            (
                "backoffDelay",
                &self.delivery.backoff_delay,
                MAX_BACKOFF_DELAY,
            ),
            ("timeout", &self.delivery.timeout, MAX_TIMEOUT),
            ("delay", &self.delivery.delay, MAX_DELIVERY_DELAY),
        ] {
            if let Some(value) = value {
                match parse_iso8601(value) {
                    Err(_) => {
                        return bad(format!(
                        "`delivery.{field}`: `{value}` is not an ISO-8601 duration such as PT0.5S"
                    ))
                    }
                    Ok(duration) if duration > max => {
                        return bad(format!(
                            "`delivery.{field}`: `{value}` is longer than the limit of {}s",
                            max.as_secs()
                        ))
                    }
                    Ok(_) => {}
                }
            }
        }
        Ok(())
    }

    /// Attempts in all: the first plus `delivery.retry` (if set).
    pub fn attempts(&self) -> Option<u32> {
        self.delivery.retry.map(|r| r + 1)
    }

    pub fn backoff_delay(&self) -> Option<Duration> {
        self.delivery
            .backoff_delay
            .as_deref()
            .and_then(|d| parse_iso8601(d).ok())
            .map(|d| d.min(MAX_BACKOFF_DELAY))
    }

    /// How long each event waits before it is delivered.
    pub fn delay(&self) -> Option<Duration> {
        self.delivery
            .delay
            .as_deref()
            .and_then(|d| parse_iso8601(d).ok())
            .filter(|d| !d.is_zero())
            .map(|d| d.min(MAX_DELIVERY_DELAY))
    }

    pub fn timeout(&self) -> Option<Duration> {
        self.delivery
            .timeout
            .as_deref()
            .and_then(|d| parse_iso8601(d).ok())
            .map(|d| d.min(MAX_TIMEOUT))
    }

    pub fn dead_letter(&self) -> bool {
        self.delivery.dead_letter.unwrap_or(true)
    }

    /// The subject the subscription's consumer reads: one type when the filters require it.
    pub fn filter_subject(&self) -> String {
        match self.filters.iter().find_map(Filter::exact_type) {
            Some(ty) => super::subject(ty),
            None => super::ALL_EVENTS.to_string(),
        }
    }

    /// True when every filter matches.
    pub fn matches(&self, event: &cloudevents::Event) -> bool {
        self.filters.iter().all(|f| f.matches(event))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<Subscription, String> {
        serde_json::from_str::<Subscription>(json)
            .map_err(|e| e.to_string())
            .and_then(|s| s.validate().map(|_| s).map_err(|e| e.to_string()))
    }

    #[test]
    fn durations_beyond_their_limit_are_refused_by_name() {
        for (field, value) in [("timeout", "PT3000000000000000H"), ("backoffDelay", "PT2H")] {
            let json = format!(
                r#"{{"name": "s", "function": "f", "delivery": {{"{field}": "{value}"}}}}"#
            );
            let error = parse(&json).expect_err(value);
            assert!(error.contains(&format!("delivery.{field}")), "{error}");
        }
    }

    #[test]
    fn the_design_example_parses() {
        let s = parse(r#"{ "name": "vm-off-notify", "function": "notify",
            "filters": [ { "exact": { "type": "com.vmware.vsphere.VmPoweredOffEvent.v0" } },
                         { "not": { "prefix": { "subject": "Test" } } } ],
            "delivery": { "retry": 5, "backoffPolicy": "exponential", "backoffDelay": "PT0.5S", "timeout": "PT30S", "deadLetter": true },
            "startAt": "new", "reply": false, "mode": "binary" }"#)
        .expect("valid");
        assert_eq!(s.attempts(), Some(6));
        assert_eq!(s.backoff_delay(), Some(Duration::from_millis(500)));
        assert_eq!(
            s.filter_subject(),
            "sy.event.com.vmware.vsphere.VmPoweredOffEvent.v0"
        );
        let replay = parse(r#"{"name":"r","function":"f","startAt":"2026-01-01T00:00:00Z"}"#)
            .expect("valid");
        assert!(matches!(replay.start_at, StartAt::Since(_)));
        assert_eq!(replay.filter_subject(), "sy.event.>");
    }

    #[test]
    fn invalid_subscriptions_name_the_field() {
        let cases = [
            (r#"{"name":"a.b","function":"f"}"#, "`name`"),
            (r#"{"name":"s","function":"has space"}"#, "`function`"),
            (
                r#"{"name":"s","function":"f","filters":[{"exact":{"Type":"x"}}]}"#,
                "filters[0].exact",
            ),
            (
                r#"{"name":"s","function":"f","filters":[{"glob":{"type":"x"}}]}"#,
                "unknown variant `glob`",
            ),
            (
                r#"{"name":"s","function":"f","delivery":{"backoffDelay":"half a second"}}"#,
                "`delivery.backoffDelay`",
            ),
            (
                r#"{"name":"s","function":"f","delivery":{"retry":1000}}"#,
                "`delivery.retry`",
            ),
            (
                r#"{"name":"s","function":"f","delivery":{"backoffPolicy":"random"}}"#,
                "unknown variant `random`",
            ),
            (
                r#"{"name":"s","function":"f","startAt":"yesterday"}"#,
                "startAt must be",
            ),
            (
                r#"{"name":"s","function":"f","mode":"fancy"}"#,
                "unknown variant `fancy`",
            ),
            (
                r#"{"name":"s","function":"f","colour":"red"}"#,
                "unknown field `colour`",
            ),
        ];
        for (json, field) in cases {
            let error = parse(json).expect_err(json);
            assert!(error.contains(field), "{json}: {error}");
        }
    }
}
