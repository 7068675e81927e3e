//! The threads that decode, score and encode requests, apart from the async runtime's.
//!
//! A request's processing is a few milliseconds of CPU work with nothing to await. Run on the
//! runtime's worker threads, it held up the I/O of every other request meanwhile: a forward's
//! answer from downstream waited for a worker to finish scoring another request before the
//! request it completed could be answered. Here the runtime's threads only do I/O, and the
//! operating system shares the CPUs between them and these threads.

use std::sync::{Arc, Mutex, mpsc};

use tokio::sync::oneshot;

use crate::Error;

type Job = Box<dyn FnOnce() + Send>;

/// Requests that may wait for a thread; more are answered 503 at once, so an overloaded adapter
/// sheds load instead of queueing bodies without bound.
pub const MAX_QUEUED: usize = 256;

/// A fixed set of threads taking jobs from one bounded queue.
pub struct RequestThreads {
    queue: mpsc::SyncSender<Job>,
}

impl RequestThreads {
    /// Starts `count` threads (at least one), with room for `queued` waiting jobs.
    pub fn new(count: usize, queued: usize) -> Result<Self, Error> {
        let (queue, jobs) = mpsc::sync_channel::<Job>(queued);
        let jobs = Arc::new(Mutex::new(jobs));
        for i in 0..count.max(1) {
            let jobs = jobs.clone();
            std::thread::Builder::new()
                .name(format!("omen-request-{i}"))
                .spawn(move || {
                    loop {
                        // The lock is held only while waiting for the next job.
                        let job = match jobs.lock() {
                            Ok(jobs) => jobs.recv(),
                            Err(_) => return,
                        };
                        match job {
                            // A panicking job loses its answer (its caller gets an error), not the thread.
                            Ok(job) => {
                                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                            }
                            Err(_) => return,
                        }
                    }
                })
                .map_err(|e| Error::Internal(format!("cannot start the request threads: {e}")))?;
        }
        Ok(Self { queue })
    }

    /// Runs `work` on one of the threads and waits for its result. A job whose caller stopped
    /// waiting (the sender gave up on the request) is dropped without running.
    pub async fn run<R: Send + 'static>(
        &self,
        work: impl FnOnce() -> R + Send + 'static,
    ) -> Result<R, Error> {
        let (done, result) = oneshot::channel();
        self.queue
            .try_send(Box::new(move || {
                if !done.is_closed() {
                    let _ = done.send(work());
                }
            }))
            .map_err(|error| match error {
                mpsc::TrySendError::Full(_) => Error::Unavailable(
                    "too many requests are already waiting to be processed".into(),
                ),
                mpsc::TrySendError::Disconnected(_) => {
                    Error::Unavailable("the adapter is shutting down".into())
                }
            })?;
        result
            .await
            .map_err(|_| Error::Internal("a request failed while it was processed".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn jobs_run_on_the_threads_and_a_panic_loses_only_its_answer() {
        let threads = RequestThreads::new(2, MAX_QUEUED).expect("threads start");
        let name = threads
            .run(|| std::thread::current().name().map(str::to_owned))
            .await
            .expect("runs");
        assert!(name.is_some_and(|n| n.starts_with("omen-request-")));
        let panicked = threads.run(|| -> u32 { panic!("a failing job") }).await;
        assert!(matches!(panicked, Err(Error::Internal(_))));
        // Both threads are still there: two jobs that wait for each other both finish.
        let barrier = Arc::new(std::sync::Barrier::new(2));
        let (first, second) = (barrier.clone(), barrier);
        let (a, b) = tokio::join!(
            threads.run(move || first.wait().is_leader()),
            threads.run(move || second.wait().is_leader())
        );
        assert!(a.expect("runs") ^ b.expect("runs"), "one leader of two");
    }

    #[tokio::test]
    async fn a_full_queue_answers_unavailable_at_once() {
        let threads = RequestThreads::new(1, 1).expect("threads start");
        let (started, running) = oneshot::channel();
        let (release, held) = mpsc::channel::<()>();
        let busy = threads.run(move || {
            let _ = started.send(());
            let _ = held.recv();
        });
        tokio::pin!(busy);
        // Polled once, the job is queued; wait until the only thread runs it.
        let _ = tokio::time::timeout(std::time::Duration::ZERO, &mut busy).await;
        running.await.expect("the job starts");
        let waiting = threads.run(|| 1);
        tokio::pin!(waiting);
        let _ = tokio::time::timeout(std::time::Duration::ZERO, &mut waiting).await;
        let refused = threads.run(|| 2).await;
        assert!(matches!(refused, Err(Error::Unavailable(_))), "{refused:?}");
        release.send(()).expect("the job waits");
        busy.await.expect("runs");
        assert_eq!(waiting.await.expect("runs after the first"), 1);
    }
}
