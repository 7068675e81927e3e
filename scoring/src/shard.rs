//! One lock's worth of series states: a small hash index from series hash to a position in a slab
//! of states. A sample's position, found once when it is observed, finds its state again after
//! inference without a second hash lookup, and the index stays small enough to stay in cache.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::series::SeriesState;

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

/// A slab entry: the series it belongs to, and its state while the series is tracked.
struct Entry {
    series: u64,
    state: Option<SeriesState>,
}

/// Series states of one shard.
#[derive(Default)]
pub(crate) struct Shard {
    index: HashMap<u64, u32, BuildHasherDefault<IdentityHasher>>,
    entries: Vec<Entry>,
    /// Positions of `entries` whose series went away, reused first.
    free: Vec<u32>,
}

impl Shard {
    /// Bytes per tracked series beyond its state: an index slot and the entry's series hash.
    pub(crate) const OVERHEAD: usize = std::mem::size_of::<(u64, u32)>()
        + std::mem::size_of::<Entry>()
        - std::mem::size_of::<SeriesState>();

    /// The position and state of `series`, if tracked.
    pub(crate) fn get(&mut self, series: u64) -> Option<(u32, &mut SeriesState)> {
        let position = *self.index.get(&series)?;
        let state = self.entries[position as usize].state.as_mut()?;
        Some((position, state))
    }

    /// Reads a few words of the state of `series`, if tracked, so that its cache lines are on
    /// their way before the state is used; returns them folded into one (to keep the reads).
    pub(crate) fn touch(&self, series: u64) -> u64 {
        self.index
            .get(&series)
            .and_then(|&position| self.entries[position as usize].state.as_ref())
            .map_or(0, SeriesState::touch)
    }

    /// The state at `position` if it still belongs to `series`.
    pub(crate) fn at(&mut self, position: u32, series: u64) -> Option<&mut SeriesState> {
        let entry = self.entries.get_mut(position as usize)?;
        if entry.series == series {
            entry.state.as_mut()
        } else {
            None
        }
    }

    /// Starts tracking `series` (not tracked yet) with `state`; returns its position and state.
    pub(crate) fn insert(&mut self, series: u64, state: SeriesState) -> (u32, &mut SeriesState) {
        debug_assert!(!self.index.contains_key(&series));
        let entry = Entry {
            series,
            state: Some(state),
        };
        let position = match self.free.pop() {
            Some(position) => {
                self.entries[position as usize] = entry;
                position
            }
            None => {
                let position = u32::try_from(self.entries.len()).expect("fewer than 2^32 series");
                self.entries.push(entry);
                position
            }
        };
        self.index.insert(series, position);
        let state = self.entries[position as usize]
            .state
            .as_mut()
            .expect("just inserted");
        (position, state)
    }

    /// Stops tracking `series`; says whether it was tracked.
    pub(crate) fn remove(&mut self, series: u64) -> bool {
        let Some(position) = self.index.remove(&series) else {
            return false;
        };
        self.entries[position as usize].state = None;
        self.free.push(position);
        true
    }

    /// Stops tracking every series whose state fails `keep`; returns how many were removed.
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&SeriesState) -> bool) -> usize {
        let before = self.index.len();
        let entries = &mut self.entries;
        let free = &mut self.free;
        self.index.retain(|_, position| {
            let entry = &mut entries[*position as usize];
            if entry.state.as_ref().is_some_and(&mut keep) {
                return true;
            }
            entry.state = None;
            free.push(*position);
            false
        });
        before - self.index.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SeriesKind;

    fn state(now: u32) -> SeriesState {
        SeriesState::new(SeriesKind::Gauge, 4, now)
    }

    #[test]
    fn positions_find_states_until_their_series_goes_away() {
        let mut shard = Shard::default();
        let (a, _) = shard.insert(1, state(10));
        let (b, _) = shard.insert(2, state(20));
        assert_ne!(a, b);
        assert_eq!(shard.get(1).map(|(p, s)| (p, s.last_seen)), Some((a, 10)));
        assert_eq!(shard.at(b, 2).map(|s| s.last_seen), Some(20));
        // A position asked for with another series' hash finds nothing.
        assert!(shard.at(b, 1).is_none());
        assert!(shard.remove(1));
        assert!(!shard.remove(1));
        assert!(shard.get(1).is_none() && shard.at(a, 1).is_none());
        // The freed position is reused by the next series, and belongs to it alone.
        let (c, _) = shard.insert(3, state(30));
        assert_eq!(c, a);
        assert!(shard.at(c, 1).is_none());
        assert_eq!(shard.at(c, 3).map(|s| s.last_seen), Some(30));
        assert_eq!(shard.index.len(), 2);
    }

    #[test]
    fn retain_frees_the_positions_of_removed_series() {
        let mut shard = Shard::default();
        for series in 0..10u64 {
            shard.insert(series, state(series as u32));
        }
        assert_eq!(shard.retain(|s| s.last_seen >= 4), 4);
        assert_eq!(shard.index.len(), 6);
        assert!((0..4).all(|series| shard.get(series).is_none()));
        assert!((4..10).all(|series| shard.get(series).is_some()));
        for series in 10..14u64 {
            shard.insert(series, state(0));
        }
        assert_eq!(shard.entries.len(), 10, "freed positions are reused");
    }
}
