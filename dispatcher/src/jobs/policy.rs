//! Per-function job settings from annotations, and which failures are worth retrying.

use std::time::Duration;

use switchyard_broker::backoff::Backoff;
use switchyard_broker::duration::parse_duration;
use switchyard_broker::events::{BackoffPolicy, Subscription};

/// Longest wait between a subscription's delivery attempts.
const MAX_SUBSCRIPTION_BACKOFF: Duration = Duration::from_secs(3600);
use switchyard_broker::records::FunctionSpec;

use crate::config::JobsConfig;

/// How one function's jobs run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JobPolicy {
    pub(crate) concurrency: usize,
    pub(crate) timeout: Duration,
    pub(crate) attempts: u32,
    pub(crate) retry_codes: Vec<u16>,
    pub(crate) backoff: Backoff,
    /// Backoff grows linearly instead of exponentially.
    pub(crate) linear: bool,
    /// Failed jobs are copied to `SY_DEAD`.
    pub(crate) dead_letter: bool,
    /// A CloudEvent answer is published back to `SY_EVENTS`.
    pub(crate) reply: bool,
}

impl JobPolicy {
    /// Worker defaults, overridden by the function's annotations where they parse.
    pub(crate) fn for_function(spec: &FunctionSpec, defaults: &JobsConfig) -> Self {
        let duration = |key: &str| spec.annotation(key).and_then(|v| parse_duration(v).ok());
        let number = |key: &str| {
            spec.annotation(key)
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        let min = duration("com.openfaas.retry.min_wait").unwrap_or(defaults.backoff.min);
        let max = duration("com.openfaas.retry.max_wait")
            .unwrap_or(defaults.backoff.max)
            .max(min);
        let retry_codes = spec
            .annotation("com.openfaas.retry.codes")
            .map(|codes| {
                codes
                    .split([',', ' '])
                    .filter_map(|c| c.trim().parse::<u16>().ok())
                    .collect::<Vec<_>>()
            })
            .filter(|codes| !codes.is_empty())
            .unwrap_or_else(|| defaults.retry_codes.clone());
        JobPolicy {
            concurrency: number("com.switchyard.async.concurrency")
                .map(|n| n.clamp(1, 10_000) as usize)
                .unwrap_or(defaults.concurrency),
            timeout: duration("com.switchyard.async.timeout").unwrap_or(defaults.timeout),
            attempts: number("com.openfaas.retry.attempts")
                .map(|n| n.clamp(1, 1000) as u32)
                .unwrap_or(defaults.attempts),
            retry_codes,
            backoff: Backoff { min, max },
            linear: false,
            dead_letter: true,
            reply: false,
        }
    }

    /// The policy for deliveries of `subscription`: its delivery spec over this one.
    pub(crate) fn for_subscription(&self, subscription: &Subscription) -> Self {
        let attempts = subscription.attempts().unwrap_or(self.attempts);
        let linear = subscription.delivery.backoff_policy == Some(BackoffPolicy::Linear);
        let backoff = match subscription.backoff_delay() {
            Some(delay) => {
                let growth = if linear {
                    attempts
                } else {
                    1u32 << attempts.min(20)
                };
                Backoff {
                    min: delay,
                    max: delay
                        .saturating_mul(growth)
                        .min(MAX_SUBSCRIPTION_BACKOFF)
                        .max(delay),
                }
            }
            None => self.backoff,
        };
        JobPolicy {
            concurrency: self.concurrency,
            timeout: subscription.timeout().unwrap_or(self.timeout),
            attempts,
            retry_codes: self.retry_codes.clone(),
            backoff,
            linear,
            dead_letter: subscription.dead_letter(),
            reply: subscription.reply,
        }
    }

    /// The wait before the next attempt after `attempt` failed.
    pub(crate) fn delay(&self, attempt: u32) -> Duration {
        if self.linear {
            self.backoff.linear_delay(attempt)
        } else {
            self.backoff.delay(attempt)
        }
    }

    /// Whether an answer with this status is worth another attempt.
    pub(crate) fn retries_status(&self, status: u16) -> bool {
        self.retry_codes.contains(&status)
    }
}

/// `Retry-After` in seconds (the HTTP-date form is rare from functions and is ignored).
pub(crate) fn retry_after(headers: &[(String, String)]) -> Option<Duration> {
    headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("retry-after"))
        .and_then(|(_, value)| value.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::Utc;
    use switchyard_broker::records::FunctionDeployment;

    use super::*;

    fn spec(annotations: &[(&str, &str)]) -> FunctionSpec {
        FunctionSpec {
            deployment: FunctionDeployment {
                service: "f".into(),
                annotations: Some(
                    annotations
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect::<BTreeMap<_, _>>(),
                ),
                ..Default::default()
            },
            replicas: 1,
            created_at: Utc::now(),
            topic_start_sequence: None,
            start_failure: None,
        }
    }

    #[test]
    fn annotations_override_defaults() {
        let defaults = JobsConfig::default();
        let policy = JobPolicy::for_function(
            &spec(&[
                ("com.openfaas.retry.attempts", "5"),
                ("com.openfaas.retry.codes", "429, 503"),
                ("com.openfaas.retry.min_wait", "100ms"),
                ("com.openfaas.retry.max_wait", "2s"),
                ("com.switchyard.async.concurrency", "4"),
                ("com.switchyard.async.timeout", "1m"),
            ]),
            &defaults,
        );
        assert_eq!(policy.attempts, 5);
        assert_eq!(policy.retry_codes, vec![429, 503]);
        assert_eq!(
            policy.backoff,
            Backoff {
                min: Duration::from_millis(100),
                max: Duration::from_secs(2)
            }
        );
        assert_eq!(policy.concurrency, 4);
        assert_eq!(policy.timeout, Duration::from_secs(60));
        assert!(policy.retries_status(503) && !policy.retries_status(500));
    }

    #[test]
    fn unparsable_annotations_fall_back_to_defaults() {
        let defaults = JobsConfig::default();
        let policy = JobPolicy::for_function(
            &spec(&[
                ("com.openfaas.retry.attempts", "many"),
                ("com.openfaas.retry.codes", "x"),
            ]),
            &defaults,
        );
        assert_eq!(policy.attempts, defaults.attempts);
        assert_eq!(policy.retry_codes, defaults.retry_codes);
    }

    #[test]
    fn retry_after_seconds_are_read() {
        let headers = vec![("Retry-After".to_string(), "3".to_string())];
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(3)));
        assert_eq!(retry_after(&[]), None);
    }
}
