//! The streaming scorer: per-series state for many series, shared by concurrent requests.

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::batch::{Batch, Queued};
use crate::series::{Observation, SeriesState, Skip, is_stale_marker};
use crate::{Error, Model, Scored, SeriesKind};

/// Number of independently locked shards of the series map.
const SHARDS: usize = 64;

/// One sample to score. `series` identifies the series (a 64-bit hash of its sorted labels).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Input {
    /// Series identity: a well-mixed 64-bit hash of the series' labels.
    pub series: u64,
    /// Gauge or counter.
    pub kind: SeriesKind,
    /// Sample timestamp in milliseconds since the Unix epoch.
    pub timestamp_ms: i64,
    /// Sample value (staleness markers and non-finite values are accepted and skipped).
    pub value: f64,
}

/// The result for one input sample.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Outcome {
    /// The sample was scored.
    Scored(Scored),
    /// The sample got no score, and why.
    Skipped(Skip),
}

/// Limits of the streaming scorer.
#[derive(Clone, Debug)]
pub struct ScorerConfig {
    /// Most series tracked at once; samples of further series are skipped with `SeriesLimit`.
    pub max_series: usize,
    /// A series not updated for this long is forgotten by `evict_idle`.
    pub idle_timeout: Duration,
}

impl Default for ScorerConfig {
    fn default() -> Self {
        Self {
            max_series: 2_000_000,
            idle_timeout: Duration::from_secs(15 * 60),
        }
    }
}

/// Passes series hashes through unchanged: the keys are already well-mixed hashes.
#[derive(Default)]
struct IdentityHasher(u64);

impl Hasher for IdentityHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

type Shard = HashMap<u64, SeriesState, BuildHasherDefault<IdentityHasher>>;

thread_local! {
    static BATCH: RefCell<Batch> = RefCell::new(Batch::default());
}

/// Scores samples of many series as they stream, keeping each series' recent history.
///
/// Deterministic: a sample's score depends only on the values of its series before it, so a retried
/// request gets the same scores (for the newest [`crate::RETRY_HORIZON`] samples of each series).
pub struct Scorer {
    model: Arc<Model>,
    config: ScorerConfig,
    shards: Box<[Mutex<Shard>]>,
    series: AtomicUsize,
    epoch: Instant,
}

impl std::fmt::Debug for Scorer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scorer")
            .field("model", &self.model)
            .field("series", &self.active_series())
            .finish()
    }
}

impl Scorer {
    /// A scorer with no series yet.
    pub fn new(model: Arc<Model>, config: ScorerConfig) -> Self {
        let shards = (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect();
        Self {
            model,
            config,
            shards,
            series: AtomicUsize::new(0),
            epoch: Instant::now(),
        }
    }

    /// The model in use.
    pub fn model(&self) -> &Arc<Model> {
        &self.model
    }

    /// Number of series with state.
    pub fn active_series(&self) -> usize {
        self.series.load(Ordering::Relaxed)
    }

    /// Approximate bytes of series state held (excluding hash-table slack).
    pub fn state_bytes(&self) -> usize {
        self.active_series()
            * (SeriesState::footprint(self.model.window()) + std::mem::size_of::<u64>())
    }

    fn now(&self) -> u32 {
        u32::try_from(self.epoch.elapsed().as_secs()).unwrap_or(u32::MAX)
    }

    fn shard(&self, series: u64) -> &Mutex<Shard> {
        // Middle bits: the map itself uses the low bits (bucket) and the top bits (tag).
        &self.shards[((series >> 32) as usize) % SHARDS]
    }

    /// Scores `inputs` in order, replacing the contents of `outcomes` with one outcome per input.
    ///
    /// Several samples of one series may appear; they are applied in the order given.
    pub fn score(&self, inputs: &[Input], outcomes: &mut Vec<Outcome>) -> Result<(), Error> {
        outcomes.clear();
        outcomes.resize(inputs.len(), Outcome::Skipped(Skip::WarmingUp));
        BATCH.with(|batch| {
            let mut batch = batch.borrow_mut();
            batch.clear();
            let now = self.now();
            for (index, input) in inputs.iter().enumerate() {
                if let Some(skip) = self.observe(index, input, now, &mut batch) {
                    outcomes[index] = Outcome::Skipped(skip);
                }
            }
            batch.run(&self.model, |queued, mut scored| {
                scored.score = self.finish(queued, scored.model_score);
                outcomes[queued.index] = Outcome::Scored(scored)
            })
        })
    }

    /// Applies one input to its series; queues it in `batch` or says why it is skipped.
    fn observe(&self, index: usize, input: &Input, now: u32, batch: &mut Batch) -> Option<Skip> {
        let mut shard = self.shard(input.series).lock();
        if is_stale_marker(input.value) {
            if shard.remove(&input.series).is_some() {
                self.series.fetch_sub(1, Ordering::Relaxed);
            }
            return Some(Skip::Stale);
        }
        if !input.value.is_finite() {
            return Some(Skip::NonFinite);
        }
        let window = self.model.window();
        let state = match shard.get_mut(&input.series) {
            Some(state) if state.kind == input.kind => state,
            Some(state) => {
                *state = SeriesState::new(input.kind, window, now);
                state
            }
            None => {
                if self.series.load(Ordering::Relaxed) >= self.config.max_series {
                    return Some(Skip::SeriesLimit);
                }
                self.series.fetch_add(1, Ordering::Relaxed);
                shard
                    .entry(input.series)
                    .or_insert_with(|| SeriesState::new(input.kind, window, now))
            }
        };
        state.last_seen = now;
        let observation = state.observe(
            input.timestamp_ms,
            input.value,
            self.model.info().min_history,
        );
        queue(batch, state, observation, index, input.series, window)
    }

    /// The final score of a sample once the model scored it (see `SeriesState::finish`). A series
    /// whose state went away within the request (a staleness marker) keeps the model's score.
    fn finish(&self, queued: &Queued, model_score: f64) -> f64 {
        let mut shard = self.shard(queued.series).lock();
        match shard.get_mut(&queued.series) {
            Some(state) => state.finish(queued.slot, queued.context, model_score),
            None => model_score,
        }
    }

    /// Forgets series not updated within the idle timeout; returns how many were removed.
    pub fn evict_idle(&self) -> usize {
        let now = self.now();
        let timeout = u32::try_from(self.config.idle_timeout.as_secs()).unwrap_or(u32::MAX);
        let mut removed = 0;
        for shard in self.shards.iter() {
            let mut shard = shard.lock();
            let before = shard.len();
            shard.retain(|_, state| now.saturating_sub(state.last_seen) < timeout);
            removed += before - shard.len();
        }
        self.series.fetch_sub(removed, Ordering::Relaxed);
        removed
    }
}

/// Scores a whole series offline, causally (each point sees only earlier points), exactly as the
/// streaming scorer does. `points` are `(timestamp_ms, value)`; `None` where there is no score.
pub fn score_series(
    model: &Model,
    kind: SeriesKind,
    points: &[(i64, f64)],
) -> Result<Vec<Option<Scored>>, Error> {
    let window = model.window();
    let min_history = model.info().min_history;
    let mut state = SeriesState::new(kind, window, 0);
    let mut batch = Batch::default();
    let mut out = vec![None; points.len()];
    for (index, &(timestamp, value)) in points.iter().enumerate() {
        if is_stale_marker(value) {
            // Finish what the old state scored before it is reset. (The streaming scorer finishes a
            // request's samples after all of it is observed, so there samples that share a request
            // with a later staleness marker of their series keep the model's score.)
            finish_offline(&mut batch, model, &mut state, &mut out)?;
            state = SeriesState::new(kind, window, 0);
            continue;
        }
        if !value.is_finite() {
            continue;
        }
        let observation = state.observe(timestamp, value, min_history);
        queue(&mut batch, &state, observation, index, 0, window);
    }
    debug_assert!(batch.len() <= points.len());
    finish_offline(&mut batch, model, &mut state, &mut out)?;
    Ok(out)
}

/// Queues a sample to score in `batch`, or says why it is not scored.
fn queue(
    batch: &mut Batch,
    state: &SeriesState,
    observation: Observation,
    index: usize,
    series: u64,
    window: usize,
) -> Option<Skip> {
    match observation {
        Observation::Skip(skip) => Some(skip),
        Observation::Score {
            end,
            value,
            slot,
            context,
        } => {
            let queued = Queued {
                index,
                series,
                slot,
                context,
            };
            batch.push(queued, state, end, value, window);
            None
        }
    }
}

/// Runs the queued samples of one series' `state` through the model and finishes their scores.
fn finish_offline(
    batch: &mut Batch,
    model: &Model,
    state: &mut SeriesState,
    out: &mut [Option<Scored>],
) -> Result<(), Error> {
    batch.run(model, |queued, mut scored| {
        scored.score = state.finish(queued.slot, queued.context, scored.model_score);
        out[queued.index] = Some(scored);
    })?;
    batch.clear();
    Ok(())
}
