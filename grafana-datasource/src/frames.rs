//! Turning answered series into Grafana data frames, one frame per series.
//!
//! # A grafana-plugin-sdk 0.5 bug this module works around
//!
//! The SDK's Arrow encoding (`Field::to_arrow_field`) has the two "config present" arms of its
//! labels/config match swapped: a field with labels *and* a config is written with the config
//! only, so Grafana never sees its labels (and a field with a config but no labels gets an empty
//! `labels` entry). Labelled fields here therefore never get a field config; styling such as
//! filling the band is left to panel overrides (docs/grafana.md). The regression test
//! `sdk_drops_labels_of_fields_with_config` in `tests/plugin_grpc.rs` shows the bug so the
//! workaround can go once the SDK is fixed.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use grafana_plugin_sdk::data::{Field, Frame, Metadata, Notice, Severity};
use grafana_plugin_sdk::prelude::*;

use crate::columns::Columns;
use crate::query::QueryType;

/// Names of the fields this plugin writes.
pub mod names {
    /// Timestamps.
    pub const TIME: &str = "Time";
    /// The values (or counter rates).
    pub const VALUE: &str = "Value";
    /// The expected values.
    pub const EXPECTED: &str = "Expected";
    /// Lower edge of the band.
    pub const LOWER: &str = "Lower";
    /// Upper edge of the band.
    pub const UPPER: &str = "Upper";
    /// Anomaly scores.
    pub const SCORE: &str = "Score";
}

/// The frame named `name` for one series and query type. `threshold` selects the anomaly rows.
pub fn series_frame(
    columns: &Columns,
    name: String,
    query_type: QueryType,
    threshold: f64,
) -> Frame {
    let labels = &columns.labels;
    match query_type {
        QueryType::Band => Frame::new(name).with_fields([
            time_field(&columns.times),
            labelled(columns.values.clone().into_opt_field(names::VALUE), labels),
            labelled(
                columns.expected.clone().into_opt_field(names::EXPECTED),
                labels,
            ),
            labelled(columns.lower.clone().into_opt_field(names::LOWER), labels),
            labelled(columns.upper.clone().into_opt_field(names::UPPER), labels),
        ]),
        QueryType::Score => Frame::new(name).with_fields([
            time_field(&columns.times),
            labelled(columns.score.clone().into_opt_field(names::SCORE), labels),
        ]),
        QueryType::Anomalies => {
            let rows: Vec<usize> = (0..columns.len())
                .filter(|&i| columns.score[i].is_some_and(|s| s >= threshold))
                .collect();
            let pick = |column: &[Option<f64>]| rows.iter().map(|&i| column[i]).collect::<Vec<_>>();
            let times: Vec<i64> = rows.iter().map(|&i| columns.times[i]).collect();
            Frame::new(name).with_fields([
                time_field(&times),
                labelled(pick(&columns.values).into_opt_field(names::VALUE), labels),
                labelled(pick(&columns.score).into_opt_field(names::SCORE), labels),
            ])
        }
    }
}

/// Adds the series' labels to a value field. Never combine with a field config: see the module docs.
fn labelled(field: Field, labels: &BTreeMap<String, String>) -> Field {
    field.with_labels(labels.clone())
}

fn time_field(times: &[i64]) -> Field {
    times
        .iter()
        .map(|&ms| UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0)))
        .collect::<Vec<SystemTime>>()
        .into_field(names::TIME)
}

/// `name{a="b", c="d"}` in PromQL style; `{}` for a series with no labels.
pub fn display_name(labels: &BTreeMap<String, String>) -> String {
    let name = labels.get("__name__").map_or("", String::as_str);
    let rest: Vec<String> = labels
        .iter()
        .filter(|(k, _)| *k != "__name__")
        .map(|(k, v)| format!("{k}={v:?}"))
        .collect();
    if rest.is_empty() && !name.is_empty() {
        name.to_owned()
    } else {
        format!("{name}{{{}}}", rest.join(", "))
    }
}

/// Metadata for a query's frames: the PromQL run and any notices.
pub fn metadata(executed: &str, notices: &[String]) -> Metadata {
    let mut meta = Metadata::default();
    meta.executed_query_string = Some(executed.to_owned());
    if !notices.is_empty() {
        meta.notices = Some(
            notices
                .iter()
                .map(|text| {
                    let mut notice = Notice::new(text.clone());
                    notice.severity = Some(Severity::Warning);
                    notice
                })
                .collect(),
        );
    }
    meta
}

#[cfg(test)]
mod tests {
    use super::*;

    fn columns() -> Columns {
        Columns {
            labels: [("__name__", "load"), ("job", "api")]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            times: vec![1_000, 2_000, 3_000],
            values: vec![Some(1.0), Some(9.0), None],
            score: vec![None, Some(3.0), Some(0.5)],
            expected: vec![None, Some(1.0), Some(1.0)],
            lower: vec![None, Some(0.5), Some(0.5)],
            upper: vec![None, Some(1.5), Some(1.5)],
        }
    }

    fn field_names(frame: &Frame) -> Vec<&str> {
        frame.fields().iter().map(|f| f.name.as_str()).collect()
    }

    #[test]
    fn band_frames_have_value_expected_and_edges_with_labels() {
        let c = columns();
        let frame = series_frame(&c, display_name(&c.labels), QueryType::Band, 1.0);
        assert_eq!(frame.name, r#"load{job="api"}"#);
        assert_eq!(
            field_names(&frame),
            ["Time", "Value", "Expected", "Lower", "Upper"]
        );
        for field in &frame.fields()[1..] {
            assert_eq!(field.labels["job"], "api");
            assert!(
                field.config.is_none(),
                "labelled fields get no config (SDK bug workaround)"
            );
        }
        frame.check().expect("a valid frame");
    }

    #[test]
    fn anomaly_frames_keep_only_rows_at_or_over_the_threshold() {
        let frame = series_frame(&columns(), "s".into(), QueryType::Anomalies, 3.0);
        assert_eq!(field_names(&frame), ["Time", "Value", "Score"]);
        assert_eq!(frame.fields()[0].values().len(), 1);
        let frame = series_frame(&columns(), "s".into(), QueryType::Anomalies, 0.1);
        assert_eq!(frame.fields()[0].values().len(), 2);
        frame.check().expect("a valid frame");
    }

    #[test]
    fn score_frames_have_time_and_score() {
        let frame = series_frame(&columns(), "s".into(), QueryType::Score, 1.0);
        assert_eq!(field_names(&frame), ["Time", "Score"]);
        assert_eq!(frame.fields()[1].values().len(), 3);
    }

    #[test]
    fn display_names_read_like_promql() {
        let mut labels = BTreeMap::new();
        assert_eq!(display_name(&labels), "{}");
        labels.insert("__name__".to_owned(), "up".to_owned());
        assert_eq!(display_name(&labels), "up");
        labels.insert("a".to_owned(), "x\"y".to_owned());
        assert_eq!(display_name(&labels), r#"up{a="x\"y"}"#);
    }
}
