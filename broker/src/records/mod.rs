//! Records shared through NATS key-value buckets.

mod endpoint;
mod function;
mod source;
mod source_status;
mod vcenter;

pub use endpoint::{endpoints_of, Endpoint, ENDPOINT_STALE_AFTER};
pub use function::{
    resolve_function_name, validate_function_name, validate_secret_names, validate_tuning,
    FunctionDeployment, FunctionSpec, FunctionStatus, InvalidFunctionName, Resources,
    DEFAULT_NAMESPACE, ENDPOINT_ANNOTATION, MAX_REPLICAS,
};
pub use source::{
    parse_rate, BasicCredentials, EventSource, SourceSpec, WebhookAuth, WebhookConfig,
};
pub use source_status::{SourceState, SourceStatus};
pub use vcenter::{VcenterConfig, MAX_PAGE_SIZE};
