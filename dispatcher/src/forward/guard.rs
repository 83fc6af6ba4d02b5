//! Name resolution for external functions' endpoints: every address a name resolves to is
//! checked against the outbound network policy when a connection is made, so a name that
//! later resolves to a denied address (cloud metadata, an internal service) is refused though
//! it passed the provider's probe. Watchdogs Switchyard started are reached without it.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use hyper_util::client::legacy::connect::dns::Name;
use switchyard_broker::networks::NetworkPolicy;

/// A resolver for hyper's connector that keeps only the addresses `policy` allows.
#[derive(Clone)]
pub(crate) struct GuardedResolver {
    policy: NetworkPolicy,
}

impl GuardedResolver {
    pub(crate) fn new(policy: NetworkPolicy) -> Self {
        GuardedResolver { policy }
    }
}

type Resolved = std::vec::IntoIter<SocketAddr>;

impl tower_service::Service<Name> for GuardedResolver {
    type Response = Resolved;
    type Error = std::io::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Resolved, std::io::Error>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let policy = self.policy.clone();
        Box::pin(async move {
            let host = name.as_str().to_string();
            let resolved: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let refusal = resolved.iter().find_map(|a| policy.refusal(a.ip()));
            let allowed: Vec<SocketAddr> = resolved
                .into_iter()
                .filter(|a| policy.refusal(a.ip()).is_none())
                .collect();
            if allowed.is_empty() {
                let reason = refusal.unwrap_or_else(|| "it resolves to no address".to_string());
                return Err(std::io::Error::new(
                    std::io::ErrorKind::PermissionDenied,
                    format!("host `{host}` refused by the outbound network policy: {reason}"),
                ));
            }
            Ok(allowed.into_iter())
        })
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use tower_service::Service;

    use super::*;
    use switchyard_broker::networks::parse_list;

    fn resolver(deny: &str) -> GuardedResolver {
        GuardedResolver::new(NetworkPolicy {
            allow: Vec::new(),
            deny: parse_list(deny).expect("networks"),
        })
    }

    #[tokio::test]
    async fn a_name_resolving_to_a_denied_address_is_refused_at_connect_time() {
        let name = Name::from_str("localhost").expect("name");
        let error = resolver("127.0.0.0/8,::1/128")
            .call(name.clone())
            .await
            .expect_err("localhost is denied");
        assert_eq!(error.kind(), std::io::ErrorKind::PermissionDenied);
        assert!(error.to_string().contains("localhost"), "{error}");
        let allowed: Vec<SocketAddr> = resolver("169.254.0.0/16")
            .call(name)
            .await
            .expect("localhost is allowed")
            .collect();
        assert!(allowed.iter().any(|a| a.ip().is_loopback()), "{allowed:?}");
    }
}
