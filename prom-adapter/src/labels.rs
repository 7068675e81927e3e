//! Label-set validation and normalisation, and series identity hashing.

use crate::proto::v1::Label;

/// The label holding the metric name.
pub const METRIC_NAME: &[u8] = b"__name__";

/// A label pair: owned ([`Label`]) or borrowed from a request buffer ([`LabelRef`]).
pub trait LabelPair {
    /// The label name.
    fn name(&self) -> &[u8];
    /// The label value.
    fn value(&self) -> &[u8];
}

impl LabelPair for Label {
    fn name(&self) -> &[u8] {
        &self.name
    }
    fn value(&self) -> &[u8] {
        &self.value
    }
}

/// A label pair pointing into a decoded request (no copy, no reference count).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LabelRef<'a> {
    /// Label name.
    pub name: &'a [u8],
    /// Label value.
    pub value: &'a [u8],
}

impl LabelPair for LabelRef<'_> {
    fn name(&self) -> &[u8] {
        self.name
    }
    fn value(&self) -> &[u8] {
        self.value
    }
}

impl<'a> From<&'a Label> for LabelRef<'a> {
    fn from(label: &'a Label) -> Self {
        Self {
            name: &label.name,
            value: &label.value,
        }
    }
}

/// Limits applied to every series' labels.
#[derive(Clone, Copy, Debug)]
pub struct LabelLimits {
    /// Most labels per series.
    pub max_labels: usize,
    /// Longest label name, bytes.
    pub max_name_bytes: usize,
    /// Longest label value, bytes.
    pub max_value_bytes: usize,
}

/// Validates and normalises a label set in place: empty-valued labels are dropped (Prometheus
/// treats them as absent), unsorted labels are sorted; returns whether anything changed, or a
/// readable reason when the set is invalid.
pub fn normalise<L: LabelPair>(labels: &mut Vec<L>, limits: &LabelLimits) -> Result<bool, String> {
    // Most label sets arrive valid and sorted: one pass decides that, and anything else takes the
    // full path below, which also words the error.
    if is_valid_and_sorted(labels, limits) {
        return Ok(false);
    }
    let before = labels.len();
    labels.retain(|l| !l.value().is_empty());
    let mut changed = labels.len() != before;
    if labels.len() > limits.max_labels {
        return Err(format!(
            "{} labels, over the limit of {}",
            labels.len(),
            limits.max_labels
        ));
    }
    for label in labels.iter() {
        check_label(label, limits)?;
    }
    if !labels.is_sorted_by(|a, b| a.name() <= b.name()) {
        labels.sort_unstable_by(|a, b| a.name().cmp(b.name()));
        changed = true;
    }
    if let Some(pair) = labels.windows(2).find(|w| w[0].name() == w[1].name()) {
        return Err(format!(
            "duplicate label name `{}`",
            String::from_utf8_lossy(pair[0].name())
        ));
    }
    match labels.iter().find(|l| l.name() == METRIC_NAME) {
        None => Err("no metric name (label `__name__`)".into()),
        Some(name) if !is_metric_name(name.value()) => Err(format!(
            "invalid metric name `{}`",
            String::from_utf8_lossy(name.value())
        )),
        Some(_) => Ok(changed),
    }
}

/// Whether `normalise` would accept the set unchanged: within the limits, no empty value, every
/// label valid, names strictly increasing (sorted, no duplicates), a valid metric name.
fn is_valid_and_sorted<L: LabelPair>(labels: &[L], limits: &LabelLimits) -> bool {
    if labels.len() > limits.max_labels {
        return false;
    }
    let mut metric_name = None;
    let mut previous: &[u8] = &[];
    for label in labels {
        let (name, value) = (label.name(), label.value());
        if value.is_empty()
            || name.len() > limits.max_name_bytes
            || value.len() > limits.max_value_bytes
            || !is_label_name(name)
            || !is_utf8(value)
            || name <= previous
        {
            return false;
        }
        if name == METRIC_NAME {
            metric_name = Some(value);
        }
        previous = name;
    }
    metric_name.is_some_and(is_metric_name)
}

fn check_label<L: LabelPair>(label: &L, limits: &LabelLimits) -> Result<(), String> {
    let name = label.name();
    if name.is_empty() {
        return Err("empty label name".into());
    }
    if name.len() > limits.max_name_bytes {
        return Err(format!(
            "label name of {} bytes, over the limit of {}",
            name.len(),
            limits.max_name_bytes
        ));
    }
    if !is_label_name(name) {
        return Err(format!(
            "invalid label name `{}`",
            String::from_utf8_lossy(name)
        ));
    }
    if label.value().len() > limits.max_value_bytes {
        return Err(format!(
            "value of label `{}` has {} bytes, over the limit of {}",
            String::from_utf8_lossy(name),
            label.value().len(),
            limits.max_value_bytes
        ));
    }
    if !is_utf8(label.value()) {
        return Err(format!(
            "value of label `{}` is not valid UTF-8",
            String::from_utf8_lossy(name)
        ));
    }
    Ok(())
}

/// UTF-8 check with a fast path for ASCII (most label values).
fn is_utf8(text: &[u8]) -> bool {
    text.is_ascii() || std::str::from_utf8(text).is_ok()
}

/// Character classes of label and metric names, one bit each, indexed by byte.
const LABEL_FIRST: u8 = 1;
const LABEL_REST: u8 = 2;
const METRIC_FIRST: u8 = 4;
const METRIC_REST: u8 = 8;
const CLASSES: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        let alpha = b.is_ascii_alphabetic() || b == b'_';
        let digit = b.is_ascii_digit();
        let mut class = 0;
        if alpha {
            class |= LABEL_FIRST | LABEL_REST | METRIC_FIRST | METRIC_REST;
        }
        if digit {
            class |= LABEL_REST | METRIC_REST;
        }
        if b == b':' {
            class |= METRIC_FIRST | METRIC_REST;
        }
        table[c] = class;
        c += 1;
    }
    table
};

fn is_in_classes(text: &[u8], first: u8, rest: u8) -> bool {
    match text.split_first() {
        Some((&head, tail)) => {
            CLASSES[head as usize] & first != 0
                && tail.iter().all(|&c| CLASSES[c as usize] & rest != 0)
        }
        None => false,
    }
}

/// `[a-zA-Z_][a-zA-Z0-9_]*`
fn is_label_name(name: &[u8]) -> bool {
    is_in_classes(name, LABEL_FIRST, LABEL_REST)
}

/// `[a-zA-Z_:][a-zA-Z0-9_:]*`
fn is_metric_name(name: &[u8]) -> bool {
    is_in_classes(name, METRIC_FIRST, METRIC_REST)
}

/// The metric name of a normalised label set.
pub fn metric_name<L: LabelPair>(labels: &[L]) -> &[u8] {
    labels
        .iter()
        .find(|l| l.name() == METRIC_NAME)
        .map_or(b"", LabelPair::value)
}

/// A stable 64-bit identity of a sorted label set: xxh3 of the labels written as remote write's
/// `TimeSeries.labels` records (key, length, name field, value field, each length one varint).
/// A received series whose label records are already in that form is hashed in place
/// ([`hash_encoded_labels`]), which gives the same value without the copy.
pub fn series_hash<L: LabelPair>(labels: &[L]) -> u64 {
    thread_local! {
        static ENCODED: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    ENCODED.with_borrow_mut(|encoded| {
        encoded.clear();
        for label in labels {
            crate::output::write_label_record(encoded, label.name(), label.value());
        }
        let hash = hash_encoded_labels(encoded);
        if encoded.capacity() > 1 << 16 {
            *encoded = Vec::new();
        }
        hash
    })
}

/// [`series_hash`] of label records already written in its form.
pub fn hash_encoded_labels(encoded: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(encoded)
}

/// A short readable form of a label set for error messages (`name{a="b",...}`), truncated.
pub fn describe<L: LabelPair>(labels: &[L]) -> String {
    let mut out = String::from_utf8_lossy(metric_name(labels)).into_owned();
    out.push('{');
    let mut first = true;
    for label in labels.iter().filter(|l| l.name() != METRIC_NAME) {
        if !first {
            out.push(',');
        }
        first = false;
        out.push_str(&String::from_utf8_lossy(label.name()));
        out.push_str("=\"");
        out.push_str(&String::from_utf8_lossy(label.value()));
        out.push('"');
        if out.len() > 200 {
            out.truncate(200);
            out.push('…');
            break;
        }
    }
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use prost::Message;

    fn l(name: &'static str, value: &'static str) -> Label {
        Label {
            name: Bytes::from_static(name.as_bytes()),
            value: Bytes::from_static(value.as_bytes()),
        }
    }

    const LIMITS: LabelLimits = LabelLimits {
        max_labels: 4,
        max_name_bytes: 16,
        max_value_bytes: 16,
    };

    #[test]
    fn unsorted_labels_are_sorted_and_empty_values_dropped() {
        let mut labels = vec![
            l("job", "api"),
            l("__name__", "up"),
            l("empty", ""),
            l("Instance", "a"),
        ];
        assert!(normalise(&mut labels, &LIMITS).expect("valid"), "changed");
        let names: Vec<_> = labels.iter().map(|l| l.name.clone()).collect();
        assert_eq!(
            names,
            vec![
                Bytes::from_static(b"Instance"),
                Bytes::from_static(b"__name__"),
                Bytes::from_static(b"job")
            ]
        );
    }

    #[test]
    fn invalid_label_sets_are_refused_with_a_reason() {
        let cases: Vec<(Vec<Label>, &str)> = vec![
            (vec![l("job", "api")], "no metric name"),
            (
                vec![l("__name__", "up"), l("job", "a"), l("job", "b")],
                "duplicate label name `job`",
            ),
            (vec![l("__name__", "up"), l("", "x")], "empty label name"),
            (
                vec![l("__name__", "up"), l("bad-name", "x")],
                "invalid label name",
            ),
            (vec![l("__name__", "1up")], "invalid metric name"),
            (
                vec![
                    l("__name__", "up"),
                    l("a", "1"),
                    l("b", "1"),
                    l("c", "1"),
                    l("d", "1"),
                ],
                "over the limit of 4",
            ),
            (
                vec![l("__name__", "up"), l("a", "01234567890123456789")],
                "over the limit of 16",
            ),
        ];
        for (mut labels, reason) in cases {
            let err = normalise(&mut labels, &LIMITS).expect_err(reason);
            assert!(err.contains(reason), "{err} should contain {reason}");
        }
        let mut bad_utf8 = vec![
            l("__name__", "up"),
            Label {
                name: Bytes::from_static(b"a"),
                value: Bytes::from_static(b"\xff"),
            },
        ];
        assert!(
            normalise(&mut bad_utf8, &LIMITS)
                .expect_err("utf8")
                .contains("UTF-8")
        );
    }

    /// `normalise` as it was before the one-pass fast path (the reference it is checked against).
    fn normalise_reference(labels: &mut Vec<Label>, limits: &LabelLimits) -> Result<bool, String> {
        fn label_name(name: &[u8]) -> bool {
            matches!(name.first(), Some(c) if c.is_ascii_alphabetic() || *c == b'_')
                && name.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
        }
        fn metric(name: &[u8]) -> bool {
            matches!(name.first(), Some(c) if c.is_ascii_alphabetic() || *c == b'_' || *c == b':')
                && name
                    .iter()
                    .all(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b':')
        }
        let before = labels.len();
        labels.retain(|l| !l.value.is_empty());
        let mut changed = labels.len() != before;
        if labels.len() > limits.max_labels {
            return Err(format!(
                "{} labels, over the limit of {}",
                labels.len(),
                limits.max_labels
            ));
        }
        for label in labels.iter() {
            let name = &label.name[..];
            if name.is_empty() {
                return Err("empty label name".into());
            }
            if name.len() > limits.max_name_bytes {
                return Err(format!(
                    "label name of {} bytes, over the limit of {}",
                    name.len(),
                    limits.max_name_bytes
                ));
            }
            if !label_name(name) {
                return Err(format!(
                    "invalid label name `{}`",
                    String::from_utf8_lossy(name)
                ));
            }
            if label.value.len() > limits.max_value_bytes {
                return Err(format!(
                    "value of label `{}` has {} bytes, over the limit of {}",
                    String::from_utf8_lossy(name),
                    label.value.len(),
                    limits.max_value_bytes
                ));
            }
            if std::str::from_utf8(&label.value).is_err() {
                return Err(format!(
                    "value of label `{}` is not valid UTF-8",
                    String::from_utf8_lossy(name)
                ));
            }
        }
        if !labels.is_sorted_by(|a, b| a.name <= b.name) {
            labels.sort_unstable_by(|a, b| a.name.cmp(&b.name));
            changed = true;
        }
        if let Some(pair) = labels.windows(2).find(|w| w[0].name == w[1].name) {
            return Err(format!(
                "duplicate label name `{}`",
                String::from_utf8_lossy(&pair[0].name)
            ));
        }
        match labels.iter().find(|l| &l.name[..] == METRIC_NAME) {
            None => Err("no metric name (label `__name__`)".into()),
            Some(name) if !metric(&name.value) => Err(format!(
                "invalid metric name `{}`",
                String::from_utf8_lossy(&name.value)
            )),
            Some(_) => Ok(changed),
        }
    }

    #[test]
    fn normalise_agrees_with_the_reference_on_random_label_sets() {
        let names: [&[u8]; 12] = [
            b"__name__",
            b"job",
            b"Zone",
            b"_x",
            b"a1",
            b"1a",
            b"bad-name",
            b"",
            b"job",
            b"\xc3\xa9",
            b"very_long_label_name",
            b"le",
        ];
        let values: [&[u8]; 10] = [
            b"up",
            b"",
            b"api",
            b"\xc3\xa9t\xc3\xa9",
            b"\xff",
            b"1up",
            b"a:b",
            b"x".as_slice(),
            b"0123456789abcdefXYZ",
            b"\xe2\x82",
        ];
        let mut state = 7u64;
        let mut next = move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            (state >> 33) as usize
        };
        let (mut valid, mut invalid) = (0, 0);
        for _ in 0..20_000 {
            let mut labels: Vec<Label> = (0..next() % 6)
                .map(|_| Label {
                    name: Bytes::from_static(names[next() % names.len()]),
                    value: Bytes::from_static(values[next() % values.len()]),
                })
                .collect();
            if next() % 2 == 0 {
                labels.push(l("__name__", ["up", "1up", "a:b", ""][next() % 4]));
            }
            if next() % 2 == 0 {
                labels.sort_by(|a, b| a.name.cmp(&b.name));
            }
            let mut expected_labels = labels.clone();
            let expected = normalise_reference(&mut expected_labels, &LIMITS);
            let got = normalise(&mut labels, &LIMITS);
            assert_eq!(got, expected, "{expected_labels:?}");
            if got.is_ok() {
                assert_eq!(labels, expected_labels);
                valid += 1;
            } else {
                invalid += 1;
            }
        }
        assert!(
            valid > 1000 && invalid > 1000,
            "{valid} valid, {invalid} invalid"
        );
    }

    #[test]
    fn hash_is_the_xxh3_of_the_label_records_as_prost_writes_them() {
        let hashes_prost_bytes = |labels: &[Label]| {
            let series = crate::proto::v1::TimeSeries {
                labels: labels.to_vec(),
                ..Default::default()
            };
            assert_eq!(
                series_hash(labels),
                xxhash_rust::xxh3::xxh3_64(&series.encode_to_vec())
            );
        };
        hashes_prost_bytes(&[l("__name__", "up"), l("job", "api"), l("zone", "b")]);
        let long: Vec<Label> = (0..200)
            .map(|i| Label {
                name: Bytes::from(format!("label_{i:03}")),
                value: Bytes::from("v".repeat(i * 7 + 1)),
            })
            .collect();
        hashes_prost_bytes(&long);
        hashes_prost_bytes(&[]);
    }

    #[test]
    fn hash_depends_on_names_and_values_not_on_their_split() {
        assert_ne!(series_hash(&[l("ab", "c")]), series_hash(&[l("a", "bc")]));
        assert_eq!(series_hash(&[l("a", "b")]), series_hash(&[l("a", "b")]));
    }
}
