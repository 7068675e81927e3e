//! Remote write 2.0 decoded in place: label names and values point into the symbols table of the
//! decompressed request, so resolving a series' label references copies no text.
//!
//! Decoding follows protobuf's rules as prost applies them to `proto::v2` (the reference,
//! [`crate::decode::decode_v2`], is tested against this): fields in any order, repeated fields
//! appended, references packed or not, the metadata message merged when repeated, unknown fields
//! skipped, a known field with the wrong wire type refused. A reference outside the symbols
//! table fails the whole request, as the table is shared by all its series.

use bytes::Bytes;
use prost::Message;
use prost::encoding::{WireType, decode_varint};

use crate::Error;
use crate::labels::LabelRef;
use crate::proto::{MetricType, v1, v2};
use crate::view::{SeriesView, decode_sample, key, skip, take_delimited, varint};

/// A 2.0 series viewed in place, with the type its sender declared.
pub type TypedSeries<'a> = (SeriesView<'a>, MetricType);

/// Decodes a remote-write 2.0 `Request` whose labels borrow from `buf`.
pub fn decode_v2(buf: &[u8]) -> Result<Vec<TypedSeries<'_>>, Error> {
    let Fields { symbols, records } = split_request(buf).map_err(|e| {
        Error::Malformed(format!("cannot decode io.prometheus.write.v2.Request: {e}"))
    })?;
    if symbols.first().is_some_and(|s| !s.is_empty()) {
        return Err(Error::Malformed(
            "symbols table must start with the empty string".into(),
        ));
    }
    let mut refs = Vec::new();
    records
        .iter()
        .enumerate()
        .map(|(index, record)| {
            decode_series(record, &symbols, &mut refs)
                .map_err(|e| Error::Malformed(format!("timeseries[{index}].{e}")))
        })
        .collect()
}

/// The top-level fields of a request, in the order received.
struct Fields<'a> {
    /// The symbols table.
    symbols: Vec<&'a [u8]>,
    /// The bodies of the `timeseries` records.
    records: Vec<&'a [u8]>,
}

fn split_request(mut buf: &[u8]) -> Result<Fields<'_>, String> {
    let mut symbols = Vec::new();
    let mut records = Vec::new();
    while !buf.is_empty() {
        let (tag, wire_type) = key(&mut buf)?;
        match (tag, wire_type) {
            (4, WireType::LengthDelimited) => symbols.push(take_delimited(&mut buf)?),
            (5, WireType::LengthDelimited) => records.push(take_delimited(&mut buf)?),
            (4 | 5, other) => return Err(wrong_wire_type("Request", tag, other)),
            _ => skip(wire_type, tag, &mut buf)?,
        }
    }
    Ok(Fields { symbols, records })
}

/// Decodes one `TimeSeries` and resolves its references; `refs` is scratch space.
fn decode_series<'a>(
    mut buf: &[u8],
    symbols: &[&'a [u8]],
    refs: &mut Vec<u32>,
) -> Result<TypedSeries<'a>, String> {
    let mut series = SeriesView::default();
    let mut metadata: Option<v2::Metadata> = None;
    let mut exemplars = Vec::new();
    refs.clear();
    while !buf.is_empty() {
        let (tag, wire_type) = key(&mut buf)?;
        let text = |e: prost::DecodeError| format!("TimeSeries field {tag}: {e}");
        match (tag, wire_type) {
            (1, WireType::LengthDelimited) => {
                let mut packed = take_delimited(&mut buf)?;
                while !packed.is_empty() {
                    refs.push(reference(&mut packed).map_err(text)?);
                }
            }
            (1, WireType::Varint) => refs.push(reference(&mut buf).map_err(text)?),
            (2, WireType::LengthDelimited) => series
                .samples
                .push(decode_sample(take_delimited(&mut buf)?).map_err(text)?),
            (3, WireType::LengthDelimited) => series
                .histograms
                .push(v1::Histogram::decode(take_delimited(&mut buf)?).map_err(text)?),
            (4, WireType::LengthDelimited) => {
                exemplars.push(v2::Exemplar::decode(take_delimited(&mut buf)?).map_err(text)?)
            }
            (5, WireType::LengthDelimited) => metadata
                .get_or_insert_default()
                .merge(take_delimited(&mut buf)?)
                .map_err(text)?,
            (6, WireType::Varint) => {
                decode_varint(&mut buf).map_err(text)?;
            }
            (1..=6, other) => return Err(wrong_wire_type("TimeSeries", tag, other)),
            _ => skip(wire_type, tag, &mut buf)?,
        }
    }
    series.labels = resolve(symbols, refs).map_err(|e| format!("labels_refs: {e}"))?;
    series.exemplars = exemplars
        .into_iter()
        .map(|exemplar| {
            let labels = resolve(symbols, &exemplar.labels_refs)
                .map_err(|e| format!("exemplars: {e}"))?
                .into_iter()
                .map(|l| v1::Label {
                    name: Bytes::copy_from_slice(l.name),
                    value: Bytes::copy_from_slice(l.value),
                })
                .collect();
            Ok(v1::Exemplar {
                labels,
                value: exemplar.value,
                timestamp: exemplar.timestamp,
            })
        })
        .collect::<Result<_, String>>()?;
    let metric_type = match metadata {
        Some(m) => {
            for (what, r) in [("help_ref", m.help_ref), ("unit_ref", m.unit_ref)] {
                if r as usize >= symbols.len() {
                    return Err(format!(
                        "metadata.{what} {r} is outside the symbols table of {} entries",
                        symbols.len()
                    ));
                }
            }
            MetricType::try_from(m.r#type).unwrap_or(MetricType::Unknown)
        }
        None => MetricType::Unknown,
    };
    Ok((series, metric_type))
}

/// One `uint32` reference; as prost does, a varint wider than 32 bits keeps its low 32 bits.
#[inline]
fn reference(buf: &mut &[u8]) -> Result<u32, prost::DecodeError> {
    match varint(buf) {
        Some(value) => Ok(value as u32),
        None => decode_varint(buf).map(|value| value as u32),
    }
}

/// Label pairs of `refs` (name, value, name, value, ...) looked up in the symbols table.
fn resolve<'a>(symbols: &[&'a [u8]], refs: &[u32]) -> Result<Vec<LabelRef<'a>>, String> {
    if !refs.len().is_multiple_of(2) {
        return Err(format!("odd number of references ({})", refs.len()));
    }
    let symbol = |r: u32| {
        symbols.get(r as usize).copied().ok_or_else(|| {
            format!(
                "reference {r} is outside the symbols table of {} entries",
                symbols.len()
            )
        })
    };
    refs.chunks_exact(2)
        .map(|pair| {
            Ok(LabelRef {
                name: symbol(pair[0])?,
                value: symbol(pair[1])?,
            })
        })
        .collect()
}

fn wrong_wire_type(message: &str, tag: u32, wire_type: WireType) -> String {
    format!("{message} field {tag} has the wrong wire type {wire_type:?}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode;
    use crate::differential::{Rng, accepted_and_refused};

    fn random_request(rng: &mut Rng) -> v2::Request {
        let words = ["__name__", "up", "job", "api", "le", "+Inf", "é", "s"];
        let mut symbols = vec![Bytes::new()];
        symbols.extend(
            (0..rng.next() % 8)
                .map(|_| Bytes::from_static(words[rng.next() as usize % 8].as_bytes())),
        );
        // References mostly inside the table, sometimes one past it.
        let table = symbols.len() as u64 + 1;
        let refs = |rng: &mut Rng, pairs: u64| -> Vec<u32> {
            (0..2 * pairs)
                .map(|_| (rng.next() % table) as u32)
                .collect()
        };
        let timeseries = (0..rng.next() % 4)
            .map(|_| v2::TimeSeries {
                labels_refs: {
                    let pairs = rng.next() % 4;
                    refs(rng, pairs)
                },
                samples: (0..rng.next() % 3)
                    .map(|_| v1::Sample {
                        value: rng.next() as f64 / 3.0,
                        timestamp: rng.next() as i64 - 1000,
                    })
                    .collect(),
                histograms: vec![],
                exemplars: (0..rng.next() % 2)
                    .map(|_| v2::Exemplar {
                        labels_refs: refs(rng, 1),
                        value: 0.5,
                        timestamp: 3,
                    })
                    .collect(),
                metadata: rng.next().is_multiple_of(2).then(|| v2::Metadata {
                    r#type: (rng.next() % 9) as i32,
                    help_ref: (rng.next() % table) as u32,
                    unit_ref: 0,
                }),
                created_timestamp: (rng.next() % 2) as i64 * 17,
            })
            .collect();
        v2::Request {
            symbols,
            timeseries,
        }
    }

    /// Decodes `request` with prost (and resolves it) and in place, and panics unless both accept
    /// it with the same series or both reject it; says whether it was accepted.
    fn assert_decoders_agree(request: &[u8]) -> bool {
        match (
            decode::decode_v2(Bytes::copy_from_slice(request)),
            decode_v2(request),
        ) {
            (Ok(theirs), Ok(ours)) => {
                assert_eq!(theirs.len(), ours.len());
                for (theirs, (view, metric_type)) in theirs.iter().zip(&ours) {
                    let labels: Vec<LabelRef<'_>> =
                        theirs.series.labels.iter().map(LabelRef::from).collect();
                    assert_eq!(labels, view.labels, "{request:x?}");
                    assert_eq!(theirs.series.samples, view.samples);
                    assert_eq!(theirs.series.exemplars, view.exemplars);
                    assert_eq!(theirs.series.histograms, view.histograms);
                    assert_eq!(theirs.metric_type, *metric_type);
                    assert_eq!(view.raw, None);
                }
                true
            }
            (Err(_), Err(_)) => false,
            (theirs, ours) => panic!(
                "decoders disagree on {request:x?}: prost {:?}, in place {:?}",
                theirs.map(|_| ()),
                ours.map(|_| ())
            ),
        }
    }

    #[test]
    fn random_requests_and_their_corruptions_decode_as_prost_decodes_them() {
        let mut rng = Rng(7);
        let (accepted, refused) = accepted_and_refused(
            &mut rng,
            5000,
            |rng| random_request(rng).encode_to_vec(),
            assert_decoders_agree,
        );
        assert!(
            accepted > 1000 && refused > 500,
            "{accepted} accepted, {refused} refused"
        );
    }

    #[test]
    fn unpacked_references_repeated_metadata_and_fields_in_any_order_decode_as_prost_decodes_them()
    {
        // symbols "", "__name__", "up" (field 4); a series (field 5) before and after them.
        let symbols = [&[0x22, 0x00][..], b"\x22\x08__name__", b"\x22\x02up"].concat();
        let bodies: Vec<Vec<u8>> = vec![
            // packed references
            vec![0x0a, 0x02, 0x01, 0x02],
            // unpacked references, one varint each
            vec![0x08, 0x01, 0x08, 0x02],
            // a reference as a 6-byte varint (prost keeps its low 32 bits: 2)
            vec![0x08, 0x82, 0x80, 0x80, 0x80, 0x80, 0x01, 0x08, 0x01],
            // metadata given twice: merged (type from the first, help_ref from the second)
            vec![
                0x0a, 0x02, 0x01, 0x02, 0x2a, 0x02, 0x08, 0x01, 0x2a, 0x02, 0x18, 0x02,
            ],
            // created timestamp and an unknown field
            vec![0x0a, 0x02, 0x01, 0x02, 0x30, 0x05, 0x78, 0x01],
            // a sample with fields reversed
            [
                &[0x0a, 0x02, 0x01, 0x02, 0x12, 0x0b, 0x10, 0x05, 0x09][..],
                &2.5f64.to_le_bytes(),
            ]
            .concat(),
            // wrong wire types: refused by both
            vec![0x0d, 0x01, 0x00, 0x00, 0x00],
            vec![0x31, 0, 0, 0, 0, 0, 0, 0, 0],
            // metadata help_ref outside the table
            vec![0x0a, 0x02, 0x01, 0x02, 0x2a, 0x02, 0x18, 0x09],
        ];
        let mut accepted = 0;
        for body in &bodies {
            let record = [&[0x2a, body.len() as u8][..], body].concat();
            for request in [
                [&symbols[..], &record].concat(),
                [&record[..], &symbols].concat(),
            ] {
                accepted += usize::from(assert_decoders_agree(&request));
            }
        }
        assert_eq!(accepted, 12, "the six valid bodies, in both field orders");
        let request = [&symbols[..], &[0x2a, 0x04, 0x0a, 0x02, 0x01, 0x02]].concat();
        let series = decode_v2(&request).expect("decodes");
        assert_eq!(
            series[0].0.labels,
            vec![LabelRef {
                name: b"__name__",
                value: b"up"
            }]
        );
    }
}
