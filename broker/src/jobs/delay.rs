//! When a delayed job is due: `X-Delay` (seconds or a Go duration) or `X-Not-Before` (RFC 3339)
//! on an asynchronous invoke, read and bounded here; and the `@at` message schedule that holds
//! the job in `SY_DELAYED` until then.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};

use super::JobRecord;
use crate::duration::parse_duration;
use crate::invocation::Invocation;

/// The request header giving a delay from now.
pub const DELAY_HEADER: &str = "x-delay";
/// The request header giving the earliest time to run.
pub const NOT_BEFORE_HEADER: &str = "x-not-before";

/// Why a job's due time is refused (a 400 that names the header).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidDelay {
    #[error("give X-Delay or X-Not-Before, not both")]
    Both,
    #[error("X-Delay `{0}`: use seconds (`90`) or a Go duration (`90s`, `5m`, `1h30m`)")]
    Delay(String),
    #[error("X-Not-Before `{0}`: use an RFC 3339 time, e.g. `2026-12-24T18:00:00Z`")]
    NotBefore(String),
    #[error("the job would run {} from now; at most {} is allowed (SWITCHYARD_MAX_DELAY)", seconds(.asked), seconds(.allowed))]
    TooLate { asked: Duration, allowed: Duration },
}

fn seconds(duration: &Duration) -> String {
    format!("{}s", duration.as_secs())
}

/// When the job is due, from the request's `X-Delay` or `X-Not-Before` as of `now`: `None` for
/// a job to run now (no header, a zero delay, or a due time already past), else the due time,
/// at most `max_delay` ahead.
pub fn due_time(
    delay: Option<&str>,
    not_before: Option<&str>,
    now: DateTime<Utc>,
    max_delay: Duration,
) -> Result<Option<DateTime<Utc>>, InvalidDelay> {
    let due = match (delay, not_before) {
        (Some(_), Some(_)) => return Err(InvalidDelay::Both),
        (None, None) => return Ok(None),
        (Some(text), None) => {
            let delay = parse_duration(text).map_err(|_| InvalidDelay::Delay(text.to_string()))?;
            let delay = chrono::Duration::from_std(delay)
                .map_err(|_| InvalidDelay::Delay(text.to_string()))?;
            now.checked_add_signed(delay)
                .ok_or_else(|| InvalidDelay::Delay(text.to_string()))?
        }
        (None, Some(text)) => DateTime::parse_from_rfc3339(text.trim())
            .map_err(|_| InvalidDelay::NotBefore(text.to_string()))?
            .with_timezone(&Utc),
    };
    let ahead = due.signed_duration_since(now).to_std().unwrap_or_default();
    if ahead.is_zero() {
        return Ok(None);
    }
    if ahead > max_delay {
        return Err(InvalidDelay::TooLate {
            asked: ahead,
            allowed: max_delay,
        });
    }
    Ok(Some(due))
}

/// The header holding a delayed job's exact due time, on the message that holds it and on the
/// one the server stores when it fires.
pub const NOT_BEFORE: &str = "sy-not-before";

/// The headers that hold a job until `due`: a `Nats-Schedule` firing once at the whole second
/// at or before it (the server takes whole seconds), and the exact time in [`NOT_BEFORE`], until
/// which the dispatcher that takes it hands it back.
pub fn schedule_headers(headers: &mut async_nats::HeaderMap, due: DateTime<Utc>) {
    let whole = DateTime::from_timestamp(due.timestamp(), 0).unwrap_or(due);
    let at = format!("@at {}", whole.to_rfc3339_opts(SecondsFormat::Secs, true));
    headers.insert(crate::headers::SCHEDULE, at.as_str());
    headers.insert(
        NOT_BEFORE,
        due.to_rfc3339_opts(SecondsFormat::Nanos, true).as_str(),
    );
}

/// The exact due time a held (or fired) job carries.
pub fn not_before(headers: &async_nats::HeaderMap) -> Option<DateTime<Utc>> {
    let text = headers.get(NOT_BEFORE)?.as_str();
    Some(DateTime::parse_from_rfc3339(text).ok()?.with_timezone(&Utc))
}

/// The function and due time of a held job, from the headers of the message that holds it.
pub fn due_of(headers: &async_nats::HeaderMap) -> Option<(String, DateTime<Utc>)> {
    let due = not_before(headers)?;
    let target = headers.get(crate::headers::SCHEDULE_TARGET)?.as_str();
    let function = crate::subjects::parse_due(target)?;
    Some((function.to_string(), due))
}

/// The record of a delayed job read back from the message that holds it: what
/// `/system/jobs/{callId}` shows once the job's own record has expired (a record is kept for
/// `SWITCHYARD_JOB_RECORD_TTL` after its last change; a job may be due much later). `None`
/// when no job with this call id is held (it ran, was cancelled, or never was delayed).
pub async fn held(
    js: &async_nats::jetstream::Context,
    call_id: &str,
) -> Result<Option<JobRecord>, crate::streams::StreamInfoError> {
    let subject = crate::subjects::delayed(call_id);
    let Some(message) = crate::streams::last_on(js, crate::streams::DELAYED, &subject).await?
    else {
        return Ok(None);
    };
    let Some((_, due)) = due_of(&message.headers) else {
        return Ok(None);
    };
    let Ok(invocation) = Invocation::from_message(Some(&message.headers), message.payload) else {
        return Ok(None);
    };
    let mut record =
        JobRecord::scheduled(call_id, &invocation.function, invocation.callback_url, due);
    record.created_at = invocation.time;
    // Whether the caller chose the id is not kept with the message: assume it did, so that
    // cancelling takes credentials.
    record.caller_chosen_id = true;
    Ok(Some(record))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-07T12:00:00.250Z")
            .expect("valid")
            .with_timezone(&Utc)
    }

    const YEAR: Duration = Duration::from_secs(365 * 24 * 3600);

    /// `X-Delay`, `X-Not-Before`, and the due time they give.
    type Case = (
        Option<&'static str>,
        Option<&'static str>,
        Result<Option<DateTime<Utc>>, InvalidDelay>,
    );

    #[test]
    fn due_times_from_either_header() {
        let at = |s: &str| {
            Some(
                DateTime::parse_from_rfc3339(s)
                    .expect("valid")
                    .with_timezone(&Utc),
            )
        };
        let cases: [Case; 9] = [
            (None, None, Ok(None)),
            (Some("90"), None, Ok(at("2026-12-07T12:01:30.250Z"))),
            (Some("90s"), None, Ok(at("2026-12-07T12:01:30.250Z"))),
            (Some("1h30m"), None, Ok(at("2026-12-07T13:30:00.250Z"))),
            (Some("0"), None, Ok(None)),
            (
                None,
                Some("2026-12-24T18:00:00+01:00"),
                Ok(at("2026-12-24T17:00:00Z")),
            ),
            // A due time already past runs now.
            (None, Some("2020-01-01T00:00:00Z"), Ok(None)),
            (Some("soon"), None, Err(InvalidDelay::Delay("soon".into()))),
            (
                None,
                Some("tomorrow"),
                Err(InvalidDelay::NotBefore("tomorrow".into())),
            ),
        ];
        for (delay, not_before, want) in cases {
            assert_eq!(
                due_time(delay, not_before, now(), YEAR),
                want,
                "{delay:?} {not_before:?}"
            );
        }
    }

    #[test]
    fn both_headers_or_too_far_ahead_are_refused() {
        assert_eq!(
            due_time(Some("1"), Some("2027-01-01T00:00:00Z"), now(), YEAR),
            Err(InvalidDelay::Both)
        );
        let refused = due_time(Some("400d"), None, now(), YEAR);
        assert_eq!(refused, Err(InvalidDelay::Delay("400d".into())));
        let refused = due_time(Some("9000h"), None, now(), YEAR).expect_err("beyond a year");
        assert!(
            refused.to_string().contains("SWITCHYARD_MAX_DELAY"),
            "{refused}"
        );
        assert_eq!(
            due_time(Some("1h"), None, now(), Duration::from_secs(60)),
            Err(InvalidDelay::TooLate {
                asked: Duration::from_secs(3600),
                allowed: Duration::from_secs(60)
            })
        );
    }

    #[test]
    fn a_held_job_names_its_function_and_due_time() {
        let invocation = Invocation {
            call_id: "c1".into(),
            function: "resize.team-a".into(),
            method: "POST".into(),
            path: "/".into(),
            query: None,
            content_type: None,
            headers: Vec::new(),
            body: bytes::Bytes::from_static(b"x"),
            time: now(),
            callback_url: None,
            subscription: None,
            hops: 0,
        };
        let (subject, headers, _) = invocation.to_delayed_message(now());
        assert_eq!(subject, "sy.delayed.c1");
        assert_eq!(due_of(&headers), Some(("resize.team-a".to_string(), now())));
        assert_eq!(due_of(&async_nats::HeaderMap::new()), None);
    }

    #[test]
    fn schedules_fire_on_the_whole_second_before_the_exact_due_time() {
        let mut headers = async_nats::HeaderMap::new();
        schedule_headers(&mut headers, now());
        assert_eq!(
            headers.get(crate::headers::SCHEDULE).map(|v| v.as_str()),
            Some("@at 2026-12-07T12:00:00Z")
        );
        assert_eq!(not_before(&headers), Some(now()));
    }
}
