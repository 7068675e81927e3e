//! HTTP servers: the remote-write endpoint and the admin endpoints, with graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use omen_scoring::{Model, Scorer, ScorerConfig};
use tokio::net::TcpListener;

use crate::Error;
use crate::config::Config;
use crate::decode::{self, Protocol};
use crate::forward::Forwarder;
use crate::kinds::MetadataCache;
use crate::labels::LabelLimits;
use crate::metrics::{Metrics, stage};
use crate::pipeline::{Pipeline, Written};
use crate::request_threads::{MAX_QUEUED, RequestThreads};
use crate::selector::SeriesFilter;
use crate::threads::ScoringThreads;
use crate::validated::ValidatedLabels;

/// How often idle series are evicted.
const EVICTION_PERIOD: Duration = Duration::from_secs(30);

struct AppState {
    pipeline: Pipeline,
    requests: RequestThreads,
    ready: AtomicBool,
}

/// A bound adapter, ready to serve.
pub struct Server {
    state: Arc<AppState>,
    data: TcpListener,
    admin: TcpListener,
    max_body_bytes: usize,
}

impl Server {
    /// Loads the model, starts the forwarder and binds both listeners. Must run inside a Tokio runtime.
    pub async fn bind(config: Config) -> Result<Self, Error> {
        config.validate()?;
        let model = match &config.model.path {
            Some(path) => Model::load(path),
            None => Model::embedded(),
        }
        .map_err(|e| Error::Config(format!("model: {e}")))?;
        let info = model.info().clone();
        let metrics =
            Metrics::new(&info.name, &info.version).map_err(|e| Error::Internal(e.to_string()))?;
        let scorer = Arc::new(Scorer::new(
            Arc::new(model),
            ScorerConfig {
                max_series: config.limits.max_series,
                idle_timeout: config.scoring.idle_timeout,
            },
        ));
        let forwarder = Forwarder::start(&config.downstream, metrics.clone())?;
        let filter = SeriesFilter::new(&config.scoring.include, &config.scoring.exclude)
            .map_err(Error::Config)?;
        let pipeline = Pipeline {
            scorer,
            forwarder,
            metrics,
            filter,
            outputs: config.scoring.outputs.clone(),
            limits: LabelLimits {
                max_labels: config.limits.max_labels_per_series,
                max_name_bytes: config.limits.max_label_name_bytes,
                max_value_bytes: config.limits.max_label_value_bytes,
            },
            max_decoded_bytes: config.limits.max_decoded_bytes,
            counter_suffixes: config.scoring.counter_suffixes,
            metadata: MetadataCache::default(),
            validated: ValidatedLabels::default(),
            threads: ScoringThreads::new(config.scoring.thread_count())?,
        };
        let bind = |addr: SocketAddr| async move {
            TcpListener::bind(addr)
                .await
                .map_err(|e| Error::Config(format!("cannot listen on {addr}: {e}")))
        };
        let data = bind(config.listen).await?;
        let admin = bind(config.admin_listen).await?;
        tracing::info!(
            message = "Adapter ready.",
            listen = %data.local_addr().map_err(|e| Error::Internal(e.to_string()))?,
            admin = %admin.local_addr().map_err(|e| Error::Internal(e.to_string()))?,
            downstream = %config.downstream.url,
            model = %info.name,
            window = info.window,
        );
        let state = Arc::new(AppState {
            pipeline,
            requests: RequestThreads::new(
                std::thread::available_parallelism().map_or(1, usize::from),
                MAX_QUEUED,
            )?,
            ready: AtomicBool::new(true),
        });
        Ok(Self {
            state,
            data,
            admin,
            max_body_bytes: config.limits.max_body_bytes,
        })
    }

    /// Address of the remote-write listener.
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

    /// Serves until `shutdown` completes, then finishes in-flight requests and returns.
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
        let evictor = tokio::spawn(evict_periodically(self.state.clone()));
        let wait = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|stop| *stop).await;
        };
        let data = axum::serve(
            self.data,
            data_router(self.state.clone(), self.max_body_bytes),
        )
        .with_graceful_shutdown(wait(stop_rx.clone()));
        let admin = axum::serve(self.admin, admin_router(self.state.clone()))
            .with_graceful_shutdown(wait(stop_rx));
        let (data, admin) = tokio::join!(data, admin);
        evictor.abort();
        data.and(admin)
            .map_err(|e| Error::Internal(format!("server: {e}")))
    }
}

async fn evict_periodically(state: Arc<AppState>) {
    let mut tick = tokio::time::interval(EVICTION_PERIOD);
    loop {
        tick.tick().await;
        let scorer = state.pipeline.scorer.clone();
        match tokio::task::spawn_blocking(move || scorer.evict_idle()).await {
            Ok(removed) if removed > 0 => {
                tracing::debug!(message = "Evicted idle series.", removed)
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(message = "Eviction task failed.", %error),
        }
        let scorer = &state.pipeline.scorer;
        state
            .pipeline
            .metrics
            .active_series
            .set(scorer.active_series() as i64);
        state
            .pipeline
            .metrics
            .state_bytes
            .set(scorer.state_bytes() as i64);
    }
}

fn data_router(state: Arc<AppState>, max_body_bytes: usize) -> Router {
    Router::new()
        .route("/api/v1/write", post(write))
        .route("/api/v1/push", post(write))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .with_state(state)
}

fn admin_router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/live", get(|| async { "ok\n" }))
        .route("/ready", get(ready))
        .with_state(state)
}

async fn metrics(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.pipeline.metrics.render(),
    )
}

async fn ready(State(state): State<Arc<AppState>>) -> (StatusCode, &'static str) {
    if state.ready.load(Ordering::SeqCst) {
        (StatusCode::OK, "ready\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n")
    }
}

async fn write(State(state): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Response {
    let started = Instant::now();
    let metrics = &state.pipeline.metrics;
    let (protocol, written, result) = match decode::negotiate(&headers) {
        Ok(protocol) => {
            let shared = state.clone();
            let processed = state
                .requests
                .run(move || shared.pipeline.decode_and_process(protocol, body))
                .await
                .inspect_err(|error| {
                    metrics
                        .errors
                        .with_label_values(&[error.error_type(), stage::SCORE])
                        .inc();
                })
                .and_then(|processed| processed);
            let (written, result) = state.pipeline.deliver(processed).await;
            (protocol, written, result)
        }
        Err(error) => {
            metrics
                .errors
                .with_label_values(&[error.error_type(), stage::DECODE])
                .inc();
            (Protocol::V1, Written::default(), Err(error))
        }
    };
    let mut response = match result {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(error) => {
            let status = error.status();
            if status.is_server_error() {
                tracing::warn!(message = "Remote-write request not accepted; the sender will retry.", %error);
            } else {
                tracing::debug!(message = "Remote-write request refused.", %error, status = status.as_u16());
            }
            let mut response = (status, format!("{error}\n")).into_response();
            if status == StatusCode::SERVICE_UNAVAILABLE {
                response.headers_mut().insert(
                    axum::http::header::RETRY_AFTER,
                    HeaderValue::from_static("1"),
                );
            }
            response
        }
    };
    if protocol == Protocol::V2 {
        let headers = response.headers_mut();
        for (name, count) in [
            ("x-prometheus-remote-write-samples-written", written.samples),
            (
                "x-prometheus-remote-write-histograms-written",
                written.histograms,
            ),
            (
                "x-prometheus-remote-write-exemplars-written",
                written.exemplars,
            ),
        ] {
            headers.insert(HeaderName::from_static(name), HeaderValue::from(count));
        }
    }
    let code = response.status();
    metrics
        .requests
        .with_label_values(&[protocol.as_str(), code.as_str()])
        .inc();
    metrics
        .request_duration
        .with_label_values(&[protocol.as_str()])
        .observe(started.elapsed().as_secs_f64());
    response
}
