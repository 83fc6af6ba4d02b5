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
