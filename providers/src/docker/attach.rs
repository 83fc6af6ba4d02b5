//! Peers connected to each namespace's network: the containerized parts that call functions
//! (dispatchers) or scrape them (Prometheus). A peer is a container name or id, or
//! `label=<key>=<value>` for every container with that label (Compose's scaled services,
//! whose names are not known in advance).

use std::collections::{HashMap, HashSet};

use bollard::models::NetworkConnectRequest;
use bollard::query_parameters::{
    InspectContainerOptions, InspectNetworkOptions, ListContainersOptionsBuilder,
};
use bollard::Docker;

/// Connects every container `peers` names to `network` unless it is on it already. Checked at
/// each container start, so a peer started after the network was made is connected too.
pub(crate) async fn connect_peers(docker: &Docker, network: &str, peers: &[String]) {
    if peers.is_empty() {
        return;
    }
    let present: HashSet<String> = match docker
        .inspect_network(network, None::<InspectNetworkOptions>)
        .await
    {
        Ok(inspected) => inspected
            .containers
            .unwrap_or_default()
            .into_keys()
            .collect(),
        Err(error) => {
            tracing::warn!(%network, %error, "cannot inspect a namespace's network");
            return;
        }
    };
    for container in peer_ids(docker, peers).await {
        if present.contains(&container) {
            continue;
        }
        let request = NetworkConnectRequest {
            container: Some(container.clone()),
            ..Default::default()
        };
        match docker.connect_network(network, request).await {
            Ok(()) => {
                tracing::info!(%network, %container, "connected a peer to a namespace's network")
            }
            Err(error) => {
                tracing::warn!(%network, %container, %error, "cannot connect a peer to a namespace's network")
            }
        }
    }
}

/// The full ids of the running containers `peers` names.
async fn peer_ids(docker: &Docker, peers: &[String]) -> Vec<String> {
    let mut ids = Vec::new();
    for peer in peers {
        match peer.strip_prefix("label=") {
            Some(label) => {
                let filters = HashMap::from([("label", vec![label])]);
                let options = ListContainersOptionsBuilder::new()
                    .filters(&filters)
                    .build();
                match docker.list_containers(Some(options)).await {
                    Ok(found) => ids.extend(found.into_iter().filter_map(|c| c.id)),
                    Err(error) => tracing::warn!(%peer, %error, "cannot list peers"),
                }
            }
            None => match docker
                .inspect_container(peer, None::<InspectContainerOptions>)
                .await
            {
                Ok(inspected) => ids.extend(inspected.id),
                Err(error) => tracing::warn!(%peer, %error, "cannot find a peer container"),
            },
        }
    }
    ids
}
