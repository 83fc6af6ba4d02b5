//! vSphere's data types as govmomi defines them, and an event's SOAP element encoded exactly as
//! Go's `encoding/json` encodes govmomi's types (what VMware's event broker delivered): every
//! field of the type present, booleans and numbers typed, an absent pointer, slice or interface
//! `null`, an absent struct its zero value, lists always arrays, times in RFC 3339.
//!
//! `types.json` is generated from Debian's govmomi by `scripts/vsphere-schema.py` (see that
//! script for its format) and checked in; it holds every type an event can reach.

use std::collections::HashMap;
use std::sync::LazyLock;

use serde::Deserialize;
use serde_json::{Map, Number, Value};

use super::soap::xml::Element;

#[derive(Deserialize)]
struct Table {
    types: HashMap<String, TypeDef>,
}

#[derive(Deserialize)]
struct TypeDef {
    #[serde(rename = "b")]
    base: Option<String>,
    /// (JSON name, XML name, kind).
    #[serde(rename = "f")]
    fields: Vec<(String, String, String)>,
}

static TABLE: LazyLock<Table> = LazyLock::new(|| {
    serde_json::from_str(include_str!("types.json"))
        .expect("the checked-in vSphere type table parses")
});

/// Go's zero `time.Time`, as `encoding/json` writes it.
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// True when the table describes `class`.
pub fn knows(class: &str) -> bool {
    TABLE.types.contains_key(class)
}

/// Every event class the table knows (`Event` and all that descend from it), sorted.
pub fn event_classes() -> Vec<&'static str> {
    let mut classes: Vec<&'static str> = TABLE
        .types
        .keys()
        .map(String::as_str)
        .filter(|name| descends_from(name, "Event"))
        .collect();
    classes.sort_unstable();
    classes
}

fn descends_from(name: &str, ancestor: &str) -> bool {
    let mut current = Some(name);
    while let Some(name) = current {
        if name == ancestor {
            return true;
        }
        current = TABLE.types.get(name).and_then(|t| t.base.as_deref());
    }
    false
}

/// Every field of `type_name`, its bases' first (Go's order for embedded structs); a field
/// that a subtype declares again is the subtype's.
fn fields_of(type_name: &str) -> Vec<&'static (String, String, String)> {
    let Some(def) = TABLE.types.get(type_name) else {
        return Vec::new();
    };
    let mut fields = def.base.as_deref().map(fields_of).unwrap_or_default();
    fields.retain(|inherited| !def.fields.iter().any(|own| own.0 == inherited.0));
    fields.extend(def.fields.iter());
    fields
}

/// The element read as a value of struct type `type_name`; `None` stands for an absent
/// element (the zero value).
pub fn encode_struct(element: Option<&Element>, type_name: &str) -> Value {
    let mut object = Map::new();
    for (json_name, xml_name, kind) in fields_of(type_name) {
        let value = match (element, xml_name.strip_prefix('@')) {
            (Some(e), Some(attribute)) => {
                Value::String(e.attribute(attribute).unwrap_or_default().to_string())
            }
            (None, Some(_)) => Value::String(String::new()),
            (Some(e), None) if xml_name == "#text" => Value::String(e.text.clone()),
            (None, None) if xml_name == "#text" => Value::String(String::new()),
            (e, None) => {
                let children: Vec<&Element> = e
                    .map(|e| e.children_named(xml_name).collect())
                    .unwrap_or_default();
                field(kind, &children)
            }
        };
        object.insert(json_name.clone(), value);
    }
    Value::Object(object)
}

/// A field of `kind` from its elements (none when absent; several for a slice).
fn field(kind: &str, elements: &[&Element]) -> Value {
    if let Some(item) = kind.strip_prefix("[]") {
        return if elements.is_empty() {
            Value::Null
        } else {
            Value::Array(elements.iter().map(|e| one(item, Some(e))).collect())
        };
    }
    if let Some(pointed) = kind.strip_prefix('*') {
        return elements
            .first()
            .map_or(Value::Null, |e| one(pointed, Some(e)));
    }
    one(kind, elements.first().copied())
}

/// One value of `kind`; `None` is Go's zero value for it.
fn one(kind: &str, element: Option<&Element>) -> Value {
    let text = element.map(|e| e.text.trim()).unwrap_or_default();
    match kind {
        "bool" => Value::Bool(matches!(text, "true" | "1")),
        "int" => text
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| Value::from(0)),
        "float" => float(text),
        "string" => Value::String(element.map(|e| e.text.clone()).unwrap_or_default()),
        "time" => Value::String(if element.is_some() {
            go_time(text)
        } else {
            ZERO_TIME.to_string()
        }),
        "bytes" => element.map_or(Value::Null, |_| {
            Value::String(text.split_whitespace().collect())
        }),
        "any" => element.map_or(Value::Null, any),
        _ => match (kind.split_once(':'), element) {
            (Some(("T", name)), e) => encode_struct(e, name),
            (Some(("I", name)), Some(e)) => {
                let concrete = e.xsi_type.as_deref().filter(|t| knows(t)).unwrap_or(name);
                encode_struct(Some(e), concrete)
            }
            (Some(("I", _)), None) => Value::Null,
            _ => Value::Null,
        },
    }
}

/// A value of `xsd:anyType`: its own `xsi:type` says what it is.
fn any(element: &Element) -> Value {
    let text = element.text.trim();
    match element
        .xsi_type
        .as_deref()
        .map(|t| t.trim_start_matches("xsd:"))
    {
        Some("boolean") => Value::Bool(matches!(text, "true" | "1")),
        Some(
            "int" | "long" | "short" | "byte" | "unsignedByte" | "unsignedShort" | "unsignedInt",
        ) => text
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| Value::String(element.text.clone())),
        Some("float" | "double") => float(text),
        Some("dateTime") => Value::String(go_time(text)),
        Some(other) if knows(other) => encode_struct(Some(element), other),
        _ => Value::String(element.text.clone()),
    }
}

/// A float as Go writes it: integral values without a fraction.
fn float(text: &str) -> Value {
    let parsed = text.parse::<f64>().unwrap_or(0.0);
    if parsed.fract() == 0.0 && parsed.abs() < 1e15 {
        Value::from(parsed as i64)
    } else {
        Number::from_f64(parsed).map_or(Value::Null, Value::Number)
    }
}

/// An `xsd:dateTime` as Go's `time.Time` marshals it (RFC 3339 with nanoseconds, trailing zeros
/// of the fraction dropped, the zone as given: `Z` or `±hh:mm`).
pub fn go_time(text: &str) -> String {
    let Ok(parsed) = chrono::DateTime::parse_from_rfc3339(text) else {
        return text.to_string();
    };
    let mut out = parsed.format("%Y-%m-%dT%H:%M:%S").to_string();
    let nanos = parsed.timestamp_subsec_nanos();
    if nanos > 0 {
        let fraction = format!("{nanos:09}");
        out.push('.');
        out.push_str(fraction.trim_end_matches('0'));
    }
    // Go writes a zero offset as `Z`, however it was given.
    if parsed.offset().local_minus_utc() == 0 {
        out.push('Z');
    } else {
        out.push_str(&parsed.format("%:z").to_string());
    }
    out
}

#[cfg(test)]
mod tests;
