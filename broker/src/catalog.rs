//! The event catalog: every event type seen, per ingesting source, with its count, when it was
//! first and last seen, and its latest example (KV bucket `sy_event_types`). The dispatchers keep
//! it from `SY_EVENTS` (one shared durable consumer, [`crate::consumers::CATALOG`]); the gateway
//! serves it at `GET /system/event-types`.

use chrono::{DateTime, Utc};
use cloudevents::{AttributesReader, Event};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::buckets::{self, BucketError};
use crate::events::INGRESS_EXTENSION;
use crate::table::{Table, TableError};

/// The most bytes of an example's data kept; longer data is cut and marked so.
pub const MAX_EXAMPLE_BYTES: usize = 4096;

/// One event type as one source has taken it in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventType {
    /// The ingesting source's name (its `syingress`), or `reply`.
    pub source: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub count: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_seen: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<DateTime<Utc>>,
    /// The `SY_EVENTS` sequence of the example.
    #[serde(default)]
    pub example_sequence: u64,
    /// The latest event of this type, in structured JSON, its data cut at
    /// [`MAX_EXAMPLE_BYTES`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Object)]
    pub example: Option<Value>,
}

/// The catalog's bucket.
#[derive(Clone)]
pub struct Catalog {
    table: Table<EventType>,
}

impl Catalog {
    pub async fn open(js: &async_nats::jetstream::Context) -> Result<Self, BucketError> {
        Ok(Catalog {
            table: Table::new(buckets::event_types(js).await?),
        })
    }

    /// Counts `event` (stored at `sequence` in `SY_EVENTS` at `seen`) under its source and
    /// type; it becomes the example unless a later one already is (events are counted
    /// concurrently, so not always in order).
    pub async fn record(
        &self,
        event: &Event,
        sequence: u64,
        seen: DateTime<Utc>,
    ) -> Result<(), TableError> {
        let source = event
            .extension(INGRESS_EXTENSION)
            .map(|v| v.to_string())
            .unwrap_or_default();
        let example = example(event);
        self.table
            .update(&key(&source, event.ty()), |current| {
                let mut entry = current.unwrap_or_else(|| EventType {
                    source: source.clone(),
                    event_type: event.ty().to_string(),
                    count: 0,
                    first_seen: Some(seen),
                    last_seen: None,
                    example_sequence: 0,
                    example: None,
                });
                entry.count += 1;
                entry.first_seen = entry.first_seen.min(Some(seen)).or(Some(seen));
                entry.last_seen = entry.last_seen.max(Some(seen));
                if sequence > entry.example_sequence {
                    entry.example_sequence = sequence;
                    entry.example = Some(example.clone());
                }
                Some(entry)
            })
            .await
            .map(drop)
    }

    /// Every entry, by source then type.
    pub async fn list(&self) -> Result<Vec<EventType>, TableError> {
        let mut entries = Vec::new();
        for key in self.table.keys().await? {
            if let Some(entry) = self.table.get(&key).await? {
                entries.push(entry);
            }
        }
        entries.sort_by(|a, b| (&a.source, &a.event_type).cmp(&(&b.source, &b.event_type)));
        Ok(entries)
    }
}

/// A KV key for any source name and type: both hex-encoded (types may hold any character).
fn key(source: &str, event_type: &str) -> String {
    let hex = |s: &str| s.bytes().map(|b| format!("{b:02x}")).collect::<String>();
    format!("{}.{}", hex(source), hex(event_type))
}

/// The event in structured JSON with its data readable (text as text, JSON as JSON; only other
/// bytes as `data_base64`) and cut to [`MAX_EXAMPLE_BYTES`].
fn example(event: &Event) -> Value {
    let mut value = serde_json::to_value(event).unwrap_or(Value::Null);
    if let Some(cloudevents::Data::Binary(bytes)) = event.data() {
        if let Ok(text) = std::str::from_utf8(bytes) {
            if let Some(object) = value.as_object_mut() {
                object.remove("data_base64");
                let parsed = serde_json::from_str::<Value>(text).ok();
                let json = event.datacontenttype().is_some_and(|t| t.contains("json"));
                let readable = match parsed {
                    Some(parsed) if json && text.len() <= MAX_EXAMPLE_BYTES => parsed,
                    _ => Value::String(text.to_string()),
                };
                object.insert("data".into(), readable);
            }
        }
    }
    for field in ["data", "data_base64"] {
        let Some(data) = value.get(field) else {
            continue;
        };
        let text = match data {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        if text.len() > MAX_EXAMPLE_BYTES {
            let mut cut = MAX_EXAMPLE_BYTES;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            value[field] = Value::String(format!(
                "{}… (cut at {MAX_EXAMPLE_BYTES} bytes)",
                &text[..cut]
            ));
        }
    }
    value
}

#[cfg(test)]
mod tests {
    use cloudevents::{EventBuilder, EventBuilderV10};

    #[test]
    fn keys_hold_any_type_and_examples_are_cut() {
        assert_eq!(super::key("a", "t.1"), "61.742e31");
        assert_ne!(super::key("ab", "c"), super::key("a", "bc"));
        let event = EventBuilderV10::new()
            .id("1")
            .source("/s")
            .ty("t")
            .data("text/plain", "x".repeat(10_000))
            .build()
            .expect("event");
        let example = super::example(&event);
        let data = example["data"].as_str().expect("text data");
        assert!(
            data.len() < 4200 && data.ends_with("(cut at 4096 bytes)"),
            "{}",
            data.len()
        );
    }
}
