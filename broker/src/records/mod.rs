//! Records shared through NATS key-value buckets.

mod access;
mod certificate;
mod endpoint;
mod function;
mod host;
mod namespace;
mod route;
mod schedule;
mod source;
mod source_status;
mod vcenter;

pub use access::{
    scoped_key, validate_name, Action, ApiToken, Organization, Policy, Role, ServiceAccount,
    DEFAULT_ORGANIZATION, TOKEN_PREFIX,
};
pub use certificate::StoredCertificate;
pub use endpoint::{
    endpoints_of, ready_counts, Endpoint, ENDPOINT_STALE_AFTER, EXTERNAL_REPLICA_PREFIX,
    REPLICA_TOKEN_HEADER,
};
pub use function::{
    validate_function_name, validate_secret_names, validate_tuning, FunctionDeployment,
    FunctionSpec, FunctionStatus, InvalidFunctionName, Resources, ENDPOINT_ANNOTATION,
    MAX_REPLICAS,
};
pub use host::{host_covers, host_owner, HostAssignment};
pub use namespace::{
    qualify, resolve_reference, split_qualified, validate_namespace, Namespace, DEFAULT_NAMESPACE,
};
pub use route::{
    api_key_digest, parse_path, route, validate_host, Cors, PathMatch, Route, RouteAuth, Segment,
    RESERVED_PREFIXES,
};
pub use schedule::{tick_call_id, ScheduleState, TickOutcome};
pub use source::{
    parse_rate, BasicCredentials, EventSource, SourceSpec, WebhookAuth, WebhookConfig,
};
pub use source_status::{SourceState, SourceStatus};
pub use vcenter::{vsphere_event_classes, PayloadEncoding, VcenterConfig, MAX_PAGE_SIZE};
