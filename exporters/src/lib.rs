//! Prometheus exporters for Omen.
//!
//! The main one is the platform simulator ([`sim`]): about eight services exporting request
//! counters by status code, latency histograms, CPU, memory, queue depth and saturation with daily
//! seasonality and noise, and incidents injected on a schedule or over HTTP. Its ground-truth
//! gauge `omen_sim_incident_active{service,kind}` says when an incident really happened, so the
//! precision and recall of anomaly alerts can be measured.
//!
//! The [`probe`] exporter is a small blackbox-style HTTP prober: up, duration and status code of a
//! list of URLs.
//!
//! ```no_run
//! # async fn run() -> Result<(), omen_exporters::Error> {
//! let config = omen_exporters::sim::SimConfig::from_yaml("time_scale: 60")?;
//! let server = omen_exporters::sim::SimServer::bind(config).await?;
//! println!("metrics on http://{}/metrics", server.addr());
//! server.serve(async { let _ = tokio::signal::ctrl_c().await; }).await
//! # }
//! ```

mod error;
pub mod probe;
pub mod sim;

pub use error::Error;
