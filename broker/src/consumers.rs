//! Durable JetStream consumer names. Every dispatcher binds to the same names, so the work of
//! one consumer is shared among them.

/// The consumer of `function`'s invocations on `SY_INVOCATIONS`.
pub fn worker(function: &str) -> String {
    format!("sy-worker-{function}")
}

/// The consumer of `SY_CALLBACKS`.
pub const CALLBACKS: &str = "sy-callbacks";

/// The consumer of `SY_EVENTS` routing events to the subscription `name`.
pub fn subscription(name: &str) -> String {
    format!("sy-sub-{name}")
}

/// The consumer of `SY_EVENTS` routing events to `function` by its `topic` annotation.
pub fn topic(function: &str) -> String {
    format!("sy-topic-{function}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_are_distinct_per_kind() {
        assert_ne!(super::subscription("a"), super::topic("a"));
        assert_ne!(super::worker("a"), super::topic("a"));
        assert_eq!(super::worker("echo"), "sy-worker-echo");
    }
}
