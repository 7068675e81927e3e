//! Reading the score series the Omen adapter stored: `omen_anomaly_score`, `_expected`, `_lower`
//! and `_upper`, each with the original labels plus `omen_metric="<original name>"`.

use std::collections::{BTreeMap, HashMap};

use crate::columns::Columns;
use crate::prom::Series;

/// The label on stored score series that holds the scored series' metric name.
pub const SOURCE_METRIC_LABEL: &str = "omen_metric";

/// The stored output metric names, in the order score, expected, lower, upper.
pub const OUTPUTS: [&str; 4] = [
    "omen_anomaly_score",
    "omen_anomaly_expected",
    "omen_anomaly_lower",
    "omen_anomaly_upper",
];

/// A plain selector `name{matchers}` split into its metric name and matcher text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selector {
    /// The metric name.
    pub name: String,
    /// What stood between the braces (may be empty).
    pub matchers: String,
}

impl Selector {
    /// Parses `name` or `name{...}`; stored scores are looked up by metric name, so anything else
    /// (functions, operators, selectors without a name) is refused.
    pub fn parse(expr: &str) -> Result<Self, String> {
        let expr = expr.trim();
        let end = expr
            .char_indices()
            .find(|&(i, c)| {
                !(c == '_' || c == ':' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit()))
            })
            .map_or(expr.len(), |(i, _)| i);
        let (name, rest) = expr.split_at(end);
        let rest = rest.trim();
        let matchers = if rest.is_empty() {
            ""
        } else if let Some(inner) = rest.strip_prefix('{').and_then(|r| r.strip_suffix('}')) {
            inner.trim().trim_end_matches(',')
        } else {
            ""
        };
        let plain = rest.is_empty() || (rest.starts_with('{') && rest.ends_with('}'));
        if name.is_empty() || !plain || matchers.contains('}') {
            return Err(format!(
                "stored scores need a plain selector such as `http_requests_total{{job=\"api\"}}`, got `{expr}`"
            ));
        }
        Ok(Self {
            name: name.to_owned(),
            matchers: matchers.to_owned(),
        })
    }

    /// The selector of one stored output series for this selector.
    pub fn output(&self, output: &str) -> String {
        let name = format!("{SOURCE_METRIC_LABEL}={:?}", self.name);
        if self.matchers.is_empty() {
            format!("{output}{{{name}}}")
        } else {
            format!("{output}{{{name}, {}}}", self.matchers)
        }
    }
}

/// A series' labels without `__name__` and `omen_metric`, sorted.
type Identity = Vec<(String, String)>;

/// The labels that identify a series across the original and its outputs.
fn identity(labels: &BTreeMap<String, String>) -> Identity {
    labels
        .iter()
        .filter(|(k, _)| *k != "__name__" && *k != SOURCE_METRIC_LABEL)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Joins the original series with the four stored outputs (`outputs` in [`OUTPUTS`] order),
/// matching series by their labels and points by timestamp.
pub fn join(values: Vec<Series>, outputs: [Vec<Series>; 4]) -> Vec<Columns> {
    let mut by_identity: Vec<HashMap<Identity, HashMap<i64, f64>>> = Vec::new();
    for series in outputs {
        by_identity.push(
            series
                .into_iter()
                .map(|s| (identity(&s.labels), s.points.into_iter().collect()))
                .collect(),
        );
    }
    values
        .into_iter()
        .map(|series| {
            let id = identity(&series.labels);
            let lookup = |output: usize, t: i64| {
                by_identity[output]
                    .get(&id)
                    .and_then(|points| points.get(&t))
                    .copied()
                    .filter(|v| v.is_finite())
            };
            let mut columns = Columns {
                labels: series.labels,
                ..Columns::default()
            };
            for (t, v) in series.points {
                columns.times.push(t);
                columns.values.push(v.is_finite().then_some(v));
                columns.score.push(lookup(0, t));
                columns.expected.push(lookup(1, t));
                columns.lower.push(lookup(2, t));
                columns.upper.push(lookup(3, t));
            }
            columns
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_parse() {
        let s = Selector::parse(r#" http_requests_total{job="api", code=~"5.."} "#).expect("plain");
        assert_eq!(s.name, "http_requests_total");
        assert_eq!(s.matchers, r#"job="api", code=~"5..""#);
        assert_eq!(
            s.output("omen_anomaly_score"),
            r#"omen_anomaly_score{omen_metric="http_requests_total", job="api", code=~"5.."}"#
        );
        let s = Selector::parse("up").expect("plain");
        assert_eq!(
            s.output("omen_anomaly_lower"),
            r#"omen_anomaly_lower{omen_metric="up"}"#
        );
        assert_eq!(
            Selector::parse("node:cpu:rate5m{}").expect("plain").name,
            "node:cpu:rate5m"
        );
    }

    #[test]
    fn expressions_are_refused_for_stored_scores() {
        for expr in [
            "rate(x[5m])",
            "{job=\"a\"}",
            "a + b",
            "x{a=\"b\"} > 1",
            "x[5m]",
            "9x",
        ] {
            assert!(Selector::parse(expr).is_err(), "{expr}");
        }
    }

    fn series(labels: &[(&str, &str)], points: &[(i64, f64)]) -> Series {
        Series {
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            points: points.to_vec(),
        }
    }

    #[test]
    fn outputs_join_by_labels_and_timestamp() {
        let values = vec![
            series(&[("__name__", "x"), ("i", "a")], &[(1, 10.0), (2, 11.0)]),
            series(&[("__name__", "x"), ("i", "b")], &[(1, 20.0)]),
        ];
        let out = |name: &str, v: f64| {
            vec![series(
                &[("__name__", name), ("omen_metric", "x"), ("i", "a")],
                &[(2, v)],
            )]
        };
        let joined = join(
            values,
            [
                out("omen_anomaly_score", 0.5),
                out("omen_anomaly_expected", 10.5),
                out("omen_anomaly_lower", 9.0),
                out("omen_anomaly_upper", 12.0),
            ],
        );
        assert_eq!(joined.len(), 2);
        assert_eq!(joined[0].score, vec![None, Some(0.5)]);
        assert_eq!(joined[0].upper, vec![None, Some(12.0)]);
        assert_eq!(joined[1].score, vec![None]);
        assert_eq!(joined[1].values, vec![Some(20.0)]);
    }
}
