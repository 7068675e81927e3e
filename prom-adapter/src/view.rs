//! Series viewed in place: remote-write 1.0 decoded without copying label text (labels point into
//! the decompressed request), and a series forwarded as the bytes it arrived in when its labels
//! need no change.
//!
//! Decoding follows protobuf's rules as prost applies them to `proto::v1`: fields in any order,
//! repeated fields appended, the last of a repeated scalar wins, unknown fields skipped, a known
//! field with the wrong wire type refused.

use prost::Message;
use prost::encoding::{
    DecodeContext, WireType, decode_key, decode_varint, encode_key, encode_varint, message,
    skip_field,
};

use crate::Error;
use crate::labels::LabelRef;
use crate::output::{label_record_len, write_label_record};
use crate::proto::v1;

/// One series of a request: labels borrowed from the request, samples decoded.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SeriesView<'a> {
    /// Label pairs, as received until normalised.
    pub labels: Vec<LabelRef<'a>>,
    /// Float samples, oldest first.
    pub samples: Vec<v1::Sample>,
    /// Exemplars.
    pub exemplars: Vec<v1::Exemplar>,
    /// Native histogram samples.
    pub histograms: Vec<v1::Histogram>,
    /// The `WriteRequest.timeseries` record as received (1.0 only).
    pub raw: Option<&'a [u8]>,
    /// The label records as received, when they are the series' first fields and written exactly
    /// as [`crate::labels::series_hash`] encodes them (1.0 only): hashed in place with
    /// [`crate::labels::hash_encoded_labels`], they give the labels' series hash without a copy,
    /// and output series copy them ([`crate::copies`] relies on every record having one-byte
    /// lengths).
    pub raw_labels: Option<&'a [u8]>,
}

/// A 1.0 request viewed in place.
#[derive(Debug, Default)]
pub struct RequestView<'a> {
    /// The series, in request order.
    pub series: Vec<SeriesView<'a>>,
    /// Metadata entries.
    pub metadata: Vec<v1::MetricMetadata>,
    /// Whether the request held fields the decoder skipped (unknown to this version).
    pub unknown_fields: bool,
}

/// Decodes a remote-write 1.0 `WriteRequest` whose labels borrow from `buf`.
pub fn decode_v1(buf: &[u8]) -> Result<RequestView<'_>, Error> {
    decode_request(buf)
        .map_err(|e| Error::Malformed(format!("cannot decode prometheus.WriteRequest: {e}")))
}

impl<'a> SeriesView<'a> {
    /// Appends the series as a `WriteRequest.timeseries` record: the received bytes when
    /// `relabelled` is false and they are at hand, else encoded from the view.
    pub fn write_record(&self, buf: &mut Vec<u8>, relabelled: bool) {
        if let (false, Some(raw)) = (relabelled, self.raw) {
            buf.extend_from_slice(raw);
            return;
        }
        let len = self
            .labels
            .iter()
            .map(|l| label_record_len(l.name, l.value))
            .sum::<usize>()
            + message::encoded_len_repeated(2, &self.samples)
            + message::encoded_len_repeated(3, &self.exemplars)
            + message::encoded_len_repeated(4, &self.histograms);
        encode_key(1, WireType::LengthDelimited, buf);
        encode_varint(len as u64, buf);
        for label in &self.labels {
            write_label_record(buf, label.name, label.value);
        }
        for sample in &self.samples {
            message::encode(2, sample, buf);
        }
        for exemplar in &self.exemplars {
            message::encode(3, exemplar, buf);
        }
        for histogram in &self.histograms {
            message::encode(4, histogram, buf);
        }
    }
}

fn decode_request(mut buf: &[u8]) -> Result<RequestView<'_>, String> {
    let mut request = RequestView {
        series: Vec::with_capacity(count_series(buf)),
        metadata: Vec::new(),
        unknown_fields: false,
    };
    let mut labels = Vec::new();
    while !buf.is_empty() {
        let record_start = buf;
        let (tag, wire_type) = key(&mut buf)?;
        match (tag, wire_type) {
            (1, WireType::LengthDelimited) => {
                let body = take_delimited(&mut buf)?;
                let record = &record_start[..record_start.len() - buf.len()];
                let series = decode_series(body, record, &mut labels)
                    .map_err(|e| format!("WriteRequest.timeseries: {e}"))?;
                request.series.push(series);
            }
            (3, WireType::LengthDelimited) => {
                let body = take_delimited(&mut buf)?;
                let metadata = v1::MetricMetadata::decode(body)
                    .map_err(|e| format!("WriteRequest.metadata: {e}"))?;
                request.metadata.push(metadata);
            }
            (1 | 3, other) => return Err(wrong_wire_type("WriteRequest", tag, other)),
            _ => {
                skip(wire_type, tag, &mut buf)?;
                request.unknown_fields = true;
            }
        }
    }
    Ok(request)
}

/// How many `timeseries` records the request seems to hold, to size the list of series once
/// (a request's list is large; growing it in steps copies it and takes fresh memory each time).
/// Stops counting at the first record it cannot step over; decoding reports that.
fn count_series(mut buf: &[u8]) -> usize {
    let mut count = 0;
    while !buf.is_empty() {
        let Ok((tag, wire_type)) = key(&mut buf) else {
            break;
        };
        let stepped = match wire_type {
            WireType::LengthDelimited => take_delimited(&mut buf).map(|_| ()),
            _ => skip(wire_type, tag, &mut buf),
        };
        if stepped.is_err() {
            break;
        }
        count += usize::from(tag == 1 && wire_type == WireType::LengthDelimited);
    }
    count
}

/// Decodes one `TimeSeries`; `labels` is scratch space, so the series' own label list is
/// allocated once at its final size.
fn decode_series<'a>(
    mut buf: &'a [u8],
    record: &'a [u8],
    labels: &mut Vec<LabelRef<'a>>,
) -> Result<SeriesView<'a>, String> {
    let mut series = SeriesView {
        raw: Some(record),
        ..SeriesView::default()
    };
    labels.clear();
    let start = buf;
    // Bytes of the leading run of label records in the usual encoding; `None` once a label
    // follows another field or is encoded otherwise.
    let mut canonical_labels = Some(0);
    while !buf.is_empty() {
        let field_start = buf.len();
        let (tag, wire_type) = key(&mut buf)?;
        if !(1..=4).contains(&tag) {
            skip(wire_type, tag, &mut buf)?;
            continue;
        }
        if wire_type != WireType::LengthDelimited {
            return Err(wrong_wire_type("TimeSeries", tag, wire_type));
        }
        let body = take_delimited(&mut buf)?;
        let text = |e: prost::DecodeError| format!("TimeSeries field {tag}: {e}");
        match tag {
            1 => {
                let (label, usual) = decode_label(body)?;
                let consumed = field_start - buf.len();
                canonical_labels = canonical_labels
                    .filter(|&end| {
                        // One key byte, one length byte, then the usual body: the series hash's encoding.
                        usual && end == start.len() - field_start && consumed == 2 + body.len()
                    })
                    .map(|end| end + consumed);
                labels.push(label);
            }
            2 => series.samples.push(decode_sample(body).map_err(text)?),
            3 => series
                .exemplars
                .push(v1::Exemplar::decode(body).map_err(text)?),
            _ => series
                .histograms
                .push(v1::Histogram::decode(body).map_err(text)?),
        }
    }
    series.labels = labels.as_slice().to_vec();
    series.raw_labels = canonical_labels.map(|end| &start[..end]);
    Ok(series)
}

/// A `Sample` as every encoder writes a non-zero value: `value` then `timestamp`, nothing else;
/// any other encoding is decoded by prost.
pub(crate) fn decode_sample(body: &[u8]) -> Result<v1::Sample, prost::DecodeError> {
    if let [0x09, v0, v1, v2, v3, v4, v5, v6, v7, 0x10, rest @ ..] = body {
        let mut timestamp = rest;
        if let Some(t) = varint(&mut timestamp).filter(|_| timestamp.is_empty()) {
            return Ok(v1::Sample {
                value: f64::from_le_bytes([*v0, *v1, *v2, *v3, *v4, *v5, *v6, *v7]),
                timestamp: t as i64,
            });
        }
    }
    v1::Sample::decode(body)
}

/// Decodes a `Label`; the flag says it was in the usual encoding (the one-byte form below).
fn decode_label(mut buf: &[u8]) -> Result<(LabelRef<'_>, bool), String> {
    // As every encoder writes a label with a non-empty name and value shorter than 128 bytes:
    // the name field, then the value field, nothing else.
    if let [0x0a, name_len, rest @ ..] = buf
        && *name_len < 0x80
        && usize::from(*name_len) < rest.len()
    {
        let (name, rest) = rest.split_at(usize::from(*name_len));
        if let [0x12, value_len, value @ ..] = rest
            && *value_len < 0x80
            && usize::from(*value_len) == value.len()
        {
            return Ok((LabelRef { name, value }, true));
        }
    }
    let mut label = LabelRef {
        name: b"",
        value: b"",
    };
    while !buf.is_empty() {
        let (tag, wire_type) = key(&mut buf)?;
        match (tag, wire_type) {
            (1, WireType::LengthDelimited) => label.name = take_delimited(&mut buf)?,
            (2, WireType::LengthDelimited) => label.value = take_delimited(&mut buf)?,
            (1 | 2, other) => return Err(wrong_wire_type("Label", tag, other)),
            _ => skip(wire_type, tag, &mut buf)?,
        }
    }
    Ok((label, false))
}

/// A field key: one-byte length-delimited keys decoded here, others by prost.
#[inline]
pub(crate) fn key(buf: &mut &[u8]) -> Result<(u32, WireType), String> {
    // Length-delimited fields with tags 1 to 15: every field this decoder reads inline.
    if let Some((&byte, rest)) = buf.split_first()
        && byte & 0x87 == 0x02
        && byte >= 8
    {
        *buf = rest;
        return Ok((u32::from(byte >> 3), WireType::LengthDelimited));
    }
    key_slow(buf)
}

#[cold]
#[inline(never)]
fn key_slow(buf: &mut &[u8]) -> Result<(u32, WireType), String> {
    decode_key(buf).map_err(|e| e.to_string())
}

/// A varint of at most 10 bytes as protobuf reads it (bits past 64 dropped by prost are refused
/// here, so such input falls back to prost); `None` leaves the input to prost's decoder.
pub(crate) fn varint(buf: &mut &[u8]) -> Option<u64> {
    let mut value = 0u64;
    for (i, &byte) in buf.iter().enumerate().take(10) {
        if i == 9 && byte > 1 {
            return None;
        }
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte < 0x80 {
            *buf = &buf[i + 1..];
            return Some(value);
        }
    }
    None
}

/// Reads a length prefix and returns that many bytes, advancing `buf` past them.
#[inline]
pub(crate) fn take_delimited<'a>(buf: &mut &'a [u8]) -> Result<&'a [u8], String> {
    if let Some((&len, rest)) = buf.split_first()
        && len < 0x80
        && usize::from(len) <= rest.len()
    {
        let (body, rest) = rest.split_at(usize::from(len));
        *buf = rest;
        return Ok(body);
    }
    take_delimited_slow(buf)
}

#[cold]
#[inline(never)]
fn take_delimited_slow<'a>(buf: &mut &'a [u8]) -> Result<&'a [u8], String> {
    let len = decode_varint(buf).map_err(|e| e.to_string())?;
    if len > buf.len() as u64 {
        return Err(format!(
            "length {len} runs past the end of the message ({} bytes left)",
            buf.len()
        ));
    }
    let (body, rest) = buf.split_at(len as usize);
    *buf = rest;
    Ok(body)
}

pub(crate) fn skip(wire_type: WireType, tag: u32, buf: &mut &[u8]) -> Result<(), String> {
    skip_field(wire_type, tag, buf, DecodeContext::default()).map_err(|e| e.to_string())
}

pub(crate) fn wrong_wire_type(message: &str, tag: u32, wire_type: WireType) -> String {
    format!("{message} field {tag} has wire type {wire_type:?}, expected length-delimited")
}

#[cfg(test)]
mod tests {
    use crate::differential::{Rng, accepted_and_refused};
    use bytes::Bytes;
    use prost::encoding::encoded_len_varint;

    use super::*;
    use crate::proto::v1::{Label, WriteRequest};

    fn owned(pairs: &[(&'static str, &'static str)], samples: &[(f64, i64)]) -> v1::TimeSeries {
        v1::TimeSeries {
            labels: pairs
                .iter()
                .map(|(n, v)| Label {
                    name: Bytes::from_static(n.as_bytes()),
                    value: Bytes::from_static(v.as_bytes()),
                })
                .collect(),
            samples: samples
                .iter()
                .map(|&(value, timestamp)| v1::Sample { value, timestamp })
                .collect(),
            exemplars: vec![v1::Exemplar {
                labels: vec![],
                value: 1.5,
                timestamp: 7,
            }],
            histograms: vec![],
        }
    }

    fn random_request(rng: &mut Rng) -> WriteRequest {
        let names = ["__name__", "job", "instance", "le", "zone", ""];
        let values = ["up", "api", "10.0.0.1:9100", "+Inf", "", "é"];
        WriteRequest {
            timeseries: (0..rng.next() % 5)
                .map(|_| v1::TimeSeries {
                    labels: (0..rng.next() % 4)
                        .map(|_| Label {
                            name: Bytes::from_static(names[rng.next() as usize % 6].as_bytes()),
                            value: Bytes::from_static(values[rng.next() as usize % 6].as_bytes()),
                        })
                        .collect(),
                    samples: (0..rng.next() % 3)
                        .map(|_| v1::Sample {
                            value: rng.next() as f64 / 3.0,
                            timestamp: rng.next() as i64 - 1000,
                        })
                        .collect(),
                    exemplars: vec![],
                    histograms: vec![],
                })
                .collect(),
            metadata: vec![],
        }
    }

    /// Length of a varint-prefixed record of `len` bytes under a one-byte key.
    fn record_len(len: usize) -> usize {
        1 + encoded_len_varint(len as u64) + len
    }

    fn as_owned(view: &SeriesView<'_>) -> v1::TimeSeries {
        v1::TimeSeries {
            labels: view
                .labels
                .iter()
                .map(|l| Label {
                    name: Bytes::copy_from_slice(l.name),
                    value: Bytes::copy_from_slice(l.value),
                })
                .collect(),
            samples: view.samples.clone(),
            exemplars: view.exemplars.clone(),
            histograms: view.histograms.clone(),
        }
    }

    /// The series hash from the received label bytes where the view has them.
    fn hash_in_place(series: &SeriesView<'_>) -> u64 {
        series.raw_labels.map_or_else(
            || crate::labels::series_hash(&series.labels),
            crate::labels::hash_encoded_labels,
        )
    }

    /// Decodes `request` with prost and with the view decoder and panics unless both accept it
    /// with the same series or both reject it; says whether it was accepted.
    fn assert_decoders_agree(request: &[u8]) -> bool {
        match (WriteRequest::decode(request), decode_v1(request)) {
            (Ok(theirs), Ok(ours)) => {
                for series in &ours.series {
                    // Label bytes hashed in place give the hash of the decoded labels.
                    assert_eq!(
                        hash_in_place(series),
                        crate::labels::series_hash(&series.labels),
                        "{request:x?}"
                    );
                }
                let ours: Vec<_> = ours.series.iter().map(as_owned).collect();
                assert_eq!(ours, theirs.timeseries, "{request:x?}");
                true
            }
            (Err(_), Err(_)) => false,
            (theirs, ours) => panic!(
                "decoders disagree on {request:x?}: prost {:?}, view {:?}",
                theirs.map(|_| ()),
                ours.map(|_| ())
            ),
        }
    }

    #[test]
    fn views_hold_what_prost_decodes_and_records_are_the_received_bytes() {
        let request = WriteRequest {
            timeseries: vec![
                owned(
                    &[("__name__", "up"), ("job", "api")],
                    &[(1.0, 10), (0.0, 0)],
                ),
                owned(&[("__name__", "x")], &[]),
            ],
            metadata: vec![v1::MetricMetadata {
                r#type: 1,
                metric_family_name: Bytes::from_static(b"up"),
                help: Bytes::from_static(b"h"),
                unit: Bytes::new(),
            }],
        };
        let bytes = request.encode_to_vec();
        let view = decode_v1(&bytes).expect("decodes");
        assert_eq!(view.metadata, request.metadata);
        let mut forwarded = Vec::new();
        for (series, expected) in view.series.iter().zip(&request.timeseries) {
            assert_eq!(&as_owned(series), expected);
            assert!(
                series.raw_labels.is_some(),
                "prost's labels are hashed in place"
            );
            let raw = series.raw.expect("raw record");
            assert_eq!(raw.len(), record_len(expected.encoded_len()));
            series.write_record(&mut forwarded, false);
            let mut encoded = Vec::new();
            series.write_record(&mut encoded, true);
            assert_eq!(encoded, raw, "encoding a view gives prost's bytes back");
        }
        let metadata_len: usize = request
            .metadata
            .iter()
            .map(|m| record_len(m.encoded_len()))
            .sum();
        assert_eq!(forwarded, bytes[..bytes.len() - metadata_len]);
    }

    #[test]
    fn random_requests_and_their_corruptions_decode_exactly_as_prost_decodes_them() {
        let mut rng = Rng(42);
        let (accepted, refused) = accepted_and_refused(
            &mut rng,
            3000,
            |rng| random_request(rng).encode_to_vec(),
            assert_decoders_agree,
        );
        assert!(
            accepted > 1000 && refused > 100,
            "{accepted} accepted, {refused} refused"
        );
    }

    fn standard_len(body: &[u8]) -> u8 {
        body.len() as u8
    }

    #[test]
    fn samples_labels_and_keys_in_any_encoding_decode_as_prost_decodes_them() {
        let value = 2.5f64.to_le_bytes();
        let mut bodies: Vec<Vec<u8>> = vec![
            [&[0x09][..], &value, &[0x10, 0x05]].concat(),
            [
                &[0x09][..],
                &value,
                &[
                    0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
                ],
            ]
            .concat(),
            [
                &[0x09][..],
                &value,
                &[
                    0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02,
                ],
            ]
            .concat(),
            [
                &[0x09][..],
                &value,
                &[
                    0x10, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00,
                ],
            ]
            .concat(),
            [&[0x09][..], &value, &[0x10]].concat(),
            [&[0x09][..], &value, &[0x10, 0x85]].concat(),
            [&[0x09][..], &value, &[0x10, 0x05, 0x10, 0x06]].concat(),
            [&[0x09][..], &value, &[0x10, 0x05, 0x18, 0x01]].concat(),
            [&[0x09][..], &value, &[0x10, 0x85, 0x00]].concat(),
            [&[0x10, 0x05, 0x09][..], &value].concat(),
            vec![0x10, 0x05],
            vec![],
            [&[0x09][..], &value[..7]].concat(),
            [&[0x09][..], &value, &[0x09], &value, &[0x10, 0x01]].concat(),
            [&[0x08, 0x01, 0x09][..], &value, &[0x10, 0x01]].concat(),
        ];
        // Labels: long names and values (two-byte lengths), fields swapped, repeated, missing, or
        // followed by more; a length byte that would be right as a one-byte length.
        let long = vec![b'a'; 133];
        let labels: Vec<Vec<u8>> = vec![
            [&[0x0a, 0x02][..], b"up", &[0x12, 0x01], b"x"].concat(),
            [&[0x0a, 0x85, 0x01][..], &long, &[0x12, 0x01], b"x"].concat(),
            [&[0x0a, 0x02][..], b"up", &[0x12, 0x85, 0x01], &long].concat(),
            [&[0x0a, 0x02][..], b"up", &[0x12, 0x86], &long[..134 - 6]].concat(),
            [&[0x12, 0x01][..], b"x", &[0x0a, 0x02], b"up"].concat(),
            [
                &[0x0a, 0x02][..],
                b"up",
                &[0x12, 0x01],
                b"x",
                &[0x12, 0x01],
                b"y",
            ]
            .concat(),
            [&[0x0a, 0x02][..], b"up"].concat(),
            [&[0x0a, 0x02][..], b"up", &[0x12, 0x00]].concat(),
            [&[0x0a, 0x00][..], &[0x12, 0x01], b"x"].concat(),
            [&[0x0a, 0x02][..], b"up", &[0x12, 0x02], b"x"].concat(),
            [&[0x0a, 0x02][..], b"up", &[0x1a, 0x01], b"x"].concat(),
            [&[0x0a, 0x02][..], b"up", &[0x12, 0x01], b"x", &[0x18, 0x01]].concat(),
        ];
        for label in &labels {
            let mut field = vec![0x0a];
            prost::encoding::encode_varint(label.len() as u64, &mut field);
            field.extend_from_slice(label);
            let mut series = field;
            series.extend_from_slice(&[0x12, standard_len(&bodies[0])]);
            series.extend_from_slice(&bodies[0]);
            let mut request = vec![0x0a];
            prost::encoding::encode_varint(series.len() as u64, &mut request);
            request.extend_from_slice(&series);
            assert_decoders_agree(&request);
        }
        // Keys: two-byte keys, a group wire type, tag 0, an unknown field in the series.
        let series_fields: Vec<Vec<u8>> = vec![
            vec![],
            vec![0x92, 0x00, 0x00],
            vec![0x82, 0x00, 0x00],
            vec![0x02, 0x00],
            vec![0x2a, 0x01, 0x00],
            vec![0x0b, 0x0c],
            vec![0x0e],
            vec![0x0f],
            vec![0xf8, 0xff, 0xff, 0xff, 0x0f, 0x01],
        ];
        let standard = bodies[0].clone();
        bodies.extend(series_fields.iter().map(|_| standard.clone()));
        let extras = std::iter::repeat_n(Vec::new(), bodies.len() - series_fields.len())
            .chain(series_fields);
        for (body, extra) in bodies.iter().zip(extras) {
            let label = [&[0x0a, 0x04, 0x0a, 0x02][..], b"up"].concat();
            let series = [&label[..], &[0x12, body.len() as u8], body, &extra].concat();
            let request = [&[0x0a, series.len() as u8][..], &series].concat();
            assert_decoders_agree(&request);
        }
    }

    #[test]
    fn views_without_received_bytes_encode_like_prost() {
        let mut series = owned(&[("__name__", "up"), ("a", "b")], &[(2.5, 99)]);
        let expected = series.clone();
        let view = SeriesView {
            labels: series.labels.iter().map(LabelRef::from).collect(),
            samples: std::mem::take(&mut series.samples),
            exemplars: std::mem::take(&mut series.exemplars),
            histograms: std::mem::take(&mut series.histograms),
            raw: None,
            raw_labels: None,
        };
        assert_eq!(as_owned(&view), expected);
        let mut buf = Vec::new();
        view.write_record(&mut buf, false);
        let decoded = WriteRequest::decode(&buf[..]).expect("valid record");
        assert_eq!(decoded.timeseries, vec![expected]);
    }

    #[test]
    fn labels_in_other_encodings_are_not_hashed_in_place_but_hash_the_same() {
        let label = |name: &[u8], value: &[u8]| {
            [
                &[0x0a, name.len() as u8][..],
                name,
                &[0x12, value.len() as u8],
                value,
            ]
            .concat()
        };
        let record = |body: &[u8]| [&[0x0a, body.len() as u8][..], body].concat();
        let sample = [
            &[0x12, 0x0b, 0x09][..],
            &2.5f64.to_le_bytes(),
            &[0x10, 0x05],
        ]
        .concat();
        let (name, job) = (
            record(&label(b"__name__", b"up")),
            record(&label(b"job", b"a")),
        );
        let usual = [&name[..], &job, &sample].concat();
        let value_first = [
            &name[..],
            &record(&[&[0x12, 0x01][..], b"a", &[0x0a, 0x03], b"job"].concat()),
            &sample,
        ]
        .concat();
        let long_length = [
            &name[..],
            &[0x0a, 0x88, 0x00],
            &label(b"job", b"a"),
            &sample,
        ]
        .concat();
        let after_a_sample = [&name[..], &sample, &job].concat();
        let unknown_first = [&[0x28, 0x01][..], &name, &job, &sample].concat();
        let mut hashes = Vec::new();
        for (body, in_place) in [
            (usual, true),
            (value_first, false),
            (long_length, false),
            (after_a_sample, false),
            (unknown_first, false),
        ] {
            let request = record(&body);
            assert!(assert_decoders_agree(&request));
            let view = decode_v1(&request).expect("decodes");
            let series = &view.series[0];
            assert_eq!(series.raw_labels.is_some(), in_place, "{body:x?}");
            hashes.push(hash_in_place(series));
        }
        assert!(hashes.iter().all(|&h| h == hashes[0]), "{hashes:x?}");
    }
}
