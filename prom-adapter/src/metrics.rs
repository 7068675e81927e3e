//! The adapter's self-metrics, registered in one registry served on the admin port.

use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
};

/// Stages named in `omen_adapter_errors_total{stage}`.
pub mod stage {
    /// Reading the HTTP request (content type, size, snappy, protobuf).
    pub const DECODE: &str = "decode";
    /// Checking series labels.
    pub const VALIDATE: &str = "validate";
    /// Running the model.
    pub const SCORE: &str = "score";
    /// Sending downstream.
    pub const FORWARD: &str = "forward";
}

/// Every metric family of the adapter.
#[derive(Clone)]
pub struct Metrics {
    /// The registry holding them (served on /metrics).
    pub registry: Registry,
    /// `omen_adapter_requests_total{protocol,code}`
    pub requests: IntCounterVec,
    /// `omen_adapter_request_duration_seconds{protocol}`
    pub request_duration: HistogramVec,
    /// `omen_adapter_samples_received_total{protocol}`
    pub samples_received: IntCounterVec,
    /// `omen_adapter_histograms_received_total`
    pub histograms_received: IntCounter,
    /// `omen_adapter_exemplars_received_total`
    pub exemplars_received: IntCounter,
    /// `omen_adapter_samples_scored_total`
    pub samples_scored: IntCounter,
    /// `omen_adapter_samples_unscored_total{reason}`
    pub samples_unscored: IntCounterVec,
    /// `omen_adapter_series_rejected_total`
    pub series_rejected: IntCounter,
    /// `omen_adapter_samples_forwarded_total{kind="original|output"}`
    pub samples_forwarded: IntCounterVec,
    /// `omen_adapter_forward_requests_total{outcome}`
    pub forward_requests: IntCounterVec,
    /// `omen_adapter_forward_duration_seconds`
    pub forward_duration: Histogram,
    /// `omen_adapter_forward_queue_samples`
    pub queue_samples: IntGauge,
    /// `omen_adapter_active_series`
    pub active_series: IntGauge,
    /// `omen_adapter_series_state_bytes`
    pub state_bytes: IntGauge,
    /// `omen_adapter_metadata_families`
    pub metadata_families: IntGauge,
    /// `omen_adapter_errors_total{error_type,stage}`
    pub errors: IntCounterVec,
    /// `omen_adapter_build_info{version,model,model_version}`
    pub build_info: IntGauge,
}

impl Metrics {
    /// Creates and registers every family; `model` and `model_version` label the build info.
    pub fn new(model: &str, model_version: &str) -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let counter =
            |name: &str, help: &str, labels: &[&str]| -> Result<IntCounterVec, prometheus::Error> {
                let c = IntCounterVec::new(Opts::new(name, help), labels)?;
                registry.register(Box::new(c.clone()))?;
                Ok(c)
            };
        let plain = |name: &str, help: &str| -> Result<IntCounter, prometheus::Error> {
            let c = IntCounter::new(name, help)?;
            registry.register(Box::new(c.clone()))?;
            Ok(c)
        };
        let gauge = |name: &str, help: &str| -> Result<IntGauge, prometheus::Error> {
            let g = IntGauge::new(name, help)?;
            registry.register(Box::new(g.clone()))?;
            Ok(g)
        };
        let latency_buckets = vec![
            0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
        ];
        let request_duration = HistogramVec::new(
            HistogramOpts::new(
                "omen_adapter_request_duration_seconds",
                "Time to answer a remote-write request.",
            )
            .buckets(latency_buckets.clone()),
            &["protocol"],
        )?;
        registry.register(Box::new(request_duration.clone()))?;
        let forward_duration = Histogram::with_opts(
            HistogramOpts::new(
                "omen_adapter_forward_duration_seconds",
                "Time of one downstream request, retries included.",
            )
            .buckets(latency_buckets),
        )?;
        registry.register(Box::new(forward_duration.clone()))?;
        let build_info = IntGauge::with_opts(
            Opts::new(
                "omen_adapter_build_info",
                "Build and model information; always 1.",
            )
            .const_label("version", env!("CARGO_PKG_VERSION"))
            .const_label("model", model)
            .const_label("model_version", model_version),
        )?;
        registry.register(Box::new(build_info.clone()))?;
        build_info.set(1);
        let metrics = Self {
            requests: counter(
                "omen_adapter_requests_total",
                "Remote-write requests answered, by protocol and HTTP status.",
                &["protocol", "code"],
            )?,
            request_duration,
            samples_received: counter(
                "omen_adapter_samples_received_total",
                "Float samples received.",
                &["protocol"],
            )?,
            histograms_received: plain(
                "omen_adapter_histograms_received_total",
                "Native histogram samples received (forwarded, not scored).",
            )?,
            exemplars_received: plain(
                "omen_adapter_exemplars_received_total",
                "Exemplars received (forwarded).",
            )?,
            samples_scored: plain(
                "omen_adapter_samples_scored_total",
                "Samples scored by the model.",
            )?,
            samples_unscored: counter(
                "omen_adapter_samples_unscored_total",
                "Samples of selected series forwarded without a score, by reason.",
                &["reason"],
            )?,
            series_rejected: plain(
                "omen_adapter_series_rejected_total",
                "Series refused as invalid (answered 400).",
            )?,
            samples_forwarded: counter(
                "omen_adapter_samples_forwarded_total",
                "Samples accepted downstream, originals and outputs.",
                &["kind"],
            )?,
            forward_requests: counter(
                "omen_adapter_forward_requests_total",
                "Downstream requests by outcome.",
                &["outcome"],
            )?,
            forward_duration,
            queue_samples: gauge(
                "omen_adapter_forward_queue_samples",
                "Samples waiting in the forward queues.",
            )?,
            active_series: gauge("omen_adapter_active_series", "Series with scoring state.")?,
            state_bytes: gauge(
                "omen_adapter_series_state_bytes",
                "Approximate bytes of scoring state.",
            )?,
            metadata_families: gauge(
                "omen_adapter_metadata_families",
                "Metric families with known type from metadata.",
            )?,
            errors: counter(
                "omen_adapter_errors_total",
                "Errors by type and pipeline stage.",
                &["error_type", "stage"],
            )?,
            build_info,
            registry,
        };
        for reason in omen_scoring::Skip::ALL {
            metrics
                .samples_unscored
                .with_label_values(&[reason.as_str()]);
        }
        for kind in ["original", "output"] {
            metrics.samples_forwarded.with_label_values(&[kind]);
        }
        Ok(metrics)
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
