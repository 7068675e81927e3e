//! How the simulated services behave: daily seasonality, noise and the effect of incidents.

use std::f64::consts::TAU;

use super::incidents::{Incident, IncidentKind};
use super::metrics::SimMetrics;
use super::noise::Noise;

/// Most latency observations recorded per service and step; beyond it the histogram samples.
const MAX_OBSERVATIONS_PER_STEP: u64 = 5000;
/// Seconds in a day, the seasonality period.
const DAY: f64 = 86_400.0;

/// The normal behaviour of one service.
#[derive(Clone, Debug, PartialEq)]
pub struct ServiceProfile {
    /// Mean requests per simulated second at the daily mean.
    pub base_rps: f64,
    /// Median latency, seconds.
    pub latency_s: f64,
    /// Share of requests failing with 5xx normally.
    pub error_ratio: f64,
    /// CPU in use at the daily mean, 0 to 1.
    pub cpu: f64,
    /// Resident memory, bytes.
    pub memory_bytes: f64,
    /// Queue length at which the service is saturated.
    pub queue_capacity: f64,
}

/// Built-in profiles, assigned to services in order (cycled, scaled, when there are more services).
const PROFILES: [(f64, f64, f64, f64, f64, f64); 8] = [
    // rps, latency, errors, cpu, memory MiB, queue capacity
    (120.0, 0.045, 0.002, 0.35, 512.0, 200.0),
    (180.0, 0.020, 0.001, 0.40, 384.0, 400.0),
    (60.0, 0.015, 0.001, 0.20, 256.0, 100.0),
    (90.0, 0.030, 0.002, 0.30, 768.0, 150.0),
    (70.0, 0.120, 0.003, 0.55, 1536.0, 120.0),
    (40.0, 0.025, 0.002, 0.25, 320.0, 80.0),
    (25.0, 0.180, 0.004, 0.30, 640.0, 60.0),
    (20.0, 0.250, 0.003, 0.25, 448.0, 50.0),
];

impl ServiceProfile {
    /// The profile of the `index`-th service.
    pub fn for_index(index: usize) -> Self {
        let (rps, latency, errors, cpu, memory_mib, queue) = PROFILES[index % PROFILES.len()];
        let cycle = (index / PROFILES.len()) as f64;
        Self {
            base_rps: rps * (1.0 + 0.25 * cycle),
            latency_s: latency,
            error_ratio: errors,
            cpu,
            memory_bytes: memory_mib * 1024.0 * 1024.0,
            queue_capacity: queue,
        }
    }
}

#[derive(Debug, Default)]
struct ServiceState {
    /// Fractional requests carried to the next step.
    carry: f64,
    /// Bytes leaked so far (freed by remediation or when the leak ends).
    leaked: f64,
}

/// All simulated services, stepped forward in simulated time.
pub struct Platform {
    services: Vec<(String, ServiceProfile)>,
    state: Vec<ServiceState>,
    noise: Noise,
    metrics: SimMetrics,
}

/// Effects of the incidents on one service during one step.
#[derive(Debug, Default, Clone, Copy)]
struct Effects {
    latency_spike: bool,
    error_burst: bool,
    memory_leak: bool,
    traffic_drop: bool,
    cpu_saturation: bool,
}

impl Effects {
    fn of(service: &str, active: &[Incident]) -> Self {
        let mut effects = Self::default();
        for incident in active.iter().filter(|i| i.service == service) {
            match incident.kind {
                IncidentKind::LatencySpike => effects.latency_spike = true,
                IncidentKind::ErrorBurst => effects.error_burst = true,
                IncidentKind::MemoryLeak => effects.memory_leak = true,
                IncidentKind::TrafficDrop => effects.traffic_drop = true,
                IncidentKind::CpuSaturation => effects.cpu_saturation = true,
            }
        }
        effects
    }
}

/// Daily load factor at simulated time `t` (seconds since the epoch, UTC): lowest around 03:00,
/// highest around 15:00, between about 0.4 and 1.6.
pub fn seasonality(t: f64) -> f64 {
    let day = (t.rem_euclid(DAY)) / DAY;
    1.0 + 0.55 * (TAU * (day - 0.375)).sin() + 0.05 * (2.0 * TAU * day).sin()
}

impl Platform {
    /// Services with their built-in profiles, noise from `seed`, publishing into `metrics`.
    pub fn new(services: &[String], seed: u64, metrics: SimMetrics) -> Self {
        Self {
            services: services
                .iter()
                .enumerate()
                .map(|(i, name)| (name.clone(), ServiceProfile::for_index(i)))
                .collect(),
            state: services.iter().map(|_| ServiceState::default()).collect(),
            noise: Noise::new(seed),
            metrics,
        }
    }

    /// The services and their profiles.
    pub fn services(&self) -> &[(String, ServiceProfile)] {
        &self.services
    }

    /// Sets the ground-truth gauges from the active incidents.
    pub fn set_truth(&self, active: &[Incident]) {
        for (name, _) in &self.services {
            for kind in IncidentKind::ALL {
                let on = active.iter().any(|i| &i.service == name && i.kind == kind);
                self.metrics
                    .incident_active
                    .with_label_values(&[name.as_str(), kind.as_str()])
                    .set(i64::from(on));
            }
        }
    }

    /// Advances every service by `dt` simulated seconds ending at simulated time `now`.
    pub fn step(&mut self, now: f64, dt: f64, active: &[Incident]) {
        self.set_truth(active);
        for index in 0..self.services.len() {
            self.step_service(index, now, dt, active);
        }
    }

    fn step_service(&mut self, index: usize, now: f64, dt: f64, active: &[Incident]) {
        let (name, profile) = &self.services[index];
        let name = name.as_str();
        let effects = Effects::of(name, active);
        let noise = &mut self.noise;
        let state = &mut self.state[index];
        let m = &self.metrics;

        let seasonal = seasonality(now);
        let mut load = (seasonal * (1.0 + 0.04 * noise.normal())).max(0.05);
        if effects.traffic_drop {
            load *= 0.1;
        }

        // Requests and status codes.
        // Arrivals: Poisson-like noise around the mean, fractional requests carried over.
        let mean = profile.base_rps * load * dt;
        let expected = (mean + mean.sqrt() * noise.normal()).max(0.0) + state.carry;
        let total = expected.floor();
        state.carry = expected - total;
        let total = total as u64;
        let mut error_ratio = profile.error_ratio;
        if effects.error_burst {
            error_ratio = 0.25;
        }
        if effects.cpu_saturation {
            error_ratio += 0.02;
        }
        let errors = noise.binomial(total, error_ratio);
        let unavailable = noise.binomial(errors, 0.3);
        let ok = total - errors;
        let not_found = noise.binomial(ok, 0.01);
        let created = noise.binomial(ok - not_found, 0.1);
        for (code, n) in [
            ("200", ok - not_found - created),
            ("201", created),
            ("404", not_found),
            ("500", errors - unavailable),
            ("503", unavailable),
        ] {
            m.requests.with_label_values(&[name, code]).inc_by(n);
        }

        // Latency: log-normal around a median that grows with load and incidents.
        let mut median = profile.latency_s * (1.0 + 0.3 * (load - 1.0).max(0.0));
        if effects.latency_spike {
            median *= 8.0;
        }
        if effects.cpu_saturation {
            median *= 3.0;
        }
        let histogram = m.latency.with_label_values(&[name]);
        for _ in 0..total.min(MAX_OBSERVATIONS_PER_STEP) {
            histogram.observe(median * (0.35 * noise.normal()).exp());
        }

        // Resources.
        let cpu = if effects.cpu_saturation {
            0.95 + 0.04 * noise.uniform()
        } else {
            (profile.cpu * load * (1.0 + 0.05 * noise.normal())).clamp(0.01, 1.0)
        };
        if effects.memory_leak {
            // Half the normal footprint per simulated hour.
            state.leaked += profile.memory_bytes * 0.5 * dt / 3600.0;
        } else {
            state.leaked = 0.0;
        }
        let memory = profile.memory_bytes * (1.0 + 0.03 * (seasonal - 1.0))
            + profile.memory_bytes * 0.005 * noise.normal()
            + state.leaked;
        let queued = profile.queue_capacity * (0.2 + 0.2 * load * load);
        let mut queue = queued + queued.sqrt() * noise.normal();
        if effects.latency_spike {
            queue *= 4.0;
        }
        if effects.cpu_saturation {
            queue += profile.queue_capacity * (0.7 + 0.2 * noise.uniform());
        }
        let queue = queue.max(0.0).round();
        let saturation = cpu.max(queue / profile.queue_capacity).min(1.0);
        m.cpu.with_label_values(&[name]).set(cpu);
        m.memory.with_label_values(&[name]).set(memory.max(0.0));
        m.queue.with_label_values(&[name]).set(queue);
        m.saturation.with_label_values(&[name]).set(saturation);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn platform() -> (Platform, SimMetrics) {
        let services = vec!["web".to_string(), "db".to_string()];
        let metrics = SimMetrics::new(&services, 1.0).expect("metrics");
        (Platform::new(&services, 3, metrics.clone()), metrics)
    }

    fn incident(kind: IncidentKind) -> Incident {
        Incident {
            id: 1,
            kind,
            service: "web".into(),
            started_at: 0.0,
            ends_at: f64::MAX,
            source: "api",
        }
    }

    fn requests(m: &SimMetrics, service: &str, codes: &[&str]) -> u64 {
        codes
            .iter()
            .map(|c| m.requests.with_label_values(&[service, c]).get())
            .sum()
    }

    #[test]
    fn seasonality_peaks_in_the_afternoon_and_dips_at_night() {
        let at = |hour: f64| seasonality(hour * 3600.0);
        assert!(at(15.0) > 1.4, "{}", at(15.0));
        assert!(at(3.0) < 0.6, "{}", at(3.0));
        assert!((0..24).all(|h| at(f64::from(h)) > 0.3));
    }

    #[test]
    fn normal_traffic_matches_the_profile() {
        let (mut platform, m) = platform();
        let noon = 12.0 * 3600.0;
        for i in 0..60 {
            platform.step(noon + f64::from(i), 1.0, &[]);
        }
        let total = requests(&m, "web", &super::super::metrics::CODES);
        let expected = 120.0 * seasonality(noon) * 60.0;
        assert!(
            (total as f64 - expected).abs() < expected * 0.1,
            "{total} vs {expected}"
        );
        let errors = requests(&m, "web", &["500", "503"]) as f64;
        assert!(errors / (total as f64) < 0.01);
        assert_eq!(
            m.latency.with_label_values(&["web"]).get_sample_count(),
            total
        );
    }

    #[test]
    fn incidents_change_the_right_signals_of_the_right_service() {
        let (mut platform, m) = platform();
        let t = 12.0 * 3600.0;
        platform.step(t, 10.0, &[]);
        let cpu_before = m.cpu.with_label_values(&["web"]).get();
        let errors_before = requests(&m, "web", &["500", "503"]);
        let all = [
            incident(IncidentKind::ErrorBurst),
            incident(IncidentKind::CpuSaturation),
            incident(IncidentKind::MemoryLeak),
        ];
        platform.step(t + 10.0, 3600.0, &all);
        let errors = requests(&m, "web", &["500", "503"]) - errors_before;
        assert!(
            errors as f64 > 120.0 * 3600.0 * 0.15,
            "error burst: {errors}"
        );
        assert!(
            m.cpu.with_label_values(&["web"]).get() > 0.9,
            "cpu {cpu_before}"
        );
        assert!(m.memory.with_label_values(&["web"]).get() > 700.0 * 1024.0 * 1024.0);
        assert!(m.saturation.with_label_values(&["web"]).get() > 0.9);
        assert!(
            m.cpu.with_label_values(&["db"]).get() < 0.9,
            "other service untouched"
        );
        assert_eq!(
            m.incident_active
                .with_label_values(&["web", "memory_leak"])
                .get(),
            1
        );
        assert_eq!(
            m.incident_active
                .with_label_values(&["db", "memory_leak"])
                .get(),
            0
        );
        // The leak is freed once it ends.
        platform.step(t + 3610.0, 1.0, &[]);
        assert!(m.memory.with_label_values(&["web"]).get() < 600.0 * 1024.0 * 1024.0);
        assert_eq!(
            m.incident_active
                .with_label_values(&["web", "memory_leak"])
                .get(),
            0
        );
    }

    #[test]
    fn traffic_drop_cuts_requests() {
        let (mut platform, m) = platform();
        let t = 12.0 * 3600.0;
        platform.step(t, 100.0, &[]);
        let before = requests(&m, "web", &super::super::metrics::CODES);
        platform.step(t + 100.0, 100.0, &[incident(IncidentKind::TrafficDrop)]);
        let during = requests(&m, "web", &super::super::metrics::CODES) - before;
        assert!(
            (during as f64) < before as f64 * 0.2,
            "{during} vs {before}"
        );
    }
}
