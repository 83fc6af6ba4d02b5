//! Who is calling: identities proven by tokens from outside.
//!
//! - [`jwt`]: bearer JWTs checked against an issuer's published keys (JWKS).

pub mod jwt;
