//! Cron schedules as OpenFaaS's cron-connector and Knative's PingSource write them, and the
//! instants they fire at in a time zone.
//!
//! Accepted: five fields (`minute hour day-of-month month day-of-week`), or six with seconds
//! first; `*`, `?`, numbers, ranges `a-b`, steps `*/n`, `a-b/n`, `a/n`, lists `a,b`; month and
//! weekday names (`JAN`, `MON`; Sunday is 0 or 7); `@yearly`, `@annually`, `@monthly`,
//! `@weekly`, `@daily`, `@midnight`, `@hourly`; `@every <duration>` (ticks at whole multiples
//! of the duration since the Unix epoch, so every process computes the same ones); and a
//! `CRON_TZ=<zone>` (or `TZ=<zone>`) prefix. As in every cron, when both day fields are
//! restricted a day matching either runs.
//!
//! Daylight saving follows ISC cron. A schedule at fixed times (neither the minute nor the
//! hour field starts with `*`): a local time that does not exist (the spring-forward gap) runs
//! once, at the first instant after the gap; a local time that exists twice (fall back) runs
//! once, at its first occurrence. A wildcard schedule (`*/15 * * * *`, `30 * * * *`) follows
//! the clock: nothing for the skipped times, and the repeated ones twice, so it keeps its
//! rhythm in real time.

use std::time::Duration;

use chrono::{
    DateTime, Datelike, LocalResult, NaiveDate, NaiveDateTime, Offset, TimeZone, Timelike, Utc,
};
use chrono_tz::Tz;

/// Why a schedule cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidSchedule {
    #[error("schedule `{0}`: use 5 fields (minute hour day month weekday), 6 with seconds first, or @hourly, @daily, @every 90s …")]
    Shape(String),
    #[error("schedule `{schedule}`: {field} `{value}` is not valid ({range})")]
    Field {
        schedule: String,
        field: &'static str,
        value: String,
        range: &'static str,
    },
    #[error("schedule `{0}`: @every takes a duration of at least 1s, e.g. `@every 90s`")]
    Every(String),
    #[error("unknown time zone `{0}`: use an IANA name such as `Europe/London`")]
    TimeZone(String),
}

/// A parsed schedule in its time zone.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    kind: Kind,
    zone: Tz,
}

#[derive(Debug, Clone, PartialEq)]
enum Kind {
    Every(Duration),
    Fields(Fields),
}

/// The allowed values of each field, as bit sets.
#[derive(Debug, Clone, PartialEq)]
struct Fields {
    seconds: u64,
    minutes: u64,
    hours: u64,
    days: u64,
    months: u64,
    weekdays: u64,
    /// Whether each day field was `*` or `?`: with both restricted, either may match.
    any_day: bool,
    any_weekday: bool,
    /// The minute or the hour field starts with `*` (ISC cron's "wildcard" jobs): across a
    /// daylight-saving change such a schedule follows the clock (nothing for the skipped
    /// times, both occurrences of repeated ones); any other runs each local time once.
    wildcard: bool,
}

struct FieldSpec {
    name: &'static str,
    min: u32,
    max: u32,
    range: &'static str,
    names: &'static [&'static str],
}

const SECOND: FieldSpec = FieldSpec {
    name: "second",
    min: 0,
    max: 59,
    range: "0-59",
    names: &[],
};
const MINUTE: FieldSpec = FieldSpec {
    name: "minute",
    min: 0,
    max: 59,
    range: "0-59",
    names: &[],
};
const HOUR: FieldSpec = FieldSpec {
    name: "hour",
    min: 0,
    max: 23,
    range: "0-23",
    names: &[],
};
const DAY: FieldSpec = FieldSpec {
    name: "day of month",
    min: 1,
    max: 31,
    range: "1-31",
    names: &[],
};
const MONTH: FieldSpec = FieldSpec {
    name: "month",
    min: 1,
    max: 12,
    range: "1-12 or JAN-DEC",
    names: &[
        "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
    ],
};
const WEEKDAY: FieldSpec = FieldSpec {
    name: "day of week",
    min: 0,
    max: 7,
    range: "0-7 or SUN-SAT",
    names: &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"],
};

/// How far ahead a schedule is searched for its next instant (a `30 2 29 2 *` runs within 8).
const SEARCH_YEARS: i32 = 9;

impl Schedule {
    /// Reads `text` (which may start with `CRON_TZ=`), in `zone` unless the text names one;
    /// UTC when neither does.
    pub fn parse(text: &str, zone: Option<&str>) -> Result<Self, InvalidSchedule> {
        let trimmed = text.trim();
        let (prefix_zone, rest) = match trimmed
            .strip_prefix("CRON_TZ=")
            .or_else(|| trimmed.strip_prefix("TZ="))
        {
            Some(prefixed) => {
                let (zone, rest) = prefixed
                    .split_once(char::is_whitespace)
                    .ok_or_else(|| InvalidSchedule::Shape(text.to_string()))?;
                (Some(zone), rest.trim())
            }
            None => (None, trimmed),
        };
        let zone = match prefix_zone.or(zone.filter(|z| !z.trim().is_empty())) {
            Some(name) => name
                .trim()
                .parse::<Tz>()
                .map_err(|_| InvalidSchedule::TimeZone(name.trim().to_string()))?,
            None => Tz::UTC,
        };
        let kind = parse_kind(rest, text)?;
        Ok(Schedule { kind, zone })
    }

    /// The schedule's time zone (IANA name).
    pub fn zone(&self) -> &'static str {
        self.zone.name()
    }

    /// The first instant strictly after `after` at which the schedule fires; `None` when none
    /// comes within [`SEARCH_YEARS`] (a 31st of February).
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match &self.kind {
            Kind::Every(every) => {
                let step = i64::try_from(every.as_secs()).ok()?.max(1);
                let next = (after.timestamp().div_euclid(step) + 1) * step;
                DateTime::from_timestamp(next, 0)
            }
            Kind::Fields(fields) => fields.next_after(after, self.zone),
        }
    }

    /// The next `count` instants after `after`.
    pub fn upcoming(&self, after: DateTime<Utc>, count: usize) -> Vec<DateTime<Utc>> {
        let mut instants = Vec::with_capacity(count);
        let mut from = after;
        while instants.len() < count {
            match self.next_after(from) {
                Some(next) => {
                    instants.push(next);
                    from = next;
                }
                None => break,
            }
        }
        instants
    }
}

fn parse_kind(rest: &str, text: &str) -> Result<Kind, InvalidSchedule> {
    let shape = || InvalidSchedule::Shape(text.to_string());
    if let Some(every) = rest.strip_prefix("@every") {
        let every = switchyard_broker::duration::parse_duration(every.trim())
            .map_err(|_| InvalidSchedule::Every(text.to_string()))?;
        if every < Duration::from_secs(1) {
            return Err(InvalidSchedule::Every(text.to_string()));
        }
        return Ok(Kind::Every(every));
    }
    let expanded = match rest {
        "@yearly" | "@annually" => "0 0 1 1 *",
        "@monthly" => "0 0 1 * *",
        "@weekly" => "0 0 * * 0",
        "@daily" | "@midnight" => "0 0 * * *",
        "@hourly" => "0 * * * *",
        other if other.starts_with('@') => return Err(shape()),
        other => other,
    };
    let parts: Vec<&str> = expanded.split_whitespace().collect();
    let (seconds, rest) = match parts.len() {
        5 => ("0", &parts[..]),
        6 => (parts[0], &parts[1..]),
        _ => return Err(shape()),
    };
    let field = |spec: &FieldSpec, value: &str| parse_field(spec, value, text);
    let weekdays = field(&WEEKDAY, rest[4])?;
    // Sunday is 0 and 7.
    let weekdays = (weekdays | (weekdays >> 7)) & 0x7f;
    Ok(Kind::Fields(Fields {
        seconds: field(&SECOND, seconds)?,
        minutes: field(&MINUTE, rest[0])?,
        hours: field(&HOUR, rest[1])?,
        days: field(&DAY, rest[2])?,
        months: field(&MONTH, rest[3])?,
        weekdays,
        any_day: matches!(rest[2], "*" | "?"),
        any_weekday: matches!(rest[4], "*" | "?"),
        wildcard: [rest[0], rest[1]]
            .iter()
            .any(|field| field.starts_with(['*', '?'])),
    }))
}

/// The bit set of one field: `*`, `?`, lists of values, ranges and steps.
fn parse_field(spec: &FieldSpec, value: &str, schedule: &str) -> Result<u64, InvalidSchedule> {
    let invalid = || InvalidSchedule::Field {
        schedule: schedule.to_string(),
        field: spec.name,
        value: value.to_string(),
        range: spec.range,
    };
    let number = |text: &str| -> Result<u32, InvalidSchedule> {
        let upper = text.to_ascii_uppercase();
        let n = match spec.names.iter().position(|name| *name == upper) {
            Some(index) => index as u32 + if spec.min == 1 { 1 } else { 0 },
            None => text.parse::<u32>().map_err(|_| invalid())?,
        };
        if (spec.min..=spec.max).contains(&n) {
            Ok(n)
        } else {
            Err(invalid())
        }
    };
    let mut bits = 0u64;
    for item in value.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => {
                let step: u32 = step.parse().map_err(|_| invalid())?;
                if step == 0 {
                    return Err(invalid());
                }
                (range, step)
            }
            None => (item, 1),
        };
        let (low, high) = match range {
            "*" | "?" => (spec.min, spec.max),
            _ => match range.split_once('-') {
                Some((low, high)) => (number(low)?, number(high)?),
                // `a/n` runs from a to the end.
                None if item.contains('/') => (number(range)?, spec.max),
                None => {
                    let n = number(range)?;
                    (n, n)
                }
            },
        };
        if low > high {
            return Err(invalid());
        }
        for n in (low..=high).step_by(step as usize) {
            bits |= 1 << n;
        }
    }
    Ok(bits)
}

fn has(bits: u64, n: u32) -> bool {
    bits & (1 << n) != 0
}

impl Fields {
    fn day_matches(&self, date: NaiveDate) -> bool {
        if !has(self.months, date.month()) {
            return false;
        }
        let day = has(self.days, date.day());
        let weekday = has(self.weekdays, date.weekday().num_days_from_sunday());
        match (self.any_day, self.any_weekday) {
            (true, true) => true,
            (false, true) => day,
            (true, false) => weekday,
            (false, false) => day || weekday,
        }
    }

    fn next_after(&self, after: DateTime<Utc>, zone: Tz) -> Option<DateTime<Utc>> {
        // Local times before `after`'s own map to instants before it, but for the second
        // occurrence of a time the clock repeats when it goes back within the next hours: a
        // wildcard schedule runs that too, so the search starts that much earlier.
        let offset = |t: DateTime<Utc>| {
            zone.offset_from_utc_datetime(&t.naive_utc())
                .fix()
                .local_minus_utc()
        };
        let ahead = chrono::Duration::hours(3);
        let goes_back = offset(after + ahead) < offset(after);
        let start = after
            .with_timezone(&zone)
            .naive_local()
            .with_nanosecond(0)?;
        let start = if self.wildcard && goes_back {
            start - ahead
        } else {
            start
        };
        // The earliest second occurrence of a repeated time found so far: a later local time's
        // first occurrence may still come before it.
        let mut repeated: Option<DateTime<Utc>> = None;
        let earliest = |found: DateTime<Utc>, repeated: Option<DateTime<Utc>>| {
            Some(repeated.map_or(found, |r| r.min(found)))
        };
        let mut date = start.date();
        let last = NaiveDate::from_ymd_opt(date.year() + SEARCH_YEARS, 1, 1)?;
        while date <= last {
            if self.day_matches(date) {
                let first_day = date == start.date();
                for hour in (0..24).filter(|h| has(self.hours, *h)) {
                    if first_day && hour < start.hour() {
                        continue;
                    }
                    let first_hour = first_day && hour == start.hour();
                    for minute in (0..60).filter(|m| has(self.minutes, *m)) {
                        if first_hour && minute < start.minute() {
                            continue;
                        }
                        let first_minute = first_hour && minute == start.minute();
                        for second in (0..60).filter(|s| has(self.seconds, *s)) {
                            if first_minute && second < start.second() {
                                continue;
                            }
                            let local = date.and_hms_opt(hour, minute, second)?;
                            match zone.from_local_datetime(&local) {
                                LocalResult::Single(t) => {
                                    let t = t.with_timezone(&Utc);
                                    if t > after {
                                        return earliest(t, repeated);
                                    }
                                }
                                LocalResult::Ambiguous(first, second) => {
                                    let first = first.with_timezone(&Utc);
                                    if first > after {
                                        return earliest(first, repeated);
                                    }
                                    let second = second.with_timezone(&Utc);
                                    if self.wildcard && second > after && repeated.is_none() {
                                        repeated = Some(second);
                                    }
                                }
                                LocalResult::None if !self.wildcard => {
                                    if let Some(t) = end_of_gap(local, zone) {
                                        if t > after {
                                            return earliest(t, repeated);
                                        }
                                    }
                                }
                                LocalResult::None => {}
                            }
                        }
                    }
                }
            }
            date = date.succ_opt()?;
        }
        repeated
    }
}

/// The first instant after the daylight-saving gap that `local` falls in: the first whole
/// minute that exists (every zone's gaps end on a whole minute).
fn end_of_gap(local: NaiveDateTime, zone: Tz) -> Option<DateTime<Utc>> {
    let mut probe = local.with_second(0)?;
    for _ in 0..(24 * 60) {
        probe += chrono::Duration::minutes(1);
        if let LocalResult::Single(t) | LocalResult::Ambiguous(t, _) =
            zone.from_local_datetime(&probe)
        {
            return Some(t.with_timezone(&Utc));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::at;

    fn upcoming(schedule: &str, zone: Option<&str>, after: &str, count: usize) -> Vec<String> {
        Schedule::parse(schedule, zone)
            .expect("parses")
            .upcoming(at(after), count)
            .iter()
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .collect()
    }

    /// Each schedule's next instants after a time, in UTC.
    #[test]
    fn next_instants() {
        let london = Some("Europe/London");
        #[rustfmt::skip]
        let cases: &[(&str, Option<&str>, &str, &[&str])] = &[
            ("*/5 * * * *", None, "2026-12-07T12:02:30Z", &["2026-12-07T12:05:00Z", "2026-12-07T12:10:00Z"]),
            ("*/20 * * * * *", None, "2026-12-07T12:00:05Z", &["2026-12-07T12:00:20Z", "2026-12-07T12:00:40Z"]),
            ("@hourly", None, "2026-12-07T12:00:00Z", &["2026-12-07T13:00:00Z", "2026-12-07T14:00:00Z"]),
            ("@daily", None, "2026-12-07T12:00:00Z", &["2026-12-08T00:00:00Z"]),
            ("@weekly", None, "2026-12-07T12:00:00Z", &["2026-12-13T00:00:00Z"]),
            ("@monthly", None, "2026-12-07T12:00:00Z", &["2027-01-01T00:00:00Z"]),
            ("@every 90s", None, "1970-01-01T00:01:40Z", &["1970-01-01T00:03:00Z", "1970-01-01T00:04:30Z"]),
            // Either day field matches when both are restricted: the 13th or a Friday.
            ("0 0 13 * FRI", None, "2026-11-01T00:00:00Z", &["2026-11-06T00:00:00Z", "2026-11-13T00:00:00Z", "2026-11-20T00:00:00Z"]),
            ("0 12 * JAN-MAR/2 1-5", None, "2026-12-31T12:00:00Z", &["2027-01-01T12:00:00Z"]),
            ("0 0 * * 7", None, "2026-12-07T00:00:00Z", &["2026-12-13T00:00:00Z"]),
            ("0 0 29 2 *", None, "2026-03-01T00:00:00Z", &["2028-02-29T00:00:00Z"]),
            ("CRON_TZ=America/New_York 0 9 * * *", None, "2026-12-07T00:00:00Z", &["2026-12-07T14:00:00Z"]),
            ("0 9 * * *", Some("America/New_York"), "2026-12-07T00:00:00Z", &["2026-12-07T14:00:00Z"]),
            // Spring forward in London (01:00 GMT becomes 02:00 BST): 01:30 does not exist that
            // day and runs once at the end of the gap.
            ("30 1 * * *", london, "2026-03-28T12:00:00Z", &["2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"]),
            ("0,30 1 * * *", london, "2026-03-29T00:00:00Z", &["2026-03-29T01:00:00Z", "2026-03-30T00:00:00Z"]),
            // Fall back (02:00 BST becomes 01:00 GMT): 01:30 exists twice and runs once.
            ("30 1 * * *", london, "2026-10-24T12:00:00Z", &["2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"]),
            ("0,30 1 * * *", london, "2026-10-25T00:00:00Z", &["2026-10-25T00:30:00Z", "2026-10-26T01:00:00Z"]),
            // A run just missed is not run again in the repeated hour.
            ("30 1 * * *", london, "2026-10-25T00:30:00Z", &["2026-10-26T01:30:00Z"]),
        ];
        for (schedule, zone, after, want) in cases {
            assert_eq!(
                upcoming(schedule, *zone, after, want.len()),
                *want,
                "{schedule} in {zone:?} after {after}"
            );
        }
    }

    /// The 2027 changes in three zones, for schedules at 01:30, at 02:30 and every 15 minutes,
    /// against what ISC cron's rule gives (computed independently, minute by minute in real
    /// time with Python's zoneinfo: `fixed` jobs once per local time, and at the end of a
    /// gap for the skipped ones; wildcard jobs whenever the clock shows a matching time).
    #[test]
    fn the_2027_daylight_saving_changes_in_three_zones() {
        #[rustfmt::skip]
        let fixed: &[(&str, &str, &str, [&str; 2])] = &[
            // zone, schedule, from (noon local the day before), the next two ticks
            ("Europe/London", "30 1 * * *", "2027-03-27T12:00:00Z", ["2027-03-28T01:00:00Z", "2027-03-29T00:30:00Z"]),
            ("Europe/London", "30 2 * * *", "2027-03-27T12:00:00Z", ["2027-03-28T01:30:00Z", "2027-03-29T01:30:00Z"]),
            ("Europe/London", "30 1 * * *", "2027-10-30T11:00:00Z", ["2027-10-31T00:30:00Z", "2027-11-01T01:30:00Z"]),
            ("Europe/London", "30 2 * * *", "2027-10-30T11:00:00Z", ["2027-10-31T02:30:00Z", "2027-11-01T02:30:00Z"]),
            ("America/New_York", "30 1 * * *", "2027-03-13T17:00:00Z", ["2027-03-14T06:30:00Z", "2027-03-15T05:30:00Z"]),
            ("America/New_York", "30 2 * * *", "2027-03-13T17:00:00Z", ["2027-03-14T07:00:00Z", "2027-03-15T06:30:00Z"]),
            ("America/New_York", "30 1 * * *", "2027-11-06T16:00:00Z", ["2027-11-07T05:30:00Z", "2027-11-08T06:30:00Z"]),
            ("America/New_York", "30 2 * * *", "2027-11-06T16:00:00Z", ["2027-11-07T07:30:00Z", "2027-11-08T07:30:00Z"]),
            ("Australia/Sydney", "30 1 * * *", "2027-04-03T01:00:00Z", ["2027-04-03T14:30:00Z", "2027-04-04T15:30:00Z"]),
            ("Australia/Sydney", "30 2 * * *", "2027-04-03T01:00:00Z", ["2027-04-03T15:30:00Z", "2027-04-04T16:30:00Z"]),
            ("Australia/Sydney", "30 1 * * *", "2027-10-02T02:00:00Z", ["2027-10-02T15:30:00Z", "2027-10-03T14:30:00Z"]),
            ("Australia/Sydney", "30 2 * * *", "2027-10-02T02:00:00Z", ["2027-10-02T16:00:00Z", "2027-10-03T15:30:00Z"]),
        ];
        for (zone, schedule, from, want) in fixed {
            assert_eq!(
                upcoming(schedule, Some(zone), from, 2),
                want,
                "{schedule} in {zone}"
            );
        }
        // Every 15 minutes over each changing local day: 92 ticks on a 23-hour day, 100 on a
        // 25-hour one, every 15 minutes of real time.
        #[rustfmt::skip]
        let days: &[(&str, &str, &str, usize)] = &[
            ("Europe/London", "2027-03-28T00:00:00Z", "2027-03-28T23:00:00Z", 92),
            ("Europe/London", "2027-10-30T23:00:00Z", "2027-11-01T00:00:00Z", 100),
            ("America/New_York", "2027-03-14T05:00:00Z", "2027-03-15T04:00:00Z", 92),
            ("America/New_York", "2027-11-07T04:00:00Z", "2027-11-08T05:00:00Z", 100),
            ("Australia/Sydney", "2027-04-03T13:00:00Z", "2027-04-04T14:00:00Z", 100),
            ("Australia/Sydney", "2027-10-02T14:00:00Z", "2027-10-03T13:00:00Z", 92),
        ];
        for (zone, day_start, day_end, count) in days {
            let schedule = Schedule::parse("*/15 * * * *", Some(zone)).expect("parses");
            let before = at(day_start) - chrono::Duration::seconds(1);
            let ticks: Vec<DateTime<Utc>> = schedule
                .upcoming(before, count + 1)
                .into_iter()
                .filter(|t| *t < at(day_end))
                .collect();
            assert_eq!(ticks.len(), *count, "*/15 in {zone} from {day_start}");
            for pair in ticks.windows(2) {
                assert_eq!(
                    pair[1] - pair[0],
                    chrono::Duration::minutes(15),
                    "{zone}: {pair:?}"
                );
            }
        }
    }

    #[test]
    fn bad_schedules_say_what_is_wrong() {
        let cases = [
            ("61 * * * *", "minute `61` is not valid (0-59)"),
            ("* * *", "use 5 fields"),
            ("5-1 * * * *", "minute `5-1`"),
            ("*/0 * * * *", "minute `*/0`"),
            ("* * * FOO *", "month `FOO`"),
            ("* * * * 8", "day of week `8`"),
            ("@every 0s", "@every takes a duration of at least 1s"),
            ("@often", "use 5 fields"),
            (
                "CRON_TZ=Mars/Base * * * * *",
                "unknown time zone `Mars/Base`",
            ),
        ];
        for (schedule, message) in cases {
            let error = Schedule::parse(schedule, None).expect_err(schedule);
            assert!(error.to_string().contains(message), "{schedule}: {error}");
        }
        let error = Schedule::parse("* * * * *", Some("Nowhere")).expect_err("zone");
        assert_eq!(error, InvalidSchedule::TimeZone("Nowhere".into()));
        assert_eq!(
            Schedule::parse("* * * * *", None).expect("parses").zone(),
            "UTC"
        );
    }
}
