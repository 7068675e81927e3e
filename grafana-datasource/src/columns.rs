//! The columns of one answered series: timestamps, values and (where known) score, expected value
//! and band, whichever source they come from.

use std::collections::BTreeMap;

use omen_scoring::{Model, SeriesKind, score_series};

use crate::Error;
use crate::prom::Series;
use crate::query::KindChoice;

/// One series ready to be turned into frames; every column has one entry per timestamp.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Columns {
    /// The series' labels (including `__name__` when the expression keeps it).
    pub labels: BTreeMap<String, String>,
    /// Timestamps, ms.
    pub times: Vec<i64>,
    /// The values shown: the raw value, or the per-second rate for counters scored live.
    pub values: Vec<Option<f64>>,
    /// Anomaly score (1.0 = the alert threshold).
    pub score: Vec<Option<f64>>,
    /// Expected value.
    pub expected: Vec<Option<f64>>,
    /// Lower edge of the band.
    pub lower: Vec<Option<f64>>,
    /// Upper edge of the band.
    pub upper: Vec<Option<f64>>,
}

impl Columns {
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.times.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.times.is_empty()
    }
}

/// Whether live scoring treats `labels`' series as a counter.
pub fn kind_of(choice: KindChoice, labels: &BTreeMap<String, String>) -> SeriesKind {
    match choice {
        KindChoice::Gauge => SeriesKind::Gauge,
        KindChoice::Counter => SeriesKind::Counter,
        KindChoice::Auto => {
            let name = labels.get("__name__").map_or("", String::as_str);
            if ["_total", "_count", "_sum", "_bucket"]
                .iter()
                .any(|suffix| name.ends_with(suffix))
            {
                SeriesKind::Counter
            } else {
                SeriesKind::Gauge
            }
        }
    }
}

/// Scores `series` causally with `model` and keeps the rows at or after `start_ms` (the earlier
/// rows are warm-up history).
pub fn score_live(
    model: &Model,
    kind: SeriesKind,
    series: &Series,
    start_ms: i64,
) -> Result<Columns, Error> {
    let scored = score_series(model, kind, &series.points)
        .map_err(|error| Error::Scoring(error.to_string()))?;
    let shown = match kind {
        SeriesKind::Gauge => series
            .points
            .iter()
            .map(|&(_, v)| v.is_finite().then_some(v))
            .collect(),
        SeriesKind::Counter => rates(&series.points),
    };
    let first = series.points.partition_point(|&(t, _)| t < start_ms);
    let mut columns = Columns {
        labels: series.labels.clone(),
        ..Columns::default()
    };
    for index in first..series.points.len() {
        let s = scored[index];
        columns.times.push(series.points[index].0);
        columns.values.push(shown[index]);
        columns.score.push(s.map(|s| s.score));
        columns.expected.push(s.map(|s| s.expected));
        columns.lower.push(s.map(|s| s.lower));
        columns.upper.push(s.map(|s| s.upper));
    }
    Ok(columns)
}

/// Per-second rates of a counter, with a decrease read as a reset to zero (as the scorer does).
fn rates(points: &[(i64, f64)]) -> Vec<Option<f64>> {
    let mut previous: Option<(i64, f64)> = None;
    points
        .iter()
        .map(|&(t, v)| {
            if !v.is_finite() {
                return None;
            }
            let rate = previous.and_then(|(pt, pv)| {
                let seconds = (t - pt) as f64 / 1000.0;
                let delta = if v >= pv { v - pv } else { v };
                (seconds > 0.0).then(|| delta / seconds)
            });
            previous = Some((t, v));
            rate
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(name: &str) -> BTreeMap<String, String> {
        [("__name__".to_owned(), name.to_owned())]
            .into_iter()
            .collect()
    }

    #[test]
    fn auto_kind_follows_the_name_suffix() {
        assert_eq!(
            kind_of(KindChoice::Auto, &labels("http_requests_total")),
            SeriesKind::Counter
        );
        assert_eq!(
            kind_of(KindChoice::Auto, &labels("memory_bytes")),
            SeriesKind::Gauge
        );
        assert_eq!(
            kind_of(KindChoice::Auto, &BTreeMap::new()),
            SeriesKind::Gauge
        );
        assert_eq!(
            kind_of(KindChoice::Gauge, &labels("x_total")),
            SeriesKind::Gauge
        );
    }

    #[test]
    fn counter_rates_handle_resets() {
        let r = rates(&[(0, 10.0), (10_000, 20.0), (20_000, 5.0), (30_000, f64::NAN)]);
        assert_eq!(r, vec![None, Some(1.0), Some(0.5), None]);
    }

    #[test]
    fn live_scoring_drops_warmup_rows_and_flags_a_spike() {
        let model = Model::embedded().expect("model");
        let points: Vec<(i64, f64)> = (0..200)
            .map(|i| {
                let v = if i == 150 {
                    500.0
                } else {
                    100.0 + 5.0 * ((i as f64) / 4.0).sin()
                };
                (i * 15_000, v)
            })
            .collect();
        let series = Series {
            labels: labels("load"),
            points,
        };
        let columns = score_live(&model, SeriesKind::Gauge, &series, 100 * 15_000).expect("scores");
        assert_eq!(columns.len(), 100);
        assert_eq!(columns.times[0], 100 * 15_000);
        assert!(
            columns.score.iter().all(Option::is_some),
            "warm-up history makes every row scored"
        );
        let spike = columns.score[50].expect("scored");
        assert!(spike >= 1.0, "the spike is an anomaly: {spike}");
        let calm = columns.score[40].expect("scored");
        assert!(calm < 1.0, "the wave is normal: {calm}");
        let (lo, hi) = (
            columns.lower[40].expect("band"),
            columns.upper[40].expect("band"),
        );
        assert!(
            lo <= columns.values[40].expect("value") && columns.values[40].expect("value") <= hi
        );
    }
}
