//! The web UI: three files (HTML, CSS, JavaScript) built into the binary, served at `/ui/`. They
//! hold no data: the page signs in with its own form and then calls `/system/*` with the
//! admin's credentials, like any other client. A strict content security policy lets the page
//! run only its own script and talk only to this gateway.

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

const INDEX: &str = include_str!("../ui/index.html");
const SCRIPT: &str = include_str!("../ui/app.js");
const STYLE: &str = include_str!("../ui/app.css");

const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                      connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_SECURITY_POLICY, POLICY),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

#[utoipa::path(get, path = "/ui", tag = "ui", security(()),
    responses((status = 308, description = "To `/ui/`")))]
pub(crate) async fn redirect() -> Redirect {
    Redirect::permanent("/ui/")
}

#[utoipa::path(get, path = "/ui/", tag = "ui", security(()),
    description = "The web UI. It signs in with the admin's credentials, then uses this API.",
    responses((status = 200, body = String, content_type = "text/html")))]
pub(crate) async fn index() -> Response {
    asset("text/html; charset=utf-8", INDEX)
}

#[utoipa::path(get, path = "/ui/{file}", tag = "ui", security(()),
    params(("file" = String, Path, description = "`app.js` or `app.css`")),
    responses((status = 200, description = "The UI's script or style sheet", body = String, content_type = "text/plain"),
        (status = 404, description = "No such file")))]
pub(crate) async fn file(Path(file): Path<String>) -> Response {
    match file.as_str() {
        "app.js" => asset("text/javascript; charset=utf-8", SCRIPT),
        "app.css" => asset("text/css; charset=utf-8", STYLE),
        _ => (StatusCode::NOT_FOUND, "no such file in the UI\n").into_response(),
    }
}
