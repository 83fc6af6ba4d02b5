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

    /// Functions without scaling labels scale as in OpenFaaS CE: over 5 calls/s per replica for
    /// 5 s adds `com.openfaas.scale.factor` % (20) of `.max` (20), up to the max; back to
    /// `.min` (1) when the rate has stayed under for 5 s. `false` leaves them as deployed or
    /// scaled.
    #[arg(long, env = "SWITCHYARD_AUTOSCALE_OPENFAAS_CE", default_value_t = true, action = clap::ArgAction::Set)]
    pub autoscale_openfaas_ce: bool,
}

impl AutoscalerSettings {
    pub fn config(&self) -> AutoscalerConfig {
        AutoscalerConfig {
            interval: self.autoscale_interval.0,
            scale_down_window: self.scale_down_window.0,
            openfaas_ce: self.autoscale_openfaas_ce,
        }
    }
}
