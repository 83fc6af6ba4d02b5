//! Durable JetStream consumer names. Every dispatcher binds to the same names, so the work of
//! one consumer is shared among them.

/// The consumer of `function`'s invocations on `SY_INVOCATIONS`.
pub fn worker(function: &str) -> String {
    format!("sy-worker-{}", without_dots(function))
}

/// A function id in a consumer name, which may not hold a dot: `name.namespace` becomes
/// `name~namespace` (neither part can hold a `~`).
fn without_dots(function: &str) -> String {
    function.replace('.', "~")
}

/// The consumer of `SY_EVENTS` that keeps the event catalog (see [`crate::catalog`]).
pub const CATALOG: &str = "sy-catalog";

/// The consumer of `SY_CALLBACKS`.
pub const CALLBACKS: &str = "sy-callbacks";

/// The consumer of `SY_EVENTS` routing events to the subscription `name`.
pub fn subscription(name: &str) -> String {
    format!("sy-sub-{name}")
}

/// The consumer of `SY_EVENTS` routing events to `function` by its `topic` annotation.
pub fn topic(function: &str) -> String {
    format!("sy-topic-{}", without_dots(function))
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_are_distinct_per_kind() {
        assert_ne!(super::subscription("a"), super::topic("a"));
        assert_ne!(super::worker("a"), super::topic("a"));
        assert_eq!(super::worker("echo"), "sy-worker-echo");
        assert_eq!(super::worker("echo.team-a"), "sy-worker-echo~team-a");
    }
}
