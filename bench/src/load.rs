//! Sending a pre-generated workload and measuring throughput and latency.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::Workload;

/// What a load run measured.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Report {
    /// Requests answered 2xx.
    pub ok_requests: u64,
    /// Requests answered otherwise (or failed to send).
    pub failed_requests: u64,
    /// Samples in 2xx-answered requests.
    pub samples: u64,
    /// Wall-clock seconds from the first send to the last answer.
    pub seconds: f64,
    /// Accepted samples per second.
    pub samples_per_second: f64,
    /// Median request latency, ms.
    pub p50_ms: f64,
    /// 99th percentile request latency, ms.
    pub p99_ms: f64,
    /// Largest request latency, ms.
    pub max_ms: f64,
    /// First error seen, if any.
    pub first_error: Option<String>,
}

/// Sends every worker's bodies in order to `url`. With `rate` (samples/s in total), each worker
/// paces its requests (open loop: latency is measured from the planned send time; workers are
/// offset from each other so arrivals are even); without, each
/// sends as fast as answers come back.
pub async fn run_load(
    url: &str,
    workload: &Workload,
    rate: Option<f64>,
    max_duration: Duration,
) -> Report {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(workload.bodies.len())
        .build()
        .unwrap_or_default();
    let started = Instant::now();
    let workers = workload.bodies.len().max(1) as f64;
    let mut tasks = Vec::new();
    for (worker, bodies) in workload.bodies.iter().enumerate() {
        let bodies = Arc::new(bodies.clone());
        let client = client.clone();
        let url = url.to_owned();
        let content_type = workload.content_type;
        let remote_write = workload.remote_write;
        tasks.push(tokio::spawn(async move {
            let mut histogram = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)
                .unwrap_or_else(|_| Histogram::new(3).unwrap_or_else(|_| unreachable!()));
            let (mut ok, mut failed, mut samples, mut first_error) = (0u64, 0u64, 0u64, None);
            // Workers start spread over one interval, so paced requests arrive evenly rather
            // than in bursts of one request per worker.
            let mut planned = Instant::now();
            if let (Some(rate), Some((_, count))) = (rate, bodies.first()) {
                let interval = *count as f64 / (rate / workers);
                planned += Duration::from_secs_f64(interval * worker as f64 / workers);
            }
            for (body, count) in bodies.iter() {
                if started.elapsed() > max_duration {
                    break;
                }
                let send_at = match rate {
                    Some(rate) => {
                        let interval = Duration::from_secs_f64(*count as f64 / (rate / workers));
                        tokio::time::sleep_until(planned.into()).await;
                        let at = planned;
                        planned += interval;
                        at
                    }
                    None => Instant::now(),
                };
                let mut request = client.post(&url).header("Content-Type", content_type);
                if remote_write {
                    request = request
                        .header("Content-Encoding", "snappy")
                        .header("X-Prometheus-Remote-Write-Version", "0.1.0");
                }
                let result = request.body(body.clone()).send().await;
                let micros = send_at.elapsed().as_micros() as u64;
                let _ = histogram.record(micros.max(1));
                match result {
                    Ok(response) if response.status().is_success() => {
                        ok += 1;
                        samples += *count as u64;
                    }
                    Ok(response) => {
                        failed += 1;
                        if first_error.is_none() {
                            let status = response.status();
                            first_error = Some(format!(
                                "{status}: {}",
                                response.text().await.unwrap_or_default().trim()
                            ));
                        }
                    }
                    Err(error) => {
                        failed += 1;
                        first_error.get_or_insert_with(|| error.to_string());
                    }
                }
            }
            (histogram, ok, failed, samples, first_error)
        }));
    }
    let mut histogram = Histogram::<u64>::new(3).unwrap_or_else(|_| unreachable!());
    let (mut ok, mut failed, mut samples, mut first_error) = (0, 0, 0, None);
    for task in tasks {
        if let Ok((h, o, f, s, e)) = task.await {
            let _ = histogram.add(&h);
            ok += o;
            failed += f;
            samples += s;
            if first_error.is_none() {
                first_error = e;
            }
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let ms = |q: f64| histogram.value_at_quantile(q) as f64 / 1000.0;
    Report {
        ok_requests: ok,
        failed_requests: failed,
        samples,
        seconds,
        samples_per_second: samples as f64 / seconds,
        p50_ms: ms(0.5),
        p99_ms: ms(0.99),
        max_ms: histogram.max() as f64 / 1000.0,
        first_error,
    }
}
