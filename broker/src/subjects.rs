//! NATS subject names: how each is built, and how the parts that receive one read it back.
//!
//! A call id is one token ([`crate::jobs::validate_call_id`] guarantees it); a function id is
//! one token in the default namespace and two (`name.namespace`) in others
//! ([`crate::records::validate_function_name`] and [`crate::records::validate_namespace`]
//! guarantee no more).

/// Prefix of the subjects that carry synchronous calls: `sy.call.<function>`.
const CALL_PREFIX: &str = "sy.call.";
const INVOKE_PREFIX: &str = "sy.invoke.";
const DELAYED_PREFIX: &str = "sy.delayed.";
const DUE_PREFIX: &str = "sy.due.";
const DEAD_PREFIX: &str = "sy.dead.";
const CALLBACK_PREFIX: &str = "sy.callback.";
const CANCEL_PREFIX: &str = "sy.cancel.";

/// The queue group every dispatcher joins, so that each call is handled by exactly one.
pub const DISPATCHER_QUEUE_GROUP: &str = "sy-dispatchers";

/// The subject a synchronous call to `function` is sent on.
pub fn call(function: &str) -> String {
    format!("{CALL_PREFIX}{function}")
}

/// The wildcard subject dispatchers subscribe to.
pub fn all_calls() -> String {
    format!("{CALL_PREFIX}>")
}

/// The function a synchronous call is addressed to.
pub fn parse_call(subject: &str) -> Option<&str> {
    function_id(subject, CALL_PREFIX)
}

/// The subject an asynchronous invocation of `function` is stored on (stream `SY_INVOCATIONS`).
pub fn invoke(function: &str) -> String {
    format!("{INVOKE_PREFIX}{function}")
}

/// Every invocation subject (the subjects of `SY_INVOCATIONS`).
pub const ALL_INVOKES: &str = "sy.invoke.>";

/// The function of a stored invocation.
pub fn parse_invoke(subject: &str) -> Option<&str> {
    function_id(subject, INVOKE_PREFIX)
}

/// The subject a delayed job waits on in `SY_DELAYED` until it is due (a message schedule):
/// `sy.delayed.<call id>`, one subject per job, so cancelling it is purging that subject.
pub fn delayed(call_id: &str) -> String {
    format!("{DELAYED_PREFIX}{call_id}")
}

/// Every delayed-job subject.
pub const ALL_DELAYED: &str = "sy.delayed.>";

/// The subject JetStream stores a delayed job of `function` on when it is due (in
/// `SY_DELAYED`), from where a dispatcher moves it to [`invoke`].
pub fn due(function: &str) -> String {
    format!("{DUE_PREFIX}{function}")
}

/// Every subject of jobs come due.
pub const ALL_DUE: &str = "sy.due.>";

/// The function of a job come due.
pub fn parse_due(subject: &str) -> Option<&str> {
    function_id(subject, DUE_PREFIX)
}

/// The subject a dead letter of `function` is stored on (stream `SY_DEAD`).
pub fn dead(function: &str) -> String {
    format!("{DEAD_PREFIX}{function}")
}

/// Every dead-letter subject (the subjects of `SY_DEAD`).
pub const ALL_DEAD: &str = "sy.dead.>";

/// The function of a dead letter.
pub fn parse_dead(subject: &str) -> Option<&str> {
    function_id(subject, DEAD_PREFIX)
}

/// The subject a callback for `function`'s job is stored on (stream `SY_CALLBACKS`).
pub fn callback(function: &str) -> String {
    format!("{CALLBACK_PREFIX}{function}")
}

/// Every callback subject (the subjects of `SY_CALLBACKS`).
pub const ALL_CALLBACKS: &str = "sy.callback.>";

/// The function of a queued callback.
pub fn parse_callback(subject: &str) -> Option<&str> {
    function_id(subject, CALLBACK_PREFIX)
}

/// Core NATS subject announcing that a job is cancelled.
pub fn cancel(call_id: &str) -> String {
    format!("{CANCEL_PREFIX}{call_id}")
}

/// The wildcard subject dispatchers subscribe to for cancellations.
pub fn all_cancels() -> String {
    format!("{CANCEL_PREFIX}*")
}

/// The call id of a cancellation.
pub fn parse_cancel(subject: &str) -> Option<&str> {
    one_token(subject, CANCEL_PREFIX)
}

/// Request/reply subject on which the active provider validates and prepares a deployment
/// (see [`crate::provider`]).
pub const PROVIDER_PREPARE: &str = "sy.provider.prepare";

/// Core NATS subject of the dispatchers' load reports ([`crate::load::LoadReport`]).
pub const LOAD: &str = "sy.load";

/// Request subject on which the active provider serves a function's logs.
pub const PROVIDER_LOGS: &str = "sy.provider.logs";

/// A function id after `prefix`: one token, or two (`name.namespace`).
fn function_id<'a>(subject: &'a str, prefix: &str) -> Option<&'a str> {
    subject.strip_prefix(prefix).filter(|rest| {
        let tokens: Vec<&str> = rest.split('.').collect();
        (1..=2).contains(&tokens.len()) && tokens.iter().all(|t| !t.is_empty())
    })
}

fn one_token<'a>(subject: &'a str, prefix: &str) -> Option<&'a str> {
    subject
        .strip_prefix(prefix)
        .filter(|rest| !rest.is_empty() && !rest.contains('.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_subject_round_trips() {
        type Build = fn(&str) -> String;
        type Parse = fn(&str) -> Option<&str>;
        let functions: [(Build, Parse); 4] = [
            (call, parse_call),
            (invoke, parse_invoke),
            (dead, parse_dead),
            (callback, parse_callback),
        ];
        for (build, parse) in functions {
            for id in ["echo-1", "echo-1.team-a"] {
                let subject = build(id);
                assert_eq!(parse(&subject), Some(id), "{subject}");
            }
            assert_eq!(parse(&build("a.b.c")), None);
            assert_eq!(parse(&build("a.")), None);
        }
        let subject = cancel("c-1");
        assert_eq!(parse_cancel(&subject), Some("c-1"));
        assert_eq!(parse_cancel(&format!("{subject}.extra")), None);
        assert_eq!(parse_invoke(&callback("f")), None);
        assert_eq!(parse_cancel("sy.cancel."), None);
    }

    #[test]
    fn wildcards_cover_their_subjects() {
        assert!(all_calls().ends_with(".>") && call("f").starts_with(&all_calls()[..8]));
        for (all, one) in [
            (ALL_INVOKES, invoke("f")),
            (ALL_DEAD, dead("f")),
            (ALL_CALLBACKS, callback("f")),
        ] {
            assert!(one.starts_with(all.trim_end_matches('>')), "{all} {one}");
        }
        assert!(cancel("c").starts_with(all_cancels().trim_end_matches('*')));
    }
}
