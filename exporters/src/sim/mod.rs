//! The platform simulator: services with realistic, seasonal, noisy metrics and injectable incidents.
//!
//! HTTP API (same listener as `/metrics`):
//!
//! | route | what it does |
//! | --- | --- |
//! | `GET /metrics` | Prometheus text exposition |
//! | `GET /incidents` | active incidents, JSON |
//! | `POST /incidents` | start one: `{"kind": "latency_spike", "service": "checkout", "duration": "5m"}` |
//! | `POST /remediate` | end every incident of a service: `{"service": "checkout"}`; idempotent |
//! | `GET /live`, `GET /ready` | health |
//!
//! Durations are in simulated time; with `time_scale: 60` one real second is one simulated minute,
//! and counters advance 60 times faster too (rates are per simulated second × the scale).

mod clock;
mod config;
mod incidents;
mod metrics;
mod model;
mod noise;
mod server;

pub use clock::SimClock;
pub use config::{ScheduledIncident, SimConfig, default_services};
pub use incidents::{Incident, IncidentKind, IncidentRequest, Incidents};
pub use metrics::{ScrapedSample, SimMetrics};
pub use model::{Platform, ServiceProfile};
pub use noise::Noise;
pub use server::{SimServer, Simulator, router};
