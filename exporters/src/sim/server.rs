//! The simulator's HTTP server and the task stepping the simulation.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use parking_lot::Mutex;
use serde::Deserialize;
use tokio::net::TcpListener;

use super::clock::SimClock;
use super::config::{ScheduledIncident, SimConfig};
use super::incidents::{Incident, IncidentRequest, Incidents};
use super::metrics::SimMetrics;
use super::model::Platform;
use crate::Error;

/// The simulation shared by the HTTP handlers and the stepping task.
pub struct Simulator {
    clock: SimClock,
    incidents: Incidents,
    platform: Mutex<Stepper>,
    metrics: SimMetrics,
    schedule: Mutex<Vec<Pending>>,
}

struct Stepper {
    platform: Platform,
    last: f64,
}

struct Pending {
    incident: ScheduledIncident,
    /// Simulated seconds after start of the next occurrence; `None` when done.
    next: Option<f64>,
}

impl Simulator {
    /// A simulation as configured, starting now.
    pub fn new(config: &SimConfig) -> Result<Arc<Self>, Error> {
        config.validate()?;
        let clock = SimClock::new(config.time_scale);
        let metrics = SimMetrics::new(&config.services, config.time_scale)
            .map_err(|e| Error::Internal(e.to_string()))?;
        let platform = Platform::new(&config.services, config.seed, metrics.clone());
        let last = clock.now();
        Ok(Arc::new(Self {
            incidents: Incidents::new(config.services.clone()),
            platform: Mutex::new(Stepper { platform, last }),
            metrics,
            schedule: Mutex::new(
                config
                    .incidents
                    .iter()
                    .map(|incident| Pending {
                        next: Some(incident.after.as_secs_f64()),
                        incident: incident.clone(),
                    })
                    .collect(),
            ),
            clock,
        }))
    }

    /// The simulated clock.
    pub fn clock(&self) -> &SimClock {
        &self.clock
    }

    /// The metric families.
    pub fn metrics(&self) -> &SimMetrics {
        &self.metrics
    }

    /// Starts due scheduled incidents and advances the services to the current simulated time.
    pub fn step(&self) {
        self.start_due_incidents();
        let now = self.clock.now();
        let active = self.incidents.active(now);
        let mut stepper = self.platform.lock();
        let dt = (now - stepper.last).max(0.0);
        stepper.last = now;
        stepper.platform.step(now, dt, &active);
    }

    fn start_due_incidents(&self) {
        let elapsed = self.clock.elapsed();
        let mut schedule = self.schedule.lock();
        for pending in schedule.iter_mut() {
            let Some(next) = pending.next.filter(|next| *next <= elapsed) else {
                continue;
            };
            let request = IncidentRequest {
                kind: pending.incident.kind,
                service: pending.incident.service.clone(),
                duration: pending.incident.duration,
            };
            // The service was validated with the configuration, so this cannot fail.
            if let Err(error) = self.start_incident(&request, "schedule") {
                tracing::warn!(message = "Could not start a scheduled incident.", %error);
            }
            pending.next = pending
                .incident
                .every
                .map(|every| next + every.as_secs_f64());
        }
    }

    /// Starts (or extends) an incident now; the bool says whether it is new.
    pub fn start_incident(
        &self,
        request: &IncidentRequest,
        source: &'static str,
    ) -> Result<(Incident, bool), Error> {
        let now = self.clock.now();
        let (incident, created) = self.incidents.start(request, now, source)?;
        if created {
            self.metrics
                .incidents_started
                .with_label_values(&[incident.kind.as_str(), source])
                .inc();
            tracing::info!(
                message = "Incident started.",
                kind = incident.kind.as_str(),
                service = %incident.service,
                source,
                duration = ?request.duration,
            );
        }
        self.refresh_truth();
        Ok((incident, created))
    }

    /// Ends every incident of `service`; ending none is fine (idempotent).
    pub fn remediate(&self, service: &str) -> Result<Vec<Incident>, Error> {
        let ended = self.incidents.remediate(service)?;
        let outcome = if ended.is_empty() { "noop" } else { "ended" };
        self.metrics
            .remediations
            .with_label_values(&[outcome])
            .inc();
        tracing::info!(message = "Remediation.", service, ended = ended.len());
        self.refresh_truth();
        Ok(ended)
    }

    /// The incidents going on now.
    pub fn active(&self) -> Vec<Incident> {
        self.incidents.active(self.clock.now())
    }

    fn refresh_truth(&self) {
        let active = self.active();
        self.platform.lock().platform.set_truth(&active);
    }
}

/// A bound simulator, ready to serve.
pub struct SimServer {
    simulator: Arc<Simulator>,
    listener: TcpListener,
    tick: std::time::Duration,
}

impl SimServer {
    /// Builds the simulation and binds the listener. Must run inside a Tokio runtime.
    pub async fn bind(config: SimConfig) -> Result<Self, Error> {
        let simulator = Simulator::new(&config)?;
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|e| Error::Config(format!("cannot listen on {}: {e}", config.listen)))?;
        tracing::info!(
            message = "Simulator ready.",
            listen = %config.listen,
            services = config.services.len(),
            time_scale = config.time_scale,
        );
        Ok(Self {
            simulator,
            listener,
            tick: config.tick,
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    /// The simulation (for tests and embedding).
    pub fn simulator(&self) -> Arc<Simulator> {
        self.simulator.clone()
    }

    /// Steps the simulation every tick and serves until `shutdown` completes.
    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), Error> {
        let simulator = self.simulator.clone();
        let tick = self.tick;
        let stepper = tokio::spawn(async move {
            let mut interval = tokio::time::interval(tick);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                interval.tick().await;
                simulator.step();
            }
        });
        let result = axum::serve(self.listener, router(self.simulator))
            .with_graceful_shutdown(shutdown)
            .await;
        stepper.abort();
        result.map_err(|e| Error::Internal(format!("server: {e}")))
    }
}

/// The HTTP routes of the simulator.
pub fn router(simulator: Arc<Simulator>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/incidents", get(list).post(start))
        .route("/remediate", post(remediate))
        .route("/live", get(|| async { "ok\n" }))
        .route("/ready", get(|| async { "ready\n" }))
        .with_state(simulator)
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = match &self {
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::BadRequest(_) | Error::Config(_) => StatusCode::BAD_REQUEST,
            Error::Internal(_) => {
                tracing::warn!(message = "Request failed.", error = %self);
                return (StatusCode::INTERNAL_SERVER_ERROR, "internal error\n").into_response();
            }
        };
        (status, format!("{self}\n")).into_response()
    }
}

async fn metrics(State(simulator): State<Arc<Simulator>>) -> impl IntoResponse {
    // Bring the simulation up to the scrape's instant, so counters match the scrape time exactly
    // instead of moving in tick-sized steps that alias with the scrape interval.
    simulator.step();
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        simulator.metrics.render(),
    )
}

async fn list(State(simulator): State<Arc<Simulator>>) -> Json<Vec<Incident>> {
    Json(simulator.active())
}

async fn start(
    State(simulator): State<Arc<Simulator>>,
    Json(request): Json<IncidentRequest>,
) -> Result<(StatusCode, Json<Incident>), Error> {
    let (incident, created) = simulator.start_incident(&request, "api")?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(incident)))
}

/// Body of `POST /remediate`.
#[derive(Debug, Deserialize)]
struct RemediateRequest {
    service: String,
}

async fn remediate(
    State(simulator): State<Arc<Simulator>>,
    Json(request): Json<RemediateRequest>,
) -> Result<Json<serde_json::Value>, Error> {
    let ended = simulator.remediate(&request.service)?;
    Ok(Json(serde_json::json!({
        "service": request.service,
        "ended": ended,
    })))
}
