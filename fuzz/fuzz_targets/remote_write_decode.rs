//! Fuzzes everything the adapter does with untrusted bytes before scoring: snappy, 1.0 and 2.0
//! protobuf decoding, symbol resolution and label validation. Any panic is a bug.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use omen_prom_adapter::decode::{decode_v1, decode_v2, decompress};
use omen_prom_adapter::labels::{LabelLimits, normalise, series_hash};

const LIMITS: LabelLimits = LabelLimits { max_labels: 64, max_name_bytes: 1024, max_value_bytes: 8192 };

fuzz_target!(|data: &[u8]| {
    // Raw protobuf (as if already decompressed) and snappy-framed input both get exercised.
    let mut inputs = vec![Bytes::copy_from_slice(data)];
    if let Ok(raw) = decompress(data, 1 << 20) {
        inputs.push(raw);
    }
    for raw in inputs {
        if let Ok(request) = decode_v1(raw.clone()) {
            for mut series in request.timeseries {
                if normalise(&mut series.labels, &LIMITS).is_ok() {
                    let _ = series_hash(&series.labels);
                }
            }
        }
        if let Ok(resolved) = decode_v2(raw) {
            for mut series in resolved {
                let _ = normalise(&mut series.series.labels, &LIMITS);
            }
        }
    }
});
