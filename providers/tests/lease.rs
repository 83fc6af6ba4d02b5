//! The provider lease against a real nats-server.

use std::time::{Duration, Instant};

use switchyard_broker::buckets;
use switchyard_broker::testing::NatsServer;
use switchyard_providers::lease::{self, LeaseConfig, LeaseError};
use switchyard_providers::ProviderKind;
use tokio_util::sync::CancellationToken;

const TTL: Duration = Duration::from_secs(1);

async fn store(nats: &NatsServer) -> async_nats::jetstream::kv::Store {
    let client = async_nats::connect(nats.url()).await.expect("connects");
    buckets::provider_lease(&async_nats::jetstream::new(client), TTL)
        .await
        .expect("bucket")
}

fn config() -> LeaseConfig {
    LeaseConfig { ttl: TTL }
}

#[tokio::test]
async fn one_holder_at_a_time_and_a_lapsed_lease_is_taken_over() {
    let nats = NatsServer::start();
    let shutdown = CancellationToken::new();
    let first = lease::acquire(
        store(&nats).await,
        ProviderKind::Process,
        config(),
        &shutdown,
    )
    .await
    .expect("the first provider holds the lease");

    // A second one waits while the first renews.
    let standby_store = store(&nats).await;
    let standby = tokio::spawn({
        let shutdown = shutdown.clone();
        async move { lease::acquire(standby_store, ProviderKind::Process, config(), &shutdown).await }
    });
    let mut first = first;
    let renewing = CancellationToken::new();
    let keeper = tokio::spawn({
        let renewing = renewing.clone();
        async move {
            let kept = first.keep(&renewing).await;
            (first, kept)
        }
    });
    // Positive condition: the holder has renewed past a whole TTL (five renewals a period).
    let watch = store(&nats).await;
    let revision = |store: async_nats::jetstream::kv::Store| async move {
        store
            .entry(switchyard_broker::provider::LEASE_KEY)
            .await
            .ok()
            .flatten()
            .map_or(0, |e| e.revision)
    };
    let start = revision(watch.clone()).await;
    let deadline = Instant::now() + TTL * 10;
    while revision(watch.clone()).await < start + 7 {
        assert!(Instant::now() < deadline, "the holder stopped renewing");
        tokio::time::sleep(TTL / 10).await;
    }
    assert!(
        !standby.is_finished(),
        "the standby took a lease that was renewed"
    );

    // The holder stops renewing without releasing (it died): the lease lapses.
    renewing.cancel();
    let (abandoned, kept) = keeper.await.expect("keeper");
    assert!(kept.is_ok());
    let stopped = Instant::now();
    let mut taken = standby
        .await
        .expect("standby")
        .expect("the standby holds the lease");
    assert!(stopped.elapsed() < TTL * 4, "took {:?}", stopped.elapsed());

    // The old holder, were it alive, would find its lease taken.
    let mut old = abandoned;
    let lost = old.keep(&CancellationToken::new()).await;
    assert!(matches!(lost, Err(LeaseError::TakenOver)), "{lost:?}");

    // A released lease is free at once.
    let release_shutdown = CancellationToken::new();
    release_shutdown.cancel();
    assert!(taken.keep(&release_shutdown).await.is_ok());
    taken.release().await;
    let again = tokio::time::timeout(
        TTL / 2,
        lease::acquire(
            store(&nats).await,
            ProviderKind::Docker,
            config(),
            &shutdown,
        ),
    )
    .await
    .expect("no wait for a released lease");
    assert!(again.is_some());
}

#[tokio::test]
async fn a_standby_stops_waiting_on_shutdown() {
    let nats = NatsServer::start();
    let shutdown = CancellationToken::new();
    let _holder = lease::acquire(
        store(&nats).await,
        ProviderKind::Process,
        config(),
        &shutdown,
    )
    .await
    .expect("holds");
    let stop = CancellationToken::new();
    stop.cancel();
    assert!(
        lease::acquire(store(&nats).await, ProviderKind::Process, config(), &stop)
            .await
            .is_none()
    );
}
