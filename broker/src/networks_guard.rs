//! HTTP clients for URLs that users choose (callbacks, a route's JWKS): every address a URL's
//! name resolves to is checked against the network policy at connect time (a name that
//! resolves to a denied address is refused, whatever it resolved to when the URL was given),
//! and redirects are never followed. An address written in the URL itself is checked with
//! [`literal_refusal`].

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use crate::networks::NetworkPolicy;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// A client builder whose connections go only where `policy` allows; add timeouts and build.
pub fn guarded(policy: NetworkPolicy) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .dns_resolver(Arc::new(Guard { policy }))
}

/// Why `url` may not be called when its host is an address (names are checked when resolved).
pub fn literal_refusal(policy: &NetworkPolicy, url: &str) -> Option<String> {
    let host = reqwest::Url::parse(url).ok()?.host_str()?.to_string();
    let ip: IpAddr = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()?;
    policy.refusal(ip)
}

struct Guard {
    policy: NetworkPolicy,
}

impl Resolve for Guard {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        Box::pin(async move {
            let host = name.as_str().to_string();
            let resolved: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let (allowed, refused): (Vec<SocketAddr>, Vec<SocketAddr>) = resolved
                .into_iter()
                .partition(|address| policy.refusal(address.ip()).is_none());
            if allowed.is_empty() {
                let reason = refused
                    .first()
                    .and_then(|a| policy.refusal(a.ip()))
                    .unwrap_or_else(|| "it resolves to no address".to_string());
                return Err(format!("host `{host}` refused: {reason}").into());
            }
            let addresses: Addrs = Box::new(allowed.into_iter());
            Ok(addresses)
        })
    }
}
