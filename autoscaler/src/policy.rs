//! A function's scaling labels, as OpenFaaS's autoscaler reads them (defaults in brackets):
//! `com.openfaas.scale.type` (`rps` | `capacity` | `queue` [rps]), `.target` (load per replica
//! [50]), `.target-proportion` ([0.90]), `.min` ([1]), `.max` ([20]), `.zero` ([false]),
//! `.zero-duration` (idle time before zero [15m]).
//!
//! A function is autoscaled when it has a `type`, `target` or `zero` label; others keep the
//! replicas they were deployed or scaled to (or take OpenFaaS CE's steps: [`crate::openfaas_ce`]);
//! any function at zero is woken by the dispatcher that holds a call or a job for it.

use std::time::Duration;

use switchyard_broker::duration::parse_duration;
use switchyard_broker::records::{FunctionDeployment, MAX_REPLICAS};

const PREFIX: &str = "com.openfaas.scale.";

/// What load means for a function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScaleKind {
    /// Calls finished per second.
    Rps,
    /// Calls in flight.
    Capacity,
    /// Asynchronous jobs waiting (queued or running).
    Queue,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ScalePolicy {
    pub kind: ScaleKind,
    /// Load one replica should carry.
    pub target: f64,
    /// Scale as if each replica carried only this share of `target`, to keep headroom.
    pub proportion: f64,
    pub min: u32,
    pub max: u32,
    /// May go to zero replicas after `zero_after` without load.
    pub zero: bool,
    pub zero_after: Duration,
}

impl ScalePolicy {
    /// The policy of an autoscaled function; `None` for one scaled by hand.
    pub fn of(deployment: &FunctionDeployment) -> Option<Self> {
        let label = |name: &str| {
            deployment
                .labels
                .as_ref()
                .and_then(|l| l.get(&format!("{PREFIX}{name}")))
                .map(|v| v.trim().to_string())
        };
        if ["type", "target", "zero"]
            .iter()
            .all(|l| label(l).is_none())
        {
            return None;
        }
        let kind = match label("type").as_deref() {
            Some("capacity") => ScaleKind::Capacity,
            Some("queue") => ScaleKind::Queue,
            _ => ScaleKind::Rps,
        };
        let number = |name: &str, default: f64| {
            label(name)
                .and_then(|v| v.parse::<f64>().ok())
                .filter(|v| v.is_finite() && *v > 0.0)
                .unwrap_or(default)
        };
        let count = |name: &str, default: u32| {
            label(name)
                .and_then(|v| v.parse::<u32>().ok())
                .unwrap_or(default)
                .min(MAX_REPLICAS)
        };
        let min = count("min", 1);
        Some(ScalePolicy {
            kind,
            target: number("target", 50.0),
            proportion: number("target-proportion", 0.9).min(1.0),
            min,
            max: count("max", 20).max(min.max(1)),
            zero: label("zero").is_some_and(|v| v == "true"),
            zero_after: label("zero-duration")
                .and_then(|v| parse_duration(&v).ok())
                .unwrap_or(Duration::from_secs(15 * 60)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(labels: &[(&str, &str)]) -> FunctionDeployment {
        FunctionDeployment {
            service: "f".into(),
            labels: Some(
                labels
                    .iter()
                    .map(|(k, v)| (format!("{PREFIX}{k}"), v.to_string()))
                    .collect(),
            ),
            ..Default::default()
        }
    }

    #[test]
    fn openfaas_defaults_apply_and_unlabelled_functions_are_left_alone() {
        assert_eq!(ScalePolicy::of(&with(&[])), None);
        assert_eq!(ScalePolicy::of(&with(&[("min", "2")])), None);
        let policy = ScalePolicy::of(&with(&[("type", "rps")])).expect("autoscaled");
        assert_eq!(
            (
                policy.kind,
                policy.target,
                policy.proportion,
                policy.min,
                policy.max,
                policy.zero
            ),
            (ScaleKind::Rps, 50.0, 0.9, 1, 20, false)
        );
        assert_eq!(policy.zero_after, Duration::from_secs(900));
    }

    #[test]
    fn labels_set_every_knob() {
        let policy = ScalePolicy::of(&with(&[
            ("type", "capacity"),
            ("target", "5"),
            ("target-proportion", "1"),
            ("min", "0"),
            ("max", "4"),
            ("zero", "true"),
            ("zero-duration", "30s"),
        ]))
        .expect("autoscaled");
        assert_eq!(
            (
                policy.kind,
                policy.target,
                policy.proportion,
                policy.min,
                policy.max,
                policy.zero
            ),
            (ScaleKind::Capacity, 5.0, 1.0, 0, 4, true)
        );
        assert_eq!(policy.zero_after, Duration::from_secs(30));
        let queue = ScalePolicy::of(&with(&[("type", "queue"), ("max", "0")])).expect("autoscaled");
        assert_eq!(
            (queue.kind, queue.max),
            (ScaleKind::Queue, 1),
            "max is at least 1"
        );
    }
}
