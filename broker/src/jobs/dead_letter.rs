//! A dead letter: an invocation that failed for good, copied to `SY_DEAD` with headers saying
//! why (`sy-dead-reason`, `-status`, `-attempts`, `-error` percent-encoded, `-time`).

use async_nats::HeaderMap;
use bytes::Bytes;
use chrono::{DateTime, Utc};

use crate::codec::{self, percent};
use crate::{headers, subjects};

const REASON: &str = "sy-dead-reason";
const STATUS: &str = "sy-dead-status";
const ATTEMPTS: &str = "sy-dead-attempts";
const ERROR: &str = "sy-dead-error";
const TIME: &str = "sy-dead-time";

/// Why a job was dead-lettered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeadReason {
    /// Every attempt the policy allows failed with a retriable status or a network error.
    AttemptsExhausted,
    /// The function answered with a status that is not retried.
    NotRetriable,
    /// The stored message is not an invocation.
    Malformed,
    /// The function answered, but its reply event could not be stored.
    ReplyNotStored,
}

impl serde::Serialize for DeadReason {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl DeadReason {
    pub fn as_str(self) -> &'static str {
        match self {
            DeadReason::AttemptsExhausted => "attempts exhausted",
            DeadReason::NotRetriable => "not retriable",
            DeadReason::Malformed => "malformed",
            DeadReason::ReplyNotStored => "reply not stored",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        [
            DeadReason::AttemptsExhausted,
            DeadReason::NotRetriable,
            DeadReason::Malformed,
            DeadReason::ReplyNotStored,
        ]
        .into_iter()
        .find(|r| r.as_str() == text)
    }
}

/// A dead letter sent back to its function: when, and as which new job.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Redrive {
    pub call_id: String,
    pub at: DateTime<Utc>,
}

/// What a dead letter says about the failure, besides the invocation it carries.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeadLetter {
    pub function: String,
    /// `attempts exhausted`, `not retriable`, `malformed` or `reply not stored`.
    #[schema(value_type = String, example = "attempts exhausted")]
    pub reason: DeadReason,
    /// The last status (the function's, or 503 for a network failure; 0 when never sent).
    pub status: u16,
    pub attempts: u32,
    pub error: String,
    pub time: DateTime<Utc>,
}

/// Why a message of `SY_DEAD` cannot be read as a dead letter.
#[derive(Debug, thiserror::Error)]
#[error("not a dead letter: {0}")]
pub struct NotADeadLetter(&'static str);

impl DeadLetter {
    /// The message storing this dead letter: the invocation's own headers and payload, with the
    /// failure's headers added; `Nats-Msg-Id` is the invocation's id (the call id) when it has
    /// one, so a finish repeated after a crash stores one dead letter.
    pub fn to_message(
        &self,
        invocation_headers: Option<&HeaderMap>,
        payload: Bytes,
    ) -> (String, HeaderMap, Bytes) {
        let mut out = invocation_headers.cloned().unwrap_or_default();
        if let Some(call_id) = codec::event_id(&out) {
            headers::set_msg_id(&mut out, &call_id);
        }
        out.insert(REASON, self.reason.as_str());
        out.insert(STATUS, self.status.to_string());
        out.insert(ATTEMPTS, self.attempts.to_string());
        out.insert(ERROR, percent::encode(&self.error).as_ref());
        out.insert(TIME, self.time.to_rfc3339());
        (subjects::dead(&self.function), out, payload)
    }

    /// Reads the failure from a stored dead letter's subject and headers.
    pub fn from_message(
        subject: &str,
        headers: Option<&HeaderMap>,
    ) -> Result<Self, NotADeadLetter> {
        let headers = headers.ok_or(NotADeadLetter("no headers"))?;
        let get = |name: &'static str| {
            headers
                .get(name)
                .map(|v| v.as_str())
                .ok_or(NotADeadLetter(name))
        };
        Ok(DeadLetter {
            function: subjects::parse_dead(subject)
                .ok_or(NotADeadLetter("subject"))?
                .to_string(),
            reason: DeadReason::parse(get(REASON)?).ok_or(NotADeadLetter(REASON))?,
            status: get(STATUS)?.parse().map_err(|_| NotADeadLetter(STATUS))?,
            attempts: get(ATTEMPTS)?
                .parse()
                .map_err(|_| NotADeadLetter(ATTEMPTS))?,
            error: percent::decode(get(ERROR)?).into_owned(),
            time: DateTime::parse_from_rfc3339(get(TIME)?)
                .map_err(|_| NotADeadLetter(TIME))?
                .with_timezone(&Utc),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dead_letters_round_trip_and_keep_the_invocation() {
        let letter = DeadLetter {
            function: "broken".into(),
            reason: DeadReason::NotRetriable,
            status: 500,
            attempts: 3,
            error: "function answered 500: ünïcode\nand a line".into(),
            time: DateTime::parse_from_rfc3339("2026-12-01T10:00:00.5+00:00")
                .expect("valid")
                .with_timezone(&Utc),
        };
        let mut original = HeaderMap::new();
        original.insert("ce-id", "call-9");
        let (subject, headers, payload) =
            letter.to_message(Some(&original), Bytes::from_static(b"body"));
        assert_eq!(subject, "sy.dead.broken");
        assert_eq!(crate::headers::msg_id(&headers), Some("call-9"));
        assert_eq!(headers.get("ce-id").map(|v| v.as_str()), Some("call-9"));
        assert_eq!(payload, Bytes::from_static(b"body"));
        assert_eq!(
            DeadLetter::from_message(&subject, Some(&headers)).expect("reads"),
            letter
        );
        for reason in [
            DeadReason::AttemptsExhausted,
            DeadReason::Malformed,
            DeadReason::ReplyNotStored,
        ] {
            assert_eq!(DeadReason::parse(reason.as_str()), Some(reason));
        }
        assert!(DeadLetter::from_message(&subject, Some(&original)).is_err());
    }
}
