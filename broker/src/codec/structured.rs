//! Structured mode: the whole event as one JSON object.

use async_nats::HeaderMap;
use bytes::Bytes;
use cloudevents::Event;
use serde_json::{Map, Value};

use super::error::{CodecError, Reason};
use super::validate;

/// The content type that marks a structured-mode message.
pub const STRUCTURED_CONTENT_TYPE: &str = "application/cloudevents+json";

/// Encodes an event in structured mode.
pub fn encode_structured(event: &Event) -> Result<(HeaderMap, Bytes), CodecError> {
    let json = serde_json::to_vec(event).map_err(|e| CodecError::Json(e.to_string()))?;
    let mut headers = HeaderMap::new();
    headers.insert("content-type", STRUCTURED_CONTENT_TYPE);
    Ok((headers, Bytes::from(json)))
}

/// Decodes a structured-mode payload, validating every attribute.
pub fn decode_structured(payload: &[u8]) -> Result<Event, CodecError> {
    let value: Value =
        serde_json::from_slice(payload).map_err(|e| CodecError::Json(e.to_string()))?;
    let Value::Object(object) = value else {
        return Err(CodecError::Json("expected a JSON object".into()));
    };
    validate_object(&object)?;
    let event: Event = serde_json::from_value(Value::Object(object))
        .map_err(|e| CodecError::Json(e.to_string()))?;
    super::limits::check(&event)?;
    Ok(event)
}

/// Checks one structured event's attributes with the same rules as binary mode.
pub(crate) fn validate_object(object: &Map<String, Value>) -> Result<(), CodecError> {
    let string = |name: &'static str| -> Result<Option<&str>, CodecError> {
        match object.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(CodecError::invalid(name, Reason::NotString)),
        }
    };
    validate::spec_version(string("specversion")?)?;
    validate::required("id", string("id")?)?;
    validate::uri_reference("source", validate::required("source", string("source")?)?)?;
    validate::required("type", string("type")?)?;
    if let Some(time) = string("time")? {
        validate::rfc3339("time", time)?;
    }
    if let Some(schema) = string("dataschema")? {
        validate::absolute_uri("dataschema", schema)?;
    }
    string("subject")?;
    string("datacontenttype")?;
    const KNOWN: &[&str] = &[
        "specversion",
        "id",
        "source",
        "type",
        "subject",
        "time",
        "dataschema",
        "datacontenttype",
        "data",
        "data_base64",
    ];
    for name in object.keys().filter(|k| !KNOWN.contains(&k.as_str())) {
        validate::validate_extension_name(name)?;
    }
    Ok(())
}
