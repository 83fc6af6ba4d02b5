//! A route's authentication. What proved the caller is removed before the function sees the
//! request when it is Switchyard's (basic credentials, an API key); a JWT stays, so that the
//! function can read its claims.

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use switchyard_broker::records::{api_key_digest, Route, RouteAuth};

use crate::api::AppState;

/// The header an `api-key` route reads.
const API_KEY_HEADER: &str = "x-api-key";

/// Ok when the caller may use `route`; otherwise the 401 to answer.
pub async fn check(
    state: &AppState,
    route: &Route,
    headers: &mut HeaderMap,
) -> Result<(), Response> {
    match &route.auth {
        RouteAuth::Public => Ok(()),
        RouteAuth::Basic => {
            if crate::auth::authenticated(&state.config.credentials, headers) {
                headers.remove(header::AUTHORIZATION);
                Ok(())
            } else {
                Err(unauthorized(
                    "Basic realm=\"Switchyard\"",
                    "this route needs Switchyard's credentials (basic auth)",
                ))
            }
        }
        RouteAuth::ApiKey { key_digests } => {
            let digest = headers
                .get(API_KEY_HEADER)
                .and_then(|v| v.to_str().ok())
                .map(api_key_digest);
            match digest {
                Some(digest) if key_digests.contains(&digest) => {
                    headers.remove(API_KEY_HEADER);
                    Ok(())
                }
                Some(_) => Err(unauthorized(
                    "ApiKey",
                    "the X-API-Key is not one of this route's keys",
                )),
                None => Err(unauthorized(
                    "ApiKey",
                    "this route needs an X-API-Key header",
                )),
            }
        }
        RouteAuth::Jwt {
            issuer,
            audience,
            jwks_url,
        } => {
            let Some(token) = bearer(headers) else {
                return Err(unauthorized(
                    "Bearer",
                    "this route needs `Authorization: Bearer <JWT>`",
                ));
            };
            match state.jwt.verify(&token, issuer, audience, jwks_url).await {
                Ok(_) => Ok(()),
                Err(error) => Err(unauthorized(
                    "Bearer error=\"invalid_token\"",
                    &format!("the bearer token was refused: {error}"),
                )),
            }
        }
    }
}

/// The token of `Authorization: Bearer <token>`.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then(|| token.to_string())
}

fn unauthorized(challenge: &'static str, message: &str) -> Response {
    let mut response = (StatusCode::UNAUTHORIZED, format!("{message}\n")).into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(challenge),
    );
    response
}
