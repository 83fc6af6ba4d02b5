//! NATS subject names.

/// Prefix of the subjects that carry synchronous calls: `sy.call.<function>`.
pub const CALL_PREFIX: &str = "sy.call";

/// The queue group every dispatcher joins, so that each call is handled by exactly one.
pub const DISPATCHER_QUEUE_GROUP: &str = "sy-dispatchers";

/// The subject a synchronous call to `function` is sent on.
///
/// `function` must be a valid function name (see [`crate::records::validate_function_name`]),
/// which guarantees it is a single subject token.
pub fn call(function: &str) -> String {
    format!("{CALL_PREFIX}.{function}")
}

/// The wildcard subject dispatchers subscribe to.
pub fn all_calls() -> String {
    format!("{CALL_PREFIX}.*")
}

/// The subject an asynchronous invocation of `function` is stored on (stream `SY_INVOCATIONS`).
pub fn invoke(function: &str) -> String {
    format!("sy.invoke.{function}")
}

/// The subject a dead letter of `function` is stored on (stream `SY_DEAD`).
pub fn dead(function: &str) -> String {
    format!("sy.dead.{function}")
}

/// The subject a callback for `function`'s job is stored on (stream `SY_CALLBACKS`).
pub fn callback(function: &str) -> String {
    format!("sy.callback.{function}")
}

/// Core NATS subject announcing that a job is cancelled; `call_id` is one token
/// (see [`crate::jobs::validate_call_id`]).
pub fn cancel(call_id: &str) -> String {
    format!("sy.cancel.{call_id}")
}

/// The wildcard subject dispatchers subscribe to for cancellations.
pub fn all_cancels() -> &'static str {
    "sy.cancel.*"
}
