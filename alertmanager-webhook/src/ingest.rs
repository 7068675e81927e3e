//! Group commit: notifications from concurrent requests are written in one transaction, so one
//! disk sync acknowledges many of them.

use tokio::sync::{mpsc, oneshot};

use crate::metrics::Metrics;
use crate::store::{Ingest, Ingested, Store};

/// Most notifications in one transaction.
const MAX_BATCH: usize = 256;
/// Notifications waiting for the writer before requests get 503.
const QUEUE: usize = 4096;

type Reply = oneshot::Sender<Result<Ingested, String>>;

/// Hands notifications to the writer task.
#[derive(Clone)]
pub struct Writer {
    sender: mpsc::Sender<(Ingest, Reply)>,
}

/// Why a notification was not stored.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// Too many notifications are waiting.
    #[error("the store is busy; retry")]
    Busy,
    /// The transaction failed.
    #[error("the store failed: {0}")]
    Store(String),
}

impl Writer {
    /// Starts the writer task.
    pub fn start(store: Store, metrics: Metrics) -> Self {
        let (sender, receiver) = mpsc::channel(QUEUE);
        tokio::spawn(write_loop(store, metrics, receiver));
        Self { sender }
    }

    /// Stores a notification; returns once it is committed.
    pub async fn write(&self, ingest: Ingest) -> Result<Ingested, WriteError> {
        let (reply, answer) = oneshot::channel();
        self.sender
            .try_send((ingest, reply))
            .map_err(|_| WriteError::Busy)?;
        answer
            .await
            .map_err(|_| WriteError::Store("the writer stopped".into()))?
            .map_err(WriteError::Store)
    }
}

async fn write_loop(store: Store, metrics: Metrics, mut receiver: mpsc::Receiver<(Ingest, Reply)>) {
    let backend = match store.backend() {
        crate::store::Backend::Sqlite => "sqlite",
        crate::store::Backend::Postgres => "postgres",
    };
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut replies = Vec::with_capacity(MAX_BATCH);
    while let Some((ingest, reply)) = receiver.recv().await {
        batch.push(ingest);
        replies.push(reply);
        while batch.len() < MAX_BATCH {
            match receiver.try_recv() {
                Ok((ingest, reply)) => {
                    batch.push(ingest);
                    replies.push(reply);
                }
                Err(_) => break,
            }
        }
        let started = std::time::Instant::now();
        let result = store.ingest(&batch).await;
        metrics
            .commit_duration
            .with_label_values(&[backend])
            .observe(started.elapsed().as_secs_f64());
        match result {
            Ok(results) => {
                for (reply, result) in replies.drain(..).zip(results) {
                    let _ = reply.send(Ok(result));
                }
            }
            Err(error) => {
                metrics
                    .errors
                    .with_label_values(&["write", crate::metrics::stage::STORE])
                    .inc();
                tracing::warn!(message = "Could not store notifications; Alertmanager will retry.", %error);
                let message = error.to_string();
                for reply in replies.drain(..) {
                    let _ = reply.send(Err(message.clone()));
                }
            }
        }
        batch.clear();
        if store.log_restart_due() {
            restart_log(&store, &metrics).await;
        }
    }
}

/// Restarts the SQLite log between two commits, when the checkpoint loop asked for it.
async fn restart_log(store: &Store, metrics: &Metrics) {
    let started = std::time::Instant::now();
    let outcome = match store.restart_log().await {
        Ok(true) => {
            tracing::debug!(
                message = "Restarted the SQLite log.",
                ms = started.elapsed().as_secs_f64() * 1e3
            );
            "restarted"
        }
        Ok(false) => {
            tracing::debug!(message = "SQLite log still read; restart postponed.");
            "postponed"
        }
        Err(error) => {
            tracing::warn!(message = "Could not restart the SQLite log; will retry.", %error);
            "failed"
        }
    };
    metrics.log_restarts.with_label_values(&[outcome]).inc();
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::config::StoreConfig;
    use crate::payload;

    /// A notification of ten alerts with fingerprints of its own, as in an alert storm.
    fn notification(n: usize) -> Vec<u8> {
        let alerts: Vec<_> = (0..10)
            .map(|i| {
                serde_json::json!({
                    "status": "firing",
                    "labels": {"alertname": "Storm", "instance": format!("host-{n}-{i}")},
                    "annotations": {},
                    "startsAt": "2026-12-01T00:00:00Z",
                    "endsAt": "0001-01-01T00:00:00Z",
                    "generatorURL": "",
                    "fingerprint": format!("{:016x}", (n * 10 + i).wrapping_mul(0x9e37_79b9_7f4a_7c15)),
                })
            })
            .collect();
        serde_json::json!({
            "version": "4", "groupKey": "{}:{}", "truncatedAlerts": 0, "status": "firing",
            "receiver": "omen", "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {},
            "externalURL": "", "alerts": alerts,
        })
        .to_string()
        .into_bytes()
    }

    /// Writes notifications from four senders at once, as fast as the writer stores them, with
    /// the checkpoint loop running; returns the size of the log file at the end of the stream
    /// and how many times the writer restarted it.
    async fn log_size_after_storm(restart_frames: i64) -> (u64, u64) {
        let dir = tempfile::tempdir().expect("temporary directory");
        let path = dir.path().join("webhook.db");
        let config = StoreConfig {
            url: format!("sqlite://{}", path.display()),
            max_connections: 4,
        };
        let store = Store::connect(&config, "test").await.expect("store opens");
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let checkpoints = tokio::spawn(store.clone().checkpoint_loop(
            Duration::from_millis(10),
            restart_frames,
            stop_rx,
        ));
        let metrics = Metrics::new().expect("metrics");
        let writer = Writer::start(store, metrics.clone());
        let senders: Vec<_> = (0..4)
            .map(|sender| {
                let writer = writer.clone();
                tokio::spawn(async move {
                    for n in (sender..800).step_by(4) {
                        let checked = payload::parse(&notification(n), 100).expect("valid");
                        let ingest = Ingest {
                            checked,
                            jobs: vec![Vec::new(); 10],
                            received_at: n as i64,
                        };
                        writer.write(ingest).await.expect("stored");
                    }
                })
            })
            .collect();
        for sender in senders {
            sender.await.expect("sender ends");
        }
        let log = std::fs::metadata(dir.path().join("webhook.db-wal"))
            .expect("log exists")
            .len();
        let _ = stop_tx.send(true);
        checkpoints.await.expect("checkpoint loop ends");
        let restarts = metrics.log_restarts.with_label_values(&["restarted"]).get();
        (log, restarts)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_steady_stream_of_commits_does_not_grow_the_log_without_bound() {
        // Each commit writes its pages to the log again, so 8,000 alerts write far more log
        // than the 1 MB database they make: without restarts the log ended at 3.9 to 12.3 MB
        // in five runs (it shrinks only when a background pass happens to catch up with the
        // writer). With restarts after 64 frames (256 KiB) it ended at 0.53 to 0.67 MB.
        let (log, restarts) = log_size_after_storm(64).await;
        assert!(log < 2 << 20, "log of {log} bytes at the end of the stream");
        assert!(restarts > 0, "the writer restarted the log");
    }
}
