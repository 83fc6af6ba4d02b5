//! vSphere events, mapped to CloudEvents the way VMware's event router does
//! (`com.vmware.vsphere.<Class>.v0`). Their data is the event as govmomi's `encoding/json`
//! writes it, typed by the vSphere schema ([`super::schema`]); a class the schema does not know
//! (a newer vCenter) is read without a schema, so it still arrives, and is marked so.

use chrono::{DateTime, Utc};
use cloudevents::{Event, EventBuilder, EventBuilderV10};
use serde_json::{Map, Value};

use super::schema;
use super::soap::{parse_time, xml::Element};
use switchyard_broker::records::PayloadEncoding;

/// One event as vCenter reported it.
#[derive(Debug, Clone, PartialEq)]
pub struct VsphereEvent {
    /// The class: the XML type (`VmPoweredOffEvent`), or for `EventEx` and `ExtendedEvent`
    /// their `eventTypeId`.
    pub class: String,
    /// `event`, `eventex` or `extendedevent` (the router's `eventclass` extension).
    pub family: &'static str,
    pub key: i32,
    pub created_time: DateTime<Utc>,
    /// The event as JSON, with the field names of govmomi's types (`Vm.Name`, `CreatedTime`).
    pub data: Value,
    /// How `data` was read: [`TYPED`] or [`SCHEMALESS`].
    pub mapping: &'static str,
    /// The SOAP element as vCenter sent it (re-serialized), for `payloadEncoding: xml`.
    pub xml: String,
}

/// `data` follows the vSphere schema, as govmomi encodes it.
pub const TYPED: &str = "typed";
/// `data` was read without a schema: every leaf a string but `key` and `chainId`.
pub const SCHEMALESS: &str = "schemaless";

/// An event element without the fields every event has.
#[derive(Debug, thiserror::Error)]
#[error("event of type `{class}` has no valid `{field}`")]
pub struct UnreadableEvent {
    pub class: String,
    pub field: &'static str,
}

impl VsphereEvent {
    pub fn from_element(element: &Element) -> Result<Self, UnreadableEvent> {
        let xml_type = element
            .xsi_type
            .clone()
            .unwrap_or_else(|| element.name.clone());
        let unreadable = |field| UnreadableEvent {
            class: xml_type.clone(),
            field,
        };
        let key = element
            .child_text("key")
            .and_then(|k| k.trim().parse::<i32>().ok())
            .ok_or_else(|| unreadable("key"))?;
        let created_time = element
            .child_text("createdTime")
            .and_then(parse_time)
            .ok_or_else(|| unreadable("createdTime"))?;
        let type_id = element
            .child_text("eventTypeId")
            .map(str::trim)
            .filter(|id| !id.is_empty());
        let (family, class) = match (xml_type.as_str(), type_id) {
            ("EventEx", Some(id)) => ("eventex", id.to_string()),
            ("ExtendedEvent", Some(id)) => ("extendedevent", id.to_string()),
            _ => ("event", xml_type.clone()),
        };
        let (data, mapping) = if schema::knows(&xml_type) {
            (schema::encode_struct(Some(element), &xml_type), TYPED)
        } else {
            (to_json(element), SCHEMALESS)
        };
        Ok(Self {
            class,
            family,
            key,
            created_time,
            data,
            mapping,
            xml: element.to_xml(),
        })
    }

    /// The CloudEvent: type `com.vmware.vsphere.<Class>.v0`, source the SDK URL, id the key,
    /// subject the class, time the creation time, extensions `eventclass`, `vsphereapiversion`
    /// and `vspheremapping` ([`TYPED`] or [`SCHEMALESS`]), data the event as JSON or XML.
    pub fn to_cloudevent(
        &self,
        source: &str,
        api_version: &str,
        encoding: PayloadEncoding,
    ) -> Event {
        let builder = EventBuilderV10::new()
            .id(self.key.to_string())
            .source(source)
            .ty(format!("com.vmware.vsphere.{}.v0", self.class))
            .subject(self.class.clone())
            .time(self.created_time)
            .extension("eventclass", self.family)
            .extension("vspheremapping", self.mapping);
        let mut builder = match encoding {
            PayloadEncoding::Json => builder.data("application/json", self.data.clone()),
            PayloadEncoding::Xml => builder.data("application/xml", self.xml.clone()),
        };
        if !api_version.is_empty() {
            builder = builder.extension("vsphereapiversion", api_version);
        }
        builder.build().unwrap_or_else(|_| {
            // Every required attribute is set above; this cannot fail.
            unreachable!("vSphere event with all required attributes")
        })
    }
}

/// Whether event key `a` comes after `b`. Keys are int32 and wrap to negative on long-lived
/// vCenters, so they compare as serial numbers: `a` is after `b` when it is less than 2³¹
/// steps ahead.
pub fn key_after(a: i32, b: i32) -> bool {
    a.wrapping_sub(b) > 0
}

/// Numbers in every event; other leaves stay strings, since there is no schema to tell.
const NUMERIC_FIELDS: &[&str] = &["key", "chainId"];

/// The element as JSON: names get a capital first letter (govmomi's field names), a
/// managed object reference becomes `{Type, Value}`, a repeated child an array.
fn to_json(element: &Element) -> Value {
    if element.children.is_empty() {
        if let Some(kind) = element.attribute("type") {
            return serde_json::json!({ "Type": kind, "Value": element.text });
        }
        if NUMERIC_FIELDS.contains(&element.name.as_str()) {
            if let Ok(number) = element.text.trim().parse::<i64>() {
                return Value::from(number);
            }
        }
        return match element.xsi_type.as_deref() {
            Some("xsd:boolean" | "boolean") => Value::Bool(element.text == "true"),
            Some("int" | "long" | "short") => element
                .text
                .parse::<i64>()
                .map(Value::from)
                .unwrap_or_else(|_| Value::String(element.text.clone())),
            _ => Value::String(element.text.clone()),
        };
    }
    let mut object = Map::new();
    for child in &element.children {
        let name = capitalised(&child.name);
        let value = to_json(child);
        match object.get_mut(&name) {
            Some(Value::Array(items)) if repeated(element, &child.name) => items.push(value),
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, value]);
            }
            None => {
                object.insert(name, value);
            }
        }
    }
    Value::Object(object)
}

/// Whether `name` occurs more than once among the children (and so was made an array).
fn repeated(parent: &Element, name: &str) -> bool {
    parent.children_named(name).nth(1).is_some()
}

fn capitalised(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests;
