//! Forwarding downstream by remote write 1.0 through sharded, bounded queues.
//!
//! An encoded series always goes to the same shard, a request body forwarded whole to the shards
//! in turn, and each shard sends one request at a time. A remote-write request is answered only
//! once every shard holding part of it has been acknowledged downstream: nothing is acknowledged
//! that was not delivered, and a sender that waits for the answer before sending a series' next
//! samples (as Prometheus does) gets them delivered in order.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, header};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot};

use crate::Error;
use crate::body::CompressedBody;
use crate::config::DownstreamConfig;
use crate::metrics::Metrics;

/// Why a chunk could not be delivered.
#[derive(Clone, Debug)]
pub enum ForwardError {
    /// The downstream answered 4xx (other than 429): retrying cannot help.
    Rejected(String),
    /// Retries ran out, or the adapter is shutting down.
    Unavailable(String),
}

/// Part of one remote-write request destined for one shard.
pub struct Part {
    /// Shard index.
    pub shard: usize,
    /// `WriteRequest` field records (see [`crate::output`]), compressed.
    pub body: CompressedBody,
    /// Samples in `body` (for the queue budget and metrics).
    pub samples: usize,
    /// Original (input) samples among them.
    pub originals: usize,
}

struct Chunk {
    part: Part,
    done: oneshot::Sender<Result<(), ForwardError>>,
    _permit: OwnedSemaphorePermit,
}

struct Shard {
    queue: mpsc::UnboundedSender<Chunk>,
    budget: Arc<Semaphore>,
}

/// The sharded forwarder.
pub struct Forwarder {
    shards: Vec<Shard>,
    /// The shard [`Forwarder::next_shard`] gives next.
    next: std::sync::atomic::AtomicUsize,
    capacity: usize,
    metrics: Metrics,
}

impl Forwarder {
    /// Starts one sender task per shard on the current Tokio runtime.
    pub fn start(config: &DownstreamConfig, metrics: Metrics) -> Result<Self, Error> {
        let client = Arc::new(Downstream::new(config)?);
        let shards = (0..config.shards)
            .map(|_| {
                let (queue, rx) = mpsc::unbounded_channel();
                tokio::spawn(run_shard(
                    rx,
                    client.clone(),
                    config.max_samples_per_send,
                    metrics.clone(),
                ));
                Shard {
                    queue,
                    budget: Arc::new(Semaphore::new(config.queue_samples)),
                }
            })
            .collect();
        Ok(Self {
            shards,
            next: Default::default(),
            capacity: config.queue_samples,
            metrics,
        })
    }

    /// Number of shards.
    pub fn shard_count(&self) -> usize {
        self.shards.len()
    }

    /// The shard of a series.
    pub fn shard_of(&self, series_hash: u64) -> usize {
        (series_hash % self.shards.len() as u64) as usize
    }

    /// A shard for a part that holds whole requests rather than whole series: the shards in turn.
    pub fn next_shard(&self) -> usize {
        self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % self.shards.len()
    }

    /// Queues the parts and waits until all are delivered. Answers `Unavailable` at once when a
    /// queue is full, so the sender backs off and retries from its WAL.
    pub async fn send(&self, parts: Vec<Part>) -> Result<(), Error> {
        let mut queued = Vec::with_capacity(parts.len());
        let mut permits = Vec::with_capacity(parts.len());
        for part in &parts {
            let shard = &self.shards[part.shard];
            let want = part.samples.clamp(1, self.capacity) as u32;
            match shard.budget.clone().try_acquire_many_owned(want) {
                Ok(permit) => permits.push(permit),
                Err(_) => {
                    return Err(Error::Unavailable(format!(
                        "forward queue {} is full ({} samples): downstream is slower than the input",
                        part.shard, self.capacity
                    )));
                }
            }
        }
        for (part, permit) in parts.into_iter().zip(permits) {
            let (done, wait) = oneshot::channel();
            let samples = part.samples as i64;
            let shard = part.shard;
            self.metrics.queue_samples.add(samples);
            if self.shards[shard]
                .queue
                .send(Chunk {
                    part,
                    done,
                    _permit: permit,
                })
                .is_err()
            {
                self.metrics.queue_samples.sub(samples);
                return Err(Error::Unavailable("the adapter is shutting down".into()));
            }
            queued.push(wait);
        }
        let mut outcome = Ok(());
        for wait in queued {
            let result = wait
                .await
                .unwrap_or_else(|_| Err(ForwardError::Unavailable("forwarder stopped".into())));
            match (result, &outcome) {
                (Ok(()), _) => {}
                (Err(ForwardError::Unavailable(why)), _) => outcome = Err(Error::Unavailable(why)),
                (Err(ForwardError::Rejected(why)), Ok(())) => {
                    outcome = Err(Error::DownstreamRejected(why))
                }
                (Err(ForwardError::Rejected(_)), Err(_)) => {}
            }
        }
        outcome
    }
}

async fn run_shard(
    mut rx: mpsc::UnboundedReceiver<Chunk>,
    client: Arc<Downstream>,
    max_samples: usize,
    metrics: Metrics,
) {
    let mut batch = Vec::new();
    while let Some(first) = rx.recv().await {
        let mut samples = first.part.samples;
        batch.push(first);
        while samples < max_samples {
            match rx.try_recv() {
                Ok(chunk) => {
                    samples += chunk.part.samples;
                    batch.push(chunk);
                }
                Err(_) => break,
            }
        }
        // A lone chunk is sent as it is; several are joined (their records concatenate).
        let body = if let [chunk] = batch.as_mut_slice() {
            std::mem::take(&mut chunk.part.body).into_bytes()
        } else {
            CompressedBody::join(batch.iter().map(|c| &c.part.body))
        };
        let started = Instant::now();
        let result = client.send(body).await;
        metrics
            .forward_duration
            .observe(started.elapsed().as_secs_f64());
        metrics.queue_samples.sub(samples as i64);
        let outcome = match &result {
            Ok(()) => {
                let originals: usize = batch.iter().map(|c| c.part.originals).sum();
                metrics
                    .samples_forwarded
                    .with_label_values(&["original"])
                    .inc_by(originals as u64);
                metrics
                    .samples_forwarded
                    .with_label_values(&["output"])
                    .inc_by((samples - originals) as u64);
                "success"
            }
            Err(ForwardError::Rejected(_)) => "rejected",
            Err(ForwardError::Unavailable(_)) => "failed",
        };
        metrics.forward_requests.with_label_values(&[outcome]).inc();
        if let Err(error) = &result {
            let (kind, why) = match error {
                ForwardError::Rejected(why) => ("downstream_rejected", why),
                ForwardError::Unavailable(why) => ("downstream_unavailable", why),
            };
            metrics
                .errors
                .with_label_values(&[kind, crate::metrics::stage::FORWARD])
                .inc();
            tracing::warn!(message = "Downstream did not accept a batch.", error = %why, samples);
        }
        for chunk in batch.drain(..) {
            let _ = chunk.done.send(result.clone());
        }
    }
}

/// The HTTP client for the downstream remote-write endpoint, with retries.
struct Downstream {
    client: reqwest::Client,
    url: reqwest::Url,
    headers: HeaderMap,
    min_backoff: Duration,
    max_backoff: Duration,
    retry_for: Duration,
}

impl Downstream {
    fn new(config: &DownstreamConfig) -> Result<Self, Error> {
        let url = reqwest::Url::parse(&config.url)
            .map_err(|e| Error::Config(format!("downstream.url: {e}")))?;
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-protobuf"),
        );
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("snappy"));
        headers.insert(
            HeaderName::from_static("x-prometheus-remote-write-version"),
            HeaderValue::from_static("0.1.0"),
        );
        headers.insert(
            header::USER_AGENT,
            HeaderValue::from_static(concat!("omen-adapter/", env!("CARGO_PKG_VERSION"))),
        );
        for (name, value) in &config.headers {
            let name = HeaderName::try_from(name.as_str())
                .map_err(|e| Error::Config(format!("downstream.headers: {e}")))?;
            let value = HeaderValue::try_from(value.as_str())
                .map_err(|e| Error::Config(format!("downstream.headers: {e}")))?;
            headers.insert(name, value);
        }
        if let Some(token) = &config.bearer_token {
            let mut value = HeaderValue::try_from(format!("Bearer {token}"))
                .map_err(|e| Error::Config(format!("downstream.bearer_token: {e}")))?;
            value.set_sensitive(true);
            headers.insert(header::AUTHORIZATION, value);
        }
        if let Some(auth) = &config.basic_auth {
            use base64::Engine as _;
            let encoded = base64::engine::general_purpose::STANDARD
                .encode(format!("{}:{}", auth.username, auth.password));
            let mut value = HeaderValue::try_from(format!("Basic {encoded}"))
                .map_err(|e| Error::Config(format!("downstream.basic_auth: {e}")))?;
            value.set_sensitive(true);
            headers.insert(header::AUTHORIZATION, value);
        }
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .pool_max_idle_per_host(config.shards)
            .build()
            .map_err(|e| Error::Config(format!("downstream client: {e}")))?;
        Ok(Self {
            client,
            url,
            headers,
            min_backoff: config.min_backoff,
            max_backoff: config.max_backoff,
            retry_for: config.retry_for,
        })
    }

    /// Sends a snappy-compressed body, retrying what can be retried.
    async fn send(&self, body: Bytes) -> Result<(), ForwardError> {
        let started = Instant::now();
        let mut backoff = self.min_backoff;
        loop {
            let attempt = self
                .client
                .post(self.url.clone())
                .headers(self.headers.clone())
                .body(body.clone())
                .send()
                .await;
            let retry_reason = match attempt {
                Ok(response) if response.status().is_success() => return Ok(()),
                Ok(response) => {
                    let status = response.status();
                    let text = response.text().await.unwrap_or_default();
                    let text = text.trim().chars().take(512).collect::<String>();
                    if status.is_client_error() && status != http::StatusCode::TOO_MANY_REQUESTS {
                        return Err(ForwardError::Rejected(format!("{status}: {text}")));
                    }
                    format!("{status}: {text}")
                }
                Err(error) => format!("{error}"),
            };
            if started.elapsed() + backoff > self.retry_for {
                return Err(ForwardError::Unavailable(format!(
                    "downstream unavailable after retrying for {:?}: {retry_reason}",
                    started.elapsed()
                )));
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(self.max_backoff);
        }
    }
}
