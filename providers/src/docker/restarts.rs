//! Backoff for replicas that keep exiting or cannot start: a crash-looping container, or one the
//! engine refuses to create or start, is tried again after a growing wait (0.5 s doubling up to
//! 30 s) instead of at every reconcile round.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use switchyard_broker::backoff::Backoff;

const BACKOFF: Backoff = Backoff {
    min: Duration::from_millis(500),
    max: Duration::from_secs(30),
};

/// Exits per function since it last had all its replicas ready, and when it may start again.
#[derive(Default)]
pub(crate) struct Restarts {
    functions: Mutex<HashMap<String, (u32, Instant)>>,
}

impl Restarts {
    /// `count` containers of `function` exited.
    pub(crate) fn exited(&self, function: &str, count: usize, now: Instant) {
        if count == 0 {
            return;
        }
        let mut functions = self.functions.lock().unwrap_or_else(|e| e.into_inner());
        let entry = functions.entry(function.to_string()).or_insert((0, now));
        entry.0 = entry.0.saturating_add(count as u32);
        entry.1 = now + BACKOFF.delay_with_jitter(entry.0, 0.999);
    }

    /// Whether new containers of `function` may be created now.
    pub(crate) fn may_start(&self, function: &str, now: Instant) -> bool {
        let functions = self.functions.lock().unwrap_or_else(|e| e.into_inner());
        functions
            .get(function)
            .is_none_or(|(_, after)| now >= *after)
    }

    /// `function` has all its replicas ready: forget its exits.
    pub(crate) fn settled(&self, function: &str) {
        let mut functions = self.functions.lock().unwrap_or_else(|e| e.into_inner());
        functions.remove(function);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_crash_loop_waits_longer_each_time_and_a_healthy_function_starts_at_once() {
        let restarts = Restarts::default();
        let start = Instant::now();
        assert!(restarts.may_start("f", start));
        restarts.exited("f", 1, start);
        assert!(!restarts.may_start("f", start + Duration::from_millis(100)));
        assert!(restarts.may_start("f", start + Duration::from_secs(1)));
        for _ in 0..10 {
            restarts.exited("f", 1, start);
        }
        assert!(!restarts.may_start("f", start + Duration::from_secs(20)));
        assert!(restarts.may_start("f", start + Duration::from_secs(31)));
        assert!(
            restarts.may_start("g", start),
            "another function is not held back"
        );
        restarts.settled("f");
        assert!(restarts.may_start("f", start));
    }
}
