//! Asynchronous jobs: their records (KV bucket `sy_jobs`) and stored results (`sy_results`).

//!
//! - [`lifecycle`]: the job's state machine; every change of a record is a [`Transition`].
//! - [`record`](JobRecord): what `/system/jobs/{callId}` shows.
//! - [`DeadLetter`] and [`QueuedCallback`]: the messages of `SY_DEAD` and `SY_CALLBACKS`.
//! - [`queue`]: how many jobs wait in `SY_INVOCATIONS`, per function.
//! - [`delay`]: when a delayed job is due, and the message schedule that holds it until then.

mod callback;
mod dead_letter;
pub mod delay;
pub mod lifecycle;
pub mod queue;
mod record;
mod result;
mod store;

pub use callback::{NotACallback, QueuedCallback};
pub use dead_letter::{DeadLetter, DeadReason, NotADeadLetter, Redrive};
pub use lifecycle::{Finish, Refused, Transition};
pub use record::{Attempt, CallbackOutcome, CallbackStatus, JobRecord, JobStatus, MAX_HISTORY};
pub use result::{ResultStore, StoredResult};
pub use store::{JobFilter, JobStore, JobStoreError, TransitionError};

/// A call id usable as a job key and a subject token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid call id `{0}`: use 1 to 128 characters of A-Z, a-z, 0-9, `-`, `_` and `=`")]
pub struct InvalidCallId(pub String);

/// Checks a caller-chosen call id (`X-Call-Id` or `Idempotency-Key`).
pub fn validate_call_id(id: &str) -> Result<(), InvalidCallId> {
    let ok = (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'='));
    if ok {
        Ok(())
    } else {
        Err(InvalidCallId(id.to_string()))
    }
}

/// The job id a caller's key (`X-Call-Id`, `Idempotency-Key`) stands for on `function` when
/// the key itself already names another function's job: HMAC-SHA256 of (function, key) with
/// the deployment's secret routing key (see [`crate::keys`]), so the same key on two functions
/// is two jobs, and nobody can predict (and take first) another function's form of a key.
pub fn scoped_call_id(routing_key: &[u8], function: &str, caller_key: &str) -> String {
    crate::events::routed_call_id(routing_key, "caller-key", function, caller_key, "")
}

#[cfg(test)]
mod tests {
    #[test]
    fn scoped_call_ids_differ_per_function_and_are_call_ids() {
        let a = super::scoped_call_id(b"k", "f", "order-1");
        assert_eq!(a, super::scoped_call_id(b"k", "f", "order-1"));
        assert_ne!(a, super::scoped_call_id(b"k", "g.team-b", "order-1"));
        assert_ne!(a, super::scoped_call_id(b"other key", "f", "order-1"));
        assert!(super::validate_call_id(&a).is_ok());
    }

    #[test]
    fn call_ids_are_key_and_token_safe() {
        assert!(super::validate_call_id("3f1c9a2e-0b7d-4c61-9f0e-8a2b6c4d1e00").is_ok());
        assert!(super::validate_call_id("order_42=retry").is_ok());
        for bad in ["", "a.b", "a b", "a*", "a>", &"x".repeat(129)] {
            assert!(super::validate_call_id(bad).is_err(), "{bad}");
        }
    }
}
