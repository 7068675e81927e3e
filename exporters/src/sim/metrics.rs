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

    /// Every series as a scrape would see it: histograms expanded into `_bucket`, `_sum` and
    /// `_count` series. Each sample carries its labels (with `__name__`, unsorted) and whether it
    /// counts up (counters and histogram parts).
    pub fn samples(&self) -> Vec<ScrapedSample> {
        use prometheus::proto::MetricType;
        let mut out = Vec::new();
        for family in self.registry.gather() {
            let name = family.name();
            for metric in family.get_metric() {
                let labels: Vec<(String, String)> = metric
                    .get_label()
                    .iter()
                    .map(|l| (l.name().to_owned(), l.value().to_owned()))
                    .collect();
                let mut push = |suffix: &str, extra: Option<(&str, String)>, value, counter| {
                    let mut labels = labels.clone();
                    labels.push(("__name__".into(), format!("{name}{suffix}")));
                    if let Some((k, v)) = extra {
                        labels.push((k.into(), v));
                    }
                    out.push(ScrapedSample {
                        labels,
                        value,
                        counter,
                    });
                };
                match family.get_field_type() {
                    MetricType::COUNTER => push("", None, metric.get_counter().get_value(), true),
                    MetricType::GAUGE => push("", None, metric.get_gauge().get_value(), false),
                    MetricType::HISTOGRAM => {
                        let h = metric.get_histogram();
                        for bucket in h.get_bucket() {
                            let le = bucket.upper_bound().to_string();
                            push(
                                "_bucket",
                                Some(("le", le)),
                                bucket.cumulative_count() as f64,
                                true,
                            );
                        }
                        let count = h.get_sample_count() as f64;
                        push("_bucket", Some(("le", "+Inf".into())), count, true);
                        push("_sum", None, h.get_sample_sum(), true);
                        push("_count", None, count, true);
                    }
                    _ => {}
                }
            }
        }
        out
    }
}

/// One series' value from [`SimMetrics::samples`].
#[derive(Clone, Debug, PartialEq)]
pub struct ScrapedSample {
    /// Label pairs including `__name__`, in no particular order.
    pub labels: Vec<(String, String)>,
    /// The value.
    pub value: f64,
    /// Whether the series counts up (scored on its rate).
    pub counter: bool,
}
