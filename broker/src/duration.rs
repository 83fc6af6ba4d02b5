//! Durations as OpenFaaS writes them (the watchdog has its own copy: it ships alone): a bare integer is seconds, anything else is a Go duration
//! (`1m30s`, `500ms`, `1.5h`).

use std::time::Duration;

/// A duration that is neither a bare integer nor a Go duration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration `{0}`: use seconds (`30`) or a Go duration (`1m30s`, `500ms`)")]
pub struct InvalidDuration(pub String);

/// Parses `30`, `30s`, `1m30s`, `1.5h`, `250ms`, `10us`, `10µs`, `100ns`.
pub fn parse_duration(text: &str) -> Result<Duration, InvalidDuration> {
    let invalid = || InvalidDuration(text.to_string());
    let text = text.trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return Ok(Duration::from_secs(seconds));
    }
    let mut rest = text;
    let mut total = 0f64;
    if rest.is_empty() {
        return Err(invalid());
    }
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(invalid)?;
        let number: f64 = rest[..number_len].parse().map_err(|_| invalid())?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let seconds_per_unit = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(invalid()),
        };
        total += number * seconds_per_unit;
        rest = &rest[unit_len..];
    }
    Duration::try_from_secs_f64(total).map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_openfaas_durations() {
        let cases = [
            ("10", 10_000),
            ("0", 0),
            ("10s", 10_000),
            ("1m30s", 90_000),
            ("1.5h", 5_400_000),
            ("250ms", 250),
            ("2m0.5s", 120_500),
        ];
        for (text, millis) in cases {
            assert_eq!(
                parse_duration(text),
                Ok(Duration::from_millis(millis)),
                "{text}"
            );
        }
        assert_eq!(parse_duration("100us"), Ok(Duration::from_micros(100)));
    }

    #[test]
    fn rejects_garbage() {
        for text in ["", "s", "10x", "ten", "1m30", "-5s", "1..2s"] {
            assert!(parse_duration(text).is_err(), "{text}");
        }
    }
}

/// Parses an ISO-8601 duration as Knative uses them: `PT0.5S`, `PT30S`, `PT1H30M`, `P1D`,
/// `P1W`. Years and months are refused (their length varies).
pub fn parse_iso8601(text: &str) -> Result<Duration, InvalidDuration> {
    let invalid = || InvalidDuration(text.to_string());
    let rest = text.strip_prefix('P').ok_or_else(invalid)?;
    let (date, time) = match rest.split_once('T') {
        Some((date, time)) if !time.is_empty() => (date, Some(time)),
        Some(_) => return Err(invalid()),
        None => (rest, None),
    };
    if date.is_empty() && time.is_none() {
        return Err(invalid());
    }
    let mut seconds = 0f64;
    let mut add = |part: &str, units: &[(char, f64)]| -> Result<(), InvalidDuration> {
        let mut number = String::new();
        for c in part.chars() {
            if c.is_ascii_digit() || c == '.' {
                number.push(c);
                continue;
            }
            let factor = units
                .iter()
                .find(|(u, _)| *u == c)
                .map(|(_, f)| *f)
                .ok_or_else(invalid)?;
            let value: f64 = number.parse().map_err(|_| invalid())?;
            seconds += value * factor;
            number.clear();
        }
        if number.is_empty() {
            Ok(())
        } else {
            Err(invalid())
        }
    };
    add(date, &[('W', 604_800.0), ('D', 86_400.0)])?;
    if let Some(time) = time {
        add(time, &[('H', 3600.0), ('M', 60.0), ('S', 1.0)])?;
    }
    Duration::try_from_secs_f64(seconds).map_err(|_| invalid())
}

#[cfg(test)]
mod iso8601_tests {
    use super::*;

    #[test]
    fn parses_knative_durations() {
        for (text, millis) in [
            ("PT0.5S", 500),
            ("PT30S", 30_000),
            ("PT1H30M", 5_400_000),
            ("P1D", 86_400_000),
            ("P1DT1S", 86_401_000),
        ] {
            assert_eq!(
                parse_iso8601(text),
                Ok(Duration::from_millis(millis)),
                "{text}"
            );
        }
        for bad in ["", "P", "PT", "30S", "P1M", "PT1X", "PT1.2.3S", "PTS"] {
            assert!(parse_iso8601(bad).is_err(), "{bad}");
        }
    }
}
