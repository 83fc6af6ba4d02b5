//! Plain-text tables: a heading row, then one row per record, columns padded to their widest
//! cell, cells read from JSON by pointer and cut at 60 characters.

use serde_json::Value;

const WIDEST: usize = 60;

/// `columns` are (heading, JSON pointer into each row, e.g. `/failure/reason`).
pub(crate) fn render(columns: &[(&str, &str)], rows: &[&Value]) -> String {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            columns
                .iter()
                .map(|(_, pointer)| cell(row.pointer(pointer)))
                .collect()
        })
        .collect();
    let widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(i, (heading, _))| {
            cells
                .iter()
                .map(|r| r[i].chars().count())
                .chain([heading.len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |values: Vec<String>| {
        let padded: Vec<String> = values
            .iter()
            .zip(&widths)
            .map(|(v, w)| format!("{v:<w$}"))
            .collect();
        format!("{}\n", padded.join("  ").trim_end())
    };
    let mut out = line(columns.iter().map(|(h, _)| h.to_uppercase()).collect());
    for row in cells {
        out.push_str(&line(row));
    }
    if rows.is_empty() {
        out.push_str("(none)\n");
    }
    out
}

fn cell(value: Option<&Value>) -> String {
    let text = match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        // A list of plain values reads as one: `GET, POST`.
        Some(Value::Array(items)) if items.iter().all(|i| !i.is_object() && !i.is_array()) => items
            .iter()
            .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_string))
            .collect::<Vec<_>>()
            .join(", "),
        Some(other) => other.to_string(),
    };
    let text = short_time(&text).unwrap_or(text).replace(['\n', '\t'], " ");
    if text.chars().count() > WIDEST {
        let cut: String = text.chars().take(WIDEST - 1).collect();
        format!("{cut}…")
    } else {
        text
    }
}

/// `2026-12-01T20:09:47.788652285Z` → `2026-12-01 20:09:47Z`: people read seconds.
fn short_time(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let shaped = bytes.len() > 19
        && bytes[10] == b'T'
        && [4, 7].iter().all(|&i| bytes[i] == b'-')
        && [13, 16].iter().all(|&i| bytes[i] == b':')
        && text.ends_with('Z');
    shaped.then(|| format!("{} {}Z", &text[..10], &text[11..19]))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn columns_line_up_and_missing_cells_are_blank() {
        let a = json!({"name": "a", "n": 1, "nested": {"x": "deep"}});
        let b = json!({"name": "longer-name"});
        let out = super::render(
            &[("Name", "/name"), ("N", "/n"), ("X", "/nested/x")],
            &[&a, &b],
        );
        assert_eq!(
            out,
            "NAME         N  X\na            1  deep\nlonger-name\n"
        );
    }

    #[test]
    fn times_are_shown_to_the_second() {
        let row = json!({"t": "2026-12-01T20:09:47.788652285Z", "u": "not-a-time"});
        let out = super::render(&[("T", "/t"), ("U", "/u")], &[&row]);
        assert_eq!(out.lines().nth(1), Some("2026-12-01 20:09:47Z  not-a-time"));
    }

    #[test]
    fn long_cells_are_cut_and_no_rows_say_so() {
        let long = json!({"v": "x".repeat(100)});
        let out = super::render(&[("V", "/v")], &[&long]);
        assert!(out
            .lines()
            .nth(1)
            .is_some_and(|l| l.chars().count() == 60 && l.ends_with('…')));
        assert_eq!(super::render(&[("V", "/v")], &[]), "V\n(none)\n");
    }
}
