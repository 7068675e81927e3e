//! A blackbox-style HTTP probe exporter: every `interval` it GETs each target and exports
//! `omen_probe_up{target}`, `omen_probe_duration_seconds{target}` (histogram),
//! `omen_probe_status_code{target}` and `omen_probe_errors_total{target,error_type}`.

mod config;
mod metrics;
mod server;

pub use config::ProbeConfig;
pub use metrics::ProbeMetrics;
pub use server::{ProbeServer, Prober};
