//! No cross-site page can make a browser change anything under `/system`: a write that a
//! browser says comes from another site (`Sec-Fetch-Site`, `Origin`) is refused, and so is a
//! body of the three types an HTML form can send without asking (`text/plain`, form data) when
//! a browser sends it, so a browser that cached the admin's basic credentials cannot be made to
//! replay them. faas-cli sends none of these; curl's `-d` sends form data but is no browser
//! (no `Origin`, `Referer`, `Sec-Fetch-*`, and a `User-Agent` of its own), so the README's
//! `curl -d '{…}'` keeps working.

use axum::http::{header, HeaderMap, Method};

use crate::error::ApiError;

/// `Ok` when the request could not have been forged by another site's page.
pub(crate) fn check(method: &Method, headers: &HeaderMap) -> Result<(), ApiError> {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }
    let text = |name| {
        headers
            .get(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).to_ascii_lowercase())
    };
    if let Some(site) = text("sec-fetch-site") {
        if site == "cross-site" || site == "same-site" {
            return Err(ApiError::Forbidden(format!(
                "a {site} page may not change anything under /system"
            )));
        }
    }
    if let Some(origin) = text(header::ORIGIN.as_str()) {
        let host = text(header::HOST.as_str()).unwrap_or_default();
        let authority = origin
            .split_once("://")
            .map_or(origin.as_str(), |(_, rest)| rest);
        if origin == "null" || authority != host {
            return Err(ApiError::Forbidden(format!(
                "a page of origin `{origin}` may not change anything under /system"
            )));
        }
    }
    let from_browser = headers.contains_key(header::ORIGIN)
        || headers.contains_key(header::REFERER)
        || headers
            .keys()
            .any(|name| name.as_str().starts_with("sec-fetch-"))
        || text(header::USER_AGENT.as_str()).is_some_and(|agent| agent.starts_with("mozilla/"));
    if let Some(content_type) = text(header::CONTENT_TYPE.as_str()).filter(|_| from_browser) {
        let media = content_type.split(';').next().unwrap_or_default().trim();
        if matches!(
            media,
            "text/plain" | "application/x-www-form-urlencoded" | "multipart/form-data"
        ) {
            return Err(ApiError::UnsupportedMediaType(format!(
                "`{media}` bodies are refused under /system (a cross-site form could send one): send application/json"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn what_a_cross_site_form_sends_is_refused() {
        let post = Method::POST;
        let refused =
            |pairs: &[(&'static str, &'static str)]| check(&post, &headers(pairs)).is_err();
        let browser = ("user-agent", "Mozilla/5.0 (X11; Linux x86_64)");
        assert!(refused(&[browser, ("content-type", "text/plain")]));
        assert!(refused(&[
            browser,
            ("content-type", "application/x-www-form-urlencoded")
        ]));
        assert!(refused(&[
            ("referer", "https://x.example/"),
            ("content-type", "multipart/form-data; boundary=x")
        ]));
        // curl -d: form data, but no browser.
        assert!(!refused(&[
            ("user-agent", "curl/8.5.0"),
            ("content-type", "application/x-www-form-urlencoded")
        ]));
        assert!(refused(&[("sec-fetch-site", "cross-site")]));
        assert!(refused(&[
            ("origin", "https://evil.example"),
            ("host", "127.0.0.1:8080")
        ]));
        assert!(refused(&[("origin", "null"), ("host", "127.0.0.1:8080")]));
        // faas-cli, curl and the UI itself.
        assert!(!refused(&[]));
        assert!(!refused(&[("content-type", "application/json")]));
        assert!(!refused(&[
            ("origin", "http://127.0.0.1:8080"),
            ("host", "127.0.0.1:8080"),
            ("sec-fetch-site", "same-origin")
        ]));
        assert!(check(&Method::GET, &headers(&[("sec-fetch-site", "cross-site")])).is_ok());
    }
}
