//! Writing series into outgoing remote-write 1.0 bodies: originals as received, and one output
//! series per scored series and output kind.
//!
//! A body is a concatenation of `WriteRequest` field records, so per-request chunks can be joined
//! into one downstream request without re-encoding.

use omen_scoring::{STALE_NAN_BITS, Scored};
use prost::encoding::{WireType, encode_key, encode_varint, encoded_len_varint};
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

    fn value(self, scored: &Scored) -> f64 {
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
    if points.is_empty() {
        return 0;
    }
    let source = crate::labels::metric_name(labels);
    let mut pairs: Vec<(&[u8], &[u8])> = Vec::with_capacity(labels.len() + 1);
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
        write_series(
            buf,
            &pairs,
            points.iter().map(|p| {
                let value = p
                    .scored
                    .map_or(f64::from_bits(STALE_NAN_BITS), |s| kind.value(&s));
                (p.timestamp, value)
            }),
        );
    }
    kinds.len() * points.len()
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

fn write_series(
    buf: &mut Vec<u8>,
    labels: &[(&[u8], &[u8])],
    samples: impl Iterator<Item = (i64, f64)> + Clone,
) {
    let labels_len: usize = labels.iter().map(|(n, v)| label_record_len(n, v)).sum();
    let samples_len: usize = samples
        .clone()
        .map(|(t, _)| {
            let len = sample_len(t);
            1 + encoded_len_varint(len as u64) + len
        })
        .sum();
    encode_key(1, WireType::LengthDelimited, buf);
    encode_varint((labels_len + samples_len) as u64, buf);
    for (name, value) in labels {
        write_label_record(buf, name, value);
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
