//! Binary mode: attributes in `ce-` headers, data as the payload.

use async_nats::HeaderMap;
use bytes::Bytes;
use cloudevents::event::ExtensionValue;
use cloudevents::{AttributesReader, AttributesWriter, Data, Event, EventBuilder, EventBuilderV10};

use super::error::CodecError;
use super::{percent, validate};

const PREFIX: &str = "ce-";
const CONTENT_TYPE: &str = "content-type";

/// Encodes an event as NATS headers and payload, attribute values percent-encoded.
pub fn encode_binary(event: &Event) -> (HeaderMap, Bytes) {
    let mut headers = HeaderMap::new();
    let mut put = |name: &str, value: &str| {
        headers.insert(
            format!("{PREFIX}{name}").as_str(),
            percent::encode(value).as_ref(),
        );
    };
    put("specversion", "1.0");
    put("id", event.id());
    put("source", event.source());
    put("type", event.ty());
    if let Some(subject) = event.subject() {
        put("subject", subject);
    }
    if let Some(time) = event.time() {
        put(
            "time",
            &time.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        );
    }
    if let Some(schema) = event.dataschema() {
        put("dataschema", schema.as_str());
    }
    for (name, value) in event.iter_extensions() {
        put(name, &value.to_string());
    }
    if let Some(content_type) = event.datacontenttype() {
        headers.insert(CONTENT_TYPE, content_type);
    }
    (headers, data_bytes(event.data()))
}

/// Decodes a binary-mode message, validating every attribute.
pub fn decode_binary(headers: &HeaderMap, payload: &Bytes) -> Result<Event, CodecError> {
    let attr = |name: &str| header(headers, &format!("{PREFIX}{name}"));
    validate::spec_version(attr("specversion").as_deref())?;
    let id = validate::required("id", attr("id").as_deref())?.to_string();
    let source = attr("source");
    let source = validate::required("source", source.as_deref())?;
    validate::uri_reference("source", source)?;
    let ty = validate::required("type", attr("type").as_deref())?.to_string();

    let mut builder = EventBuilderV10::new().id(id).source(source).ty(ty);
    if let Some(subject) = attr("subject") {
        builder = builder.subject(subject);
    }
    if let Some(time) = attr("time") {
        builder = builder.time(validate::rfc3339("time", &time)?);
    }
    for (name, value) in extensions(headers) {
        validate::validate_extension_name(&name)?;
        builder = builder.extension(&name, ExtensionValue::String(value));
    }
    let mut event = builder
        .build()
        .map_err(|e| CodecError::Json(e.to_string()))?;
    if let Some(schema) = attr("dataschema") {
        validate::absolute_uri("dataschema", &schema)?;
        let url = url::Url::parse(&schema)
            .map_err(|_| CodecError::invalid("dataschema", super::error::Reason::NotAbsoluteUri))?;
        event.set_dataschema(Some(url));
    }
    event.set_datacontenttype(header(headers, CONTENT_TYPE));
    if !payload.is_empty() {
        event.set_data_unchecked(Data::Binary(payload.to_vec()));
    }
    super::limits::check(&event)?;
    Ok(event)
}

/// The decoded value of a header, looked up without regard to case.
pub(crate) fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .iter()
        .find(|(k, _)| AsRef::<str>::as_ref(k).eq_ignore_ascii_case(name))
        .and_then(|(_, values)| values.first())
        .map(|v| percent::decode(v.as_str()).into_owned())
}

/// `ce-` headers that are not context attributes: the extensions, names lowercased.
fn extensions(headers: &HeaderMap) -> impl Iterator<Item = (String, String)> + '_ {
    const CONTEXT: &[&str] = &[
        "specversion",
        "id",
        "source",
        "type",
        "subject",
        "time",
        "dataschema",
    ];
    headers.iter().filter_map(|(k, values)| {
        let name: &str = k.as_ref();
        let has_prefix =
            name.len() > PREFIX.len() && name[..PREFIX.len()].eq_ignore_ascii_case(PREFIX);
        if !has_prefix {
            return None;
        }
        let attribute = name[PREFIX.len()..].to_ascii_lowercase();
        if CONTEXT.contains(&attribute.as_str()) {
            return None;
        }
        let value = values
            .first()
            .map(|v| percent::decode(v.as_str()).into_owned())?;
        Some((attribute, value))
    })
}

/// The payload bytes of an event's data, whatever form the SDK holds it in.
pub(crate) fn data_bytes(data: Option<&Data>) -> Bytes {
    match data {
        None => Bytes::new(),
        Some(Data::Binary(bytes)) => Bytes::copy_from_slice(bytes),
        Some(Data::String(s)) => Bytes::copy_from_slice(s.as_bytes()),
        Some(Data::Json(value)) => Bytes::from(value.to_string()),
    }
}
