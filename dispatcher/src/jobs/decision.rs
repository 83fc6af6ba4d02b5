//! What a job does after one attempt: a pure function of the attempt's outcome, the attempt
//! number and the policy, so every branch is unit-tested without a peer.

use std::time::Duration;

use switchyard_broker::invocation::CallReply;
use switchyard_broker::jobs::DeadReason;

use super::policy::{retry_after, JobPolicy};
use crate::delivery::DeliveryError;

/// What happens after the function answered (or could not be reached).
#[derive(Debug)]
pub(crate) enum Decision {
    Succeed(CallReply),
    Retry {
        delay: Duration,
        status: u16,
        error: String,
    },
    Fail {
        reply: CallReply,
        reason: DeadReason,
        error: String,
    },
}

/// The decision after attempt `attempt` (1-based) of a job of `function`.
pub(crate) fn decide(
    result: Result<CallReply, DeliveryError>,
    attempt: u32,
    policy: &JobPolicy,
    function: &str,
) -> Decision {
    let last = attempt >= policy.attempts;
    match result {
        Ok(reply) if reply.status < 400 => Decision::Succeed(reply),
        Ok(reply) if policy.retries_status(reply.status) && !last => Decision::Retry {
            delay: policy
                .backoff
                .honour_retry_after(policy.delay(attempt), retry_after(&reply.headers)),
            status: reply.status,
            error: format!("function answered {}", reply.status),
        },
        Ok(reply) => {
            let reason = if policy.retries_status(reply.status) {
                DeadReason::AttemptsExhausted
            } else {
                DeadReason::NotRetriable
            };
            let error = format!("function answered {}", reply.status);
            Decision::Fail {
                reply,
                reason,
                error,
            }
        }
        // Network-level failures are always worth another attempt.
        Err(error) if !last => Decision::Retry {
            delay: policy.delay(attempt),
            status: 503,
            error: error.to_string(),
        },
        Err(error) => {
            let mut reply = error.reply(function);
            // OpenFaaS's convention for a call that failed at the network level.
            reply.status = 503;
            Decision::Fail {
                reply,
                reason: DeadReason::AttemptsExhausted,
                error: error.to_string(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::config::JobsConfig;

    fn policy() -> JobPolicy {
        let spec = switchyard_broker::records::FunctionSpec {
            deployment: switchyard_broker::records::FunctionDeployment {
                service: "f".into(),
                ..Default::default()
            },
            replicas: 1,
            created_at: chrono::Utc::now(),
            topic_start_sequence: None,
            start_failure: None,
        };
        JobPolicy::for_function(&spec, &JobsConfig::default())
    }

    fn answer(status: u16, headers: &[(&str, &str)]) -> Result<CallReply, DeliveryError> {
        Ok(CallReply {
            status,
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            body: Bytes::from_static(b"x"),
            internal: false,
        })
    }

    fn unreachable() -> Result<CallReply, DeliveryError> {
        Err(DeliveryError::NoReplica("f".into()))
    }

    #[test]
    fn success_is_any_status_below_400() {
        for status in [200, 202, 302] {
            assert!(matches!(
                decide(answer(status, &[]), 1, &policy(), "f"),
                Decision::Succeed(r) if r.status == status
            ));
        }
    }

    #[test]
    fn retriable_statuses_retry_until_the_last_attempt() {
        let policy = policy();
        assert_eq!(policy.attempts, 3);
        for status in [408, 429, 500, 502, 503, 504] {
            assert!(
                matches!(decide(answer(status, &[]), 1, &policy, "f"), Decision::Retry { status: s, .. } if s == status),
                "{status}"
            );
            assert!(
                matches!(
                    decide(answer(status, &[]), 3, &policy, "f"),
                    Decision::Fail {
                        reason: DeadReason::AttemptsExhausted,
                        ..
                    }
                ),
                "{status}"
            );
        }
    }

    #[test]
    fn other_failures_fail_at_once() {
        for status in [400, 401, 404, 501] {
            assert!(
                matches!(
                    decide(answer(status, &[]), 1, &policy(), "f"),
                    Decision::Fail { reason: DeadReason::NotRetriable, ref error, .. } if error.contains(&status.to_string())
                ),
                "{status}"
            );
        }
    }

    #[test]
    fn retry_after_lengthens_the_wait_but_never_shortens_it() {
        let policy = policy();
        let Decision::Retry { delay, .. } =
            decide(answer(429, &[("Retry-After", "7")]), 1, &policy, "f")
        else {
            panic!("expected a retry");
        };
        assert_eq!(delay, Duration::from_secs(7));
        let Decision::Retry { delay, .. } =
            decide(answer(429, &[("Retry-After", "0")]), 1, &policy, "f")
        else {
            panic!("expected a retry");
        };
        assert!(delay >= policy.backoff.min, "{delay:?}");
    }

    #[test]
    fn unreachable_functions_retry_then_fail_as_503() {
        assert!(matches!(
            decide(unreachable(), 1, &policy(), "f"),
            Decision::Retry { status: 503, .. }
        ));
        let Decision::Fail {
            reply,
            reason,
            error,
        } = decide(unreachable(), 3, &policy(), "f")
        else {
            panic!("expected a failure");
        };
        assert_eq!((reply.status, reason), (503, DeadReason::AttemptsExhausted));
        assert!(
            reply.internal && error.contains("no ready replica"),
            "{error}"
        );
    }
}
