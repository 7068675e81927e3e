//! The probe exporter's metric families.

use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry};

/// Fixed values of `omen_probe_errors_total{error_type}`.
pub const ERROR_TYPES: [&str; 3] = ["timeout", "connect", "status"];

/// Every metric family of the probe exporter.
#[derive(Clone)]
pub struct ProbeMetrics {
    /// The registry holding them.
    pub registry: Registry,
    /// `omen_probe_up{target}`: 1 when the last probe got a 2xx or 3xx answer in time.
    pub up: IntGaugeVec,
    /// `omen_probe_duration_seconds{target}`
    pub duration: HistogramVec,
    /// `omen_probe_status_code{target}`: HTTP status of the last probe, 0 without an answer.
    pub status_code: IntGaugeVec,
    /// `omen_probe_errors_total{target,error_type}`
    pub errors: IntCounterVec,
}

impl ProbeMetrics {
    /// Creates and registers every family, with every target's series present from the start.
    pub fn new(targets: &[String]) -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let up = IntGaugeVec::new(
            Opts::new(
                "omen_probe_up",
                "1 when the last probe answered 2xx or 3xx in time.",
            ),
            &["target"],
        )?;
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "omen_probe_duration_seconds",
                "Time to the answer's headers.",
            )
            .buckets(vec![
                0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ]),
            &["target"],
        )?;
        let status_code = IntGaugeVec::new(
            Opts::new(
                "omen_probe_status_code",
                "HTTP status of the last probe; 0 without an answer.",
            ),
            &["target"],
        )?;
        let errors = IntCounterVec::new(
            Opts::new("omen_probe_errors_total", "Failed probes by error type."),
            &["target", "error_type"],
        )?;
        registry.register(Box::new(up.clone()))?;
        registry.register(Box::new(duration.clone()))?;
        registry.register(Box::new(status_code.clone()))?;
        registry.register(Box::new(errors.clone()))?;
        for target in targets {
            up.with_label_values(&[target.as_str()]);
            status_code.with_label_values(&[target.as_str()]);
            for error_type in ERROR_TYPES {
                errors.with_label_values(&[target.as_str(), error_type]);
            }
        }
        Ok(Self {
            registry,
            up,
            duration,
            status_code,
            errors,
        })
    }

    /// Renders the registry in the Prometheus text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if let Err(error) =
            prometheus::TextEncoder::new().encode_utf8(&self.registry.gather(), &mut out)
        {
            tracing::warn!(message = "Could not encode metrics.", %error);
        }
        out
    }
}
