//! Probing the targets, and serving the results.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::get;
use tokio::net::TcpListener;

use super::config::ProbeConfig;
use super::metrics::ProbeMetrics;
use crate::Error;

/// Probes a list of targets and records the outcome.
pub struct Prober {
    client: reqwest::Client,
    targets: Vec<String>,
    metrics: ProbeMetrics,
}

impl Prober {
    /// A prober for the configured targets.
    pub fn new(config: &ProbeConfig) -> Result<Self, Error> {
        config.validate()?;
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .build()
            .map_err(|e| Error::Internal(e.to_string()))?;
        let metrics =
            ProbeMetrics::new(&config.targets).map_err(|e| Error::Internal(e.to_string()))?;
        Ok(Self {
            client,
            targets: config.targets.clone(),
            metrics,
        })
    }

    /// The metric families.
    pub fn metrics(&self) -> &ProbeMetrics {
        &self.metrics
    }

    /// Probes every target once, concurrently.
    pub async fn probe_all(self: &Arc<Self>) {
        let tasks: Vec<_> = (0..self.targets.len())
            .map(|i| {
                let prober = self.clone();
                tokio::spawn(async move { prober.probe(i).await })
            })
            .collect();
        for task in tasks {
            let _ = task.await;
        }
    }

    async fn probe(&self, index: usize) {
        let target = self.targets[index].as_str();
        let started = Instant::now();
        let result = self.client.get(target).send().await;
        let elapsed = started.elapsed().as_secs_f64();
        let m = &self.metrics;
        match result {
            Ok(response) => {
                let status = response.status();
                m.duration.with_label_values(&[target]).observe(elapsed);
                m.status_code
                    .with_label_values(&[target])
                    .set(i64::from(status.as_u16()));
                let ok = status.is_success() || status.is_redirection();
                m.up.with_label_values(&[target]).set(i64::from(ok));
                if !ok {
                    m.errors.with_label_values(&[target, "status"]).inc();
                }
            }
            Err(error) => {
                let error_type = if error.is_timeout() {
                    "timeout"
                } else {
                    "connect"
                };
                m.up.with_label_values(&[target]).set(0);
                m.status_code.with_label_values(&[target]).set(0);
                m.errors.with_label_values(&[target, error_type]).inc();
                tracing::debug!(message = "Probe failed.", target, %error);
            }
        }
    }
}

/// A bound probe exporter, ready to serve.
pub struct ProbeServer {
    prober: Arc<Prober>,
    listener: TcpListener,
    interval: Duration,
}

impl ProbeServer {
    /// Builds the prober and binds the listener. Must run inside a Tokio runtime.
    pub async fn bind(config: ProbeConfig) -> Result<Self, Error> {
        let prober = Arc::new(Prober::new(&config)?);
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|e| Error::Config(format!("cannot listen on {}: {e}", config.listen)))?;
        tracing::info!(message = "Probe exporter ready.", listen = %config.listen, targets = config.targets.len());
        Ok(Self {
            prober,
            listener,
            interval: config.interval,
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    /// Probes every interval and serves `/metrics` until `shutdown` completes.
    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), Error> {
        let prober = self.prober.clone();
        let interval = self.interval;
        let probing = tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                prober.probe_all().await;
            }
        });
        let app = Router::new()
            .route("/metrics", get(metrics))
            .route("/live", get(|| async { "ok\n" }))
            .route("/ready", get(|| async { "ready\n" }))
            .with_state(self.prober);
        let result = axum::serve(self.listener, app)
            .with_graceful_shutdown(shutdown)
            .await;
        probing.abort();
        result.map_err(|e| Error::Internal(format!("server: {e}")))
    }
}

async fn metrics(State(prober): State<Arc<Prober>>) -> impl IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        prober.metrics.render(),
    )
}
