//! Incidents: what can go wrong with a service, and the set of incidents going on.

use std::time::Duration;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::Error;

/// What goes wrong during an incident.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentKind {
    /// Latency grows about eightfold.
    LatencySpike,
    /// About a quarter of requests fail with 5xx.
    ErrorBurst,
    /// Memory grows steadily until remediated (a restart frees it).
    MemoryLeak,
    /// Traffic falls to a tenth (an upstream stopped sending).
    TrafficDrop,
    /// CPU pinned near 100%, latency and queue grow.
    CpuSaturation,
}

impl IncidentKind {
    /// Every kind, in a fixed order.
    pub const ALL: [Self; 5] = [
        Self::LatencySpike,
        Self::ErrorBurst,
        Self::MemoryLeak,
        Self::TrafficDrop,
        Self::CpuSaturation,
    ];

    /// The label value (`latency_spike`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LatencySpike => "latency_spike",
            Self::ErrorBurst => "error_burst",
            Self::MemoryLeak => "memory_leak",
            Self::TrafficDrop => "traffic_drop",
            Self::CpuSaturation => "cpu_saturation",
        }
    }
}

/// Body of `POST /incidents`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncidentRequest {
    /// What goes wrong.
    pub kind: IncidentKind,
    /// Which service.
    pub service: String,
    /// How long (simulated time), e.g. `"5m"`.
    #[serde(with = "humantime_serde")]
    pub duration: Duration,
}

/// An incident going on.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Incident {
    /// Identifier, unique for the simulator's life.
    pub id: u64,
    /// What goes wrong.
    pub kind: IncidentKind,
    /// Which service.
    pub service: String,
    /// Simulated start, seconds since the epoch.
    pub started_at: f64,
    /// Simulated end, seconds since the epoch, unless remediated earlier.
    pub ends_at: f64,
    /// `api` or `schedule`.
    pub source: &'static str,
}

/// The incidents going on, shared by the API and the simulation.
#[derive(Debug)]
pub struct Incidents {
    services: Vec<String>,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    next_id: u64,
    active: Vec<Incident>,
}

impl Incidents {
    /// An empty set for these services.
    pub fn new(services: Vec<String>) -> Self {
        Self {
            services,
            inner: Mutex::new(Inner {
                next_id: 1,
                active: Vec::new(),
            }),
        }
    }

    /// Starts an incident at simulated time `now`. An active incident of the same kind on the same
    /// service is extended instead; the bool says whether a new one was created.
    pub fn start(
        &self,
        request: &IncidentRequest,
        now: f64,
        source: &'static str,
    ) -> Result<(Incident, bool), Error> {
        if !self.services.contains(&request.service) {
            return Err(Error::NotFound(format!(
                "unknown service `{}`; known: {}",
                request.service,
                self.services.join(", ")
            )));
        }
        if request.duration.is_zero() {
            return Err(Error::BadRequest("duration must be positive".into()));
        }
        let ends_at = now + request.duration.as_secs_f64();
        let mut inner = self.inner.lock();
        inner.active.retain(|i| i.ends_at > now);
        if let Some(existing) = inner
            .active
            .iter_mut()
            .find(|i| i.kind == request.kind && i.service == request.service)
        {
            existing.ends_at = existing.ends_at.max(ends_at);
            return Ok((existing.clone(), false));
        }
        let incident = Incident {
            id: inner.next_id,
            kind: request.kind,
            service: request.service.clone(),
            started_at: now,
            ends_at,
            source,
        };
        inner.next_id += 1;
        inner.active.push(incident.clone());
        Ok((incident, true))
    }

    /// The incidents active at simulated time `now` (expired ones are dropped).
    pub fn active(&self, now: f64) -> Vec<Incident> {
        let mut inner = self.inner.lock();
        inner.active.retain(|i| i.ends_at > now);
        inner.active.clone()
    }

    /// Ends every incident of `service` and returns them; ending nothing is not an error.
    pub fn remediate(&self, service: &str) -> Result<Vec<Incident>, Error> {
        if !self.services.iter().any(|s| s == service) {
            return Err(Error::NotFound(format!("unknown service `{service}`")));
        }
        let mut inner = self.inner.lock();
        let (ended, kept): (Vec<_>, Vec<_>) =
            inner.active.drain(..).partition(|i| i.service == service);
        inner.active = kept;
        Ok(ended)
    }

    /// The known services.
    pub fn services(&self) -> &[String] {
        &self.services
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(kind: IncidentKind, service: &str, secs: u64) -> IncidentRequest {
        IncidentRequest {
            kind,
            service: service.into(),
            duration: Duration::from_secs(secs),
        }
    }

    fn set() -> Incidents {
        Incidents::new(vec!["a".into(), "b".into()])
    }

    #[test]
    fn incident_lifecycle_start_list_expire() {
        let incidents = set();
        let (first, created) = incidents
            .start(&request(IncidentKind::ErrorBurst, "a", 60), 1000.0, "api")
            .expect("start");
        assert!(created);
        assert_eq!((first.started_at, first.ends_at), (1000.0, 1060.0));
        assert_eq!(incidents.active(1030.0), vec![first]);
        assert!(incidents.active(1060.0).is_empty(), "expired at its end");
    }

    #[test]
    fn same_kind_on_same_service_extends_instead_of_duplicating() {
        let incidents = set();
        let (a, _) = incidents
            .start(&request(IncidentKind::LatencySpike, "a", 60), 0.0, "api")
            .expect("start");
        let (b, created) = incidents
            .start(&request(IncidentKind::LatencySpike, "a", 120), 30.0, "api")
            .expect("start");
        assert!(!created);
        assert_eq!(a.id, b.id);
        assert_eq!(b.ends_at, 150.0);
        assert_eq!(incidents.active(31.0).len(), 1);
    }

    #[test]
    fn remediate_is_idempotent_and_only_touches_its_service() {
        let incidents = set();
        for kind in [IncidentKind::MemoryLeak, IncidentKind::TrafficDrop] {
            incidents
                .start(&request(kind, "a", 600), 0.0, "api")
                .expect("a");
        }
        incidents
            .start(&request(IncidentKind::CpuSaturation, "b", 600), 0.0, "api")
            .expect("b");
        assert_eq!(incidents.remediate("a").expect("first").len(), 2);
        assert!(incidents.remediate("a").expect("second").is_empty());
        let left = incidents.active(1.0);
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].service, "b");
    }

    #[test]
    fn unknown_service_and_zero_duration_are_refused() {
        let incidents = set();
        assert!(matches!(
            incidents.start(&request(IncidentKind::ErrorBurst, "zz", 60), 0.0, "api"),
            Err(Error::NotFound(_))
        ));
        assert!(matches!(
            incidents.start(&request(IncidentKind::ErrorBurst, "a", 0), 0.0, "api"),
            Err(Error::BadRequest(_))
        ));
        assert!(matches!(incidents.remediate("zz"), Err(Error::NotFound(_))));
    }
}
