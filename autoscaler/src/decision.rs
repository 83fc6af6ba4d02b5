//! How many replicas a load needs, and when to act on it: up at once, down only once the load
//! has stayed low for the whole stabilisation window (so replicas do not flap), to zero only
//! after the function has been idle for its `zero-duration`.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::policy::ScalePolicy;

/// Replicas for `load` under `policy`, before any window: at least `min` and at least one
/// (zero is decided by idleness, in [`Window::decide`]), at most `max`.
pub fn needed(policy: &ScalePolicy, load: f64) -> u32 {
    let per_replica = (policy.target * policy.proportion).max(f64::MIN_POSITIVE);
    let raw = (load / per_replica).ceil();
    let raw = if raw.is_finite() {
        raw.min(f64::from(policy.max)) as u32
    } else {
        policy.max
    };
    raw.clamp(policy.min.max(1), policy.max)
}

/// One function's recent needs, for the stabilisation window.
#[derive(Debug, Default)]
pub struct Window {
    needs: VecDeque<(Instant, u32)>,
    /// When the function last had any load (calls, jobs waiting).
    last_busy: Option<Instant>,
}

/// What to do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub replicas: u32,
    pub reason: &'static str,
}

impl Window {
    /// The replicas to run now: `need` if it is more than `current`; else the largest need seen
    /// within `window`; zero only when the policy allows it and the function has been idle for
    /// its `zero_after` (measured from when this autoscaler first saw it).
    pub fn decide(
        &mut self,
        policy: &ScalePolicy,
        load: f64,
        current: u32,
        window: Duration,
        now: Instant,
    ) -> Decision {
        let need = needed(policy, load);
        if load > 0.0 || self.last_busy.is_none() {
            self.last_busy = Some(now);
        }
        self.needs.push_back((now, need));
        while self
            .needs
            .front()
            .is_some_and(|(at, _)| now.duration_since(*at) > window)
        {
            self.needs.pop_front();
        }
        let idle_for = self
            .last_busy
            .map_or(Duration::ZERO, |busy| now.duration_since(busy));
        // Idle: to zero (or staying there) when the policy allows it.
        if policy.zero && load == 0.0 && (current == 0 || idle_for >= policy.zero_after) {
            return Decision {
                replicas: 0,
                reason: "idle past zero-duration",
            };
        }
        if need > current {
            return Decision {
                replicas: need,
                reason: "load above target",
            };
        }
        // Never to zero on the way down unless idle long enough (handled above).
        let floor = policy.min.max(1);
        let highest = self
            .needs
            .iter()
            .map(|(_, n)| *n)
            .max()
            .unwrap_or(need)
            .max(floor);
        if highest < current {
            Decision {
                replicas: highest,
                reason: "load below target for the whole window",
            }
        } else {
            Decision {
                replicas: current.max(floor.min(policy.max)),
                reason: "steady",
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::ScaleKind;

    fn policy(min: u32, max: u32, zero: bool) -> ScalePolicy {
        ScalePolicy {
            kind: ScaleKind::Capacity,
            target: 5.0,
            proportion: 1.0,
            min,
            max,
            zero,
            zero_after: Duration::from_secs(10),
        }
    }

    #[test]
    fn needs_follow_the_target_within_min_and_max() {
        let p = policy(1, 4, false);
        assert_eq!(needed(&p, 0.0), 1);
        assert_eq!(needed(&p, 5.0), 1);
        assert_eq!(needed(&p, 6.0), 2);
        assert_eq!(needed(&p, 40.0), 4);
        assert_eq!(
            needed(&policy(0, 4, true), 0.0),
            1,
            "zero comes from idleness only"
        );
        let headroom = ScalePolicy {
            proportion: 0.5,
            ..p
        };
        assert_eq!(needed(&headroom, 5.0), 2, "half of the target per replica");
    }

    #[test]
    fn up_at_once_down_after_the_window() {
        let p = policy(1, 4, false);
        let window = Duration::from_secs(30);
        let start = Instant::now();
        let mut w = Window::default();
        assert_eq!(w.decide(&p, 40.0, 1, window, start).replicas, 4);
        // The load stops: replicas stay while the window remembers the peak…
        let later = start + Duration::from_secs(10);
        assert_eq!(w.decide(&p, 0.0, 4, window, later).replicas, 4);
        // …and fall to the minimum once it has passed.
        let after = start + Duration::from_secs(31);
        let decision = w.decide(&p, 0.0, 4, window, after);
        assert_eq!(decision.replicas, 1, "{decision:?}");
    }

    #[test]
    fn zero_only_after_idling_for_zero_duration() {
        let p = policy(1, 4, true);
        let window = Duration::from_secs(1);
        let start = Instant::now();
        let mut w = Window::default();
        assert_eq!(w.decide(&p, 3.0, 1, window, start).replicas, 1);
        assert_eq!(
            w.decide(&p, 0.0, 1, window, start + Duration::from_secs(5))
                .replicas,
            1
        );
        let idle = w.decide(&p, 0.0, 1, window, start + Duration::from_secs(11));
        assert_eq!(idle.replicas, 0, "{idle:?}");
        assert_eq!(
            w.decide(&p, 1.0, 0, window, start + Duration::from_secs(12))
                .replicas,
            1
        );
    }
}
