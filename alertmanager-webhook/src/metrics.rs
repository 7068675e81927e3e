//! The webhook's self-metrics, served on the admin port.

use prometheus::{
    HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
};

/// Stages named in `omen_webhook_errors_total{stage}`.
pub mod stage {
    /// Reading and checking the notification.
    pub const RECEIVE: &str = "receive";
    /// Writing to the store.
    pub const STORE: &str = "store";
    /// Running an action.
    pub const ACTION: &str = "action";
    /// Sending an escalation.
    pub const ESCALATE: &str = "escalate";
}

/// Every metric family of the webhook.
#[derive(Clone)]
pub struct Metrics {
    /// The registry holding them.
    pub registry: Registry,
    /// `omen_webhook_requests_total{code}`
    pub requests: IntCounterVec,
    /// `omen_webhook_request_duration_seconds{code}`: receipt to acknowledgement.
    pub request_duration: HistogramVec,
    /// `omen_webhook_alerts_received_total{status}`
    pub alerts_received: IntCounterVec,
    /// `omen_webhook_jobs_created_total{rule,action}`
    pub jobs_created: IntCounterVec,
    /// `omen_webhook_jobs_deduplicated_total`: duplicate deliveries that created no job.
    pub jobs_deduplicated: IntCounter,
    /// `omen_webhook_actions_total{rule,action,outcome}`
    pub actions: IntCounterVec,
    /// `omen_webhook_jobs_failed_total{rule,action}`: jobs that failed for good.
    pub jobs_failed: IntCounterVec,
    /// `omen_webhook_action_duration_seconds{kind}`
    pub action_duration: HistogramVec,
    /// `omen_webhook_action_start_delay_seconds`: receipt to the start of the first attempt.
    pub start_delay: HistogramVec,
    /// `omen_webhook_jobs_queued`
    pub jobs_queued: IntGauge,
    /// `omen_webhook_jobs_awaiting_approval`
    pub jobs_awaiting_approval: IntGauge,
    /// `omen_webhook_breaker_open` (1 while automation is stopped).
    pub breaker_open: IntGauge,
    /// `omen_webhook_store_commit_duration_seconds{backend}`
    pub commit_duration: HistogramVec,
    /// `omen_webhook_store_log_restarts_total{outcome}` (SQLite: restarted, postponed, failed).
    pub log_restarts: IntCounterVec,
    /// `omen_webhook_errors_total{error_type,stage}`
    pub errors: IntCounterVec,
    /// `omen_webhook_build_info{version,store}`
    pub build_info: IntGaugeVec,
}

impl Metrics {
    /// Creates and registers every family.
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let counter = |name: &str, help: &str, labels: &[&str]| {
            let c = IntCounterVec::new(Opts::new(name, help), labels)?;
            registry.register(Box::new(c.clone()))?;
            Ok::<_, prometheus::Error>(c)
        };
        let histogram = |name: &str, help: &str, labels: &[&str], buckets: Vec<f64>| {
            let h = HistogramVec::new(HistogramOpts::new(name, help).buckets(buckets), labels)?;
            registry.register(Box::new(h.clone()))?;
            Ok::<_, prometheus::Error>(h)
        };
        let gauge = |name: &str, help: &str| {
            let g = IntGauge::new(name, help)?;
            registry.register(Box::new(g.clone()))?;
            Ok::<_, prometheus::Error>(g)
        };
        let fast = vec![
            0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
        ];
        let slow = vec![
            0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
        ];
        let build_info = IntGaugeVec::new(
            Opts::new(
                "omen_webhook_build_info",
                "Version and store backend; always 1.",
            ),
            &["version", "store"],
        )?;
        registry.register(Box::new(build_info.clone()))?;
        Ok(Self {
            requests: counter(
                "omen_webhook_requests_total",
                "Webhook requests by HTTP status code.",
                &["code"],
            )?,
            request_duration: histogram(
                "omen_webhook_request_duration_seconds",
                "Time from receipt to acknowledgement (after the durable write).",
                &["code"],
                fast.clone(),
            )?,
            alerts_received: counter(
                "omen_webhook_alerts_received_total",
                "Alerts received and stored, by status.",
                &["status"],
            )?,
            jobs_created: counter(
                "omen_webhook_jobs_created_total",
                "Remediation jobs created.",
                &["rule", "action"],
            )?,
            jobs_deduplicated: {
                let c = IntCounter::new(
                    "omen_webhook_jobs_deduplicated_total",
                    "Jobs not created again because the same alert was delivered before.",
                )?;
                registry.register(Box::new(c.clone()))?;
                c
            },
            actions: counter(
                "omen_webhook_actions_total",
                "Job attempts and decisions by outcome.",
                &["rule", "action", "outcome"],
            )?,
            jobs_failed: counter(
                "omen_webhook_jobs_failed_total",
                "Jobs that failed after their last attempt or were interrupted.",
                &["rule", "action"],
            )?,
            action_duration: histogram(
                "omen_webhook_action_duration_seconds",
                "Duration of one action attempt.",
                &["kind"],
                slow,
            )?,
            start_delay: histogram(
                "omen_webhook_action_start_delay_seconds",
                "Time from receipt of the alert to the start of its action's first attempt.",
                &["kind"],
                fast,
            )?,
            jobs_queued: gauge("omen_webhook_jobs_queued", "Jobs waiting to run.")?,
            jobs_awaiting_approval: gauge(
                "omen_webhook_jobs_awaiting_approval",
                "Jobs held until approved through the API.",
            )?,
            breaker_open: gauge(
                "omen_webhook_breaker_open",
                "1 while the circuit breaker has stopped automation.",
            )?,
            commit_duration: histogram(
                "omen_webhook_store_commit_duration_seconds",
                "Duration of one store transaction of received notifications.",
                &["backend"],
                vec![
                    0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0,
                ],
            )?,
            log_restarts: counter(
                "omen_webhook_store_log_restarts_total",
                "SQLite write-ahead log restarts by the notification writer, by outcome \
                 (postponed: API readers still read the log).",
                &["outcome"],
            )?,
            errors: counter(
                "omen_webhook_errors_total",
                "Errors by type and stage.",
                &["error_type", "stage"],
            )?,
            build_info,
            registry,
        })
    }

    /// The text exposition of every family.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let encoder = prometheus::TextEncoder::new();
        if let Err(error) = encoder.encode_utf8(&self.registry.gather(), &mut out) {
            tracing::warn!(message = "Could not encode metrics.", %error);
        }
        out
    }
}
