//! Omen's Grafana backend datasource plugin.
//!
//! For a PromQL expression it shows the values, the expected band (lower/upper) and the anomaly
//! scores, from one of two sources:
//!
//! - **live**: fetch the raw range with `/api/v1/query_range` (plus warm-up history before the
//!   range) and score it in the plugin with the embedded model through [`omen_scoring`];
//! - **stored**: read the `omen_anomaly_score`/`_expected`/`_lower`/`_upper` series the Omen
//!   adapter wrote, matched to the original series by their labels and `omen_metric`.
//!
//! Query types are `band`, `anomalies` (points with score >= threshold) and `score`. Every query
//! is answered on its own: a bad query or a failing Prometheus is an error on that query's
//! `refId`, never a failed request. The binary (`gpx_omen_anomaly_datasource`) is launched by
//! Grafana through the go-plugin handshake ([`serve`]).
//!
//! ```
//! use omen_grafana_datasource::{QueryModel, QueryType, Source};
//!
//! let query = QueryModel::parse(&serde_json::json!({"refId": "A", "expr": "up", "queryType": "score"}))?;
//! let resolved = query.resolve("", Source::Live, 100)?;
//! assert_eq!(resolved.query_type, QueryType::Score);
//! # Ok::<(), String>(())
//! ```

pub mod columns;
pub mod engine;
mod error;
pub mod frames;
mod plugin;
pub mod prom;
pub mod query;
pub mod serve;
pub mod settings;
pub mod stored;

pub use error::{Error, QueryError};
pub use plugin::{HealthError, OmenDatasource, ResourceError, Settings};
pub use query::{KindChoice, QueryModel, QueryType, Resolved, Source};
pub use settings::{JsonData, SecureJsonData};

/// The plugin id in plugin.json.
pub const PLUGIN_ID: &str = "omen-anomaly-datasource";
