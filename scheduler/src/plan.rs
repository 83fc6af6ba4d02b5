//! Which ticks of a schedule to run now: a pure decision over the ticks since the last one
//! handled, by the misfire policy. Table-tested.

use std::collections::VecDeque;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::cron::Schedule;
use crate::spec::Misfire;

/// By default, a tick looked at within this long of its instant runs; an older one was missed
/// (nothing ran the schedule then) and runs only as the misfire policy says.
pub const ON_TIME: Duration = Duration::from_secs(30);
/// Ticks counted one by one after a long downtime; past this, the rest up to [`ON_TIME`] before
/// now are passed over uncounted (a per-second schedule stopped for a year).
const MAX_COUNTED: usize = 100_000;

/// What to do with a schedule's ticks since it was last looked at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The ticks to run, oldest first.
    pub fire: Vec<DateTime<Utc>>,
    /// Missed ticks left out (at least this many).
    pub missed: usize,
    /// The latest tick up to now: everything up to it is handled once the plan is carried out.
    pub handled_until: Option<DateTime<Utc>>,
}

/// The ticks after `after` up to `now`, and which of them to run: every one within
/// `misfire_after` of now, and of the older (missed) ones none (`skip`), the latest when none
/// is on time (`latest`), or the latest `max_catch_up` (`all`).
pub fn plan(
    schedule: &Schedule,
    misfire: Misfire,
    after: DateTime<Utc>,
    now: DateTime<Utc>,
    misfire_after: Duration,
    max_catch_up: usize,
) -> Plan {
    let on_time_from = now - chrono::Duration::from_std(misfire_after).unwrap_or_default();
    let mut on_time = Vec::new();
    let mut missed: VecDeque<DateTime<Utc>> = VecDeque::new();
    let mut missed_count = 0;
    let mut handled_until = None;
    let mut from = after;
    let mut counted = 0;
    while let Some(tick) = schedule.next_after(from) {
        if tick > now {
            break;
        }
        handled_until = Some(tick);
        if tick >= on_time_from {
            on_time.push(tick);
        } else {
            missed_count += 1;
            missed.push_back(tick);
            if missed.len() > max_catch_up.max(1) {
                missed.pop_front();
            }
        }
        from = tick;
        counted += 1;
        if counted >= MAX_COUNTED && from < on_time_from {
            from = on_time_from - chrono::Duration::seconds(1);
        }
    }
    let caught_up: Vec<DateTime<Utc>> = match misfire {
        Misfire::Skip => Vec::new(),
        Misfire::Latest if on_time.is_empty() => missed.back().copied().into_iter().collect(),
        Misfire::Latest => Vec::new(),
        Misfire::All => missed.iter().copied().take(max_catch_up).collect(),
    };
    let fire: Vec<DateTime<Utc>> = caught_up.iter().copied().chain(on_time).collect();
    Plan {
        missed: missed_count - caught_up.len(),
        fire,
        handled_until,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::at;

    fn times(list: &[&str]) -> Vec<DateTime<Utc>> {
        list.iter().map(|t| at(t)).collect()
    }

    #[test]
    fn ticks_by_misfire_policy() {
        let every_minute = Schedule::parse("* * * * *", None).expect("parses");
        // Last handled 12:00; now 12:05:10: 12:01–12:04 were missed, 12:05 is on time.
        let after = at("2026-12-07T12:00:00Z");
        let now = at("2026-12-07T12:05:10Z");
        #[rustfmt::skip]
        let cases: &[(Misfire, usize, &[&str], usize)] = &[
            (Misfire::Skip, 10, &["2026-12-07T12:05:00Z"], 4),
            (Misfire::Latest, 10, &["2026-12-07T12:05:00Z"], 4),
            (Misfire::All, 10, &["2026-12-07T12:01:00Z", "2026-12-07T12:02:00Z", "2026-12-07T12:03:00Z", "2026-12-07T12:04:00Z", "2026-12-07T12:05:00Z"], 0),
            (Misfire::All, 2, &["2026-12-07T12:03:00Z", "2026-12-07T12:04:00Z", "2026-12-07T12:05:00Z"], 2),
        ];
        for (misfire, bound, fire, missed) in cases {
            let plan = plan(&every_minute, *misfire, after, now, ON_TIME, *bound);
            assert_eq!(plan.fire, times(fire), "{misfire:?} {bound}");
            assert_eq!(plan.missed, *missed, "{misfire:?} {bound}");
            assert_eq!(plan.handled_until, Some(at("2026-12-07T12:05:00Z")));
        }
    }

    #[test]
    fn latest_catches_up_once_when_nothing_is_on_time() {
        let hourly = Schedule::parse("@hourly", None).expect("parses");
        let after = at("2026-12-07T08:00:00Z");
        let now = at("2026-12-07T12:30:00Z");
        let latest = plan(&hourly, Misfire::Latest, after, now, ON_TIME, 100);
        assert_eq!(latest.fire, times(&["2026-12-07T12:00:00Z"]));
        assert_eq!(latest.missed, 3);
        let skip = plan(&hourly, Misfire::Skip, after, now, ON_TIME, 100);
        assert!(skip.fire.is_empty());
        assert_eq!(skip.handled_until, Some(at("2026-12-07T12:00:00Z")));
        // Nothing due yet: nothing to do, nothing handled.
        let early = plan(
            &hourly,
            Misfire::All,
            at("2026-12-07T12:00:00Z"),
            now,
            ON_TIME,
            100,
        );
        assert_eq!(
            early,
            Plan {
                fire: Vec::new(),
                missed: 0,
                handled_until: None
            }
        );
    }

    #[test]
    fn a_year_of_a_per_second_schedule_is_bounded_work() {
        let every_second = Schedule::parse("* * * * * *", None).expect("parses");
        let now = at("2026-12-07T12:00:00Z");
        let plan = plan(
            &every_second,
            Misfire::All,
            at("2025-12-07T12:00:00Z"),
            now,
            ON_TIME,
            5,
        );
        // Five caught up, then the 31 on time (11:59:30 … 12:00:00).
        assert_eq!(plan.fire.len(), 5 + 31);
        assert_eq!(plan.handled_until, Some(now));
        assert!(plan.missed >= MAX_COUNTED - 5, "{}", plan.missed);
    }
}
