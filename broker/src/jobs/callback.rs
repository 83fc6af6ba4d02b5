//! A queued callback: a function's answer waiting in `SY_CALLBACKS` to be POSTed to the job's
//! `X-Callback-Url` (headers `sy-callback-url`, percent-encoded, and `sy-call-id`).

use async_nats::HeaderMap;
use bytes::Bytes;

use crate::codec::percent;
use crate::invocation::CallReply;
use crate::{headers, subjects};

const URL: &str = "sy-callback-url";
const CALL_ID: &str = "sy-call-id";

/// One callback to deliver.
#[derive(Debug, Clone, PartialEq)]
pub struct QueuedCallback {
    pub function: String,
    pub call_id: String,
    pub url: String,
    /// What is POSTed: the function's answer with the `X-Call-Id`, `X-Function-*`,
    /// `X-Duration-Seconds`, `X-Start-Time` and `X-Retry*` headers added.
    pub reply: CallReply,
}

/// Why a message of `SY_CALLBACKS` cannot be delivered.
#[derive(Debug, thiserror::Error)]
#[error("not a callback: {0}")]
pub struct NotACallback(&'static str);

impl QueuedCallback {
    /// The message storing the callback; `Nats-Msg-Id` is the call id, so one job queues one.
    pub fn to_message(&self) -> (String, HeaderMap, Bytes) {
        let (mut out, payload) = self.reply.to_message();
        out.insert(URL, percent::encode(&self.url).as_ref());
        out.insert(CALL_ID, self.call_id.as_str());
        headers::set_msg_id(&mut out, &self.call_id);
        (subjects::callback(&self.function), out, payload)
    }

    pub fn from_message(
        subject: &str,
        headers: Option<&HeaderMap>,
        payload: Bytes,
    ) -> Result<Self, NotACallback> {
        let headers = headers.ok_or(NotACallback("no headers"))?;
        let get = |name: &'static str| {
            headers
                .get(name)
                .map(|v| percent::decode(v.as_str()).into_owned())
                .ok_or(NotACallback(name))
        };
        Ok(QueuedCallback {
            function: subjects::parse_callback(subject)
                .ok_or(NotACallback("subject"))?
                .to_string(),
            call_id: get(CALL_ID)?,
            url: get(URL)?,
            reply: CallReply::from_message(Some(headers), payload)
                .map_err(|_| NotACallback("sy-status"))?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callbacks_round_trip() {
        let callback = QueuedCallback {
            function: "echo".into(),
            call_id: "c-7".into(),
            url: "http://127.0.0.1:9/done?x=a b".into(),
            reply: CallReply {
                status: 200,
                headers: vec![("x-call-id".into(), "c-7".into())],
                body: Bytes::from_static(b"hi"),
                internal: false,
            },
        };
        let (subject, headers, payload) = callback.to_message();
        assert_eq!(crate::headers::msg_id(&headers), Some("c-7"));
        assert_eq!(
            QueuedCallback::from_message(&subject, Some(&headers), payload).expect("reads"),
            callback
        );
        assert!(QueuedCallback::from_message("sy.callback.echo", None, Bytes::new()).is_err());
    }
}
