//! The HTTP servers: the webhook endpoint, and the admin listener with metrics, health and the
//! audit API; graceful shutdown lets running actions finish.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::net::TcpListener;

use crate::Error;
use crate::actions::Executor;
use crate::api;
use crate::auth::Credentials;
use crate::config::Config;
use crate::engine::{Engine, EngineSettings};
use crate::ingest::{WriteError, Writer};
use crate::metrics::{Metrics, stage};
use crate::payload::{self, Status};
use crate::rules::RuleSet;
use crate::store::{Backend, Ingest, Store, now_millis, state};

/// How often the SQLite write-ahead log is copied into the database.
const CHECKPOINT_PERIOD: std::time::Duration = std::time::Duration::from_millis(250);

/// What the handlers share.
pub struct AppState {
    pub(crate) store: Store,
    pub(crate) engine: Arc<Engine>,
    rules: Arc<RuleSet>,
    writer: Writer,
    metrics: Metrics,
    credentials: Option<Credentials>,
    pub(crate) api_credentials: Option<Credentials>,
    max_alerts: usize,
    ready: AtomicBool,
}

/// A webhook bound to its listeners, with its store open and migrated.
pub struct Server {
    state: Arc<AppState>,
    data: TcpListener,
    admin: TcpListener,
    path: String,
    max_body_bytes: usize,
}

fn default_replica() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "omen".into());
    format!("{host}-{}", std::process::id())
}

impl Server {
    /// Validates the configuration, opens the store, compiles the rules and binds both
    /// listeners. Must run inside a Tokio runtime.
    pub async fn bind(config: Config) -> Result<Self, Error> {
        config.validate()?;
        let rules = Arc::new(RuleSet::new(&config)?);
        let credentials = config.auth.as_ref().map(Credentials::load).transpose()?;
        let api_credentials = config
            .api_auth
            .as_ref()
            .map(Credentials::load)
            .transpose()?;
        let executor = Arc::new(Executor::new(&config)?);
        let metrics = Metrics::new().map_err(|e| Error::Internal(e.to_string()))?;
        let replica = config
            .engine
            .replica
            .clone()
            .unwrap_or_else(default_replica);
        let store = Store::connect(&config.store, &replica).await?;
        let backend = match store.backend() {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        };
        metrics
            .build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION"), backend])
            .set(1);
        let engine = Arc::new(Engine::new(
            store.clone(),
            rules.clone(),
            executor,
            metrics.clone(),
            EngineSettings {
                workers: config.engine.workers,
                lease: config.engine.lease,
                poll_interval: config.engine.poll_interval,
                breaker: config.breaker.clone(),
                escalation: config.escalation.clone(),
            },
        ));
        let writer = Writer::start(store.clone(), metrics.clone());
        let bind = |addr: SocketAddr| async move {
            TcpListener::bind(addr)
                .await
                .map_err(|e| Error::Config(format!("cannot listen on {addr}: {e}")))
        };
        let data = bind(config.listen).await?;
        let admin = bind(config.admin_listen).await?;
        tracing::info!(
            message = "Webhook ready.",
            listen = %data.local_addr().map_err(|e| Error::Internal(e.to_string()))?,
            admin = %admin.local_addr().map_err(|e| Error::Internal(e.to_string()))?,
            store = backend,
            replica = %replica,
            rules = config.rules.len(),
            dry_run = config.engine.dry_run,
        );
        Ok(Self {
            state: Arc::new(AppState {
                store,
                engine,
                rules,
                writer,
                metrics,
                credentials,
                api_credentials,
                max_alerts: config.limits.max_alerts,
                ready: AtomicBool::new(true),
            }),
            data,
            admin,
            path: config.path,
            max_body_bytes: config.limits.max_body_bytes,
        })
    }

    /// Address of the webhook listener.
    pub fn data_addr(&self) -> SocketAddr {
        self.data
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    /// Address of the admin listener.
    pub fn admin_addr(&self) -> SocketAddr {
        self.admin
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    /// Serves and runs jobs until `shutdown` completes; then stops accepting, lets running
    /// actions end (at most one lease) and returns. Queued jobs stay in the store.
    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), Error> {
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let state = self.state.clone();
        tokio::spawn(async move {
            shutdown.await;
            state.ready.store(false, Ordering::SeqCst);
            let _ = stop_tx.send(true);
        });
        let engine = tokio::spawn(self.state.engine.clone().run(stop_rx.clone()));
        let checkpoints = tokio::spawn(self.state.store.clone().checkpoint_loop(
            CHECKPOINT_PERIOD,
            crate::store::LOG_RESTART_FRAMES,
            stop_rx.clone(),
        ));
        let wait = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|stop| *stop).await;
        };
        let data = axum::serve(
            self.data,
            data_router(self.state.clone(), &self.path, self.max_body_bytes),
        )
        .with_graceful_shutdown(wait(stop_rx.clone()));
        let admin = axum::serve(self.admin, admin_router(self.state.clone()))
            .with_graceful_shutdown(wait(stop_rx));
        let (data, admin) = tokio::join!(data, admin);
        let _ = engine.await;
        let _ = checkpoints.await;
        data.and(admin)
            .map_err(|e| Error::Internal(format!("server: {e}")))
    }
}

fn data_router(state: Arc<AppState>, path: &str, max_body_bytes: usize) -> Router {
    Router::new()
        .route(path, post(receive))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .with_state(state)
}

fn admin_router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/live", get(|| async { "ok\n" }))
        .route("/ready", get(ready))
        .route("/api/v1/jobs", get(api::jobs))
        .route("/api/v1/jobs/{id}", get(api::job))
        .route("/api/v1/jobs/{id}/approve", post(api::approve))
        .route("/api/v1/jobs/{id}/reject", post(api::reject))
        .route("/api/v1/alerts", get(api::alerts))
        .route("/api/v1/notifications", get(api::notifications))
        .route("/api/v1/breaker", get(api::breaker))
        .route("/api/v1/breaker/reset", post(api::reset_breaker))
        .with_state(state)
}

async fn metrics(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
}

async fn ready(State(state): State<Arc<AppState>>) -> (StatusCode, &'static str) {
    if !state.ready.load(Ordering::SeqCst) {
        (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n")
    } else if state.store.ping().await {
        (StatusCode::OK, "ready\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "store unavailable\n")
    }
}

/// `POST /webhook`: authenticate, parse, match rules, store durably, then acknowledge.
async fn receive(State(state): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Response {
    let started = Instant::now();
    let response = handle(&state, &headers, &body).await;
    let code = response.status();
    state
        .metrics
        .requests
        .with_label_values(&[code.as_str()])
        .inc();
    state
        .metrics
        .request_duration
        .with_label_values(&[code.as_str()])
        .observe(started.elapsed().as_secs_f64());
    response
}

async fn handle(state: &AppState, headers: &HeaderMap, body: &[u8]) -> Response {
    let errors = &state.metrics.errors;
    if let Some(credentials) = &state.credentials
        && credentials
            .check(
                headers
                    .get(header::AUTHORIZATION)
                    .map(HeaderValue::as_bytes),
            )
            .is_none()
    {
        errors
            .with_label_values(&["unauthorized", stage::RECEIVE])
            .inc();
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer, Basic")],
            "missing or wrong credentials\n",
        )
            .into_response();
    }
    let checked = match payload::parse(body, state.max_alerts) {
        Ok(checked) => checked,
        Err(error) => {
            errors
                .with_label_values(&["invalid_payload", stage::RECEIVE])
                .inc();
            tracing::debug!(message = "Refused a webhook payload.", %error);
            return (StatusCode::BAD_REQUEST, format!("{error}\n")).into_response();
        }
    };
    let notification = &checked.notification;
    let jobs: Vec<_> = notification
        .alerts
        .iter()
        .zip(&checked.times)
        .map(|(alert, (starts_at, _))| state.rules.jobs_for(notification, alert, *starts_at))
        .collect();
    let (firing, resolved) = notification
        .alerts
        .iter()
        .fold((0, 0), |(f, r), a| match a.status {
            Status::Firing => (f + 1, r),
            Status::Resolved => (f, r + 1),
        });
    let ingest = Ingest {
        checked,
        jobs,
        received_at: now_millis(),
    };
    match state.writer.write(ingest).await {
        Ok(stored) => {
            let received = &state.metrics.alerts_received;
            received.with_label_values(&["firing"]).inc_by(firing);
            received.with_label_values(&["resolved"]).inc_by(resolved);
            let mut runnable = false;
            for (rule, action, job_state) in &stored.created {
                state
                    .metrics
                    .jobs_created
                    .with_label_values(&[rule, action])
                    .inc();
                runnable |= *job_state == state::QUEUED;
            }
            if stored.duplicates > 0 {
                state
                    .metrics
                    .jobs_deduplicated
                    .inc_by(stored.duplicates as u64);
            }
            if runnable {
                state.engine.wake();
            }
            (
                StatusCode::OK,
                format!(
                    "stored notification {} ({} alerts); {} jobs created, {} duplicates ignored\n",
                    stored.notification_id,
                    firing + resolved,
                    stored.created.len(),
                    stored.duplicates
                ),
            )
                .into_response()
        }
        Err(error) => {
            let kind = match error {
                WriteError::Busy => "busy",
                WriteError::Store(_) => "store",
            };
            errors.with_label_values(&[kind, stage::STORE]).inc();
            let mut response = (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("not stored: {error}\n"),
            )
                .into_response();
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            response
        }
    }
}
