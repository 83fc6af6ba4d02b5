//! How long to wait before trying again: exponential with jitter between a minimum and a
//! maximum, shared by every retry loop. Whether to retry at all is each component's decision.

use std::time::Duration;

/// Exponential backoff bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub min: Duration,
    pub max: Duration,
}

impl Backoff {
    /// The wait before attempt `attempt + 1`, after `attempt` (1-based) failed: `min · 2^(attempt-1)`
    /// capped at `max`, then scaled by a random factor in [0.5, 1) and never below `min`.
    pub fn delay(&self, attempt: u32) -> Duration {
        self.delay_with_jitter(attempt, fastrand::f64())
    }

    /// [`Backoff::delay`] with the jitter given (0 ≤ `jitter` < 1), for tests.
    pub fn delay_with_jitter(&self, attempt: u32, jitter: f64) -> Duration {
        let exponent = attempt.saturating_sub(1).min(30);
        let ceiling = self.min.saturating_mul(1u32 << exponent).min(self.max);
        ceiling
            .mul_f64(0.5 + jitter.clamp(0.0, 1.0) / 2.0)
            .max(self.min)
    }

    /// Linear growth instead: `min · attempt`, capped at `max`, no jitter (Knative's `linear`).
    pub fn linear_delay(&self, attempt: u32) -> Duration {
        self.min.saturating_mul(attempt.max(1)).min(self.max)
    }

    /// A server's `Retry-After` overrides the computed wait, but never goes below `min` nor
    /// above `max` (a function cannot park a job for a year).
    pub fn honour_retry_after(
        &self,
        computed: Duration,
        retry_after: Option<Duration>,
    ) -> Duration {
        match retry_after {
            Some(asked) => asked.min(self.max).max(self.min),
            None => computed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const B: Backoff = Backoff {
        min: Duration::from_millis(100),
        max: Duration::from_secs(1),
    };

    #[test]
    fn grows_exponentially_within_bounds() {
        assert_eq!(
            B.delay_with_jitter(1, 0.999_999),
            Duration::from_millis(100)
        );
        assert_eq!(B.delay_with_jitter(2, 0.0), Duration::from_millis(100));
        assert!(B.delay_with_jitter(3, 0.999_999) > Duration::from_millis(399));
        assert_eq!(B.delay_with_jitter(30, 0.0), Duration::from_millis(500));
        for attempt in 1..40 {
            let d = B.delay(attempt);
            assert!(d >= B.min && d <= B.max, "{attempt}: {d:?}");
        }
    }

    #[test]
    fn retry_after_overrides_within_the_bounds() {
        let computed = Duration::from_millis(300);
        assert_eq!(B.honour_retry_after(computed, None), computed);
        assert_eq!(
            B.honour_retry_after(computed, Some(Duration::from_secs(365 * 24 * 3600))),
            B.max
        );
        assert_eq!(
            B.honour_retry_after(computed, Some(Duration::from_millis(700))),
            Duration::from_millis(700)
        );
        assert_eq!(B.honour_retry_after(computed, Some(Duration::ZERO)), B.min);
    }
}
