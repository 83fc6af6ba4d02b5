//! Who is calling: identities proven by tokens from outside.
//!
//! - [`jwt`]: bearer JWTs checked against an issuer's published keys (JWKS).
//! - [`oidc`]: single sign-on: an OpenID Connect provider's tokens as users and groups.

pub mod jwt;
pub mod oidc;
