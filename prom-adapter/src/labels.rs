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
    if std::str::from_utf8(label.value()).is_err() {
        return Err(format!(
            "value of label `{}` is not valid UTF-8",
            String::from_utf8_lossy(name)
        ));
    }
    Ok(())
}

/// `[a-zA-Z_][a-zA-Z0-9_]*`
fn is_label_name(name: &[u8]) -> bool {
    matches!(name.first(), Some(c) if c.is_ascii_alphabetic() || *c == b'_')
        && name.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

/// `[a-zA-Z_:][a-zA-Z0-9_:]*`
fn is_metric_name(name: &[u8]) -> bool {
    matches!(name.first(), Some(c) if c.is_ascii_alphabetic() || *c == b'_' || *c == b':')
        && name
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b':')
}

/// The metric name of a normalised label set.
pub fn metric_name<L: LabelPair>(labels: &[L]) -> &[u8] {
    labels
        .iter()
        .find(|l| l.name() == METRIC_NAME)
        .map_or(b"", LabelPair::value)
}

/// A stable 64-bit identity of a sorted label set (xxh3 over `name 0xff value 0xff ...`).
pub fn series_hash<L: LabelPair>(labels: &[L]) -> u64 {
    let mut hasher = xxhash_rust::xxh3::Xxh3Default::new();
    for label in labels {
        hasher.update(label.name());
        hasher.update(&[0xff]);
        hasher.update(label.value());
        hasher.update(&[0xff]);
    }
    hasher.digest()
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

    #[test]
    fn hash_depends_on_names_and_values_not_on_their_split() {
        assert_ne!(series_hash(&[l("ab", "c")]), series_hash(&[l("a", "bc")]));
        assert_eq!(series_hash(&[l("a", "b")]), series_hash(&[l("a", "b")]));
    }
}
