//! Writing series into outgoing remote-write 1.0 bodies: originals as received, and one output
//! series per scored series and output kind.
//!
//! A body is a concatenation of `WriteRequest` field records, so per-request chunks can be joined
//! into one downstream request without re-encoding.

use omen_scoring::{STALE_NAN_BITS, Scored};
use prost::encoding::{WireType, encoded_len_varint};
use serde::Deserialize;

use crate::labels::{LabelPair, METRIC_NAME};
use crate::proto::v1::MetricMetadata;

/// Label on output series holding the metric name of the scored series.
pub const SOURCE_METRIC_LABEL: &[u8] = b"omen_metric";

/// One kind of output series.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutputKind {
    /// `omen_anomaly_score`: 0 and up, 1.0 = alert threshold.
    Score,
    /// `omen_anomaly_expected`: the value the model expected.
    Expected,
    /// `omen_anomaly_lower`: lower edge of the normal band.
    Lower,
    /// `omen_anomaly_upper`: upper edge of the normal band.
    Upper,
}

impl OutputKind {
    /// The metric name of this output.
    pub fn metric_name(self) -> &'static str {
        match self {
            Self::Score => "omen_anomaly_score",
            Self::Expected => "omen_anomaly_expected",
            Self::Lower => "omen_anomaly_lower",
            Self::Upper => "omen_anomaly_upper",
        }
    }

    /// This output's value of a scored sample.
    pub(crate) fn value(self, scored: &Scored) -> f64 {
        match self {
            Self::Score => scored.score,
            Self::Expected => scored.expected,
            Self::Lower => scored.lower,
            Self::Upper => scored.upper,
        }
    }
}

/// A point of an output series: a score, or a staleness marker when the input went stale.
#[derive(Clone, Copy, Debug)]
pub struct OutputPoint {
    /// Timestamp of the input sample, ms.
    pub timestamp: i64,
    /// The score, or `None` for a staleness marker.
    pub scored: Option<Scored>,
}

/// Appends `metadata` as a `WriteRequest.metadata` record.
pub fn write_metadata(buf: &mut Vec<u8>, metadata: &MetricMetadata) {
    prost::encoding::message::encode(3, metadata, buf);
}

/// Appends one output series per kind for a scored input series with sorted `labels`; returns the
/// number of samples written. The output keeps every input label, sets `__name__` to the output's
/// name and adds `omen_metric` (replacing an input label of that name).
pub fn write_outputs<L: LabelPair>(
    buf: &mut Vec<u8>,
    labels: &[L],
    kinds: &[OutputKind],
    points: &[OutputPoint],
) -> usize {
    OutputWriter::default().write(buf, labels, kinds, points)
}

/// Writes output series, keeping its scratch space from one series to the next.
#[derive(Debug, Default)]
pub struct OutputWriter {
    /// The label records every output of one series shares (all but `__name__`), in order.
    labels: Vec<u8>,
    /// Where `__name__` records go among them (one place in a normalised set).
    name_at: Vec<usize>,
    /// The sample records of one output, with each value's 8 bytes at `value_at` offsets.
    samples: Vec<u8>,
    value_at: Vec<usize>,
}

impl OutputWriter {
    /// As [`write_outputs`]: the label records are encoded once and shared by every output kind,
    /// and only the sample values differ from one kind to the next.
    pub fn write<L: LabelPair>(
        &mut self,
        buf: &mut Vec<u8>,
        labels: &[L],
        kinds: &[OutputKind],
        points: &[OutputPoint],
    ) -> usize {
        if points.is_empty() || kinds.is_empty() {
            return 0;
        }
        let source = crate::labels::metric_name(labels);
        self.labels.clear();
        self.name_at.clear();
        let mut inserted = false;
        for label in labels {
            let name = label.name();
            if name == SOURCE_METRIC_LABEL {
                continue;
            }
            if !inserted && name > SOURCE_METRIC_LABEL {
                write_label_record(&mut self.labels, SOURCE_METRIC_LABEL, source);
                inserted = true;
            }
            if name == METRIC_NAME {
                self.name_at.push(self.labels.len());
            } else {
                write_label_record(&mut self.labels, name, label.value());
            }
        }
        if !inserted {
            write_label_record(&mut self.labels, SOURCE_METRIC_LABEL, source);
        }
        self.samples.clear();
        self.value_at.clear();
        for point in points {
            let record = sample_record(point.timestamp, 0.0);
            self.value_at.push(self.samples.len() + 3);
            self.samples.extend_from_slice(&record.bytes[..record.len]);
        }
        for kind in kinds {
            for (point, &at) in points.iter().zip(&self.value_at) {
                let value = point
                    .scored
                    .map_or(f64::from_bits(STALE_NAN_BITS), |s| kind.value(&s));
                self.samples[at..at + 8].copy_from_slice(&value.to_le_bytes());
            }
            let name = kind.metric_name().as_bytes();
            let names_len = self.name_at.len() * label_record_len(METRIC_NAME, name);
            buf.push(key_byte(1, WireType::LengthDelimited));
            put_varint(
                buf,
                (self.labels.len() + names_len + self.samples.len()) as u64,
            );
            let mut from = 0;
            for &at in &self.name_at {
                buf.extend_from_slice(&self.labels[from..at]);
                write_label_record(buf, METRIC_NAME, name);
                from = at;
            }
            buf.extend_from_slice(&self.labels[from..]);
            buf.extend_from_slice(&self.samples);
        }
        kinds.len() * points.len()
    }
}

/// The key byte of a field with a tag below 16.
const fn key_byte(tag: u8, wire_type: WireType) -> u8 {
    (tag << 3) | wire_type as u8
}

/// Appends `value` as a protobuf varint.
pub(crate) fn put_varint(buf: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        buf.push(value as u8 | 0x80);
        value >>= 7;
    }
    buf.push(value as u8);
}

fn label_len(name: &[u8], value: &[u8]) -> usize {
    1 + encoded_len_varint(name.len() as u64)
        + name.len()
        + 1
        + encoded_len_varint(value.len() as u64)
        + value.len()
}

/// Size of a label written by [`write_label_record`].
pub(crate) fn label_record_len(name: &[u8], value: &[u8]) -> usize {
    let len = label_len(name, value);
    1 + encoded_len_varint(len as u64) + len
}

/// Appends a `TimeSeries.labels` record.
pub(crate) fn write_label_record(buf: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    buf.push(key_byte(1, WireType::LengthDelimited));
    put_varint(buf, label_len(name, value) as u64);
    for (tag, text) in [(1, name), (2, value)] {
        buf.push(key_byte(tag, WireType::LengthDelimited));
        put_varint(buf, text.len() as u64);
        buf.extend_from_slice(text);
    }
}

/// A `TimeSeries.samples` record: key, length, value (fixed 64), timestamp (varint).
pub(crate) struct SampleRecord {
    /// The record in its first `len` bytes.
    pub(crate) bytes: [u8; 22],
    pub(crate) len: usize,
}

/// The sample record of `value` at `timestamp`.
pub(crate) fn sample_record(timestamp: i64, value: f64) -> SampleRecord {
    let mut bytes = [0u8; 22];
    bytes[0] = key_byte(2, WireType::LengthDelimited);
    bytes[2] = key_byte(1, WireType::SixtyFourBit);
    bytes[3..11].copy_from_slice(&value.to_le_bytes());
    bytes[11] = key_byte(2, WireType::Varint);
    let mut len = 12;
    let mut t = timestamp as u64;
    while t >= 0x80 {
        bytes[len] = t as u8 | 0x80;
        t >>= 7;
        len += 1;
    }
    bytes[len] = t as u8;
    len += 1;
    bytes[1] = (len - 2) as u8;
    SampleRecord { bytes, len }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::v1::Label;
    use crate::proto::v1::WriteRequest;
    use bytes::Bytes;
    use prost::Message;

    fn l(n: &'static str, v: &'static str) -> Label {
        Label {
            name: Bytes::from_static(n.as_bytes()),
            value: Bytes::from_static(v.as_bytes()),
        }
    }

    /// The writer as it was before the shared label records (the reference for the new one).
    fn reference_write_outputs<L: LabelPair>(
        buf: &mut Vec<u8>,
        labels: &[L],
        kinds: &[OutputKind],
        points: &[OutputPoint],
    ) -> usize {
        use prost::encoding::{encode_key, encode_varint};
        fn record(buf: &mut Vec<u8>, name: &[u8], value: &[u8]) {
            encode_key(1, WireType::LengthDelimited, buf);
            encode_varint(label_len(name, value) as u64, buf);
            for (tag, text) in [(1, name), (2, value)] {
                encode_key(tag, WireType::LengthDelimited, buf);
                encode_varint(text.len() as u64, buf);
                buf.extend_from_slice(text);
            }
        }
        fn sample_len(timestamp: i64) -> usize {
            1 + 8 + 1 + encoded_len_varint(timestamp as u64)
        }
        if points.is_empty() {
            return 0;
        }
        let source = crate::labels::metric_name(labels);
        let mut pairs: Vec<(&[u8], &[u8])> = Vec::new();
        for kind in kinds {
            pairs.clear();
            let mut inserted = false;
            for label in labels {
                let name = label.name();
                if name == SOURCE_METRIC_LABEL {
                    continue;
                }
                if !inserted && name > SOURCE_METRIC_LABEL {
                    pairs.push((SOURCE_METRIC_LABEL, source));
                    inserted = true;
                }
                let value = if name == METRIC_NAME {
                    kind.metric_name().as_bytes()
                } else {
                    label.value()
                };
                pairs.push((name, value));
            }
            if !inserted {
                pairs.push((SOURCE_METRIC_LABEL, source));
            }
            let samples: Vec<(i64, f64)> = points
                .iter()
                .map(|p| {
                    let value = p
                        .scored
                        .map_or(f64::from_bits(STALE_NAN_BITS), |s| kind.value(&s));
                    (p.timestamp, value)
                })
                .collect();
            let labels_len: usize = pairs.iter().map(|(n, v)| label_record_len(n, v)).sum();
            let samples_len: usize = samples
                .iter()
                .map(|&(t, _)| 1 + encoded_len_varint(sample_len(t) as u64) + sample_len(t))
                .sum();
            encode_key(1, WireType::LengthDelimited, buf);
            encode_varint((labels_len + samples_len) as u64, buf);
            for (name, value) in &pairs {
                record(buf, name, value);
            }
            for (timestamp, value) in samples {
                encode_key(2, WireType::LengthDelimited, buf);
                encode_varint(sample_len(timestamp) as u64, buf);
                encode_key(1, WireType::SixtyFourBit, buf);
                buf.extend_from_slice(&value.to_le_bytes());
                encode_key(2, WireType::Varint, buf);
                encode_varint(timestamp as u64, buf);
            }
        }
        kinds.len() * points.len()
    }

    #[test]
    fn the_writer_writes_the_bytes_the_reference_writes() {
        let names = [
            "Zone",
            "__name__",
            "a",
            "job",
            "omen_metric",
            "omen_z",
            "pod",
            "zz",
            "__name__",
        ];
        let values = ["", "up", "http_requests_total", "x".repeat(200).leak(), "é"];
        let all_kinds = [
            OutputKind::Score,
            OutputKind::Expected,
            OutputKind::Lower,
            OutputKind::Upper,
        ];
        let mut state = 3u64;
        let mut next = move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            (state >> 33) as usize
        };
        let mut writer = OutputWriter::default();
        for _ in 0..3000 {
            let mut labels: Vec<Label> = (0..next() % 7)
                .map(|_| l(names[next() % names.len()], values[next() % values.len()]))
                .collect();
            if next() % 4 != 0 {
                labels.sort_by(|a, b| a.name.cmp(&b.name));
            }
            let points: Vec<OutputPoint> = (0..next() % 4)
                .map(|_| OutputPoint {
                    timestamp: [0, 1_700_000_000_000, -5, i64::MAX, 127, 128][next() % 6],
                    scored: (next() % 5 != 0).then(|| Scored {
                        score: next() as f64 / 7.0,
                        model_score: 0.5,
                        expected: -(next() as f64),
                        lower: f64::MIN,
                        upper: 0.0,
                    }),
                })
                .collect();
            let kinds = &all_kinds[..next() % 5];
            let (mut ours, mut theirs) = (vec![1u8], vec![1u8]);
            let written = writer.write(&mut ours, &labels, kinds, &points);
            assert_eq!(
                written,
                reference_write_outputs(&mut theirs, &labels, kinds, &points)
            );
            assert_eq!(ours, theirs, "{labels:?} {kinds:?} {points:?}");
        }
    }

    #[test]
    fn output_series_decode_with_sorted_labels_and_stale_markers() {
        let labels = vec![
            l("Zone", "eu"),
            l("__name__", "http_requests_total"),
            l("job", "api"),
            l("pod", "a"),
        ];
        let scored = Scored {
            score: 2.5,
            model_score: 2.5,
            expected: 10.0,
            lower: 8.0,
            upper: 12.0,
        };
        let points = [
            OutputPoint {
                timestamp: 1000,
                scored: Some(scored),
            },
            OutputPoint {
                timestamp: 2000,
                scored: None,
            },
        ];
        let mut buf = Vec::new();
        let written = write_outputs(
            &mut buf,
            &labels,
            &[OutputKind::Score, OutputKind::Upper],
            &points,
        );
        assert_eq!(written, 4);
        let request = WriteRequest::decode(&buf[..]).expect("valid protobuf");
        assert_eq!(request.timeseries.len(), 2);
        let score = &request.timeseries[0];
        let names: Vec<&[u8]> = score.labels.iter().map(|l| &l.name[..]).collect();
        assert_eq!(
            names,
            vec![&b"Zone"[..], b"__name__", b"job", b"omen_metric", b"pod"]
        );
        assert_eq!(&score.labels[1].value[..], b"omen_anomaly_score");
        assert_eq!(&score.labels[3].value[..], b"http_requests_total");
        assert_eq!(score.samples[0].value, 2.5);
        assert_eq!(score.samples[1].value.to_bits(), STALE_NAN_BITS);
        assert_eq!(request.timeseries[1].samples[0].value, 12.0);
    }

    #[test]
    fn an_input_omen_metric_label_is_replaced_not_duplicated() {
        let labels = vec![l("__name__", "up"), l("omen_metric", "spoofed")];
        let mut buf = Vec::new();
        let point = OutputPoint {
            timestamp: -5,
            scored: Some(Scored {
                score: 0.0,
                model_score: 0.0,
                expected: 0.0,
                lower: 0.0,
                upper: 0.0,
            }),
        };
        write_outputs(&mut buf, &labels, &[OutputKind::Score], &[point]);
        let request = WriteRequest::decode(&buf[..]).expect("valid protobuf");
        let labels = &request.timeseries[0].labels;
        assert_eq!(labels.len(), 2);
        assert_eq!(&labels[1].value[..], b"up");
        assert_eq!(request.timeseries[0].samples[0].timestamp, -5);
    }
}
