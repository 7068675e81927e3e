//! Fuzzes everything the adapter does with untrusted bytes before scoring: snappy, 1.0 and 2.0
//! protobuf decoding, symbol resolution and label validation. Any panic is a bug, and so is any
//! difference between the in-place 1.0 and 2.0 decoders the adapter uses and prost's generated
//! ones.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use omen_prom_adapter::decode::{decode_v1, decode_v2, decompress};
use omen_prom_adapter::labels::{LabelLimits, LabelRef, hash_encoded_labels, normalise, series_hash};
use omen_prom_adapter::{view, view_v2};

const LIMITS: LabelLimits = LabelLimits { max_labels: 64, max_name_bytes: 1024, max_value_bytes: 8192 };

fuzz_target!(|data: &[u8]| {
    // Raw protobuf (as if already decompressed) and snappy-framed input both get exercised.
    let mut inputs = vec![Bytes::copy_from_slice(data)];
    if let Ok(raw) = decompress(data, 1 << 20) {
        inputs.push(raw);
    }
    for raw in inputs {
        let generated = decode_v1(raw.clone());
        let in_place = view::decode_v1(&raw);
        assert_eq!(generated.is_ok(), in_place.is_ok(), "decoders disagree on validity");
        if let (Ok(generated), Ok(in_place)) = (generated, in_place) {
            assert_eq!(generated.timeseries.len(), in_place.series.len());
            assert_eq!(generated.metadata, in_place.metadata);
            for (owned, mut seen) in generated.timeseries.into_iter().zip(in_place.series) {
                let labels: Vec<LabelRef<'_>> = owned.labels.iter().map(LabelRef::from).collect();
                assert_eq!(labels, seen.labels);
                assert_eq!(owned.samples, seen.samples);
                assert_eq!(owned.exemplars, seen.exemplars);
                assert_eq!(owned.histograms, seen.histograms);
                if let Some(encoded) = seen.raw_labels {
                    // Label bytes hashed in place must give the hash of the decoded labels.
                    assert_eq!(hash_encoded_labels(encoded), series_hash(&seen.labels));
                }
                if let Ok(relabelled) = normalise(&mut seen.labels, &LIMITS) {
                    let _ = series_hash(&seen.labels);
                    let mut record = Vec::new();
                    seen.write_record(&mut record, relabelled);
                }
            }
        }
        let generated = decode_v2(raw.clone());
        let in_place = view_v2::decode_v2(&raw);
        assert_eq!(generated.is_ok(), in_place.is_ok(), "2.0 decoders disagree on validity");
        if let (Ok(generated), Ok(in_place)) = (generated, in_place) {
            assert_eq!(generated.len(), in_place.len());
            for (owned, (mut seen, metric_type)) in generated.into_iter().zip(in_place) {
                let labels: Vec<LabelRef<'_>> = owned.series.labels.iter().map(LabelRef::from).collect();
                assert_eq!(labels, seen.labels);
                assert_eq!(owned.series.samples, seen.samples);
                assert_eq!(owned.series.exemplars, seen.exemplars);
                assert_eq!(owned.series.histograms, seen.histograms);
                assert_eq!(owned.metric_type, metric_type);
                if let Ok(relabelled) = normalise(&mut seen.labels, &LIMITS) {
                    let mut record = Vec::new();
                    seen.write_record(&mut record, relabelled);
                }
            }
        }
    }
});
