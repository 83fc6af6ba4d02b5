//! Bounds on what enters: CloudEvents, and every HTTP request's headers and query.

use clap::Args;
use switchyard_broker::codec::limits::Limits;
use switchyard_gateway::ServerLimits;

#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Input limits")]
pub struct LimitSettings {
    /// Longest CloudEvent `type`, in bytes (400 above).
    #[arg(long, env = "SWITCHYARD_EVENT_TYPE_MAX_BYTES", default_value_t = Limits::default().type_bytes)]
    pub event_type_max_bytes: usize,

    /// Longest CloudEvent `id`, in bytes.
    #[arg(long, env = "SWITCHYARD_EVENT_ID_MAX_BYTES", default_value_t = Limits::default().id_bytes)]
    pub event_id_max_bytes: usize,

    /// Longest CloudEvent `source`, in bytes.
    #[arg(long, env = "SWITCHYARD_EVENT_SOURCE_MAX_BYTES", default_value_t = Limits::default().source_bytes)]
    pub event_source_max_bytes: usize,

    /// Longest CloudEvent `subject`, in bytes.
    #[arg(long, env = "SWITCHYARD_EVENT_SUBJECT_MAX_BYTES", default_value_t = Limits::default().subject_bytes)]
    pub event_subject_max_bytes: usize,

    /// Most extension attributes on one CloudEvent.
    #[arg(long, env = "SWITCHYARD_EVENT_EXTENSIONS_MAX", default_value_t = Limits::default().extensions)]
    pub event_extensions_max: usize,

    /// Longest CloudEvent extension value, in bytes.
    #[arg(long, env = "SWITCHYARD_EVENT_EXTENSION_MAX_BYTES", default_value_t = Limits::default().extension_bytes)]
    pub event_extension_max_bytes: usize,

    /// Most events in one batch post.
    #[arg(long, env = "SWITCHYARD_BATCH_MAX_EVENTS", default_value_t = Limits::default().batch_events)]
    pub batch_max_events: usize,

    /// Most headers one HTTP request may carry (431 above).
    #[arg(long, env = "SWITCHYARD_MAX_HEADERS", default_value_t = ServerLimits::default().max_headers)]
    pub max_headers: usize,

    /// Most bytes of an HTTP request line and headers together (431 above).
    #[arg(long, env = "SWITCHYARD_MAX_HEADER_BYTES", default_value_t = ServerLimits::default().max_head_bytes)]
    pub max_header_bytes: usize,

    /// Longest query string of an invocation, in bytes (414 above).
    #[arg(long, env = "SWITCHYARD_MAX_QUERY_BYTES", default_value_t = ServerLimits::default().max_query_bytes)]
    pub max_query_bytes: usize,
}

impl LimitSettings {
    /// The CloudEvent bounds.
    pub fn events(&self) -> Limits {
        Limits {
            type_bytes: self.event_type_max_bytes,
            id_bytes: self.event_id_max_bytes,
            source_bytes: self.event_source_max_bytes,
            subject_bytes: self.event_subject_max_bytes,
            extensions: self.event_extensions_max,
            extension_bytes: self.event_extension_max_bytes,
            batch_events: self.batch_max_events,
        }
    }
}
