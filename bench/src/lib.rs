//! Load generation for remote-write receivers, with the knobs of prometheus-community's avalanche
//! (series count, labels per series, batch size, concurrency, churn, protocol 1.0/2.0), and a
//! minimal sink that stands in for a downstream receiver; and Alertmanager notifications for
//! benchmarking the webhook with the same sender.
//!
//! Requests are generated before the clock starts so the generator is not what is measured. Each
//! worker owns a disjoint set of series and sends its requests in order, as a Prometheus shard
//! does, so every series stays in order.

mod alerts;
mod generate;
mod load;
mod sink;

pub use alerts::{AlertSpec, generate_alerts};
pub use generate::{LoadSpec, Protocol, Workload, generate};
pub use load::{Report, run_load};
pub use sink::{SinkStats, serve_sink};
