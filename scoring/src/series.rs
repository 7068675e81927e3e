//! Per-series streaming state: the recent values a window is built from, counter bookkeeping,
//! the long-memory detectors, and enough history to re-score retried samples identically.

use crate::detectors::Detectors;

/// How many of a series' most recent samples can be re-scored identically when a request is retried.
pub const RETRY_HORIZON: usize = 8;

/// Prometheus' staleness marker: a NaN with this exact bit pattern.
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// Whether a value is Prometheus' staleness marker (compared bit for bit).
pub fn is_stale_marker(value: f64) -> bool {
    value.to_bits() == STALE_NAN_BITS
}

/// How a series' values are turned into the values that are scored.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum SeriesKind {
    /// Scored on the value itself.
    #[default]
    Gauge,
    /// Scored on the per-second rate; a decrease is a counter reset (the counter restarted from zero).
    Counter,
}

/// Why a sample got no score. Every skipped sample is still forwarded unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Skip {
    /// A staleness marker: the series' window was reset.
    Stale,
    /// NaN or infinite values are never fed to the model.
    NonFinite,
    /// Not enough history yet for the model's `min_history`.
    WarmingUp,
    /// Older than the newest sample of the series and not one of the recent samples that can be re-scored.
    OutOfOrder,
    /// Same timestamp as a recent sample but a different value.
    DuplicateConflict,
    /// The scorer already tracks its maximum number of series.
    SeriesLimit,
}

impl Skip {
    /// A fixed label value for metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stale => "stale",
            Self::NonFinite => "non_finite",
            Self::WarmingUp => "warming_up",
            Self::OutOfOrder => "out_of_order",
            Self::DuplicateConflict => "duplicate_conflict",
            Self::SeriesLimit => "series_limit",
        }
    }

    /// Every variant, for pre-registering metric label values.
    pub const ALL: [Skip; 6] = [
        Self::Stale,
        Self::NonFinite,
        Self::WarmingUp,
        Self::OutOfOrder,
        Self::DuplicateConflict,
        Self::SeriesLimit,
    ];
}

/// What to do with an observed sample.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Observation {
    /// No score for this sample.
    Skip(Skip),
    /// Score `value` against the window of values that precede ring position `end`.
    Score {
        /// Ring position (0 = oldest held) of the scored value.
        end: usize,
        /// The value scored (gauge value or counter rate).
        value: f64,
        /// Retry slot of the value (`push number % RETRY_HORIZON`), where its final score is kept.
        slot: usize,
        /// For a newly fed value, the score of the detectors that do not need the model; `None`
        /// for a repeat, which gets the final score kept in its slot.
        context: Option<f64>,
    },
}

/// What a series keeps of its newest values for retries, and its long-memory detectors.
#[derive(Debug)]
struct History {
    /// Timestamps of the newest `RETRY_HORIZON` fed values, indexed by `pushes % RETRY_HORIZON`.
    times: [i64; RETRY_HORIZON],
    /// Final scores of the same values, so a retried sample gets its first score again.
    finals: [f32; RETRY_HORIZON],
    /// Long-memory detectors fed with every new value.
    detectors: Detectors,
}

/// The streaming state of one series.
#[derive(Debug)]
pub(crate) struct SeriesState {
    /// Ring of fed values (gauge values or counter rates), capacity `window + RETRY_HORIZON`.
    values: Box<[f64]>,
    /// Ring index of the oldest held value.
    head: u32,
    /// Number of values held.
    len: u32,
    /// Retry history and detectors, on the heap: the map's slots stay small, which matters
    /// because a hash table holds up to twice as many slots as entries.
    history: Box<History>,
    /// Number of values ever pushed (wraps harmlessly; only used modulo `RETRY_HORIZON`).
    pushes: u32,
    /// Timestamp of the newest accepted sample, fed or not (`i64::MIN` before the first).
    last_timestamp: i64,
    /// Newest raw counter value (counters only).
    last_raw: f64,
    /// Coarse clock reading (seconds) of the last update, for idle eviction.
    pub(crate) last_seen: u32,
    /// The kind the state was built for; a change of kind resets it.
    pub(crate) kind: SeriesKind,
}

impl SeriesState {
    /// A fresh state able to hold a window of `window` values.
    pub(crate) fn new(kind: SeriesKind, window: usize, now: u32) -> Self {
        Self {
            values: vec![0.0; window + RETRY_HORIZON].into_boxed_slice(),
            head: 0,
            len: 0,
            history: Box::new(History {
                times: [i64::MIN; RETRY_HORIZON],
                finals: [0.0; RETRY_HORIZON],
                detectors: Detectors::default(),
            }),
            pushes: 0,
            last_timestamp: i64::MIN,
            last_raw: f64::NAN,
            last_seen: now,
            kind,
        }
    }

    /// Bytes used by one state including its heap parts, for capacity planning.
    pub(crate) fn footprint(window: usize) -> usize {
        std::mem::size_of::<Self>()
            + std::mem::size_of::<History>()
            + (window + RETRY_HORIZON) * std::mem::size_of::<f64>()
    }

    /// Reads a word of each cache line of the value ring and a few of the history (see
    /// `Shard::touch`).
    pub(crate) fn touch(&self) -> u64 {
        let values = self
            .values
            .iter()
            .step_by(8)
            .fold(0, |acc, v| acc ^ v.to_bits());
        let history = &*self.history;
        values ^ history.times[0] as u64 ^ u64::from(history.detectors.touch())
    }

    fn capacity(&self) -> usize {
        self.values.len()
    }

    fn at(&self, position: usize) -> f64 {
        self.values[(self.head as usize + position) % self.capacity()]
    }

    fn push(&mut self, timestamp: i64, value: f64) {
        let capacity = self.capacity();
        if (self.len as usize) < capacity {
            self.values[(self.head as usize + self.len as usize) % capacity] = value;
            self.len += 1;
        } else {
            self.values[self.head as usize] = value;
            self.head = ((self.head as usize + 1) % capacity) as u32;
        }
        self.history.times[self.pushes as usize % RETRY_HORIZON] = timestamp;
        self.pushes = self.pushes.wrapping_add(1);
        self.last_timestamp = timestamp;
    }

    /// Ring position and retry slot of a recent fed value with this timestamp, if it is still
    /// re-scorable.
    fn recent_position(&self, timestamp: i64) -> Option<(usize, usize)> {
        let recent = (self.len as usize).min(RETRY_HORIZON);
        (0..recent).find_map(|back| {
            let slot = self.slot_back(back);
            (self.history.times[slot] == timestamp).then(|| (self.len as usize - 1 - back, slot))
        })
    }

    /// Retry slot of the value pushed `back` pushes before the newest.
    fn slot_back(&self, back: usize) -> usize {
        (self.pushes as usize + RETRY_HORIZON - 1 - back) % RETRY_HORIZON
    }

    /// The final score of the value in retry `slot`: for a new value (`context` is `Some`), the
    /// detectors' calibrated score given the model's band deviation, kept for retries; for a
    /// repeat, the kept one.
    pub(crate) fn finish(&mut self, slot: usize, context: Option<f64>, model_score: f64) -> f64 {
        if let Some(context) = context {
            let history = &mut *self.history;
            history.finals[slot] = history.detectors.finish(model_score, context) as f32;
        }
        f64::from(self.history.finals[slot])
    }

    /// Feeds one finite, non-stale sample and says whether and how to score it.
    pub(crate) fn observe(&mut self, timestamp: i64, raw: f64, min_history: usize) -> Observation {
        if timestamp <= self.last_timestamp {
            return self.observe_repeat(timestamp, raw, min_history);
        }
        let value = match self.kind {
            SeriesKind::Gauge => raw,
            SeriesKind::Counter => {
                let previous = (self.last_timestamp, self.last_raw);
                self.last_raw = raw;
                if previous.0 == i64::MIN {
                    self.last_timestamp = timestamp;
                    return Observation::Skip(Skip::WarmingUp);
                }
                let seconds = (timestamp - previous.0) as f64 / 1000.0;
                let increase = if raw >= previous.1 {
                    raw - previous.1
                } else {
                    raw
                };
                increase / seconds
            }
        };
        // The value fed before this one: the newest in the ring, at the series' last time.
        let previous =
            (self.len > 0).then(|| (self.last_timestamp, self.at(self.len as usize - 1)));
        self.push(timestamp, value);
        let context = self.history.detectors.observe(timestamp, value, previous);
        self.decision(
            self.len as usize - 1,
            value,
            self.slot_back(0),
            Some(context),
            min_history,
        )
    }

    /// A sample at or before the newest timestamp: re-score it if it is a recent duplicate.
    fn observe_repeat(&self, timestamp: i64, raw: f64, min_history: usize) -> Observation {
        let Some((end, slot)) = self.recent_position(timestamp) else {
            return Observation::Skip(Skip::OutOfOrder);
        };
        let value = self.at(end);
        let same = match self.kind {
            SeriesKind::Gauge => value.to_bits() == raw.to_bits(),
            // Only the newest raw counter value is kept; older duplicates are trusted by timestamp.
            SeriesKind::Counter => {
                timestamp != self.last_timestamp || raw.to_bits() == self.last_raw.to_bits()
            }
        };
        if same {
            self.decision(end, value, slot, None, min_history)
        } else {
            Observation::Skip(Skip::DuplicateConflict)
        }
    }

    fn decision(
        &self,
        end: usize,
        value: f64,
        slot: usize,
        context: Option<f64>,
        min_history: usize,
    ) -> Observation {
        if end < min_history.max(1) {
            Observation::Skip(Skip::WarmingUp)
        } else {
            Observation::Score {
                end,
                value,
                slot,
                context,
            }
        }
    }

    /// Appends the `window` values before ring position `end` to `out`, oldest first, left-padded
    /// by repeating the oldest available value when fewer are held.
    pub(crate) fn window_into(&self, end: usize, window: usize, out: &mut Vec<f64>) {
        let start = end.saturating_sub(window);
        let available = end - start;
        let pad = self.at(start);
        out.extend(std::iter::repeat_n(pad, window - available));
        // The ring's positions start..end as at most two runs of the slice: no division per value.
        let first = (self.head as usize + start) % self.capacity();
        let (front, from_first) = self.values.split_at(first);
        let unwrapped = available.min(from_first.len());
        out.extend_from_slice(&from_first[..unwrapped]);
        out.extend_from_slice(&front[..available - unwrapped]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window_of(state: &SeriesState, observation: Observation, w: usize) -> Vec<f64> {
        let Observation::Score { end, .. } = observation else {
            panic!("expected a score, got {observation:?}");
        };
        let mut out = Vec::new();
        state.window_into(end, w, &mut out);
        out
    }

    #[test]
    fn history_fits_its_allocation_size_class() {
        // One per series on the heap: 384 bytes is a mimalloc size class, and the adapter's
        // memory budget is 1 KiB per series in all (docs/benchmarks.md).
        let size = std::mem::size_of::<History>();
        assert!(size <= 384, "History is {size} bytes");
    }

    #[test]
    fn gauge_windows_hold_the_preceding_values_left_padded() {
        let mut state = SeriesState::new(SeriesKind::Gauge, 4, 0);
        assert_eq!(
            state.observe(1_000, 1.0, 2),
            Observation::Skip(Skip::WarmingUp)
        );
        assert_eq!(
            state.observe(2_000, 2.0, 2),
            Observation::Skip(Skip::WarmingUp)
        );
        let third = state.observe(3_000, 3.0, 2);
        assert_eq!(window_of(&state, third, 4), vec![1.0, 1.0, 1.0, 2.0]);
        for (i, v) in [4.0, 5.0, 6.0].into_iter().enumerate() {
            state.observe(4_000 + 1_000 * i as i64, v, 2);
        }
        let next = state.observe(7_000, 7.0, 2);
        assert_eq!(window_of(&state, next, 4), vec![3.0, 4.0, 5.0, 6.0]);
    }

    #[test]
    fn counters_are_scored_on_their_rate_with_resets() {
        let mut state = SeriesState::new(SeriesKind::Counter, 4, 0);
        assert_eq!(
            state.observe(0, 100.0, 1),
            Observation::Skip(Skip::WarmingUp)
        );
        assert_eq!(
            state.observe(10_000, 150.0, 1),
            Observation::Skip(Skip::WarmingUp)
        );
        let Observation::Score { value, .. } = state.observe(20_000, 250.0, 1) else {
            panic!()
        };
        assert_eq!(value, 10.0);
        // Reset: the counter restarted from zero and counted 30 since.
        let Observation::Score { value, .. } = state.observe(30_000, 30.0, 1) else {
            panic!()
        };
        assert_eq!(value, 3.0);
    }

    #[test]
    fn recent_duplicates_rescore_identically_and_old_ones_are_out_of_order() {
        let mut state = SeriesState::new(SeriesKind::Gauge, 4, 0);
        let mut first = Vec::new();
        for t in 0..20i64 {
            first.push(state.observe(t * 1_000, (t * t) as f64, 1));
        }
        for t in 20 - RETRY_HORIZON as i64..20 {
            let again = state.observe(t * 1_000, (t * t) as f64, 1);
            let original = first[t as usize];
            let (Observation::Score { value: a, .. }, Observation::Score { value: b, .. }) =
                (original, again)
            else {
                panic!("both must be scored")
            };
            assert_eq!(a, b);
            // The window of the re-scored sample equals the window it was first scored with.
            let Observation::Score { end, .. } = again else {
                unreachable!()
            };
            let mut w = Vec::new();
            state.window_into(end, 4, &mut w);
            let expected: Vec<f64> = (t - 4..t).map(|s| (s * s) as f64).collect();
            assert_eq!(w, expected);
        }
        assert_eq!(
            state.observe(0, 0.0, 1),
            Observation::Skip(Skip::OutOfOrder)
        );
        assert_eq!(
            state.observe(19_000, 1.0, 1),
            Observation::Skip(Skip::DuplicateConflict)
        );
    }
}
