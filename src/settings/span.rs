//! A duration as settings spell it: seconds (`30`) or a Go duration (`1m30s`, `500ms`).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// A setting's duration; shown in `--help` the way it is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span(pub Duration);

impl FromStr for Span {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        switchyard_broker::duration::parse_duration(text)
            .map(Span)
            .map_err(|e| e.to_string())
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let millis = self.0.as_millis();
        const UNITS: [(u128, &str); 4] = [(3_600_000, "h"), (60_000, "m"), (1_000, "s"), (1, "ms")];
        match UNITS
            .iter()
            .find(|(size, _)| millis > 0 && millis.is_multiple_of(*size))
        {
            Some((size, unit)) => write!(f, "{}{unit}", millis / size),
            None => write!(f, "{}ms", millis),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_print_as_they_parse() {
        for text in ["168h", "10m", "30s", "500ms", "0ms"] {
            let span: Span = text.parse().expect("parses");
            assert_eq!(span.to_string(), text);
        }
        assert_eq!(
            "90".parse::<Span>().map(|s| s.0),
            Ok(Duration::from_secs(90))
        );
        assert_eq!(Span(Duration::from_secs(90)).to_string(), "90s");
    }
}
