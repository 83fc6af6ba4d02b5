//! External functions: replicas that are existing HTTP endpoints (annotation
//! `com.switchyard.endpoint: URL[,URL…]`), such as a function on an OpenFaaS gateway.
//!
//! Switchyard runs nothing for them; the active provider probes each URL (a TCP connection to
//! its host and port, so that a probe never invokes the function) every two seconds and lists
//! the reachable ones in the endpoint directory as `<function>.x<index>`. Dispatchers then give
//! them everything a watchdog gets: sync calls, async jobs with retries and callbacks, event
//! triggers; an endpoint's 5xx answers and network errors are classified like a watchdog's.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, kv::Store};
use chrono::Utc;
use switchyard_broker::buckets;
use switchyard_broker::cache::{Changed, KvCache};
use switchyard_broker::follow;
use switchyard_broker::networks::NetworkPolicy;
use switchyard_broker::records::{Endpoint, FunctionSpec, EXTERNAL_REPLICA_PREFIX};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::ProviderError;

const PROBE_EVERY: Duration = Duration::from_secs(2);
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// An external function and its URLs.
type Wanted = (String, Vec<String>);

/// Follows the registry's external functions until `shutdown`.
/// Endpoints are listed only where `outbound` allows (the callbacks' policy), checked for
/// every address the host resolves to at each probe.
pub async fn run(
    nats: async_nats::Client,
    outbound: NetworkPolicy,
    shutdown: CancellationToken,
) -> Result<JoinHandle<()>, ProviderError> {
    let js = jetstream::new(nats);
    let endpoints = buckets::endpoints(&js).await?;
    let registry = KvCache::start(buckets::functions(&js).await?, shutdown.clone()).await;
    Ok(tokio::spawn(follow(
        endpoints, registry, outbound, shutdown,
    )))
}

async fn follow(
    endpoints: Store,
    registry: KvCache<FunctionSpec>,
    outbound: NetworkPolicy,
    shutdown: CancellationToken,
) {
    let mut rounds = follow::Rounds::new(vec![registry.changes()], &shutdown);
    let mut probed: Option<(Instant, Vec<Wanted>)> = None;
    // The external functions' keys, kept from what changed: a round does not look at the
    // thousands of other functions.
    let journal = registry.journal();
    let mut external: HashSet<String> = HashSet::new();
    loop {
        let mut wanted: Vec<Wanted> = registry.read(|map| {
            match journal.take() {
                Changed::All => {
                    external = map
                        .iter()
                        .filter(|(_, spec)| spec.is_external())
                        .map(|(key, _)| key.clone())
                        .collect();
                }
                Changed::Keys(keys) => {
                    for key in keys {
                        if map.get(&key).is_some_and(FunctionSpec::is_external) {
                            external.insert(key);
                        } else {
                            external.remove(&key);
                        }
                    }
                }
            }
            external
                .iter()
                .filter_map(|key| {
                    let spec = map.get(key)?;
                    let urls = spec.deployment.external_endpoints()?.ok()?;
                    Some((
                        spec.name().to_string(),
                        urls.iter().map(|u| u.as_str().to_string()).collect(),
                    ))
                })
                .collect()
        });
        wanted.sort();
        // A change to other functions (thousands deployed at once) does not list the
        // directory again before the next probe is due.
        let due = probed
            .as_ref()
            .is_none_or(|(at, last)| at.elapsed() >= PROBE_EVERY || *last != wanted);
        if due {
            let reachable = probe_all(&wanted, &outbound).await;
            crate::listing::list_exactly(&endpoints, EXTERNAL_REPLICA_PREFIX, reachable).await;
            probed = Some((Instant::now(), wanted));
        }
        let next_probe = probed.as_ref().map_or(PROBE_EVERY, |(at, _)| {
            PROBE_EVERY.saturating_sub(at.elapsed())
        });
        if !rounds.next(Some(next_probe)).await {
            break;
        }
    }
    tracing::info!("external endpoints no longer followed");
}

/// The reachable endpoints of every external function, by key.
async fn probe_all(wanted: &[Wanted], outbound: &NetworkPolicy) -> HashMap<String, Endpoint> {
    let probes = wanted.iter().flat_map(|(function, urls)| {
        urls.iter().enumerate().map(move |(index, url)| async move {
            let endpoint = Endpoint {
                function: function.clone(),
                replica: format!("{EXTERNAL_REPLICA_PREFIX}{index}"),
                url: url.clone(),
                heartbeat: Utc::now(),
                token: None,
            };
            if reachable(url, outbound).await {
                Some(endpoint)
            } else {
                tracing::warn!(
                    function,
                    url,
                    "external endpoint unreachable; unlisted until it answers"
                );
                None
            }
        })
    });
    futures::future::join_all(probes)
        .await
        .into_iter()
        .flatten()
        .map(|e| (e.key(), e))
        .collect()
}

/// True when a TCP connection to the URL's host and port opens in time.
async fn reachable(url: &str, outbound: &NetworkPolicy) -> bool {
    let Ok(parsed) = url::Url::parse(url) else {
        return false;
    };
    let (Some(host), Some(port)) = (parsed.host_str(), parsed.port_or_known_default()) else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let Ok(Ok(addresses)) =
        tokio::time::timeout(PROBE_TIMEOUT, tokio::net::lookup_host((host, port))).await
    else {
        return false;
    };
    let addresses: Vec<std::net::SocketAddr> = addresses.collect();
    if let Some(reason) = addresses.iter().find_map(|a| outbound.refusal(a.ip())) {
        tracing::warn!(url, %reason, "external endpoint refused by the network policy (SWITCHYARD_CALLBACK_ALLOW, _DENY)");
        return false;
    }
    matches!(
        tokio::time::timeout(
            PROBE_TIMEOUT,
            tokio::net::TcpStream::connect(&addresses[..])
        )
        .await,
        Ok(Ok(_))
    )
}
