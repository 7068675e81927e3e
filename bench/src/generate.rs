//! Pre-generated remote-write request bodies.

use bytes::Bytes;
use omen_prom_adapter::proto::v1::{Label, Sample, TimeSeries, WriteRequest};
use omen_prom_adapter::proto::v2;
use prost::Message;

/// Remote-write protocol version of generated requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Protocol {
    /// Remote write 1.0.
    V1,
    /// Remote write 2.0.
    V2,
}

/// What to generate.
#[derive(Clone, Debug, serde::Serialize)]
pub struct LoadSpec {
    /// Active series.
    pub series: usize,
    /// Labels per series besides `__name__`.
    pub labels_per_series: usize,
    /// Distinct metric names the series are spread over.
    pub metric_names: usize,
    /// Samples per request (one sample per series per request, as in steady-state Prometheus).
    pub batch: usize,
    /// Rounds: every series gets one sample per round, 15 s apart.
    pub rounds: usize,
    /// Workers (concurrent ordered senders); series are split between them.
    pub workers: usize,
    /// Fraction of series replaced by new ones every round (0 = no churn).
    pub churn: f64,
    /// Protocol of the bodies.
    pub protocol: Protocol,
}

/// Bodies per worker, each already snappy-compressed, in sending order.
pub struct Workload {
    /// `bodies[worker]` is that worker's ordered list of (body, samples in it).
    pub bodies: Vec<Vec<(Bytes, usize)>>,
    /// Total samples across all bodies.
    pub samples: usize,
    /// Content type to send.
    pub content_type: &'static str,
    /// Whether the bodies are snappy-compressed remote-write requests (adds
    /// `Content-Encoding: snappy` and the protocol version header).
    pub remote_write: bool,
}

/// Generates the workload (deterministic for a given spec).
pub fn generate(spec: &LoadSpec) -> Workload {
    let workers = spec.workers.max(1);
    let per_worker = spec.series.div_ceil(workers);
    let start_ms: i64 = 1_700_000_000_000;
    let mut bodies = vec![Vec::new(); workers];
    let mut samples = 0;
    for (worker, out) in bodies.iter_mut().enumerate() {
        let first = worker * per_worker;
        let last = ((worker + 1) * per_worker).min(spec.series);
        for round in 0..spec.rounds {
            // Churn: a growing offset renames a fraction of the series each round.
            let churned = ((last - first) as f64 * spec.churn * round as f64) as usize;
            let ids: Vec<usize> = (first..last)
                .map(|i| {
                    if i - first < churned % (last - first).max(1) {
                        i + spec.series * (round + 1)
                    } else {
                        i
                    }
                })
                .collect();
            for chunk in ids.chunks(spec.batch.max(1)) {
                let series: Vec<TimeSeries> = chunk
                    .iter()
                    .map(|&id| TimeSeries {
                        labels: labels_of(spec, id),
                        samples: vec![Sample {
                            value: value_of(id, round),
                            timestamp: start_ms + round as i64 * 15_000,
                        }],
                        ..Default::default()
                    })
                    .collect();
                samples += series.len();
                let raw = match spec.protocol {
                    Protocol::V1 => WriteRequest {
                        timeseries: series.clone(),
                        metadata: vec![],
                    }
                    .encode_to_vec(),
                    Protocol::V2 => to_v2(&series).encode_to_vec(),
                };
                let body = snap::raw::Encoder::new()
                    .compress_vec(&raw)
                    .unwrap_or_default();
                out.push((Bytes::from(body), chunk.len()));
            }
        }
    }
    let content_type = match spec.protocol {
        Protocol::V1 => "application/x-protobuf",
        Protocol::V2 => "application/x-protobuf;proto=io.prometheus.write.v2.Request",
    };
    Workload {
        bodies,
        samples,
        content_type,
        remote_write: true,
    }
}

fn labels_of(spec: &LoadSpec, id: usize) -> Vec<Label> {
    let text = |s: String| Bytes::from(s.into_bytes());
    let mut labels = vec![Label {
        name: Bytes::from_static(b"__name__"),
        value: text(format!(
            "avalanche_metric_{}",
            id % spec.metric_names.max(1)
        )),
    }];
    for l in 0..spec.labels_per_series {
        let value = if l == 0 {
            format!("series-{id}")
        } else {
            format!("label-value-{}", (id + l) % 97)
        };
        labels.push(Label {
            name: text(format!("label_key_{l}")),
            value: text(value),
        });
    }
    labels.sort_by(|a, b| a.name.cmp(&b.name));
    labels
}

/// A noisy daily-ish wave per series, with an occasional spike.
fn value_of(id: usize, round: usize) -> f64 {
    let phase = (id % 360) as f64;
    let noise = (((id * 7919 + round * 104_729) % 1000) as f64) / 1000.0;
    let spike = if (id + round).is_multiple_of(997) {
        50.0
    } else {
        0.0
    };
    100.0 + 20.0 * ((round as f64 + phase) / 24.0).sin() + 5.0 * noise + spike
}

fn to_v2(series: &[TimeSeries]) -> v2::Request {
    let mut symbols: Vec<Bytes> = vec![Bytes::new()];
    let mut index = std::collections::HashMap::new();
    let mut intern = |s: &Bytes, symbols: &mut Vec<Bytes>| -> u32 {
        *index.entry(s.clone()).or_insert_with(|| {
            symbols.push(s.clone());
            (symbols.len() - 1) as u32
        })
    };
    let timeseries = series
        .iter()
        .map(|s| v2::TimeSeries {
            labels_refs: s
                .labels
                .iter()
                .flat_map(|l| {
                    [
                        intern(&l.name, &mut symbols),
                        intern(&l.value, &mut symbols),
                    ]
                })
                .collect(),
            samples: s.samples.clone(),
            ..Default::default()
        })
        .collect();
    v2::Request {
        symbols,
        timeseries,
    }
}
