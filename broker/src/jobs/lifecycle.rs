//! A job's life as one state machine over its record:
//!
//! ```text
//!  scheduled ──── start (when due) ───┐
//!      │                              ▼
//!      │            start          running ── finish(succeeded | failed) ──► succeeded | failed
//!      │   queued ─────────────────►  │ ▲
//!      │     ▲   ◄─────────────────   │ └─ start (a redelivery after a crash)
//!      │     │        retry           │
//!      └─────┴──── cancel ────────────┴──► cancelled
//! ```
//!
//! A callback's outcome is recorded in any state but scheduled and queued: the callback is
//! stored before the final record, so its delivery can be recorded first, and the finish keeps
//! it.
//!
//! Each [`Transition`] is a pure function from the stored record to the next one, or a
//! [`Refused`] that says why it does not apply. The gateway (cancel), the job workers (start,
//! retry, finish) and the callback deliverer all change records only through it (see
//! [`super::JobStore::apply`]), so a finish that finds a cancelled job says so instead of
//! overwriting it.

use chrono::{DateTime, Utc};

use super::record::{Attempt, CallbackOutcome, CallbackStatus, JobRecord, JobStatus, MAX_HISTORY};

/// A change of a job record.
#[derive(Debug, Clone, PartialEq)]
pub enum Transition {
    /// A worker takes the job for attempt `attempt` of at most `max_attempts`.
    Start {
        attempt: u32,
        max_attempts: u32,
        at: DateTime<Utc>,
    },
    /// The running attempt failed and the job waits for the next one.
    Retry {
        status: u16,
        error: String,
        at: DateTime<Utc>,
    },
    /// The job ended after its last attempt.
    Finish(Finish),
    /// The job is cancelled (the API's `DELETE /async-function/{callId}`).
    Cancel { at: DateTime<Utc> },
    /// A callback delivery attempt ended.
    Callback(CallbackOutcome),
}

/// How a job ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Finish {
    /// [`JobStatus::Succeeded`] or [`JobStatus::Failed`].
    pub status: JobStatus,
    pub status_code: u16,
    pub error: Option<String>,
    pub result_stored: bool,
    pub dead_lettered: bool,
    /// The job has a callback URL: its delivery starts as pending.
    pub callback: bool,
    pub at: DateTime<Utc>,
}

/// Why a transition does not apply to the stored record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("the job has no record")]
    Missing,
    #[error("the job is already {}", .0.as_str())]
    Final(JobStatus),
    #[error("the job is {}, not running", .0.as_str())]
    NotRunning(JobStatus),
    #[error("the job has not finished (it is {})", .0.as_str())]
    NotFinished(JobStatus),
    #[error("a job can only finish as succeeded or failed, not {}", .0.as_str())]
    NotAnEnd(JobStatus),
}

impl Transition {
    /// The record after this transition, or why it does not apply.
    pub fn apply(&self, current: Option<&JobRecord>) -> Result<JobRecord, Refused> {
        let mut record = current.cloned().ok_or(Refused::Missing)?;
        let status = record.status;
        match self {
            Transition::Start {
                attempt,
                max_attempts,
                at,
            } => {
                refuse_final(status)?;
                record.status = JobStatus::Running;
                record.attempts = *attempt;
                record.max_attempts = Some(*max_attempts);
                record.started_at.get_or_insert(*at);
                record.history.push(Attempt {
                    number: *attempt,
                    started_at: *at,
                    ended_at: None,
                    status_code: None,
                    error: None,
                });
                let excess = record.history.len().saturating_sub(MAX_HISTORY);
                record.history.drain(..excess);
            }
            Transition::Retry {
                status: code,
                error,
                at,
            } => {
                refuse_final(status)?;
                require_running(status)?;
                record.status = JobStatus::Queued;
                record.last_status_code = Some(*code);
                record.last_error = Some(error.clone());
                end_attempt(&mut record, *at, *code, Some(error.clone()));
            }
            Transition::Finish(finish) => {
                if !matches!(finish.status, JobStatus::Succeeded | JobStatus::Failed) {
                    return Err(Refused::NotAnEnd(finish.status));
                }
                refuse_final(status)?;
                require_running(status)?;
                record.status = finish.status;
                record.finished_at = Some(finish.at);
                record.last_status_code = Some(finish.status_code);
                record.last_error = finish.error.clone();
                record.result_stored = finish.result_stored;
                record.dead_lettered = finish.dead_lettered;
                end_attempt(
                    &mut record,
                    finish.at,
                    finish.status_code,
                    finish.error.clone(),
                );
                // The callback is queued before the record is final, so its delivery may have
                // been recorded already: keep that.
                if finish.callback && record.callback.is_none() {
                    record.callback = Some(CallbackOutcome {
                        status: CallbackStatus::Pending,
                        attempts: 0,
                        last_status_code: None,
                        last_error: None,
                        delivered_at: None,
                    });
                }
            }
            Transition::Cancel { at } => {
                refuse_final(status)?;
                record.status = JobStatus::Cancelled;
                record.finished_at = Some(*at);
                record.last_error = Some("cancelled".into());
            }
            Transition::Callback(outcome) => {
                // Queued before the final record is written (a crash may fall in between), a
                // callback can be delivered while the job still says running, or after a
                // cancel that came too late to stop it; never for a job that has not run.
                if matches!(status, JobStatus::Scheduled | JobStatus::Queued) {
                    return Err(Refused::NotFinished(status));
                }
                record.callback = Some(outcome.clone());
            }
        }
        Ok(record)
    }
}

/// Ends the running attempt (the last one listed, if it has not ended).
fn end_attempt(record: &mut JobRecord, at: DateTime<Utc>, code: u16, error: Option<String>) {
    if let Some(attempt) = record.history.last_mut().filter(|a| a.ended_at.is_none()) {
        attempt.ended_at = Some(at);
        attempt.status_code = Some(code);
        attempt.error = error;
    }
}

fn refuse_final(status: JobStatus) -> Result<(), Refused> {
    if status.is_final() {
        Err(Refused::Final(status))
    } else {
        Ok(())
    }
}

fn require_running(status: JobStatus) -> Result<(), Refused> {
    if status == JobStatus::Running {
        Ok(())
    } else {
        Err(Refused::NotRunning(status))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use JobStatus::*;

    fn at() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-01T12:00:00Z")
            .expect("valid")
            .with_timezone(&Utc)
    }

    fn record(status: JobStatus) -> JobRecord {
        let mut record = JobRecord::queued("c", "f", Some("http://127.0.0.1:9/".into()));
        record.status = status;
        record
    }

    fn finish(status: JobStatus) -> Transition {
        Transition::Finish(Finish {
            status,
            status_code: 200,
            error: None,
            result_stored: true,
            dead_lettered: false,
            callback: true,
            at: at(),
        })
    }

    fn callback() -> Transition {
        Transition::Callback(CallbackOutcome {
            status: CallbackStatus::Delivered,
            attempts: 1,
            last_status_code: Some(200),
            last_error: None,
            delivered_at: Some(at()),
        })
    }

    /// Every transition from every state: the status it leads to, or why it is refused.
    #[test]
    fn every_transition_from_every_state() {
        let start = Transition::Start {
            attempt: 2,
            max_attempts: 3,
            at: at(),
        };
        let retry = Transition::Retry {
            status: 503,
            error: "busy".into(),
            at: at(),
        };
        let cancel = Transition::Cancel { at: at() };
        type Expected = Result<JobStatus, Refused>;
        #[rustfmt::skip]
        let table: Vec<(&str, Transition, [Expected; 6])> = vec![
            //        from: scheduled, queued, running, succeeded, failed, cancelled
            ("start", start, [
                Ok(Running), Ok(Running), Ok(Running),
                Err(Refused::Final(Succeeded)), Err(Refused::Final(Failed)), Err(Refused::Final(Cancelled)),
            ]),
            ("retry", retry, [
                Err(Refused::NotRunning(Scheduled)), Err(Refused::NotRunning(Queued)), Ok(Queued),
                Err(Refused::Final(Succeeded)), Err(Refused::Final(Failed)), Err(Refused::Final(Cancelled)),
            ]),
            ("succeed", finish(Succeeded), [
                Err(Refused::NotRunning(Scheduled)), Err(Refused::NotRunning(Queued)), Ok(Succeeded),
                Err(Refused::Final(Succeeded)), Err(Refused::Final(Failed)), Err(Refused::Final(Cancelled)),
            ]),
            ("fail", finish(Failed), [
                Err(Refused::NotRunning(Scheduled)), Err(Refused::NotRunning(Queued)), Ok(Failed),
                Err(Refused::Final(Succeeded)), Err(Refused::Final(Failed)), Err(Refused::Final(Cancelled)),
            ]),
            ("finish as queued", finish(Queued), [
                Err(Refused::NotAnEnd(Queued)), Err(Refused::NotAnEnd(Queued)), Err(Refused::NotAnEnd(Queued)),
                Err(Refused::NotAnEnd(Queued)), Err(Refused::NotAnEnd(Queued)), Err(Refused::NotAnEnd(Queued)),
            ]),
            ("cancel", cancel, [
                Ok(Cancelled), Ok(Cancelled), Ok(Cancelled),
                Err(Refused::Final(Succeeded)), Err(Refused::Final(Failed)), Err(Refused::Final(Cancelled)),
            ]),
            ("callback", callback(), [
                Err(Refused::NotFinished(Scheduled)), Err(Refused::NotFinished(Queued)), Ok(Running),
                Ok(Succeeded), Ok(Failed), Ok(Cancelled),
            ]),
        ];
        let states = [Scheduled, Queued, Running, Succeeded, Failed, Cancelled];
        for (name, transition, expected) in &table {
            for (from, want) in states.iter().zip(expected) {
                let got = transition.apply(Some(&record(*from))).map(|r| r.status);
                assert_eq!(&got, want, "{name} from {}", from.as_str());
            }
            assert_eq!(
                transition.apply(None),
                Err(Refused::Missing),
                "{name} from nothing"
            );
        }
    }

    #[test]
    fn every_attempt_is_listed_with_how_it_ended() {
        let start = |n: u32, record: &JobRecord| {
            Transition::Start {
                attempt: n,
                max_attempts: 3,
                at: at() + chrono::Duration::seconds(i64::from(n)),
            }
            .apply(Some(record))
            .expect("starts")
        };
        let first = start(1, &record(Queued));
        let retried = Transition::Retry {
            status: 502,
            error: "unreachable".into(),
            at: at() + chrono::Duration::seconds(2),
        }
        .apply(Some(&first))
        .expect("retries");
        let second = start(2, &retried);
        let done = finish(Failed).apply(Some(&second)).expect("finishes");
        let summary: Vec<(u32, Option<u16>, bool)> = done
            .history
            .iter()
            .map(|a| (a.number, a.status_code, a.ended_at.is_some()))
            .collect();
        assert_eq!(summary, [(1, Some(502), true), (2, Some(200), true)]);
        assert_eq!(done.history[0].error.as_deref(), Some("unreachable"));

        let mut many = record(Queued);
        for n in 1..=40 {
            many = start(n, &many);
        }
        assert_eq!(many.history.len(), MAX_HISTORY);
        assert_eq!(many.history[0].number, 40 - MAX_HISTORY as u32 + 1);
    }

    #[test]
    fn transitions_record_what_happened() {
        let started = Transition::Start {
            attempt: 1,
            max_attempts: 4,
            at: at(),
        }
        .apply(Some(&record(Queued)))
        .expect("starts");
        assert_eq!((started.attempts, started.max_attempts), (1, Some(4)));
        assert_eq!(started.started_at, Some(at()));

        let later = at() + chrono::Duration::seconds(5);
        let again = Transition::Start {
            attempt: 2,
            max_attempts: 4,
            at: later,
        }
        .apply(Some(&started))
        .expect("restarts");
        assert_eq!(again.started_at, Some(at()), "the first start time is kept");

        let retried = Transition::Retry {
            status: 503,
            error: "function answered 503".into(),
            at: at(),
        }
        .apply(Some(&again))
        .expect("retries");
        assert_eq!(retried.last_status_code, Some(503));
        assert_eq!(retried.last_error.as_deref(), Some("function answered 503"));

        let finished = finish(Succeeded).apply(Some(&again)).expect("finishes");
        assert_eq!(finished.finished_at, Some(at()));
        assert!(finished.result_stored && !finished.dead_lettered);
        assert_eq!(
            finished.callback.as_ref().map(|c| c.status),
            Some(CallbackStatus::Pending)
        );
        let delivered = callback()
            .apply(Some(&finished))
            .expect("records the callback");
        assert_eq!(
            delivered.callback.map(|c| c.status),
            Some(CallbackStatus::Delivered)
        );
        // Delivered before the final record was written: the finish keeps the outcome.
        let early = callback()
            .apply(Some(&again))
            .expect("records the callback");
        let finished = finish(Succeeded).apply(Some(&early)).expect("finishes");
        assert_eq!(
            finished.callback.map(|c| c.status),
            Some(CallbackStatus::Delivered)
        );

        let cancelled = Transition::Cancel { at: at() }
            .apply(Some(&record(Running)))
            .expect("cancels");
        assert_eq!(cancelled.last_error.as_deref(), Some("cancelled"));
    }
}
