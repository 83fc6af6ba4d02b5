//! A function invocation carried over NATS as a binary-mode CloudEvent, and the reply to it.
//!
//! The gateway turns an HTTP request into an [`Invocation`]: the CloudEvent's `id` is the call
//! id, `subject` the function, extensions `httpmethod`, `httppath` and `httpquery` say what was
//! called, the request's content type is the event's `datacontenttype`, the body is its data,
//! and the other request headers travel as `sy-http-<name>` headers (percent-encoded like the
//! attributes). The dispatcher answers with a [`CallReply`].

use async_nats::HeaderMap;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use cloudevents::event::ExtensionValue;
use cloudevents::{AttributesReader, EventBuilder, EventBuilderV10};

use crate::codec::{self, percent, CodecError};

/// How long a synchronous call may take end to end, unless configured: the gateway's wait for
/// the reply and the dispatcher's wait for the function.
pub const DEFAULT_CALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// CloudEvent type of a function invocation.
pub const INVOKE_EVENT_TYPE: &str = "dev.switchyard.function.invoke.v1";
/// CloudEvent source of invocations made through the HTTP API.
pub const GATEWAY_SOURCE: &str = "/switchyard/gateway";

const HTTP_HEADER_PREFIX: &str = "sy-http-";
const STATUS_HEADER: &str = "sy-status";
const INTERNAL_HEADER: &str = "sy-internal";

/// An HTTP request to a function.
#[derive(Debug, Clone, PartialEq)]
pub struct Invocation {
    pub call_id: String,
    pub function: String,
    pub method: String,
    /// The path below the function, always starting with `/`.
    pub path: String,
    pub query: Option<String>,
    pub content_type: Option<String>,
    /// Request headers to forward, other than `content-type`.
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
    pub time: DateTime<Utc>,
    /// Asynchronous invocations: where the answer is POSTed (extension `callbackurl`).
    pub callback_url: Option<String>,
    /// Deliveries of an event: the subscription (extension `sysubscription`) whose delivery
    /// policy applies.
    pub subscription: Option<String>,
    /// Deliveries of an event: how many replies led to it (extension `syhops`).
    pub hops: u32,
}

/// Why a NATS message is not an invocation.
#[derive(Debug, thiserror::Error)]
pub enum InvocationError {
    #[error("not a CloudEvent: {0}")]
    Codec(#[from] CodecError),
    #[error("CloudEvent of type `{0}` is not an invocation")]
    WrongType(String),
    #[error("invocation lacks `{0}`")]
    Missing(&'static str),
}

impl Invocation {
    /// Encodes the invocation as NATS headers and payload.
    pub fn to_message(&self) -> (HeaderMap, Bytes) {
        let mut builder = EventBuilderV10::new()
            .id(self.call_id.as_str())
            .source(GATEWAY_SOURCE)
            .ty(INVOKE_EVENT_TYPE)
            .subject(self.function.as_str())
            .time(self.time)
            .extension("httpmethod", self.method.as_str())
            .extension("httppath", self.path.as_str());
        if let Some(query) = &self.query {
            builder = builder.extension("httpquery", query.as_str());
        }
        if let Some(callback_url) = &self.callback_url {
            builder = builder.extension("callbackurl", callback_url.as_str());
        }
        if let Some(subscription) = &self.subscription {
            builder = builder
                .extension("sysubscription", subscription.as_str())
                .extension("syhops", i64::from(self.hops));
        }
        let mut event = builder.build().expect("id, source and type are always set");
        cloudevents::AttributesWriter::set_datacontenttype(&mut event, self.content_type.clone());
        let (mut headers, _) = codec::encode_binary(&event);
        append_http_headers(&mut headers, &self.headers);
        (headers, self.body.clone())
    }

    /// The message that stores this invocation in `SY_INVOCATIONS`: its subject, and headers
    /// whose `Nats-Msg-Id` is `<function>/<call id>`, so the same call id twice for one
    /// function is one job, and a call id never suppresses another function's job.
    pub fn to_stored_message(&self) -> (String, HeaderMap, Bytes) {
        let (mut headers, payload) = self.to_message();
        crate::headers::set_msg_id(&mut headers, &format!("{}/{}", self.function, self.call_id));
        (crate::subjects::invoke(&self.function), headers, payload)
    }

    /// The message that holds this invocation in `SY_DELAYED` until `due`, when the server
    /// stores it again on `sy.due.<function>` (where a dispatcher takes it to `SY_INVOCATIONS`):
    /// on `sy.delayed.<call id>`, with the deduplication id of [`Self::to_stored_message`].
    pub fn to_delayed_message(&self, due: DateTime<Utc>) -> (String, HeaderMap, Bytes) {
        let (_, mut headers, payload) = self.to_stored_message();
        crate::jobs::delay::schedule_headers(&mut headers, due);
        headers.insert(
            crate::headers::SCHEDULE_TARGET,
            crate::subjects::due(&self.function).as_str(),
        );
        (crate::subjects::delayed(&self.call_id), headers, payload)
    }

    /// Decodes an invocation, validating it as a CloudEvent first.
    pub fn from_message(
        headers: Option<&HeaderMap>,
        payload: Bytes,
    ) -> Result<Self, InvocationError> {
        let headers = headers.ok_or(CodecError::MissingAttribute("specversion"))?;
        let event = codec::decode_binary(headers, &Bytes::new())?;
        if event.ty() != INVOKE_EVENT_TYPE {
            return Err(InvocationError::WrongType(event.ty().to_string()));
        }
        let extension = |name: &'static str| match event.extension(name) {
            Some(ExtensionValue::String(s)) => Some(s.clone()),
            Some(other) => Some(other.to_string()),
            None => None,
        };
        Ok(Invocation {
            call_id: event.id().to_string(),
            function: event
                .subject()
                .ok_or(InvocationError::Missing("subject"))?
                .to_string(),
            method: extension("httpmethod").ok_or(InvocationError::Missing("httpmethod"))?,
            path: extension("httppath").ok_or(InvocationError::Missing("httppath"))?,
            query: extension("httpquery"),
            content_type: event.datacontenttype().map(str::to_string),
            headers: http_headers(headers),
            body: payload,
            time: event.time().copied().unwrap_or_else(Utc::now),
            callback_url: extension("callbackurl"),
            subscription: extension("sysubscription"),
            hops: extension("syhops")
                .and_then(|h| h.parse().ok())
                .unwrap_or(0),
        })
    }
}

/// A function's answer (or the dispatcher's, when the function could not be reached).
#[derive(Debug, Clone, PartialEq)]
pub struct CallReply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
    /// True when Switchyard produced this answer, not the function (OpenFaaS marks these with
    /// `X-OpenFaaS-Internal`).
    pub internal: bool,
}

/// Why a NATS message is not a call reply.
#[derive(Debug, thiserror::Error)]
#[error("reply has no valid `sy-status` header")]
pub struct ReplyError;

impl CallReply {
    /// An answer produced by Switchyard itself, with a plain-text message.
    pub fn internal(status: u16, message: impl Into<String>) -> Self {
        CallReply {
            status,
            headers: vec![("content-type".into(), "text/plain; charset=utf-8".into())],
            body: Bytes::from(message.into()),
            internal: true,
        }
    }

    pub fn to_message(&self) -> (HeaderMap, Bytes) {
        let mut headers = HeaderMap::new();
        headers.insert(STATUS_HEADER, self.status.to_string());
        if self.internal {
            headers.insert(INTERNAL_HEADER, "true");
        }
        append_http_headers(&mut headers, &self.headers);
        (headers, self.body.clone())
    }

    pub fn from_message(headers: Option<&HeaderMap>, payload: Bytes) -> Result<Self, ReplyError> {
        let headers = headers.ok_or(ReplyError)?;
        let status = headers
            .get(STATUS_HEADER)
            .and_then(|v| v.as_str().parse::<u16>().ok())
            .filter(|s| (100..=999).contains(s))
            .ok_or(ReplyError)?;
        Ok(CallReply {
            status,
            headers: http_headers(headers),
            body: payload,
            internal: headers.get(INTERNAL_HEADER).is_some(),
        })
    }
}

fn append_http_headers(headers: &mut HeaderMap, http: &[(String, String)]) {
    for (name, value) in http {
        let name = format!("{HTTP_HEADER_PREFIX}{}", name.to_ascii_lowercase());
        if name.parse::<async_nats::HeaderName>().is_ok() {
            headers.append(name.as_str(), percent::encode(value).as_ref());
        }
    }
}

fn http_headers(headers: &HeaderMap) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (name, values) in headers.iter() {
        let name: &str = name.as_ref();
        let Some(http_name) = name.get(HTTP_HEADER_PREFIX.len()..) else {
            continue;
        };
        if !name[..HTTP_HEADER_PREFIX.len()].eq_ignore_ascii_case(HTTP_HEADER_PREFIX) {
            continue;
        }
        for value in values {
            out.push((
                http_name.to_string(),
                percent::decode(value.as_str()).into_owned(),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invocation_round_trips() {
        let invocation = Invocation {
            call_id: "c-1".into(),
            function: "echo".into(),
            method: "POST".into(),
            path: "/a b/ü".into(),
            query: Some("x=1&y=%20".into()),
            content_type: Some("text/plain".into()),
            headers: vec![
                ("X-Custom".into(), "v1".into()),
                ("x-custom".into(), "v 2 ü".into()),
            ],
            body: Bytes::from_static(b"hello"),
            time: Utc::now(),
            callback_url: Some("http://127.0.0.1:9/cb?x=1".into()),
            subscription: Some("sub-1".into()),
            hops: 3,
        };
        let (headers, payload) = invocation.to_message();
        let decoded = Invocation::from_message(Some(&headers), payload).expect("decodes");
        let mut expected = invocation.clone();
        expected.headers = vec![
            ("x-custom".into(), "v1".into()),
            ("x-custom".into(), "v 2 ü".into()),
        ];
        assert_eq!(decoded, expected);

        let (subject, headers, payload) = invocation.to_stored_message();
        assert_eq!(crate::subjects::parse_invoke(&subject), Some("echo"));
        assert_eq!(crate::headers::msg_id(&headers), Some("echo/c-1"));
        let stored = Invocation::from_message(Some(&headers), payload).expect("decodes");
        assert_eq!(stored, expected);
    }

    #[test]
    fn reply_round_trips() {
        let reply = CallReply {
            status: 201,
            headers: vec![("content-type".into(), "application/json".into())],
            body: Bytes::from_static(b"{}"),
            internal: false,
        };
        let (headers, payload) = reply.to_message();
        assert_eq!(
            CallReply::from_message(Some(&headers), payload).expect("decodes"),
            reply
        );
        let internal = CallReply::internal(503, "no replica");
        let (headers, payload) = internal.to_message();
        assert!(
            CallReply::from_message(Some(&headers), payload)
                .expect("decodes")
                .internal
        );
    }

    #[test]
    fn other_events_are_not_invocations() {
        let mut headers = HeaderMap::new();
        headers.insert("ce-specversion", "1.0");
        headers.insert("ce-id", "1");
        headers.insert("ce-source", "/x");
        headers.insert("ce-type", "other");
        let error = Invocation::from_message(Some(&headers), Bytes::new()).expect_err("rejected");
        assert!(error.to_string().contains("`other` is not an invocation"));
    }
}
