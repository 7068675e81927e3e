//! Omen's Alertmanager webhook: receives notifications, stores them durably, and runs the
//! remediation that rules assign to alerts, exactly once, with cooldowns, retries, a circuit
//! breaker, dry runs, approvals and a full audit trail.
//!
//! ```no_run
//! # async fn run() -> Result<(), omen_webhook::Error> {
//! let config = omen_webhook::Config::from_yaml(r#"
//! store: {url: "sqlite://omen-webhook.db"}
//! rules:
//!   - name: heal
//!     matchers: ['alertname="OmenAnomalyDetected"']
//!     actions: [remediate]
//! actions:
//!   remediate:
//!     http: {url: "http://127.0.0.1:9101/remediate", body: '{"service": "{{ labels.service }}"}'}
//! "#)?;
//! let server = omen_webhook::Server::bind(config).await?;
//! server.serve(async { let _ = tokio::signal::ctrl_c().await; }).await
//! # }
//! ```

pub mod actions;
mod api;
pub mod auth;
pub mod config;
pub mod engine;
mod error;
pub mod ingest;
pub mod matcher;
pub mod metrics;
pub mod payload;
pub mod rules;
mod server;
pub mod store;

pub use config::Config;
pub use error::Error;
pub use server::Server;
