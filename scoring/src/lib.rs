//! Omen's scoring engine: streaming anomaly scores, expected values and bands from an ONNX model.
//!
//! This is the only crate that uses tract. It loads a model meeting Omen's model contract
//! (models/README.md), keeps per-series streaming state (a window of recent values, robustly
//! normalised), runs batched inference on fixed-size plans and returns, per sample, a score
//! (`>= 0`, `1.0` = alert threshold), the expected value and the band `[lower, upper]`.
//!
//! ```
//! use std::sync::Arc;
//! use omen_scoring::{Input, Model, Outcome, Scorer, ScorerConfig, SeriesKind};
//!
//! let scorer = Scorer::new(Arc::new(Model::embedded()?), ScorerConfig::default());
//! let inputs: Vec<Input> = (0..100)
//!     .map(|i| Input { series: 42, kind: SeriesKind::Gauge, timestamp_ms: i * 15_000, value: (i % 7) as f64 })
//!     .collect();
//! let mut outcomes = Vec::new();
//! scorer.score(&inputs, &mut outcomes)?;
//! assert!(matches!(outcomes[99], Outcome::Scored(s) if s.score >= 0.0 && s.lower <= s.upper));
//! # Ok::<(), omen_scoring::Error>(())
//! ```

mod batch;
mod detectors;
mod error;
mod model;
pub mod nab;
mod robust;
mod scorer;
mod series;
mod shard;

pub use error::Error;
pub use model::{Model, ModelInfo};
pub use robust::Normaliser;
pub use scorer::{Input, Outcome, Scorer, ScorerConfig, score_series};
pub use series::{RETRY_HORIZON, STALE_NAN_BITS, SeriesKind, Skip, is_stale_marker};

/// The score of one sample.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Scored {
    /// Anomaly score: `>= 0`; `1.0` is the alert threshold. The largest of the model's calibrated
    /// band deviation and the long-memory detectors' scores (models/README.md).
    pub score: f64,
    /// The model's band deviation alone, `|z - expected| / (k * scale)`: `1.0` is the band's edge.
    pub model_score: f64,
    /// The value the model expected, in the series' units (per-second rate for counters).
    pub expected: f64,
    /// Lower edge of the band of normal values.
    pub lower: f64,
    /// Upper edge of the band of normal values.
    pub upper: f64,
}
