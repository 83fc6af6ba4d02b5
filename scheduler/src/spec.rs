//! A function's schedule, from its annotations: `topic` naming `cron-function` and `schedule`
//! (OpenFaaS's cron-connector), and Switchyard's `com.switchyard.schedule.*`.

use std::collections::BTreeMap;

use crate::cron::{InvalidSchedule, Schedule};

/// The `topic` value (one of a comma-separated list) that makes a function scheduled.
pub const CRON_TOPIC: &str = "cron-function";
pub const TOPIC: &str = "topic";
pub const SCHEDULE: &str = "schedule";
pub const TIMEZONE: &str = "com.switchyard.schedule.timezone";
pub const MISFIRE: &str = "com.switchyard.schedule.misfire";
pub const OVERLAP: &str = "com.switchyard.schedule.overlap";
pub const DATA: &str = "com.switchyard.schedule.data";

/// What happens to ticks missed while nothing ran them (everything stopped, NATS down).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Misfire {
    /// None of them runs (the default).
    Skip,
    /// One job runs for the latest of them.
    Latest,
    /// Each runs, up to a bound.
    All,
}

/// What a tick does while the previous tick's job still runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overlap {
    /// It runs too (the default).
    Allow,
    /// It is recorded as skipped.
    Skip,
    /// It runs after the previous one.
    Queue,
}

impl Misfire {
    pub fn as_str(self) -> &'static str {
        match self {
            Misfire::Skip => "skip",
            Misfire::Latest => "latest",
            Misfire::All => "all",
        }
    }
}

impl Overlap {
    pub fn as_str(self) -> &'static str {
        match self {
            Overlap::Allow => "allow",
            Overlap::Skip => "skip",
            Overlap::Queue => "queue",
        }
    }
}

/// A function's schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleSpec {
    pub schedule: Schedule,
    /// The schedule as written.
    pub text: String,
    pub misfire: Misfire,
    pub overlap: Overlap,
    /// The body of each tick's job.
    pub data: String,
}

/// Why a function's schedule annotations are refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidSpec {
    #[error("annotation `topic: {CRON_TOPIC}` needs a `schedule` annotation")]
    NoSchedule,
    #[error("annotation `{SCHEDULE}`: {0}")]
    Schedule(#[from] InvalidSchedule),
    #[error("annotation `{MISFIRE}`: `{0}` is not skip, latest or all")]
    Misfire(String),
    #[error("annotation `{OVERLAP}`: `{0}` is not allow, skip or queue")]
    Overlap(String),
}

impl ScheduleSpec {
    /// The schedule these annotations give: `None` for a function that is not scheduled.
    pub fn of(annotations: Option<&BTreeMap<String, String>>) -> Option<Result<Self, InvalidSpec>> {
        let annotations = annotations?;
        let scheduled = annotations
            .get(TOPIC)
            .is_some_and(|topics| topics.split(',').any(|t| t.trim() == CRON_TOPIC));
        if !scheduled {
            return None;
        }
        Some(Self::read(annotations))
    }

    fn read(annotations: &BTreeMap<String, String>) -> Result<Self, InvalidSpec> {
        let get = |key: &str| annotations.get(key).map(|v| v.trim());
        let text = get(SCHEDULE)
            .filter(|s| !s.is_empty())
            .ok_or(InvalidSpec::NoSchedule)?;
        let schedule = Schedule::parse(text, get(TIMEZONE))?;
        let misfire = get(MISFIRE).unwrap_or("skip");
        let misfire = [Misfire::Skip, Misfire::Latest, Misfire::All]
            .into_iter()
            .find(|m| m.as_str() == misfire)
            .ok_or_else(|| InvalidSpec::Misfire(misfire.to_string()))?;
        let overlap = get(OVERLAP).unwrap_or("allow");
        let overlap = [Overlap::Allow, Overlap::Skip, Overlap::Queue]
            .into_iter()
            .find(|o| o.as_str() == overlap)
            .ok_or_else(|| InvalidSpec::Overlap(overlap.to_string()))?;
        Ok(ScheduleSpec {
            schedule,
            text: text.to_string(),
            misfire,
            overlap,
            data: annotations.get(DATA).cloned().unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn annotations(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn scheduled_only_with_the_cron_topic() {
        assert!(ScheduleSpec::of(None).is_none());
        let plain = annotations(&[("topic", "orders"), ("schedule", "* * * * *")]);
        assert!(ScheduleSpec::of(Some(&plain)).is_none());
        let cron = annotations(&[
            ("topic", "orders, cron-function"),
            ("schedule", "*/5 * * * *"),
        ]);
        let spec = ScheduleSpec::of(Some(&cron))
            .expect("scheduled")
            .expect("valid");
        assert_eq!(spec.text, "*/5 * * * *");
        assert_eq!(
            (spec.misfire, spec.overlap),
            (Misfire::Skip, Overlap::Allow)
        );
        assert_eq!(spec.schedule.zone(), "UTC");
    }

    #[test]
    fn every_setting_is_read_and_bad_ones_named() {
        let full = annotations(&[
            ("topic", "cron-function"),
            ("schedule", "0 9 * * MON-FRI"),
            (TIMEZONE, "Europe/London"),
            (MISFIRE, "all"),
            (OVERLAP, "queue"),
            (DATA, "{\"report\":\"daily\"}"),
        ]);
        let spec = ScheduleSpec::of(Some(&full))
            .expect("scheduled")
            .expect("valid");
        assert_eq!(spec.schedule.zone(), "Europe/London");
        assert_eq!((spec.misfire, spec.overlap), (Misfire::All, Overlap::Queue));
        assert_eq!(spec.data, "{\"report\":\"daily\"}");

        let cases = [
            (
                annotations(&[("topic", "cron-function")]),
                "needs a `schedule`",
            ),
            (
                annotations(&[("topic", "cron-function"), ("schedule", "soon")]),
                "annotation `schedule`: schedule `soon`",
            ),
            (
                annotations(&[
                    ("topic", "cron-function"),
                    ("schedule", "* * * * *"),
                    (MISFIRE, "never"),
                ]),
                "`never` is not skip, latest or all",
            ),
            (
                annotations(&[
                    ("topic", "cron-function"),
                    ("schedule", "* * * * *"),
                    (OVERLAP, "x"),
                ]),
                "`x` is not allow, skip or queue",
            ),
            (
                annotations(&[
                    ("topic", "cron-function"),
                    ("schedule", "* * * * *"),
                    (TIMEZONE, "Moon/Base"),
                ]),
                "unknown time zone `Moon/Base`",
            ),
        ];
        for (given, message) in cases {
            let error = ScheduleSpec::of(Some(&given))
                .expect("scheduled")
                .expect_err(message);
            assert!(error.to_string().contains(message), "{error}");
        }
    }
}
