//! The CloudEvents HTTP binding (binary, structured, batch) and plain payloads wrapped into
//! CloudEvents.

use axum::body::Bytes;
use axum::http::HeaderMap;
use cloudevents::{AttributesWriter, Data, Event, EventBuilder, EventBuilderV10};
use switchyard_broker::codec::{self, limits, CodecError, STRUCTURED_CONTENT_TYPE};
use switchyard_broker::records::WebhookConfig;

const BATCH_CONTENT_TYPE: &str = "application/cloudevents-batch+json";
const DEFAULT_TYPE: &str = "dev.switchyard.webhook";

pub(crate) fn events(
    source: &str,
    config: &WebhookConfig,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Vec<Event>, CodecError> {
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if content_type.starts_with(BATCH_CONTENT_TYPE) {
        let items: Vec<serde_json::Value> =
            serde_json::from_slice(&body).map_err(|e| CodecError::Json(format!("batch: {e}")))?;
        let most = limits::current().batch_events;
        if items.len() > most {
            return Err(CodecError::TooMany {
                what: "events in the batch",
                count: items.len(),
                limit: most,
            });
        }
        return items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let bytes =
                    serde_json::to_vec(item).map_err(|e| CodecError::Json(e.to_string()))?;
                codec::decode_structured(&bytes)
                    .map_err(|e| CodecError::Json(format!("batch item {i}: {e}")))
            })
            .collect();
    }
    if content_type.starts_with(STRUCTURED_CONTENT_TYPE) {
        return Ok(vec![codec::decode_structured(&body)?]);
    }
    if headers.keys().any(|name| name.as_str().starts_with("ce-")) {
        let mut nats_headers = async_nats::HeaderMap::new();
        for (name, value) in headers {
            let name = name.as_str();
            if name.starts_with("ce-") || name == "content-type" {
                nats_headers.insert(name, String::from_utf8_lossy(value.as_bytes()).as_ref());
            }
        }
        return Ok(vec![codec::decode_binary(&nats_headers, &body)?]);
    }
    let event = wrap(source, config, headers, body, &content_type);
    limits::check(&event)?;
    Ok(vec![event])
}

/// A plain payload as a CloudEvent: a new id, source `/webhook/<name>`, the configured type
/// (completed by `typeFromHeader`), the request's content type, the body as data.
fn wrap(
    source: &str,
    config: &WebhookConfig,
    headers: &HeaderMap,
    body: Bytes,
    content_type: &str,
) -> Event {
    let from_header = config
        .type_from_header
        .as_deref()
        .and_then(|name| headers.get(name))
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty());
    let ty = match (config.event_type.as_deref(), from_header) {
        (Some(base), Some(suffix)) => format!("{base}.{suffix}"),
        (Some(base), None) => base.to_string(),
        (None, Some(suffix)) => suffix.to_string(),
        (None, None) => DEFAULT_TYPE.to_string(),
    };
    let mut event = EventBuilderV10::new()
        .id(uuid::Uuid::new_v4().to_string())
        .source(format!("/webhook/{source}"))
        .ty(ty)
        .time(chrono::Utc::now())
        .build()
        .expect("id, source and type are set");
    if !content_type.is_empty() {
        event.set_datacontenttype(Some(content_type.to_string()));
    }
    if !body.is_empty() {
        event.set_data_unchecked(Data::Binary(body.to_vec()));
    }
    event
}
