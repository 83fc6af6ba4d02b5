//! Where each scheduled function's schedule stands (bucket `sy_schedules`, key = function id):
//! written by the schedulers (one in each dispatcher) and by the API's pause and resume.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What became of a schedule's latest tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TickOutcome {
    /// Its job was queued.
    Fired,
    /// The previous tick's job still ran (`com.switchyard.schedule.overlap: skip`).
    Skipped,
    /// It fell while nothing ran the schedule, and the misfire policy left it out.
    Missed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleState {
    pub function: String,
    /// Ticks up to this instant are handled (fired, skipped or missed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_tick: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_outcome: Option<TickOutcome>,
    /// The job of the latest tick fired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_call_id: Option<String>,
    /// A tick held until the previous tick's job ends (`com.switchyard.schedule.overlap:
    /// queue`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queued_tick: Option<DateTime<Utc>>,
    #[serde(default)]
    pub paused: bool,
    /// When the schedule was first seen: no tick before it runs.
    pub since: DateTime<Utc>,
}

impl ScheduleState {
    pub fn new(function: &str, since: DateTime<Utc>) -> Self {
        ScheduleState {
            function: function.to_string(),
            last_tick: None,
            last_outcome: None,
            last_call_id: None,
            queued_tick: None,
            paused: false,
            since,
        }
    }

    /// Ticks after this instant are still to be handled.
    pub fn handled_until(&self) -> DateTime<Utc> {
        self.last_tick.map_or(self.since, |t| t.max(self.since))
    }
}

/// The job id of `function`'s tick at `instant`: the same in every scheduler, so a tick is one
/// job however many run. `tick-<unix seconds>-<function>`, the function's dots as `_`, or a
/// digest of it when that would be longer than a call id may be.
pub fn tick_call_id(function: &str, instant: DateTime<Utc>) -> String {
    let readable = format!(
        "tick-{}-{}",
        instant.timestamp(),
        function.replace('.', "_")
    );
    if readable.len() <= 128 {
        return readable;
    }
    use sha2::Digest;
    let digest = sha2::Sha256::digest(function.as_bytes());
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("tick-{}-{hex}", instant.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tick_ids_are_call_ids_and_differ_per_function_and_instant() {
        let at = DateTime::from_timestamp(1_800_000_000, 0).expect("valid");
        let later = DateTime::from_timestamp(1_800_000_060, 0).expect("valid");
        assert_eq!(
            tick_call_id("report.team-a", at),
            "tick-1800000000-report_team-a"
        );
        assert_ne!(tick_call_id("report", at), tick_call_id("report", later));
        let long = format!("{}.{}", "f".repeat(63), "n".repeat(63));
        for id in [tick_call_id("report.team-a", at), tick_call_id(&long, at)] {
            crate::jobs::validate_call_id(&id).expect("a call id");
        }
    }

    #[test]
    fn ticks_before_the_schedule_was_seen_are_handled() {
        let since = DateTime::from_timestamp(1_800_000_000, 0).expect("valid");
        let mut state = ScheduleState::new("f", since);
        assert_eq!(state.handled_until(), since);
        state.last_tick = Some(since + chrono::Duration::seconds(5));
        assert_eq!(state.handled_until(), since + chrono::Duration::seconds(5));
    }
}
