//! The simulator's metric families: the simulated services' metrics and the ground truth.

use prometheus::{
    GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry,
};

use super::incidents::IncidentKind;

/// Status codes the simulated services answer.
pub const CODES: [&str; 5] = ["200", "201", "404", "500", "503"];

/// Every metric family of the simulator.
#[derive(Clone)]
pub struct SimMetrics {
    /// The registry holding them.
    pub registry: Registry,
    /// `omen_sim_http_requests_total{service,code}`
    pub requests: IntCounterVec,
    /// `omen_sim_http_request_duration_seconds{service}`
    pub latency: HistogramVec,
    /// `omen_sim_cpu_usage_ratio{service}` (0 to 1)
    pub cpu: GaugeVec,
    /// `omen_sim_memory_usage_bytes{service}`
    pub memory: GaugeVec,
    /// `omen_sim_queue_depth{service}`
    pub queue: GaugeVec,
    /// `omen_sim_saturation_ratio{service}` (0 to 1)
    pub saturation: GaugeVec,
    /// `omen_sim_incident_active{service,kind}`: ground truth, 1 while an incident is on.
    pub incident_active: IntGaugeVec,
    /// `omen_sim_incidents_started_total{kind,source}`
    pub incidents_started: IntCounterVec,
    /// `omen_sim_remediations_total`: remediation calls, by whether they ended something.
    pub remediations: IntCounterVec,
    /// `omen_sim_time_scale`: simulated seconds per real second.
    pub time_scale: prometheus::Gauge,
}

impl SimMetrics {
    /// Creates and registers every family, with every service's series present from the start.
    pub fn new(services: &[String], scale: f64) -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "omen_sim_http_requests_total",
                "Requests served by a simulated service, by status code.",
            ),
            &["service", "code"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "omen_sim_http_request_duration_seconds",
                "Request latency of a simulated service.",
            )
            .buckets(vec![
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]),
            &["service"],
        )?;
        let gauge = |name: &str, help: &str| GaugeVec::new(Opts::new(name, help), &["service"]);
        let cpu = gauge("omen_sim_cpu_usage_ratio", "CPU in use, 0 to 1.")?;
        let memory = gauge("omen_sim_memory_usage_bytes", "Resident memory.")?;
        let queue = gauge(
            "omen_sim_queue_depth",
            "Requests waiting in the work queue.",
        )?;
        let saturation = gauge(
            "omen_sim_saturation_ratio",
            "Most saturated resource (CPU or queue capacity), 0 to 1.",
        )?;
        let incident_active = IntGaugeVec::new(
            Opts::new(
                "omen_sim_incident_active",
                "Ground truth: 1 while an injected incident of this kind affects the service.",
            ),
            &["service", "kind"],
        )?;
        let incidents_started = IntCounterVec::new(
            Opts::new("omen_sim_incidents_started_total", "Incidents started."),
            &["kind", "source"],
        )?;
        let remediations = IntCounterVec::new(
            Opts::new(
                "omen_sim_remediations_total",
                "Remediation calls, by whether they ended an incident (`ended`) or none (`noop`).",
            ),
            &["outcome"],
        )?;
        let time_scale =
            prometheus::Gauge::new("omen_sim_time_scale", "Simulated seconds per real second.")?;
        for collector in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(latency.clone()),
            Box::new(cpu.clone()),
            Box::new(memory.clone()),
            Box::new(queue.clone()),
            Box::new(saturation.clone()),
            Box::new(incident_active.clone()),
            Box::new(incidents_started.clone()),
            Box::new(remediations.clone()),
            Box::new(time_scale.clone()),
        ] {
            registry.register(collector)?;
        }
        time_scale.set(scale);
        for service in services {
            for code in CODES {
                requests.with_label_values(&[service, code]);
            }
            latency.with_label_values(&[service.as_str()]);
            for kind in IncidentKind::ALL {
                incident_active.with_label_values(&[service.as_str(), kind.as_str()]);
            }
        }
        for outcome in ["ended", "noop"] {
            remediations.with_label_values(&[outcome]);
        }
        Ok(Self {
            registry,
            requests,
            latency,
            cpu,
            memory,
            queue,
            saturation,
            incident_active,
            incidents_started,
            remediations,
            time_scale,
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
