//! Omen's Prometheus remote-write adapter.
//!
//! Receives remote write 1.0 and 2.0, validates every series, scores every float sample of the
//! selected series with [`omen_scoring`], and forwards the originals plus one output series per
//! scored series (`omen_anomaly_score{omen_metric="<name>", <original labels>}`, and optionally
//! `omen_anomaly_expected`, `omen_anomaly_lower`, `omen_anomaly_upper`) downstream by remote write
//! 1.0. A request is acknowledged only when everything in it was delivered downstream.
//!
//! ```no_run
//! # async fn run() -> Result<(), omen_prom_adapter::Error> {
//! let config = omen_prom_adapter::Config::from_yaml("downstream: {url: 'http://127.0.0.1:9091/api/v1/write'}")?;
//! let server = omen_prom_adapter::Server::bind(config).await?;
//! println!("remote write to http://{}/api/v1/write", server.data_addr());
//! server.serve(async { let _ = tokio::signal::ctrl_c().await; }).await
//! # }
//! ```

pub mod body;
pub mod config;
pub mod copies;
pub mod decode;
#[cfg(test)]
mod differential;
mod error;
pub mod forward;
pub mod kinds;
pub mod labels;
pub mod metrics;
pub mod output;
pub mod pipeline;
pub mod proto;
pub mod request_threads;
pub mod selector;
mod server;
pub mod threads;
pub mod validated;
pub mod view;
pub mod view_v2;

pub use config::Config;
pub use error::Error;
pub use output::OutputKind;
pub use server::Server;
