//! The autoscaler's settings.

use clap::Args;
use switchyard_autoscaler::AutoscalerConfig;

use super::Span;

#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Autoscaler")]
pub struct AutoscalerSettings {
    /// How long a function's load must stay low before the autoscaler removes replicas
    /// (seconds, or a Go duration). Replicas are added at once.
    #[arg(long, env = "SWITCHYARD_SCALE_DOWN_WINDOW", default_value_t = Span(AutoscalerConfig::default().scale_down_window))]
    pub scale_down_window: Span,

    /// How long a call (or job attempt) waits for a ready replica before it gets 503: enough for
    /// a function scaled to zero to start one.
    #[arg(long, env = "SWITCHYARD_COLD_START_TIMEOUT", default_value = "30s")]
    pub cold_start_timeout: Span,

    /// How often the autoscaler measures load and decides replicas.
    #[arg(long, env = "SWITCHYARD_AUTOSCALE_INTERVAL", default_value_t = Span(AutoscalerConfig::default().interval))]
    pub autoscale_interval: Span,
}

impl AutoscalerSettings {
    pub fn config(&self) -> AutoscalerConfig {
        AutoscalerConfig {
            interval: self.autoscale_interval.0,
            scale_down_window: self.scale_down_window.0,
        }
    }
}
