//! One remote-write request end to end: decode, validate, score, write outputs, forward.

use std::sync::Arc;

use bytes::Bytes;
use omen_scoring::{Input, Outcome, Scorer, SeriesKind, Skip};

use crate::Error;
use crate::body::{BodyWriter, CompressedBody};
use crate::copies::{OutputCopies, SourceLabels};
use crate::decode::{self, Protocol};
use crate::forward::{Forwarder, Part};
use crate::kinds::MetadataCache;
use crate::labels::{self, LabelLimits};
use crate::metrics::{Metrics, stage};
use crate::output::{self, OutputKind, OutputPoint, OutputWriter};
use crate::proto::{MetricType, v1};
use crate::selector::SeriesFilter;
use crate::threads::ScoringThreads;
use crate::validated::ValidatedLabels;
use crate::view::{self, SeriesView};
use crate::view_v2;

/// How many problems an error body lists before summarising.
const MAX_LISTED_PROBLEMS: usize = 5;

/// Scored samples a request needs before it is split across the scoring threads.
const MIN_SPLIT_SAMPLES: usize = 512;

/// Decompressed requests larger than this get a buffer of their own, not kept for the next.
const MAX_KEPT_BUFFER: usize = 8 << 20;

/// Samples a scoring part's kept buffers may hold; a larger part's buffers are dropped after it.
const MAX_KEPT_SAMPLES: usize = 1 << 16;

thread_local! {
    static DECOMPRESSED: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    static SCORING: std::cell::RefCell<ScoringBuffers> = std::cell::RefCell::default();
}

/// The buffers of one scoring part, kept for the thread's next part: allocating them afresh for
/// each request took fresh memory from the system again and again.
#[derive(Default)]
struct ScoringBuffers {
    inputs: Vec<Input>,
    ranges: Vec<Option<std::ops::Range<usize>>>,
    outcomes: Vec<Outcome>,
}

/// Counts of what a request carried and what was accepted (reported in 2.0 response headers).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Written {
    /// Float samples accepted.
    pub samples: usize,
    /// Native histogram samples accepted.
    pub histograms: usize,
    /// Exemplars accepted.
    pub exemplars: usize,
}

/// Everything a request needs, shared by all requests.
pub struct Pipeline {
    /// The streaming scorer.
    pub scorer: Arc<Scorer>,
    /// The downstream forwarder.
    pub forwarder: Forwarder,
    /// Self-metrics.
    pub metrics: Metrics,
    /// Which series are scored.
    pub filter: SeriesFilter,
    /// Output series per scored series.
    pub outputs: Vec<OutputKind>,
    /// Label limits.
    pub limits: LabelLimits,
    /// Largest decompressed body.
    pub max_decoded_bytes: usize,
    /// Fall back to name suffixes for counter detection.
    pub counter_suffixes: bool,
    /// Types learnt from 1.0 metadata.
    pub metadata: MetadataCache,
    /// Received label sets already found valid under `limits`.
    pub validated: ValidatedLabels,
    /// Helper threads that score parts of large requests.
    pub threads: ScoringThreads,
}

/// A 1.0 request as received: its body, and the body decompressed (which the views borrow).
struct Received<'a> {
    body: Bytes,
    raw: &'a [u8],
}

/// How a request goes downstream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Forwarding {
    /// The received body whole, followed by the output series written as copies of the
    /// originals' label records ([`OutputCopies`]).
    Whole,
    /// Originals and outputs encoded again, into the bodies of their series' shards.
    Encoded,
}

/// What a group of shards turned into.
enum Encoded {
    /// One part per shard, originals and outputs.
    Parts(Vec<Part>),
    /// The output series of a request forwarded whole, and how many samples they hold.
    Copies(OutputCopies, usize),
}

/// A validated series ready for scoring and forwarding.
struct Prepared<'s, 'a> {
    series: &'s SeriesView<'a>,
    /// Whether normalisation changed its labels (else its received bytes are forwarded).
    relabelled: bool,
    /// Where its label records start in the decompressed request, when they are written as
    /// [`SourceLabels`] requires.
    labels_at: Option<usize>,
    hash: u64,
    /// Forwarding shard of the series.
    shard: usize,
    /// How its samples are scored; `None` when they are not.
    kind: Option<SeriesKind>,
}

/// What a request turned into: the parts to forward, what was accepted and, when some series
/// were refused, the error to answer once the accepted ones are delivered.
pub type Processed = (Vec<Part>, Written, Option<Error>);

impl Pipeline {
    /// Forwards what [`Pipeline::decode_and_process`] made of a request and answers for it; on
    /// error, `Written` still says what was accepted.
    pub async fn deliver(
        &self,
        processed: Result<Processed, Error>,
    ) -> (Written, Result<(), Error>) {
        let (parts, written, problems) = match processed {
            Ok(processed) => processed,
            Err(error) => return (Written::default(), Err(error)),
        };
        if let Err(error) = self.forwarder.send(parts).await {
            if !matches!(error, Error::DownstreamRejected(_)) {
                self.count_error(&error, stage::FORWARD);
            }
            return (Written::default(), Err(error));
        }
        match problems {
            Some(error) => (written, Err(error)),
            None => (written, Ok(())),
        }
    }

    /// Decompresses, decodes and processes a body: the CPU work of a request.
    pub fn decode_and_process(&self, protocol: Protocol, body: Bytes) -> Result<Processed, Error> {
        // The request is viewed in place in a per-thread buffer reused from request to request
        // (the views end before the caller awaits anything; helper threads never take requests).
        DECOMPRESSED.with_borrow_mut(|raw| {
            let processed =
                decode::decompress_into(&body, self.max_decoded_bytes, raw).and_then(|raw| {
                    let (series, declared, metadata, unknown_fields) = match protocol {
                        Protocol::V1 => view::decode_v1(raw).map(|request| {
                            let unknown = request.unknown_fields;
                            (request.series, Vec::new(), request.metadata, unknown)
                        }),
                        Protocol::V2 => view_v2::decode_v2(raw).map(|typed| {
                            let (series, declared) = typed.into_iter().unzip();
                            (series, declared, Vec::new(), true)
                        }),
                    }
                    .inspect_err(|error| self.count_error(error, stage::DECODE))?;
                    // Fields the decoder skipped are not forwarded by the other path either.
                    let has_data = !series.is_empty() || !metadata.is_empty();
                    let received = (has_data && !unknown_fields).then_some(Received { body, raw });
                    self.process(protocol, series, &declared, metadata, received)
                        .inspect_err(|error| self.count_error(error, stage::SCORE))
                });
            if raw.capacity() > MAX_KEPT_BUFFER {
                *raw = Vec::new();
            }
            processed
        })
    }

    fn count_error(&self, error: &Error, stage: &str) {
        self.metrics
            .errors
            .with_label_values(&[error.error_type(), stage])
            .inc();
    }

    /// Validates, then scores and encodes, a large request in parts on several threads.
    ///
    /// `declared` holds the types 2.0 series declare, in order (1.0 series declare none).
    /// When every series of a 1.0 request (`received`, only given for a request with series or
    /// metadata and no unknown fields) is accepted as it came and holds data, the body itself is
    /// forwarded for the originals, followed by the output series as copies of their labels.
    fn process(
        &self,
        protocol: Protocol,
        mut series: Vec<SeriesView<'_>>,
        declared: &[MetricType],
        metadata: Vec<v1::MetricMetadata>,
        received: Option<Received<'_>>,
    ) -> Result<Processed, Error> {
        if !metadata.is_empty() {
            let families = self.metadata.learn(metadata.iter().map(|m| {
                (
                    m.metric_family_name.clone(),
                    MetricType::try_from(m.r#type).unwrap_or(MetricType::Unknown),
                )
            }));
            self.metrics.metadata_families.set(families as i64);
        }
        let mut problems = Vec::new();
        let mut rejected = 0usize;
        let mut written = Written::default();
        let mut scored_samples = 0usize;
        // Whether a series was relabelled or is empty (which the encoded path does not forward).
        let mut changed = false;
        let mut prepared = Vec::with_capacity(series.len());
        {
            let types = self.metadata.view();
            // Label records received in the hash's own encoding are hashed in place, and a set
            // found valid before is not checked again. The set is looked up in a loop of its own:
            // the lookups do not depend on each other, so their cache misses overlap.
            let in_place: Vec<_> = series
                .iter()
                .map(|ts| ts.raw_labels.map(labels::hash_encoded_labels))
                .collect();
            let known: Vec<_> = in_place
                .iter()
                .map(|hash| hash.is_some_and(|hash| self.validated.contains(hash)))
                .collect();
            for (i, ((ts, in_place), known)) in
                series.iter_mut().zip(in_place).zip(known).enumerate()
            {
                let declared = declared.get(i).copied().unwrap_or(MetricType::Unknown);
                let relabelled = if known {
                    false
                } else {
                    match labels::normalise(&mut ts.labels, &self.limits) {
                        Ok(relabelled) => relabelled,
                        Err(why) => {
                            rejected += 1;
                            if problems.len() < MAX_LISTED_PROBLEMS {
                                problems.push(format!("{}: {why}", labels::describe(&ts.labels)));
                            }
                            continue;
                        }
                    }
                };
                changed |= relabelled
                    || ts.samples.is_empty() && ts.histograms.is_empty() && ts.exemplars.is_empty();
                let hash = match (relabelled, in_place) {
                    (false, Some(hash)) => {
                        if !known {
                            self.validated.insert(hash);
                        }
                        hash
                    }
                    _ => labels::series_hash(&ts.labels),
                };
                written.samples += ts.samples.len();
                written.histograms += ts.histograms.len();
                written.exemplars += ts.exemplars.len();
                let scored = !ts.samples.is_empty() && self.filter.selects(&ts.labels);
                let kind = scored.then(|| {
                    scored_samples += ts.samples.len();
                    types.kind(
                        labels::metric_name(&ts.labels),
                        declared,
                        self.counter_suffixes,
                    )
                });
                let labels_at = received_at(received.as_ref(), ts.raw_labels);
                let ts: &SeriesView<'_> = ts;
                prepared.push(Prepared {
                    series: ts,
                    relabelled,
                    labels_at,
                    hash,
                    shard: self.forwarder.shard_of(hash),
                    kind,
                });
            }
        }
        self.metrics
            .samples_received
            .with_label_values(&[protocol.as_str()])
            .inc_by(written.samples as u64);
        self.metrics
            .histograms_received
            .inc_by(written.histograms as u64);
        self.metrics
            .exemplars_received
            .inc_by(written.exemplars as u64);

        let whole = received
            .filter(|_| {
                rejected == 0
                    && !changed
                    && prepared
                        .iter()
                        .all(|p| p.kind.is_none() || p.labels_at.is_some())
            })
            .and_then(|received| CompressedBody::received(received.body));
        let forwarding = if whole.is_some() {
            Forwarding::Whole
        } else {
            Forwarding::Encoded
        };
        // Parts are unions of whole shards, so a series is scored by one thread, its samples in order.
        let groups = if scored_samples >= MIN_SPLIT_SAMPLES {
            self.threads.count().min(self.forwarder.shard_count())
        } else {
            1
        };
        let encoded = self.threads.split(groups, |group| {
            let metadata: &[v1::MetricMetadata] = if group == 0 { &metadata } else { &[] };
            self.score_and_encode(&prepared, group, groups, forwarding, metadata)
        });
        let mut parts = Vec::with_capacity(self.forwarder.shard_count());
        match whole {
            None => {
                for group in encoded {
                    if let Encoded::Parts(group) = group? {
                        parts.extend(group);
                    }
                }
            }
            Some(received) => {
                let originals = written.samples + written.histograms;
                let mut samples = originals;
                let mut start = received.raw_len();
                let mut bodies = vec![received];
                for group in encoded {
                    if let Encoded::Copies(copies, outputs) = group?
                        && outputs > 0
                    {
                        let len = copies.raw_len();
                        bodies.push(copies.finish(start)?);
                        start += len;
                        samples += outputs;
                    }
                }
                let body = match <[CompressedBody; 1]>::try_from(bodies) {
                    Ok([received]) => received,
                    Err(bodies) => CompressedBody::joined(&bodies),
                };
                parts.push(Part {
                    shard: self.forwarder.next_shard(),
                    body,
                    samples,
                    originals,
                });
            }
        }
        parts.sort_unstable_by_key(|part| part.shard);
        let problem = (rejected > 0).then(|| {
            self.metrics.series_rejected.inc_by(rejected as u64);
            self.metrics
                .errors
                .with_label_values(&["invalid_series", stage::VALIDATE])
                .inc();
            let more = rejected.saturating_sub(problems.len());
            let mut message = problems.join("; ");
            if more > 0 {
                message.push_str(&format!("; and {more} more"));
            }
            Error::Invalid { rejected, message }
        });
        Ok((parts, written, problem))
    }

    /// Scores and encodes the series of the shards `shard % groups == group`; shard 0's part
    /// also carries `metadata`.
    fn score_and_encode(
        &self,
        prepared: &[Prepared<'_, '_>],
        group: usize,
        groups: usize,
        forwarding: Forwarding,
        metadata: &[v1::MetricMetadata],
    ) -> Result<Encoded, Error> {
        let mine = || prepared.iter().filter(|p| p.shard % groups == group);
        SCORING.with(|kept| {
            // A thread scores one part at a time; should its buffers ever be in use already,
            // the part gets fresh ones.
            let mut held = kept.try_borrow_mut();
            let mut fresh = ScoringBuffers::default();
            let buffers = match held.as_deref_mut() {
                Ok(kept) => kept,
                Err(_) => &mut fresh,
            };
            let ScoringBuffers {
                inputs,
                ranges,
                outcomes,
            } = buffers;
            inputs.clear();
            ranges.clear();
            ranges.extend(mine().map(|p| {
                p.kind.map(|kind| {
                    let start = inputs.len();
                    inputs.extend(p.series.samples.iter().map(|s| Input {
                        series: p.hash,
                        kind,
                        timestamp_ms: s.timestamp,
                        value: s.value,
                    }));
                    start..inputs.len()
                })
            }));
            let parts = self
                .scorer
                .score(inputs, outcomes)
                .map_err(|e| Error::Internal(e.to_string()))
                .and_then(|()| {
                    self.count_outcomes(outcomes);
                    let series = mine().zip(ranges.drain(..));
                    match forwarding {
                        Forwarding::Whole => self.encode_copies(series, outcomes),
                        Forwarding::Encoded => self
                            .encode(series, outcomes, group, groups, metadata)
                            .map(Encoded::Parts),
                    }
                });
            if inputs.capacity() > MAX_KEPT_SAMPLES {
                *buffers = ScoringBuffers::default();
            }
            parts
        })
    }

    fn count_outcomes(&self, outcomes: &[Outcome]) {
        let mut scored = 0u64;
        let mut skipped = [0u64; Skip::ALL.len()];
        for outcome in outcomes {
            match outcome {
                Outcome::Scored(_) => scored += 1,
                Outcome::Skipped(skip) => {
                    if let Some(i) = Skip::ALL.iter().position(|s| s == skip) {
                        skipped[i] += 1;
                    }
                }
            }
        }
        self.metrics.samples_scored.inc_by(scored);
        for (skip, count) in Skip::ALL.iter().zip(skipped) {
            if count > 0 {
                self.metrics
                    .samples_unscored
                    .with_label_values(&[skip.as_str()])
                    .inc_by(count);
            }
        }
        self.metrics
            .active_series
            .set(self.scorer.active_series() as i64);
        self.metrics
            .state_bytes
            .set(self.scorer.state_bytes() as i64);
    }

    /// Writes the series of one group into the bodies of its shards (shard `s` is body
    /// `s / groups`), original records first, then the outputs of the scored ones.
    fn encode<'p>(
        &self,
        series: impl Iterator<Item = (&'p Prepared<'p, 'p>, Option<std::ops::Range<usize>>)>,
        outcomes: &[Outcome],
        group: usize,
        groups: usize,
        metadata: &[v1::MetricMetadata],
    ) -> Result<Vec<Part>, Error> {
        let shards = (self.forwarder.shard_count() - group).div_ceil(groups);
        let mut bodies: Vec<(BodyWriter, usize, usize)> =
            (0..shards).map(|_| (BodyWriter::default(), 0, 0)).collect();
        let mut points = Vec::new();
        let mut writer = OutputWriter::default();
        for (p, range) in series {
            let (body, samples, originals) = &mut bodies[p.shard / groups];
            let original = p.series.samples.len() + p.series.histograms.len();
            if original > 0 || !p.series.exemplars.is_empty() {
                p.series.write_record(body.records(), p.relabelled);
                *samples += original;
                *originals += original;
            }
            if let Some(range) = range {
                output_points(p, &outcomes[range], &mut points);
                *samples += writer.write(body.records(), &p.series.labels, &self.outputs, &points);
            }
            body.compress_full_blocks()?;
        }
        if let Some((body, _, _)) = bodies.first_mut() {
            for m in metadata {
                output::write_metadata(body.records(), m);
            }
        }
        let mut parts = Vec::with_capacity(shards);
        for (index, (body, samples, originals)) in bodies.into_iter().enumerate() {
            if !body.is_empty() {
                parts.push(Part {
                    shard: index * groups + group,
                    body: body.finish()?,
                    samples,
                    originals,
                });
            }
        }
        Ok(parts)
    }

    /// Writes the outputs of one group's scored series as copies of their label records,
    /// which the received body holds.
    fn encode_copies<'p>(
        &self,
        series: impl Iterator<Item = (&'p Prepared<'p, 'p>, Option<std::ops::Range<usize>>)>,
        outcomes: &[Outcome],
    ) -> Result<Encoded, Error> {
        // About what the elements of one output take: a length, a few copies, the samples.
        let mut copies = OutputCopies::with_capacity(outcomes.len() * self.outputs.len() * 48);
        let mut samples = 0;
        let mut points = Vec::new();
        for (p, range) in series {
            let Some(range) = range else {
                continue;
            };
            let (Some(at), Some(records)) = (p.labels_at, p.series.raw_labels) else {
                return Err(Error::Internal(
                    "a scored series of a request forwarded whole has no label records to copy"
                        .into(),
                ));
            };
            output_points(p, &outcomes[range], &mut points);
            samples += copies
                .write(SourceLabels { records, at }, &self.outputs, &points)
                .ok_or_else(|| {
                    Error::Internal("label records not as the view decoder wrote them".into())
                })?;
        }
        Ok(Encoded::Copies(copies, samples))
    }
}

/// The output points of a scored series: one per scored sample, and a staleness marker per
/// stale one.
fn output_points(p: &Prepared<'_, '_>, outcomes: &[Outcome], points: &mut Vec<OutputPoint>) {
    points.clear();
    for (sample, outcome) in p.series.samples.iter().zip(outcomes) {
        match outcome {
            Outcome::Scored(scored) => points.push(OutputPoint {
                timestamp: sample.timestamp,
                scored: Some(*scored),
            }),
            Outcome::Skipped(Skip::Stale) => points.push(OutputPoint {
                timestamp: sample.timestamp,
                scored: None,
            }),
            Outcome::Skipped(_) => {}
        }
    }
}

/// Where `labels`, a slice of the received request, starts in it.
fn received_at(received: Option<&Received<'_>>, labels: Option<&[u8]>) -> Option<usize> {
    let (raw, labels) = (received?.raw, labels?);
    let at = (labels.as_ptr() as usize).checked_sub(raw.as_ptr() as usize)?;
    (at + labels.len() <= raw.len()).then_some(at)
}
