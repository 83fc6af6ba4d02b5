//! Reporting errors: one line with every cause, for logs, job records and API answers.

/// `error` and each of its sources, outermost first, joined by `: `.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        let inner_text = inner.to_string();
        // Some errors repeat their source's message in their own; say it once.
        if !text.ends_with(&inner_text) {
            text = format!("{text}: {inner_text}");
        }
        source = inner.source();
    }
    text
}

#[cfg(test)]
mod tests {
    #[derive(Debug, thiserror::Error)]
    #[error("cannot store")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn every_cause_is_named_once() {
        let error = Outer(std::io::Error::other("disk full"));
        assert_eq!(super::error_chain(&error), "cannot store: disk full");
        let plain = std::io::Error::other("alone");
        assert_eq!(super::error_chain(&plain), "alone");
    }
}
