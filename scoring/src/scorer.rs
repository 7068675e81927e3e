//! The streaming scorer: per-series state for many series, shared by concurrent requests.

use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use parking_lot::{Mutex, MutexGuard};

use crate::batch::{Batch, Position, Queued};
use crate::series::{Observation, SeriesState, Skip, is_stale_marker};
use crate::shard::Shard;
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

/// The shard of a series: middle bits, as the index uses the low bits (bucket) and the top
/// bits (tag) of the hash.
fn shard_of(series: u64) -> usize {
    ((series >> 32) as usize) % SHARDS
}

/// Input indices grouped by shard, in input order within each shard (so the samples of a series
/// keep their order).
#[derive(Default)]
struct ShardOrder {
    /// Where each shard's indices start in `indices`; the last entry is the end.
    starts: Vec<u32>,
    indices: Vec<u32>,
}

impl ShardOrder {
    /// Groups the indices of `inputs` by shard (a counting sort).
    fn arrange(&mut self, inputs: &[Input]) {
        self.starts.clear();
        self.starts.resize(SHARDS + 1, 0);
        for input in inputs {
            self.starts[shard_of(input.series) + 1] += 1;
        }
        for shard in 0..SHARDS {
            self.starts[shard + 1] += self.starts[shard];
        }
        self.indices.clear();
        self.indices.resize(inputs.len(), 0);
        let mut next = [0u32; SHARDS];
        next.copy_from_slice(&self.starts[..SHARDS]);
        for (index, input) in inputs.iter().enumerate() {
            let slot = &mut next[shard_of(input.series)];
            self.indices[*slot as usize] = index as u32;
            *slot += 1;
        }
    }

    /// Each shard with inputs, and their indices.
    fn groups(&self) -> impl Iterator<Item = (usize, &[u32])> {
        self.starts
            .windows(2)
            .map(|range| &self.indices[range[0] as usize..range[1] as usize])
            .enumerate()
            .filter(|(_, indices)| !indices.is_empty())
    }
}

thread_local! {
    static WORK: RefCell<(Batch, ShardOrder)> = RefCell::default();
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
        self.active_series() * (SeriesState::footprint(self.model.window()) + Shard::OVERHEAD)
    }

    fn now(&self) -> u32 {
        u32::try_from(self.epoch.elapsed().as_secs()).unwrap_or(u32::MAX)
    }

    /// Scores `inputs` in order, replacing the contents of `outcomes` with one outcome per input.
    ///
    /// Several samples of one series may appear; they are applied in the order given.
    pub fn score(&self, inputs: &[Input], outcomes: &mut Vec<Outcome>) -> Result<(), Error> {
        outcomes.clear();
        outcomes.resize(inputs.len(), Outcome::Skipped(Skip::WarmingUp));
        WORK.with(|work| {
            let (batch, order) = &mut *work.borrow_mut();
            batch.clear();
            order.arrange(inputs);
            let now = self.now();
            // One lock per shard: a locked instruction waits for the loads before it, so locking
            // per sample would also serialise the cache misses on the states of different series.
            for (shard, indices) in order.groups() {
                let mut shard = self.shards[shard].lock();
                // Reading each state once first lets the misses of many series overlap.
                let touched = indices
                    .iter()
                    .fold(0, |acc, &i| acc ^ shard.touch(inputs[i as usize].series));
                std::hint::black_box(touched);
                for &i in indices {
                    let index = i as usize;
                    if let Some(skip) = self.observe(&mut shard, index, &inputs[index], now, batch)
                    {
                        outcomes[index] = Outcome::Skipped(skip);
                    }
                }
            }
            // Queued samples come grouped by shard: each shard is locked once more to finish them.
            let mut locked: Option<(usize, MutexGuard<'_, Shard>)> = None;
            batch.run(&self.model, |queued, mut scored| {
                let wanted = shard_of(queued.at.series);
                if locked.as_ref().is_none_or(|(held, _)| *held != wanted) {
                    // Released before the next is taken: one shard lock at a time, never two.
                    locked = None;
                    locked = Some((wanted, self.shards[wanted].lock()));
                }
                if let Some((_, shard)) = locked.as_mut() {
                    scored.score = match shard.at(queued.at.entry, queued.at.series) {
                        Some(state) => {
                            state.finish(queued.slot, queued.context, scored.model_score)
                        }
                        // The series' state went away within the request (a staleness marker).
                        None => scored.model_score,
                    };
                }
                outcomes[queued.index] = Outcome::Scored(scored)
            })
        })
    }

    /// Applies one input to its series in its locked `shard`; queues it in `batch` or says why it
    /// is skipped.
    fn observe(
        &self,
        shard: &mut Shard,
        index: usize,
        input: &Input,
        now: u32,
        batch: &mut Batch,
    ) -> Option<Skip> {
        if is_stale_marker(input.value) {
            if shard.remove(input.series) {
                self.series.fetch_sub(1, Ordering::Relaxed);
            }
            return Some(Skip::Stale);
        }
        if !input.value.is_finite() {
            return Some(Skip::NonFinite);
        }
        let window = self.model.window();
        let (position, state) = match shard.get(input.series) {
            Some((position, state)) if state.kind == input.kind => (position, state),
            Some((position, state)) => {
                *state = SeriesState::new(input.kind, window, now);
                (position, state)
            }
            None => {
                if self.series.load(Ordering::Relaxed) >= self.config.max_series {
                    return Some(Skip::SeriesLimit);
                }
                self.series.fetch_add(1, Ordering::Relaxed);
                shard.insert(input.series, SeriesState::new(input.kind, window, now))
            }
        };
        state.last_seen = now;
        let observation = state.observe(
            input.timestamp_ms,
            input.value,
            self.model.info().min_history,
        );
        let at = Position {
            series: input.series,
            entry: position,
        };
        queue(batch, state, observation, index, at, window)
    }

    /// Forgets series not updated within the idle timeout; returns how many were removed.
    pub fn evict_idle(&self) -> usize {
        let now = self.now();
        let timeout = u32::try_from(self.config.idle_timeout.as_secs()).unwrap_or(u32::MAX);
        let mut removed = 0;
        for shard in self.shards.iter() {
            removed += shard
                .lock()
                .retain(|state| now.saturating_sub(state.last_seen) < timeout);
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
        queue(
            &mut batch,
            &state,
            observation,
            index,
            Position::default(),
            window,
        );
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
    at: Position,
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
                at,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_are_grouped_by_shard_in_their_order() {
        let inputs: Vec<Input> = (0..500u64)
            .map(|i| Input {
                series: (i % 37).wrapping_mul(0x9e37_79b9_7f4a_7c15),
                kind: SeriesKind::Gauge,
                timestamp_ms: i as i64,
                value: 0.0,
            })
            .collect();
        let mut order = ShardOrder::default();
        order.arrange(&inputs);
        let mut seen = Vec::new();
        for (shard, indices) in order.groups() {
            assert!(!indices.is_empty());
            assert!(
                indices.windows(2).all(|pair| pair[0] < pair[1]),
                "in input order"
            );
            assert!(
                indices
                    .iter()
                    .all(|&i| shard_of(inputs[i as usize].series) == shard)
            );
            seen.extend_from_slice(indices);
        }
        seen.sort_unstable();
        assert_eq!(seen, (0..500).collect::<Vec<u32>>(), "every input once");
    }
}
