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
    }
}
