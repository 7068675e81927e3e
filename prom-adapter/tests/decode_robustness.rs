//! Bounded, deterministic robustness checks of the decoders (the fuzz target in fuzz/ explores
//! further): mutated valid requests and random bytes never panic and always yield a 4xx error
//! or a valid decode.

use bytes::Bytes;
use omen_prom_adapter::decode::decompress;
use omen_prom_adapter::labels::{LabelLimits, normalise};
use omen_prom_adapter::proto::v1::{Label, Sample, TimeSeries, WriteRequest};
use omen_prom_adapter::{view, view_v2};
use prost::Message;

const LIMITS: LabelLimits = LabelLimits {
    max_labels: 64,
    max_name_bytes: 1024,
    max_value_bytes: 8192,
};

/// xorshift64*: a tiny deterministic generator so the test needs no extra crate.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

fn valid_request() -> Vec<u8> {
    let series = (0..5)
        .map(|i| TimeSeries {
            labels: vec![
                Label {
                    name: Bytes::from_static(b"__name__"),
                    value: Bytes::from(format!("m{i}")),
                },
                Label {
                    name: Bytes::from_static(b"job"),
                    value: Bytes::from_static(b"x"),
                },
            ],
            samples: vec![Sample {
                value: i as f64,
                timestamp: i,
            }],
            ..Default::default()
        })
        .collect();
    WriteRequest {
        timeseries: series,
        metadata: vec![],
    }
    .encode_to_vec()
}

fn exercise(raw: Bytes) -> usize {
    let mut decoded = 0;
    if let Ok(request) = view::decode_v1(&raw) {
        decoded += 1;
        for mut series in request.series {
            if let Ok(relabelled) = normalise(&mut series.labels, &LIMITS) {
                let mut record = Vec::new();
                series.write_record(&mut record, relabelled);
            }
        }
    }
    if let Ok(series) = view_v2::decode_v2(&raw) {
        decoded += 1;
        for (mut series, _) in series {
            if let Ok(relabelled) = normalise(&mut series.labels, &LIMITS) {
                let mut record = Vec::new();
                series.write_record(&mut record, relabelled);
            }
        }
    }
    decoded
}

#[test]
fn mutated_requests_never_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let valid = valid_request();
    let mut decoded = 0;
    for _ in 0..20_000 {
        let mut bytes = valid.clone();
        for _ in 0..(rng.next() % 4 + 1) {
            let at = (rng.next() as usize) % bytes.len();
            match rng.next() % 3 {
                0 => bytes[at] = rng.next() as u8,
                1 => bytes.truncate(at.max(1)),
                _ => bytes.insert(at, rng.next() as u8),
            }
        }
        decoded += exercise(Bytes::from(bytes.clone()));
        let compressed = snap::raw::Encoder::new()
            .compress_vec(&bytes)
            .expect("compress");
        let mut corrupted = compressed.clone();
        let at = (rng.next() as usize) % corrupted.len();
        corrupted[at] ^= 1 << (rng.next() % 8);
        for body in [compressed, corrupted] {
            match decompress(&body, 1 << 20) {
                Ok(raw) => decoded += exercise(raw),
                Err(error) => assert!(error.status().is_client_error(), "{error}"),
            }
        }
    }
    assert!(decoded > 1000, "some mutations still decode ({decoded})");
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng(42);
    for _ in 0..20_000 {
        let len = (rng.next() % 256) as usize;
        let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        exercise(Bytes::from(bytes.clone()));
        if let Err(error) = decompress(&bytes, 1 << 20) {
            assert!(error.status().is_client_error(), "{error}");
        }
    }
}
