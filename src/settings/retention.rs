//! How long what Switchyard stores is kept.

use clap::Args;
use switchyard_broker::streams::Retention;

use super::Span;

#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Retention")]
pub struct RetentionSettings {
    /// A retried intake with the same X-Call-Id within this window is the same job.
    #[arg(long, env = "SWITCHYARD_DUPLICATE_WINDOW", default_value_t = Span(Retention::default().duplicate_window))]
    pub duplicate_window: Span,

    /// How long job records are kept.
    #[arg(long, env = "SWITCHYARD_JOB_RECORD_TTL", default_value_t = Span(Retention::default().record_ttl))]
    pub job_record_ttl: Span,

    /// How long job results are kept.
    #[arg(long, env = "SWITCHYARD_RESULT_TTL", default_value_t = Span(Retention::default().result_ttl))]
    pub result_ttl: Span,

    /// Largest job result stored, in bytes; larger results are not stored.
    #[arg(long, env = "SWITCHYARD_RESULT_MAX_BYTES", default_value_t = Retention::default().result_max_bytes)]
    pub result_max_bytes: usize,

    /// How long dead letters are kept in SY_DEAD.
    #[arg(long, env = "SWITCHYARD_DEAD_LETTER_TTL", default_value_t = Span(Retention::default().dead_ttl))]
    pub dead_letter_ttl: Span,

    /// How long SY_EVENTS keeps events for replay.
    #[arg(long, env = "SWITCHYARD_EVENTS_TTL", default_value_t = Span(Retention::default().events_ttl))]
    pub events_ttl: Span,

    /// Most bytes SY_EVENTS keeps (the oldest events go first); 0 = no limit.
    #[arg(long, env = "SWITCHYARD_EVENTS_MAX_BYTES", default_value_t = Retention::default().events_max_bytes)]
    pub events_max_bytes: i64,

    /// Most bytes of async invocations waiting in SY_INVOCATIONS; when full, intake answers 503
    /// with Retry-After (accepted work is never dropped).
    #[arg(long, env = "SWITCHYARD_QUEUE_MAX_BYTES", default_value_t = Retention::default().queue_max_bytes)]
    pub queue_max_bytes: i64,

    /// Most bytes of callbacks waiting in SY_CALLBACKS.
    #[arg(long, env = "SWITCHYARD_CALLBACKS_MAX_BYTES", default_value_t = Retention::default().callbacks_max_bytes)]
    pub callbacks_max_bytes: i64,

    /// Most bytes SY_DEAD keeps (the oldest dead letters go first).
    #[arg(long, env = "SWITCHYARD_DEAD_LETTERS_MAX_BYTES", default_value_t = Retention::default().dead_max_bytes)]
    pub dead_letters_max_bytes: i64,

    /// Most bytes of job records, and of stored results (each).
    #[arg(long, env = "SWITCHYARD_RECORDS_MAX_BYTES", default_value_t = Retention::default().records_max_bytes)]
    pub records_max_bytes: i64,
}

impl RetentionSettings {
    pub fn config(&self) -> Retention {
        Retention {
            duplicate_window: self.duplicate_window.0,
            record_ttl: self.job_record_ttl.0,
            result_ttl: self.result_ttl.0,
            result_max_bytes: self.result_max_bytes,
            dead_ttl: self.dead_letter_ttl.0,
            events_ttl: self.events_ttl.0,
            events_max_bytes: self.events_max_bytes,
            queue_max_bytes: self.queue_max_bytes,
            callbacks_max_bytes: self.callbacks_max_bytes,
            dead_max_bytes: self.dead_letters_max_bytes,
            records_max_bytes: self.records_max_bytes,
        }
    }
}
