//! Output series of a request forwarded whole, written straight as snappy block-format elements.
//!
//! The downstream body of such a request starts with the request as received, so it already
//! holds every original's label records. An output series repeats them, so they are written as
//! copies of the original's bytes: nothing is searched for and nothing is compressed. Only the
//! series' length, the `omen_metric` label and the samples are literals; the `__name__` record of
//! an output kind is a copy of its first occurrence in the part.
//!
//! A part's elements are written before its place in the body is known (parts are written on
//! several threads at once), so copies from the originals get four-byte offsets that
//! [`OutputCopies::finish`] fills in.

use std::ops::Range;

use omen_scoring::STALE_NAN_BITS;

use crate::Error;
use crate::body::{CompressedBody, HEADER_ROOM};
use crate::labels::METRIC_NAME;
use crate::output::{
    OutputKind, OutputPoint, SOURCE_METRIC_LABEL, label_record_len, put_varint, sample_record,
    write_label_record,
};

/// Longest copy one element holds.
const MAX_COPY: usize = 64;
/// Element tags (the low two bits of an element's first byte).
const LITERAL: u8 = 0b00;
const COPY_2: u8 = 0b10;
const COPY_4: u8 = 0b11;

/// An original series' label records in the downstream body's uncompressed bytes.
#[derive(Clone, Copy, Debug)]
pub struct SourceLabels<'a> {
    /// The records, sorted by name and each written as the view decoder's in-place labels are:
    /// `0x0a, len, 0x0a, name_len, name, 0x12, value_len, value`, every length under 128.
    pub records: &'a [u8],
    /// Where they start in the body.
    pub at: usize,
}

/// One piece of an output series' label records.
#[derive(Clone, Debug)]
enum Piece {
    /// Records copied from the original (a range of its records).
    Copy(Range<usize>),
    /// The output's `__name__` record.
    Name,
    /// The `omen_metric` record.
    Source,
}

/// A copy whose offset is known once the part's place in the body is.
#[derive(Clone, Copy, Debug)]
struct Fixup {
    /// Where the four offset bytes are in `elements`.
    at: usize,
    /// Where the copy's bytes go, in the part.
    to: usize,
    /// Where they come from, in the body.
    from: usize,
}

/// Output series written as snappy elements; see the module documentation.
#[derive(Debug)]
pub struct OutputCopies {
    /// Room for a length header, then the elements written so far (without the pending literal).
    elements: Vec<u8>,
    /// Literal bytes not written as an element yet, so adjacent literals make one element.
    literal: Vec<u8>,
    /// Uncompressed length of the part, pending literal included.
    raw_len: usize,
    fixups: Vec<Fixup>,
    /// Where each output kind's `__name__` record was first written, in the part.
    names: Vec<(OutputKind, usize)>,
    /// Scratch: the pieces of one series' label records, and its sample records.
    pieces: Vec<Piece>,
    samples: Vec<u8>,
}

impl Default for OutputCopies {
    fn default() -> Self {
        Self::with_capacity(0)
    }
}

impl OutputCopies {
    /// Room for about `bytes` of elements.
    pub fn with_capacity(bytes: usize) -> Self {
        let mut elements = Vec::with_capacity(HEADER_ROOM + bytes);
        elements.resize(HEADER_ROOM, 0);
        Self {
            elements,
            literal: Vec::new(),
            raw_len: 0,
            fixups: Vec::new(),
            names: Vec::new(),
            pieces: Vec::new(),
            samples: Vec::new(),
        }
    }

    /// Writes one output series per kind for the series whose label records are `source`, as
    /// [`crate::output::OutputWriter::write`] encodes them; returns the number of samples written,
    /// or `None` when the records are not written as [`SourceLabels`] requires (nothing is
    /// written then).
    pub fn write(
        &mut self,
        source: SourceLabels<'_>,
        kinds: &[OutputKind],
        points: &[OutputPoint],
    ) -> Option<usize> {
        if points.is_empty() || kinds.is_empty() {
            return Some(0);
        }
        let (value, labels_len) = self.plan(source.records)?;
        let source_record_len = label_record_len(SOURCE_METRIC_LABEL, value);
        let pieces = std::mem::take(&mut self.pieces);
        for &kind in kinds {
            let name = kind.metric_name().as_bytes();
            let name_record_len = label_record_len(METRIC_NAME, name);
            self.samples.clear();
            for point in points {
                let value = point
                    .scored
                    .map_or(f64::from_bits(STALE_NAN_BITS), |s| kind.value(&s));
                let record = sample_record(point.timestamp, value);
                self.samples.extend_from_slice(&record.bytes[..record.len]);
            }
            let len = labels_len + name_record_len + source_record_len + self.samples.len();
            let start = self.literal.len();
            self.literal.push(0x0a);
            put_varint(&mut self.literal, len as u64);
            self.raw_len += self.literal.len() - start;
            for piece in &pieces {
                match piece {
                    Piece::Copy(range) => {
                        self.copy_from_body(source.at + range.start, range.len());
                    }
                    Piece::Name => match self.names.iter().find(|(k, _)| *k == kind) {
                        Some(&(_, at)) if self.raw_len - at <= u32::MAX as usize => {
                            self.copy_from_part(at, name_record_len)
                        }
                        _ => {
                            self.names.push((kind, self.raw_len));
                            let start = self.literal.len();
                            write_label_record(&mut self.literal, METRIC_NAME, name);
                            self.raw_len += self.literal.len() - start;
                        }
                    },
                    Piece::Source => {
                        let start = self.literal.len();
                        write_label_record(&mut self.literal, SOURCE_METRIC_LABEL, value);
                        self.raw_len += self.literal.len() - start;
                    }
                }
            }
            let samples = std::mem::take(&mut self.samples);
            self.push_literal(&samples);
            self.samples = samples;
        }
        self.pieces = pieces;
        Some(kinds.len() * points.len())
    }

    /// Splits `records` into pieces as the output series lay them out (the originals' records
    /// in order, `__name__` in its place, `omen_metric` where it sorts, any original
    /// `omen_metric` left out); returns the metric name and the length of the copied records.
    fn plan<'r>(&mut self, records: &'r [u8]) -> Option<(&'r [u8], usize)> {
        self.pieces.clear();
        let mut value = None;
        let mut copied = 0;
        let mut inserted = false;
        let mut at = 0;
        while at < records.len() {
            let record = records.get(at..at + 2 + usize::from(*records.get(at + 1)?))?;
            let (name, label_value) = split_record(record)?;
            let range = at..at + record.len();
            at = range.end;
            if name == SOURCE_METRIC_LABEL {
                continue;
            }
            if !inserted && name > SOURCE_METRIC_LABEL {
                self.pieces.push(Piece::Source);
                inserted = true;
            }
            if name == METRIC_NAME {
                value = Some(label_value);
                self.pieces.push(Piece::Name);
                continue;
            }
            copied += range.len();
            match self.pieces.last_mut() {
                Some(Piece::Copy(last)) if last.end == range.start => last.end = range.end,
                _ => self.pieces.push(Piece::Copy(range)),
            }
        }
        if !inserted {
            self.pieces.push(Piece::Source);
        }
        Some((value?, copied))
    }

    /// Uncompressed length of the part.
    pub fn raw_len(&self) -> usize {
        self.raw_len
    }

    /// The part as a body to join after the bytes before it: `start` is where it begins in the
    /// downstream body.
    pub fn finish(mut self, start: usize) -> Result<CompressedBody, Error> {
        self.flush_literal();
        for fixup in &self.fixups {
            let offset = u32::try_from(start + fixup.to - fixup.from).map_err(|_| {
                Error::Internal("a downstream body is too large for snappy offsets".into())
            })?;
            self.elements[fixup.at..fixup.at + 4].copy_from_slice(&offset.to_le_bytes());
        }
        Ok(CompressedBody::from_elements(self.elements, self.raw_len))
    }

    fn push_literal(&mut self, bytes: &[u8]) {
        self.literal.extend_from_slice(bytes);
        self.raw_len += bytes.len();
    }

    /// Writes the pending literal as one element.
    fn flush_literal(&mut self) {
        if self.literal.is_empty() {
            return;
        }
        let n = self.literal.len() - 1;
        // Literals stay far below 4 GiB (a request's outputs, within the decoded-size limit).
        debug_assert!(n <= u32::MAX as usize);
        if n < 60 {
            self.elements.push((n as u8) << 2 | LITERAL);
        } else {
            let bytes = (n.ilog2() / 8 + 1) as usize;
            self.elements.push(((59 + bytes) as u8) << 2 | LITERAL);
            self.elements.extend_from_slice(&n.to_le_bytes()[..bytes]);
        }
        self.elements.extend_from_slice(&self.literal);
        self.literal.clear();
    }

    /// Copies `len` bytes of the body at `from`, before this part (offsets filled in later).
    fn copy_from_body(&mut self, mut from: usize, len: usize) {
        self.flush_literal();
        let mut left = len;
        while left > 0 {
            let n = left.min(MAX_COPY);
            self.elements.push(((n - 1) as u8) << 2 | COPY_4);
            self.fixups.push(Fixup {
                at: self.elements.len(),
                to: self.raw_len,
                from,
            });
            self.elements.extend_from_slice(&[0; 4]);
            self.raw_len += n;
            from += n;
            left -= n;
        }
    }

    /// Copies `len` bytes written earlier in this part, at `from`.
    fn copy_from_part(&mut self, from: usize, len: usize) {
        self.flush_literal();
        let offset = self.raw_len - from;
        let mut left = len;
        while left > 0 {
            let n = left.min(MAX_COPY);
            match u16::try_from(offset) {
                Ok(offset) => {
                    self.elements.push(((n - 1) as u8) << 2 | COPY_2);
                    self.elements.extend_from_slice(&offset.to_le_bytes());
                }
                Err(_) => {
                    // The caller keeps offsets within four bytes.
                    self.elements.push(((n - 1) as u8) << 2 | COPY_4);
                    self.elements
                        .extend_from_slice(&(offset as u32).to_le_bytes());
                }
            }
            self.raw_len += n;
            left -= n;
        }
    }
}

/// The name and value of a label record written as [`SourceLabels`] requires.
fn split_record(record: &[u8]) -> Option<(&[u8], &[u8])> {
    let [0x0a, _, 0x0a, name_len, rest @ ..] = record else {
        return None;
    };
    let (name, rest) = rest.split_at_checked(usize::from(*name_len))?;
    let [0x12, value_len, value @ ..] = rest else {
        return None;
    };
    (usize::from(*value_len) == value.len()).then_some((name, value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::LabelRef;
    use crate::output::OutputWriter;
    use omen_scoring::Scored;

    const KINDS: [OutputKind; 4] = [
        OutputKind::Score,
        OutputKind::Expected,
        OutputKind::Lower,
        OutputKind::Upper,
    ];

    /// A small deterministic generator.
    struct Random(u64);

    impl Random {
        fn next(&mut self) -> usize {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            (self.0 >> 33) as usize
        }
    }

    /// Sorted labels with a metric name, sometimes with names sorting before `__name__`, an
    /// `omen_metric` of their own, or names after it.
    fn labels(random: &mut Random) -> Vec<(String, String)> {
        let names = [
            "AZ",
            "Zone",
            "a",
            "instance",
            "job",
            "omen_metric",
            "omen_metricz",
            "zone",
            "z",
        ];
        let mut labels = vec![(
            "__name__".to_string(),
            format!("metric_{}", random.next() % 50),
        )];
        for _ in 0..random.next() % 8 {
            let name = names[random.next() % names.len()].to_string();
            if labels.iter().all(|(n, _)| *n != name) {
                let value = "v".repeat(1 + random.next() % 40);
                labels.push((name, value));
            }
        }
        labels.sort();
        labels
    }

    fn records(labels: &[(String, String)]) -> Vec<u8> {
        let mut out = Vec::new();
        for (name, value) in labels {
            write_label_record(&mut out, name.as_bytes(), value.as_bytes());
        }
        out
    }

    fn points(random: &mut Random) -> Vec<OutputPoint> {
        (0..1 + random.next() % 3)
            .map(|i| OutputPoint {
                timestamp: 1_700_000_000_000 + i as i64 * 15_000,
                scored: (!random.next().is_multiple_of(6)).then(|| Scored {
                    score: random.next() as f64 / 9.0,
                    model_score: 0.5,
                    expected: -(random.next() as f64),
                    lower: -1.0,
                    upper: random.next() as f64,
                }),
            })
            .collect()
    }

    /// Writes `series` sets of outputs, split into `parts` parts, after a received body of the
    /// originals' label records (and `padding` bytes before them, to push offsets past 16 bits);
    /// checks the joined body decompresses to the received bytes, then what `OutputWriter` writes
    /// for each series, in order.
    fn check(seed: u64, series: usize, parts: usize, padding: usize) {
        let mut random = Random(seed);
        let sets: Vec<_> = (0..series).map(|_| labels(&mut random)).collect();
        let mut received = vec![b'x'; padding];
        let mut at = Vec::new();
        for set in &sets {
            at.push(received.len());
            received.extend_from_slice(&records(set));
        }
        let sent = bytes::Bytes::from(
            snap::raw::Encoder::new()
                .compress_vec(&received)
                .expect("compresses"),
        );
        let mut expected = received.clone();
        let mut writer = OutputWriter::default();
        let mut copies: Vec<OutputCopies> = (0..parts).map(|_| OutputCopies::default()).collect();
        let per_part = series.div_ceil(parts);
        let mut expected_parts = vec![Vec::new(); parts];
        for (i, set) in sets.iter().enumerate() {
            let kinds = &KINDS[..1 + random.next() % 4];
            let points = points(&mut random);
            let pairs: Vec<LabelRef<'_>> = set
                .iter()
                .map(|(n, v)| LabelRef {
                    name: n.as_bytes(),
                    value: v.as_bytes(),
                })
                .collect();
            let reference = writer.write(&mut expected_parts[i / per_part], &pairs, kinds, &points);
            let source = SourceLabels {
                records: &received[at[i]..at[i] + records(set).len()],
                at: at[i],
            };
            assert_eq!(
                copies[i / per_part].write(source, kinds, &points),
                Some(reference)
            );
        }
        let mut bodies = vec![CompressedBody::received(sent).expect("a header")];
        let mut start = received.len();
        for part in copies {
            let raw_len = part.raw_len();
            bodies.push(part.finish(start).expect("finishes"));
            start += raw_len;
        }
        for part in expected_parts {
            expected.extend_from_slice(&part);
        }
        let joined = CompressedBody::join(&bodies);
        let decompressed = snap::raw::Decoder::new()
            .decompress_vec(&joined)
            .expect("valid snappy");
        assert_eq!(decompressed, expected, "seed {seed}");
    }

    #[test]
    fn output_series_decompress_to_what_the_output_writer_writes() {
        for seed in 0..200 {
            check(seed, 1 + seed as usize % 7, 1 + seed as usize % 3, 0);
        }
    }

    #[test]
    fn copies_reach_far_back_and_literals_grow_long() {
        // Offsets past 16 bits, copies of name records far back, and parts split across threads.
        check(7, 3000, 1, 70_000);
        check(8, 3000, 2, 0);
    }

    #[test]
    fn records_not_written_as_in_place_labels_are_refused() {
        let kinds = [OutputKind::Score];
        let points = [OutputPoint {
            timestamp: 1,
            scored: None,
        }];
        let mut copies = OutputCopies::default();
        let no_name = records(&[("job".into(), "x".into())]);
        let truncated = &records(&[("__name__".into(), "up".into())])[..5];
        for bad in [&no_name[..], truncated, &[0x0a, 0x03, 0x12, 0x00, 0x00]] {
            let source = SourceLabels {
                records: bad,
                at: 0,
            };
            assert_eq!(copies.write(source, &kinds, &points), None, "{bad:x?}");
        }
        assert_eq!(copies.raw_len(), 0, "nothing written");
    }
}
