//! JetStream key-value buckets: their names and definitions, created idempotently.

use std::time::Duration;

use async_nats::jetstream::{self, kv};

/// The function registry: key = function name, value = [`crate::records::FunctionSpec`] as JSON.
pub const FUNCTIONS: &str = "sy_functions";

/// Where each running replica of a function can be reached: key = `<function>.<replica>`,
/// value = [`crate::records::Endpoint`] as JSON. A key exists only while its replica is ready.
pub const ENDPOINTS: &str = "sy_endpoints";

/// Where each scheduled function's schedule stands: key = function id, value =
/// [`crate::records::ScheduleState`] as JSON.
pub const SCHEDULES: &str = "sy_schedules";

/// Opens (creating if needed) the schedules' state.
pub async fn schedules(js: &jetstream::Context) -> Result<kv::Store, BucketError> {
    open(js, SCHEDULES, "Switchyard schedules", Duration::ZERO).await
}

/// Errors while opening a bucket.
#[derive(Debug, thiserror::Error)]
#[error("cannot open key-value bucket `{bucket}`: {source}")]
pub struct BucketError {
    bucket: &'static str,
    #[source]
    source: jetstream::context::CreateKeyValueError,
}

/// Opens (creating if needed) the function registry.
pub async fn functions(js: &jetstream::Context) -> Result<kv::Store, BucketError> {
    open(
        js,
        FUNCTIONS,
        "Switchyard function registry",
        Duration::ZERO,
    )
    .await
}

/// Opens (creating if needed) the endpoint directory.
pub async fn endpoints(js: &jetstream::Context) -> Result<kv::Store, BucketError> {
    open(
        js,
        ENDPOINTS,
        "Switchyard function endpoints",
        Duration::ZERO,
    )
    .await
}

async fn open(
    js: &jetstream::Context,
    bucket: &'static str,
    description: &str,
    max_age: Duration,
) -> Result<kv::Store, BucketError> {
    open_bounded(js, bucket, description, max_age, -1).await
}

/// A bucket of at most `max_bytes` (-1: no limit); a full one refuses writes.
async fn open_bounded(
    js: &jetstream::Context,
    bucket: &'static str,
    description: &str,
    max_age: Duration,
    max_bytes: i64,
) -> Result<kv::Store, BucketError> {
    let max_bytes = if max_bytes > 0 { max_bytes } else { -1 };
    // An existing bucket keeps its replica count (see `replication`); only its limits change.
    if let Ok(store) = js.get_key_value(bucket).await {
        let mut stream = store.stream.clone();
        if let Ok(info) = stream.info().await {
            let mut config = info.config.clone();
            if config.max_age != max_age || config.max_bytes != max_bytes {
                config.max_age = max_age;
                config.max_bytes = max_bytes;
                if let Err(error) = js.update_stream(config).await {
                    tracing::warn!(bucket, %error, "bucket limits not updated");
                }
            }
            return Ok(store);
        }
    }
    js.create_or_update_key_value(kv::Config {
        bucket: bucket.to_string(),
        description: description.to_string(),
        history: 1,
        max_age,
        max_bytes,
        num_replicas: crate::replication::replicas(),
        storage: jetstream::stream::StorageType::File,
        ..Default::default()
    })
    .await
    .map_err(|source| BucketError { bucket, source })
}

/// Records of asynchronous jobs: key = call id, value = [`crate::jobs::JobRecord`] as JSON.
pub const JOBS: &str = "sy_jobs";

/// Stored responses of finished jobs: key = call id, value = [`crate::jobs::StoredResult`].
pub const RESULTS: &str = "sy_results";

/// Opens (creating or updating) the job records, kept for `ttl`, at most `max_bytes`.
pub async fn jobs(
    js: &jetstream::Context,
    ttl: Duration,
    max_bytes: i64,
) -> Result<kv::Store, BucketError> {
    open_bounded(js, JOBS, "Switchyard job records", ttl, max_bytes).await
}

/// Opens (creating or updating) the stored results, kept for `ttl`, at most `max_bytes`.
pub async fn results(
    js: &jetstream::Context,
    ttl: Duration,
    max_bytes: i64,
) -> Result<kv::Store, BucketError> {
    open_bounded(js, RESULTS, "Switchyard job results", ttl, max_bytes).await
}

/// Subscriptions: key = name, value = [`crate::events::Subscription`] as JSON.
pub const SUBSCRIPTIONS: &str = "sy_subscriptions";

/// Opens (creating if needed) the subscriptions.
pub async fn subscriptions(js: &jetstream::Context) -> Result<kv::Store, BucketError> {
    open(
        js,
        SUBSCRIPTIONS,
        "Switchyard subscriptions",
        Duration::ZERO,
    )
    .await
}

/// Event sources: key = name, value = [`crate::records::EventSource`] as JSON.
pub const SOURCES: &str = "sy_sources";

/// Opens (creating if needed) the event sources.
pub async fn sources(js: &jetstream::Context) -> Result<kv::Store, BucketError> {
    open(js, SOURCES, "Switchyard event sources", Duration::ZERO).await
}

/// What each event source adapter reports: key = source name, value =
/// [`crate::records::SourceStatus`] as JSON.
pub const SOURCE_STATUS: &str = "sy_source_status";

/// Opens (creating if needed) the event source status bucket.
pub async fn source_status(js: &jetstream::Context) -> Result<kv::Store, BucketError> {
    open(
        js,
        SOURCE_STATUS,
        "Switchyard event source status",
        Duration::ZERO,
    )
    .await
}

/// Redrives of dead letters: key = the dead letter's `SY_DEAD` sequence, value =
/// [`crate::jobs::Redrive`] as JSON.
pub const REDRIVES: &str = "sy_redrives";

/// Opens (creating if needed) the redrives bucket, kept as long as dead letters.
pub async fn redrives(js: &jetstream::Context, ttl: Duration) -> Result<kv::Store, BucketError> {
    open(js, REDRIVES, "Switchyard dead-letter redrives", ttl).await
}

/// Switchyard's own secrets (the routing key); never shown by any API.
pub const KEYS: &str = "sy_keys";

/// Opens (creating if needed) the keys bucket.
pub async fn keys(js: &jetstream::Context) -> Result<kv::Store, BucketError> {
    open(js, KEYS, "Switchyard's own keys", Duration::ZERO).await
}

/// The active provider's lease: key [`crate::provider::LEASE_KEY`], value
/// [`crate::provider::Lease`]. Entries age out after `ttl`, which is how a lease whose holder
/// died lapses.
pub const PROVIDER_LEASE: &str = "sy_provider_lease";

/// Opens (creating or updating) the provider lease bucket.
pub async fn provider_lease(
    js: &jetstream::Context,
    ttl: Duration,
) -> Result<kv::Store, BucketError> {
    open(js, PROVIDER_LEASE, "Switchyard provider lease", ttl).await
}

/// Where pollers resume: key = source name, value = the poller's checkpoint as JSON.
pub const CHECKPOINTS: &str = "sy_checkpoints";

/// Opens (creating if needed) the poller checkpoints.
pub async fn checkpoints(js: &jetstream::Context) -> Result<kv::Store, BucketError> {
    open(
        js,
        CHECKPOINTS,
        "Switchyard event source checkpoints",
        Duration::ZERO,
    )
    .await
}

/// Namespaces other than the default: key = name, value = [`crate::records::Namespace`].
pub const NAMESPACES: &str = "sy_namespaces";

/// Opens (creating if needed) the namespaces.
pub async fn namespaces(js: &jetstream::Context) -> Result<kv::Store, BucketError> {
    open(js, NAMESPACES, "Switchyard namespaces", Duration::ZERO).await
}

/// Function secrets, sealed: key = the secret's id (see [`crate::records::qualify`]), value =
/// [`crate::secrets::SealedSecret`]. The key that opens them is not in NATS.
pub const SECRETS: &str = "sy_secrets";

/// Opens (creating if needed) the secrets.
pub async fn secrets(js: &jetstream::Context) -> Result<kv::Store, BucketError> {
    open(
        js,
        SECRETS,
        "Switchyard function secrets (sealed)",
        Duration::ZERO,
    )
    .await
}

/// The event catalog: key = hex(source).hex(type), value = [`crate::catalog::EventType`].
pub const EVENT_TYPES: &str = "sy_event_types";

/// The catalog holds at most this many bytes: types come from outside, so the bucket is
/// bounded (a full one stops counting new types; known ones go on).
pub const EVENT_TYPES_MAX_BYTES: i64 = 64 * 1024 * 1024;

/// Opens (creating if needed) the event catalog.
pub async fn event_types(js: &jetstream::Context) -> Result<kv::Store, BucketError> {
    open_bounded(
        js,
        EVENT_TYPES,
        "Switchyard event catalog",
        Duration::ZERO,
        EVENT_TYPES_MAX_BYTES,
    )
    .await
}

/// API routes: key = the route's name, value = [`crate::records::Route`].
pub const ROUTES: &str = "sy_routes";

/// Opens (creating if needed) the routes.
pub async fn routes(js: &jetstream::Context) -> Result<kv::Store, BucketError> {
    open(js, ROUTES, "Switchyard API routes", Duration::ZERO).await
}

/// Host names given to organizations: key = [`crate::records::HostAssignment::key`].
pub const HOSTS: &str = "sy_hosts";

/// Opens (creating if needed) the host assignments.
pub async fn hosts(js: &jetstream::Context) -> Result<kv::Store, BucketError> {
    open(
        js,
        HOSTS,
        "Switchyard host names given to organizations",
        Duration::ZERO,
    )
    .await
}

/// TLS certificates uploaded through the API: key = name, value =
/// [`crate::records::StoredCertificate`] (private keys sealed).
pub const CERTIFICATES: &str = "sy_certificates";

/// Opens (creating if needed) the certificates.
pub async fn certificates(js: &jetstream::Context) -> Result<kv::Store, BucketError> {
    open(
        js,
        CERTIFICATES,
        "Switchyard TLS certificates (keys sealed)",
        Duration::ZERO,
    )
    .await
}

/// Organizations: key = name, value = [`crate::records::Organization`].
pub const ORGANIZATIONS: &str = "sy_organizations";
/// Policies: key = `<organization>.<name>`, value = [`crate::records::Policy`].
pub const POLICIES: &str = "sy_policies";
/// Service accounts: key = `<organization>.<name>`, value = [`crate::records::ServiceAccount`].
pub const SERVICE_ACCOUNTS: &str = "sy_service_accounts";
/// API tokens: key = token id, value = [`crate::records::ApiToken`] (a digest, never the token).
pub const TOKENS: &str = "sy_tokens";

/// Opens (creating if needed) the organizations.
pub async fn organizations(js: &jetstream::Context) -> Result<kv::Store, BucketError> {
    open(
        js,
        ORGANIZATIONS,
        "Switchyard organizations",
        Duration::ZERO,
    )
    .await
}

/// Opens (creating if needed) the policies.
pub async fn policies(js: &jetstream::Context) -> Result<kv::Store, BucketError> {
    open(js, POLICIES, "Switchyard access policies", Duration::ZERO).await
}

/// Opens (creating if needed) the service accounts.
pub async fn service_accounts(js: &jetstream::Context) -> Result<kv::Store, BucketError> {
    open(
        js,
        SERVICE_ACCOUNTS,
        "Switchyard service accounts",
        Duration::ZERO,
    )
    .await
}

/// Opens (creating if needed) the API tokens.
pub async fn tokens(js: &jetstream::Context) -> Result<kv::Store, BucketError> {
    open(
        js,
        TOKENS,
        "Switchyard API tokens (digests)",
        Duration::ZERO,
    )
    .await
}
