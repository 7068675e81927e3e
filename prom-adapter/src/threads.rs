//! Scoring a large request on several threads.
//!
//! A request is decoded and validated on a request thread ([`crate::request_threads`]). A large one is then split
//! into parts: that thread scores and encodes the first, helper threads the others, so a request
//! finishes sooner when CPUs are idle, at a cost in throughput (docs/benchmarks.md), which is why
//! the default is one thread.

use crate::Error;

/// The helper threads that score the further parts of large requests.
pub struct ScoringThreads {
    helpers: Option<rayon::ThreadPool>,
}

impl ScoringThreads {
    /// `count` scoring threads (at least one); `count - 1` helper threads are started.
    pub fn new(count: usize) -> Result<Self, Error> {
        let helpers = (count > 1)
            .then(|| {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(count - 1)
                    .thread_name(|i| format!("omen-score-{i}"))
                    .build()
            })
            .transpose()
            .map_err(|e| Error::Internal(format!("cannot start the scoring threads: {e}")))?;
        Ok(Self { helpers })
    }

    /// Number of threads a request can be scored on (its own and the helpers).
    pub fn count(&self) -> usize {
        self.helpers
            .as_ref()
            .map_or(1, |pool| pool.current_num_threads() + 1)
    }

    /// Runs `work(0)` to `work(parts - 1)` and returns their results in that order: part 0 on the
    /// calling thread, the others on the helpers. Returns when all have finished.
    pub fn split<R: Send>(&self, parts: usize, work: impl Fn(usize) -> R + Sync) -> Vec<R> {
        let mut results: Vec<Option<R>> = (0..parts).map(|_| None).collect();
        match (&self.helpers, results.split_first_mut()) {
            (Some(pool), Some((first, rest))) if !rest.is_empty() => {
                let work = &work;
                // Called from a thread outside the pool, the scope blocks until the spawned parts
                // are done without running other work meanwhile.
                pool.in_place_scope(|scope| {
                    for (i, slot) in rest.iter_mut().enumerate() {
                        scope.spawn(move |_| *slot = Some(work(i + 1)));
                    }
                    *first = Some(work(0));
                });
            }
            _ => {
                for (i, slot) in results.iter_mut().enumerate() {
                    *slot = Some(work(i));
                }
            }
        }
        // Every slot is filled: the scope returns only once all parts ran.
        results.into_iter().flatten().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_returns_every_part_in_order_on_more_than_one_thread() {
        let threads = ScoringThreads::new(3).expect("threads");
        let results = threads.split(5, |part| (part, std::thread::current().id()));
        assert_eq!(
            results.iter().map(|(part, _)| *part).collect::<Vec<_>>(),
            [0, 1, 2, 3, 4]
        );
        assert_eq!(results[0].1, std::thread::current().id());
        assert!(results[1..].iter().all(|(_, id)| *id != results[0].1));
    }

    #[test]
    fn one_thread_runs_every_part_itself() {
        let threads = ScoringThreads::new(0).expect("threads");
        assert_eq!(threads.count(), 1);
        let me = std::thread::current().id();
        let results = threads.split(3, |part| (part, std::thread::current().id()));
        assert_eq!(results, [(0, me), (1, me), (2, me)]);
    }
}
