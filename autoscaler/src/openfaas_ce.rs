//! OpenFaaS CE's scaling, for functions without scaling labels: the gateway's alert fires when a
//! function serves more than [`RPS_PER_REPLICA`] calls a second per replica for
//! [`SUSTAINED`]; each firing adds a step of `com.openfaas.scale.factor` % of
//! `com.openfaas.scale.max` (20 % of 20 by default), up to the max; when the alert resolves
//! (the minimum would carry the rate, for [`SUSTAINED`]) the function goes back to
//! `com.openfaas.scale.min` (1). A factor of 0 turns it off, as in OpenFaaS. Replicas set by
//! hand stay until an alert fires, as there.
//!
//! Pure decisions; [`crate::service`] measures and writes.

use std::time::{Duration, Instant};

use switchyard_broker::records::{FunctionDeployment, FunctionSpec, MAX_REPLICAS};

/// The request rate per replica above which OpenFaaS CE's `APIHighInvocationRate` alert fires.
pub const RPS_PER_REPLICA: f64 = 5.0;
/// How long the rate must stay above (or below) before the alert fires (or resolves), and the
/// least time between two steps up.
pub const SUSTAINED: Duration = Duration::from_secs(5);

/// A function's bounds and step, from its OpenFaaS labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepPolicy {
    pub min: u32,
    pub max: u32,
    /// Replicas added per firing; 0 when scaling is off (`factor: 0`).
    pub step: u32,
}

impl StepPolicy {
    pub fn of(deployment: &FunctionDeployment) -> Self {
        let label = |name: &str, default: u32| {
            deployment
                .labels
                .as_ref()
                .and_then(|l| l.get(&format!("com.openfaas.scale.{name}")))
                .and_then(|v| v.trim().parse::<u32>().ok())
                .unwrap_or(default)
        };
        let min = FunctionSpec::initial_replicas(deployment).max(1);
        let max = label("max", 20).clamp(min, MAX_REPLICAS);
        let factor = label("factor", 20).min(100);
        StepPolicy {
            min,
            max,
            step: (max * factor).div_ceil(100),
        }
    }
}

/// Where the rate stands: over what the replicas carry, within what only the minimum carries,
/// or in between (hold: stepping down and back up would oscillate under a steady load).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Above,
    Between,
    Below,
}

/// One function's alert: whether it fires, since when the rate has been on its current side.
#[derive(Debug, Default)]
pub struct Alert {
    firing: bool,
    side: Option<(Side, Instant)>,
    last_step: Option<Instant>,
}

/// A change of replicas and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    pub replicas: u32,
    pub reason: &'static str,
}

impl Alert {
    /// The replicas `current` should become at `now` with `rate` calls a second, if any change.
    /// A function at zero is left to the wake-up (a call waiting wakes it).
    pub fn decide(
        &mut self,
        policy: &StepPolicy,
        rate: f64,
        current: u32,
        now: Instant,
    ) -> Option<Step> {
        if policy.step == 0 || current == 0 {
            *self = Alert::default();
            return None;
        }
        let side = if rate / f64::from(current) > RPS_PER_REPLICA {
            Side::Above
        } else if rate / f64::from(policy.min) <= RPS_PER_REPLICA {
            Side::Below
        } else {
            Side::Between
        };
        let since = match self.side {
            Some((was, since)) if was == side => since,
            _ => {
                self.side = Some((side, now));
                now
            }
        };
        if now.duration_since(since) < SUSTAINED {
            return None;
        }
        match side {
            Side::Above => {
                self.firing = true;
                let stepped_recently = self
                    .last_step
                    .is_some_and(|at| now.duration_since(at) < SUSTAINED);
                let replicas = current.saturating_add(policy.step).min(policy.max);
                if stepped_recently || replicas == current {
                    return None;
                }
                self.last_step = Some(now);
                Some(Step {
                    replicas,
                    reason: "over 5 calls/s per replica (OpenFaaS CE alert)",
                })
            }
            Side::Below if self.firing => {
                self.firing = false;
                self.last_step = None;
                (current != policy.min).then_some(Step {
                    replicas: policy.min,
                    reason: "alert resolved: back to the minimum (OpenFaaS CE)",
                })
            }
            Side::Below | Side::Between => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(labels: &[(&str, &str)]) -> StepPolicy {
        StepPolicy::of(&FunctionDeployment {
            service: "f".into(),
            labels: Some(
                labels
                    .iter()
                    .map(|(k, v)| (format!("com.openfaas.scale.{k}"), v.to_string()))
                    .collect(),
            ),
            ..Default::default()
        })
    }

    #[test]
    fn steps_come_from_the_factor_of_the_max() {
        let cases = [
            (vec![], (1, 20, 4)),
            (vec![("max", "10")], (1, 10, 2)),
            (
                vec![("min", "2"), ("max", "5"), ("factor", "50")],
                (2, 5, 3),
            ),
            (vec![("factor", "0")], (1, 20, 0)),
            (vec![("min", "8"), ("max", "3")], (8, 8, 2)),
        ];
        for (labels, (min, max, step)) in cases {
            assert_eq!(policy(&labels), StepPolicy { min, max, step }, "{labels:?}");
        }
    }

    #[test]
    fn a_sustained_rate_steps_up_to_the_max_and_resolving_goes_to_the_min() {
        let p = policy(&[("max", "10")]);
        let mut alert = Alert::default();
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        // (second, calls/s, current replicas, expected replicas after)
        let table: [(u64, f64, u32, Option<u32>); 11] = [
            (0, 10.0, 1, None),       // above, not yet sustained
            (4, 10.0, 1, None),       // still under 5 s
            (5, 10.0, 1, Some(3)),    // fires: + ceil(10 × 20 %) = 2
            (6, 40.0, 3, None),       // a step at most every 5 s
            (10, 40.0, 3, Some(5)),   // fires again
            (15, 100.0, 9, Some(10)), // capped at the max
            (20, 30.0, 10, None),     // 3/s per replica, but too much for the minimum: hold
            (30, 30.0, 10, None),     // still holding
            (31, 2.0, 10, None),      // below, not yet sustained
            (36, 2.0, 10, Some(1)),   // resolved: the minimum
            (45, 2.0, 1, None),       // quiet
        ];
        for (second, rate, current, expected) in table {
            let step = alert
                .decide(&p, rate, current, at(second))
                .map(|s| s.replicas);
            assert_eq!(step, expected, "at {second} s, {rate}/s on {current}");
        }
    }

    #[test]
    fn hand_scaled_replicas_stay_until_an_alert_and_zero_is_left_alone() {
        let p = policy(&[]);
        let mut alert = Alert::default();
        let t0 = Instant::now();
        for second in 0..20 {
            let now = t0 + Duration::from_secs(second);
            assert_eq!(alert.decide(&p, 1.0, 3, now), None, "3 by hand, quiet");
        }
        for second in 0..20 {
            let now = t0 + Duration::from_secs(second);
            assert_eq!(alert.decide(&p, 50.0, 0, now), None, "zero: the wake-up's");
        }
        assert_eq!(alert.decide(&policy(&[("factor", "0")]), 1e6, 1, t0), None);
    }
}
