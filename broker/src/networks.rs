//! Networks a callback may or may not reach (`SWITCHYARD_CALLBACK_ALLOW`, `_DENY`): a list of
//! CIDR blocks, and the policy that combines the two.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// One CIDR block, `10.0.0.0/8` or `fe80::/10`; a bare address is a /32 or /128.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    address: IpAddr,
    prefix: u8,
}

impl Network {
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        match (self.address, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// An IPv4 address mapped into IPv6 (`::ffff:169.254.169.254`) is the IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// A network that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a network: use an address or address/prefix, e.g. 10.0.0.0/8 or fe80::/10")]
pub struct InvalidNetwork(String);

impl FromStr for Network {
    type Err = InvalidNetwork;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = || InvalidNetwork(text.to_string());
        let (address, prefix) = match text.trim().split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text.trim(), None),
        };
        let address: IpAddr = address.parse().map_err(|_| invalid())?;
        let address = canonical(address);
        let width = if address.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= width)
                .ok_or_else(invalid)?,
            None => width,
        };
        Ok(Network { address, prefix })
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix)
    }
}

/// Parses a comma-separated list of networks (empty: none).
pub fn parse_list(text: &str) -> Result<Vec<Network>, InvalidNetwork> {
    text.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::parse)
        .collect()
}

/// Link-local addresses (where cloud metadata services answer) and the metadata addresses
/// that are not link-local: what callbacks may not reach unless the operator says otherwise.
pub const DEFAULT_DENIED: &str = "169.254.0.0/16,fe80::/10,100.100.100.200/32,fd00:ec2::254/128";

/// Where callbacks may go: an address must be in `allow` (when it is not empty) and in none of
/// `deny`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkPolicy {
    pub allow: Vec<Network>,
    pub deny: Vec<Network>,
}

impl Default for NetworkPolicy {
    fn default() -> Self {
        NetworkPolicy {
            allow: Vec::new(),
            deny: parse_list(DEFAULT_DENIED).unwrap_or_default(),
        }
    }
}

impl NetworkPolicy {
    /// Why `ip` may not be reached, if it may not.
    pub fn refusal(&self, ip: IpAddr) -> Option<String> {
        if let Some(network) = self.deny.iter().find(|n| n.contains(ip)) {
            return Some(format!("{ip} is in a denied network ({network})"));
        }
        if !self.allow.is_empty() && !self.allow.iter().any(|n| n.contains(ip)) {
            return Some(format!("{ip} is in no allowed network"));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("address")
    }

    #[test]
    fn networks_contain_their_addresses() {
        let net: Network = "10.1.0.0/16".parse().expect("parses");
        assert!(net.contains(ip("10.1.255.3")) && !net.contains(ip("10.2.0.1")));
        let all: Network = "0.0.0.0/0".parse().expect("parses");
        assert!(all.contains(ip("8.8.8.8")) && !all.contains(ip("::1")));
        let one: Network = "127.0.0.1".parse().expect("parses");
        assert!(one.contains(ip("127.0.0.1")) && !one.contains(ip("127.0.0.2")));
        for bad in ["10.0.0.0/33", "nowhere", "::/129", "1.2.3.4/x"] {
            assert!(bad.parse::<Network>().is_err(), "{bad}");
        }
    }

    #[test]
    fn metadata_and_link_local_are_denied_by_default() {
        let policy = NetworkPolicy::default();
        for denied in [
            "169.254.169.254",
            "::ffff:169.254.169.254",
            "fe80::1",
            "100.100.100.200",
        ] {
            assert!(policy.refusal(ip(denied)).is_some(), "{denied}");
        }
        assert!(policy.refusal(ip("127.0.0.1")).is_none());
        let strict = NetworkPolicy {
            allow: parse_list("10.0.0.0/8").expect("parses"),
            deny: Vec::new(),
        };
        assert!(strict.refusal(ip("10.3.2.1")).is_none());
        assert!(strict.refusal(ip("192.168.1.1")).is_some());
    }
}

#[cfg(feature = "http-guard")]
#[path = "networks_guard.rs"]
pub mod guard;
