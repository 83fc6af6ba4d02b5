//! Records shared through NATS key-value buckets.

mod endpoint;
mod function;

pub use endpoint::Endpoint;
pub use function::{
    resolve_function_name, validate_function_name, FunctionDeployment, FunctionSpec,
    FunctionStatus, InvalidFunctionName, Resources, DEFAULT_NAMESPACE,
};
