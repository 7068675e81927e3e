//! Collects the windows of many samples, runs them through the model in one go, and turns the
//! model's forecasts into scores and bands.

use crate::robust::Normaliser;
use crate::series::SeriesState;
use crate::{Error, Model, Scored};

/// Normalised inputs beyond this magnitude are clipped before they reach the model.
const INPUT_CLIP: f64 = 1e6;

/// Where a series' state is kept in the streaming scorer.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Position {
    /// Series hash.
    pub(crate) series: u64,
    /// Entry of the series in its shard (see `Shard::at`).
    pub(crate) entry: u32,
}

/// Which sample a queued window belongs to, and what its final score needs after inference.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Queued {
    /// Index of the sample in the caller's input.
    pub(crate) index: usize,
    /// Where the series' state is, to find it again.
    pub(crate) at: Position,
    /// Retry slot of the value in its series (see `SeriesState::finish`).
    pub(crate) slot: usize,
    /// The other detectors' score for a new value; `None` for a repeat.
    pub(crate) context: Option<f64>,
}

/// A sample waiting for inference.
struct Pending {
    queued: Queued,
    normaliser: Normaliser,
    /// The scored value in normalised units.
    z: f64,
}

/// Reusable buffers for one scoring pass.
#[derive(Default)]
pub(crate) struct Batch {
    windows: Vec<f32>,
    pending: Vec<Pending>,
    raw_window: Vec<f64>,
    scratch: Vec<f64>,
    expected: Vec<f32>,
    scale: Vec<f32>,
}

impl Batch {
    /// Empties the buffers, keeping their capacity.
    pub(crate) fn clear(&mut self) {
        self.windows.clear();
        self.pending.clear();
        self.expected.clear();
        self.scale.clear();
    }

    /// Queues a sample: `value` scored against the window before ring position `end` of `state`.
    pub(crate) fn push(
        &mut self,
        queued: Queued,
        state: &SeriesState,
        end: usize,
        value: f64,
        window: usize,
    ) {
        self.raw_window.clear();
        state.window_into(end, window, &mut self.raw_window);
        let normaliser = Normaliser::of(&self.raw_window, &mut self.scratch);
        self.windows.extend(
            self.raw_window
                .iter()
                .map(|&v| normaliser.normalise(v).clamp(-INPUT_CLIP, INPUT_CLIP) as f32),
        );
        self.pending.push(Pending {
            queued,
            normaliser,
            z: normaliser.normalise(value),
        });
    }

    /// Number of queued samples.
    pub(crate) fn len(&self) -> usize {
        self.pending.len()
    }

    /// Runs inference on every queued sample and calls `emit(queued, scored)` for each, in the
    /// order they were queued; `scored.score` is the model's band deviation until the caller
    /// finishes it.
    pub(crate) fn run(
        &mut self,
        model: &Model,
        mut emit: impl FnMut(&Queued, Scored),
    ) -> Result<(), Error> {
        if self.pending.is_empty() {
            return Ok(());
        }
        model.infer(&self.windows, &mut self.expected, &mut self.scale)?;
        let k = model.info().threshold;
        for ((p, &e), &s) in self.pending.iter().zip(&self.expected).zip(&self.scale) {
            emit(
                &p.queued,
                scored(p.normaliser, p.z, f64::from(e), f64::from(s), k),
            );
        }
        Ok(())
    }
}

/// Applies the contract: score = |z - e| / (k * s); band = denormalised e -/+ k * s.
fn scored(normaliser: Normaliser, z: f64, expected: f64, scale: f64, k: f64) -> Scored {
    // A model that outputs a non-positive or non-finite scale cannot produce a meaningful score.
    let scale = if scale.is_finite() && scale > 0.0 {
        scale
    } else {
        f64::MIN_POSITIVE
    };
    let width = k * scale;
    let score = (z - expected).abs() / width;
    let score = if score.is_finite() { score } else { f64::MAX };
    Scored {
        score,
        model_score: score,
        expected: normaliser.denormalise(expected),
        lower: normaliser.denormalise(expected - width),
        upper: normaliser.denormalise(expected + width),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn score_is_one_exactly_on_the_band_edge() {
        let n = Normaliser {
            location: 100.0,
            scale: 10.0,
        };
        let at_edge = scored(n, 0.5 + 3.0 * 0.25, 0.5, 0.25, 3.0);
        assert!((at_edge.score - 1.0).abs() < 1e-12);
        assert!((at_edge.upper - (100.0 + 10.0 * (0.5 + 0.75))).abs() < 1e-9);
        assert!((at_edge.lower - (100.0 + 10.0 * (0.5 - 0.75))).abs() < 1e-9);
        assert!((at_edge.expected - 105.0).abs() < 1e-9);
    }

    #[test]
    fn a_broken_scale_gives_a_large_finite_score_not_nan() {
        let n = Normaliser {
            location: 0.0,
            scale: 1.0,
        };
        let s = scored(n, 1.0, 0.0, f64::NAN, 3.0);
        assert!(s.score.is_finite() && s.score > 1.0);
    }
}
