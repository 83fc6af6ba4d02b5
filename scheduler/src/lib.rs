//! Schedules: a function deployed with OpenFaaS's cron-connector annotations (`topic:
//! cron-function`, `schedule: "*/5 * * * *"`) runs on that schedule, in its time zone, with no
//! connector to install.
//!
//! - [`cron`]: the schedule language and the instants it fires at, daylight saving included.
//! - [`spec`]: a function's schedule annotations read as a [`ScheduleSpec`].
//! - [`plan`]: which ticks to run now, by the misfire policy (pure).
//! - [`service`]: the [`Scheduler`] that runs in every dispatcher: ticks become jobs, once.

pub mod cron;
pub mod plan;
pub mod service;
pub mod spec;

pub use service::Scheduler;

/// The instant an RFC 3339 text names, for the unit tests' tables.
#[cfg(test)]
pub(crate) fn at(text: &str) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(text)
        .expect("valid")
        .with_timezone(&chrono::Utc)
}

pub use cron::{InvalidSchedule, Schedule};
pub use spec::{InvalidSpec, Misfire, Overlap, ScheduleSpec};
