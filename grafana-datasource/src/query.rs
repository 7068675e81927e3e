//! The query model sent by the query editor (and by Grafana alerting), and the plan of one query:
//! which range to fetch at which step.
//!
//! Grafana adds fields of its own to every query (`refId`, `datasource`, `intervalMs`, ...), so
//! unknown fields are ignored. The query is parsed here rather than by the SDK so that a malformed
//! query fails alone, as an error on its own `refId`, instead of failing the whole request.

use serde::{Deserialize, Serialize};

/// What a query returns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum QueryType {
    /// Per series: the value, the expected value and the band's lower and upper edges.
    #[default]
    Band,
    /// Per series: only the points whose score is at or above the threshold, with value and score.
    Anomalies,
    /// Per series: the anomaly score (1.0 = the alert threshold).
    Score,
}

impl QueryType {
    /// Parses Grafana's top-level `queryType` string; empty means "not set".
    pub fn from_grafana(text: &str) -> Result<Option<Self>, String> {
        match text {
            "" => Ok(None),
            "band" => Ok(Some(Self::Band)),
            "anomalies" => Ok(Some(Self::Anomalies)),
            "score" => Ok(Some(Self::Score)),
            other => Err(format!(
                "unknown query type `{other}` (expected band, anomalies or score)"
            )),
        }
    }
}

/// Where scores come from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Fetch the raw values and score them in the plugin with the embedded model.
    #[default]
    Live,
    /// Read the `omen_anomaly_*` series the Omen adapter stored in Prometheus.
    Stored,
}

/// How live scoring treats the values of a series.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KindChoice {
    /// Counter when the series' metric name ends in `_total`, `_count`, `_sum` or `_bucket`.
    #[default]
    Auto,
    /// Score the values themselves.
    Gauge,
    /// Score the per-second rate; a decrease is a counter reset.
    Counter,
}

/// The query as the editor sends it (the JSON of one Grafana query).
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct QueryModel {
    /// The PromQL expression. For `source: stored` a plain selector such as `up{job="api"}`.
    pub expr: String,
    /// What to return; Grafana's top-level `queryType` takes precedence when set.
    pub query_type: Option<QueryType>,
    /// Where scores come from; the datasource's default when absent.
    pub source: Option<Source>,
    /// Score at or above which a point is an anomaly. Default: 1.0 (the calibrated alert threshold).
    pub threshold: Option<f64>,
    /// Gauge, counter or auto (live scoring only).
    pub kind: KindChoice,
    /// Most series to return (capped by the datasource's own limit).
    pub max_series: Option<usize>,
    /// Hidden queries are answered with no frames.
    pub hide: bool,
    /// Series names like Grafana's Prometheus datasource: `{{label}}` replaced by the series'
    /// label values; empty (or `__auto`) for the PromQL-style name.
    pub legend_format: Option<String>,
    /// Smallest step, as the Prometheus datasource's "Min step" (`30s`, `1m`).
    pub interval: Option<String>,
}

/// Default anomaly threshold: the score's calibrated alert threshold.
pub const DEFAULT_THRESHOLD: f64 = 1.0;

/// Most points per series asked of Prometheus (its own limit is 11,000).
pub const MAX_POINTS: i64 = 10_000;

/// Smallest step asked of Prometheus, ms.
pub const MIN_STEP_MS: i64 = 1_000;

/// A query checked and resolved against Grafana's request and the datasource settings.
#[derive(Clone, Debug, PartialEq)]
pub struct Resolved {
    /// The PromQL expression (trimmed, never empty).
    pub expr: String,
    /// What to return.
    pub query_type: QueryType,
    /// Where scores come from.
    pub source: Source,
    /// Anomaly threshold (finite, >= 0).
    pub threshold: f64,
    /// Gauge, counter or auto.
    pub kind: KindChoice,
    /// Series limit.
    pub max_series: usize,
    /// Legend format, when set.
    pub legend_format: Option<String>,
    /// Smallest step, ms (0: none).
    pub min_step_ms: i64,
}

impl QueryModel {
    /// Parses the query JSON Grafana sent.
    pub fn parse(json: &serde_json::Value) -> Result<Self, String> {
        serde_json::from_value(json.clone()).map_err(|error| format!("invalid query: {error}"))
    }

    /// Checks the query and fills in defaults; `grafana_query_type` is the request's `queryType`.
    pub fn resolve(
        &self,
        grafana_query_type: &str,
        default_source: Source,
        max_series: usize,
    ) -> Result<Resolved, String> {
        let expr = self.expr.trim();
        if expr.is_empty() {
            return Err("the query has no expression".into());
        }
        let threshold = self.threshold.unwrap_or(DEFAULT_THRESHOLD);
        if !(threshold.is_finite() && threshold >= 0.0) {
            return Err(format!("threshold must be a number >= 0, got {threshold}"));
        }
        let min_step_ms = match self.interval.as_deref().map(str::trim) {
            None | Some("") => 0,
            Some(text) => humantime::parse_duration(text)
                .ok()
                .and_then(|d| i64::try_from(d.as_millis()).ok())
                .ok_or_else(|| format!("min step `{text}` is not a duration such as 30s or 1m"))?,
        };
        let query_type = QueryType::from_grafana(grafana_query_type)?
            .or(self.query_type)
            .unwrap_or_default();
        Ok(Resolved {
            expr: expr.to_owned(),
            query_type,
            source: self.source.unwrap_or(default_source),
            threshold,
            kind: self.kind,
            max_series: self
                .max_series
                .map_or(max_series, |m| m.clamp(1, max_series)),
            legend_format: self
                .legend_format
                .as_deref()
                .map(str::trim)
                .filter(|f| !f.is_empty() && *f != "__auto")
                .map(str::to_owned),
            min_step_ms,
        })
    }
}

/// The range and step to ask Prometheus for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    /// First timestamp shown, ms (aligned to the step).
    pub start_ms: i64,
    /// Last timestamp shown, ms.
    pub end_ms: i64,
    /// Step between points, ms.
    pub step_ms: i64,
    /// First timestamp fetched, ms: earlier than `start_ms` by the warm-up history live scoring needs.
    pub fetch_start_ms: i64,
}

impl Plan {
    /// The plan for Grafana's time range `[from_ms, to_ms]`, its suggested interval and
    /// `maxDataPoints`, fetching `warmup` extra points before the range.
    ///
    /// The step is the largest of the interval, the range divided by `maxDataPoints` (rounded up
    /// to whole seconds) and one second, and never yields more than [`MAX_POINTS`] points. The
    /// start is aligned to a multiple of the step so a refresh gets the same points.
    pub fn new(
        from_ms: i64,
        to_ms: i64,
        interval_ms: i64,
        max_data_points: i64,
        warmup: usize,
    ) -> Result<Self, String> {
        if to_ms < from_ms {
            return Err(format!(
                "the time range ends ({to_ms}) before it starts ({from_ms})"
            ));
        }
        let span = to_ms - from_ms;
        let points = if max_data_points > 0 {
            max_data_points.min(MAX_POINTS)
        } else {
            MAX_POINTS
        };
        let by_points = ceil_div(ceil_div(span, points), 1_000) * 1_000;
        let step_ms = interval_ms.max(by_points).max(MIN_STEP_MS);
        let start_ms = from_ms.div_euclid(step_ms) * step_ms;
        let warmup = i64::try_from(warmup).unwrap_or(i64::MAX / 2 / step_ms);
        Ok(Self {
            start_ms,
            end_ms: to_ms,
            step_ms,
            fetch_start_ms: start_ms.saturating_sub(warmup.saturating_mul(step_ms)),
        })
    }
}

/// Grafana's interval variables in `expr`, as the Prometheus datasource expands them, for
/// queries that reach the backend unexpanded (alert rules): `$__interval`, `$__interval_ms`,
/// `$__rate_interval`, `$__range`, `$__range_s`, `$__range_ms` (also written `${__name}`).
/// `scrape_ms` is the scrape interval of the data (the datasource's `timeInterval`).
pub fn expand_variables(expr: &str, plan: &Plan, from_ms: i64, scrape_ms: i64) -> String {
    if !expr.contains("__") {
        return expr.to_owned();
    }
    let range_ms = (plan.end_ms - from_ms).max(0);
    let range_s = (range_ms + 500) / 1000;
    let rate_ms = (plan.step_ms + scrape_ms).max(4 * scrape_ms);
    let duration = |ms: i64| {
        if ms % 1000 == 0 {
            format!("{}s", ms / 1000)
        } else {
            format!("{ms}ms")
        }
    };
    // Longer names first, so `$__interval` does not eat the start of `$__interval_ms`.
    let values = [
        ("__interval_ms", plan.step_ms.to_string()),
        ("__interval", duration(plan.step_ms)),
        ("__rate_interval", duration(rate_ms)),
        ("__range_ms", range_ms.to_string()),
        ("__range_s", range_s.to_string()),
        ("__range", format!("{range_s}s")),
    ];
    let mut out = expr.to_owned();
    for (name, value) in &values {
        out = out.replace(&format!("${{{name}}}"), value);
        out = out.replace(&format!("${name}"), value);
    }
    out
}

/// A series name from a legend format: `{{ label }}` becomes the label's value (empty when the
/// series has no such label); other text is kept.
pub fn legend(format: &str, labels: &std::collections::BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(format.len());
    let mut rest = format;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        match after.find("}}") {
            Some(close) => {
                let name = after[..close].trim();
                out.push_str(labels.get(name).map_or("", String::as_str));
                rest = &after[close + 2..];
            }
            None => {
                out.push_str(&rest[open..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// `a / b` rounded up, for `a >= 0` and `b > 0`.
fn ceil_div(a: i64, b: i64) -> i64 {
    a / b + i64::from(a % b != 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn resolve(json: serde_json::Value, query_type: &str) -> Result<Resolved, String> {
        QueryModel::parse(&json)?.resolve(query_type, Source::Live, 100)
    }

    #[test]
    fn a_grafana_query_with_its_own_fields_parses() {
        let r = resolve(
            json!({"refId": "A", "datasource": {"uid": "x"}, "intervalMs": 15000,
                   "expr": " up ", "threshold": 2.5, "source": "stored", "kind": "counter",
                   "maxSeries": 5}),
            "",
        )
        .expect("valid");
        assert_eq!(r.expr, "up");
        assert_eq!(r.query_type, QueryType::Band);
        assert_eq!(r.source, Source::Stored);
        assert_eq!(r.threshold, 2.5);
        assert_eq!(r.kind, KindChoice::Counter);
        assert_eq!(r.max_series, 5);
    }

    #[test]
    fn top_level_query_type_wins_over_the_model() {
        let r = resolve(json!({"expr": "up", "queryType": "score"}), "anomalies").expect("valid");
        assert_eq!(r.query_type, QueryType::Anomalies);
        let r = resolve(json!({"expr": "up", "queryType": "score"}), "").expect("valid");
        assert_eq!(r.query_type, QueryType::Score);
    }

    #[test]
    fn bad_queries_say_what_is_wrong() {
        assert!(
            resolve(json!({"expr": "  "}), "")
                .expect_err("fails")
                .contains("no expression")
        );
        assert!(
            resolve(json!({"expr": "up", "threshold": -1}), "")
                .expect_err("fails")
                .contains("threshold")
        );
        assert!(
            resolve(json!({"expr": "up"}), "bands")
                .expect_err("fails")
                .contains("bands")
        );
        assert!(
            resolve(json!({"expr": 5}), "")
                .expect_err("fails")
                .contains("invalid query")
        );
        assert!(resolve(json!({"expr": "up", "queryType": "x"}), "").is_err());
    }

    #[test]
    fn max_series_is_capped_by_the_datasource() {
        let r = resolve(json!({"expr": "up", "maxSeries": 100000}), "").expect("valid");
        assert_eq!(r.max_series, 100);
    }

    #[test]
    fn step_follows_interval_and_max_data_points() {
        // 1h at 15s interval, 1000 points allowed: 15s wins.
        let p = Plan::new(0, 3_600_000, 15_000, 1_000, 0).expect("plan");
        assert_eq!(p.step_ms, 15_000);
        // 1h with 100 points: 36s.
        let p = Plan::new(0, 3_600_000, 15_000, 100, 0).expect("plan");
        assert_eq!(p.step_ms, 36_000);
        // Tiny interval: at least one second.
        let p = Plan::new(0, 10_000, 1, 1_000, 0).expect("plan");
        assert_eq!(p.step_ms, MIN_STEP_MS);
        // No maxDataPoints (alerting): capped at MAX_POINTS.
        let p = Plan::new(0, 30 * 86_400_000, 0, 0, 0).expect("plan");
        assert!((p.end_ms - p.start_ms) / p.step_ms <= MAX_POINTS);
    }

    #[test]
    fn start_is_aligned_and_warmup_is_fetched_before_it() {
        let p = Plan::new(1_000_007, 2_000_000, 15_000, 10_000, 40).expect("plan");
        assert_eq!(p.start_ms % 15_000, 0);
        assert!(p.start_ms <= 1_000_007);
        assert_eq!(p.fetch_start_ms, p.start_ms - 40 * 15_000);
    }

    #[test]
    fn reversed_range_is_refused() {
        assert!(Plan::new(10, 5, 1_000, 100, 0).is_err());
    }

    #[test]
    fn interval_variables_expand_as_grafana_expands_them() {
        let plan = Plan::new(0, 3_600_000, 15_000, 1000, 0).expect("plan");
        let expr = "rate(x[$__rate_interval]) / $__interval_ms + y[${__interval}] + z[$__range] \
                    + $__range_s + $__range_ms";
        assert_eq!(
            expand_variables(expr, &plan, 0, 15_000),
            "rate(x[60s]) / 15000 + y[15s] + z[3600s] + 3600 + 3600000"
        );
        // A long step: the rate interval covers the step plus one scrape.
        let plan = Plan::new(0, 86_400_000, 300_000, 288, 0).expect("plan");
        assert_eq!(
            expand_variables("$__rate_interval", &plan, 0, 15_000),
            "315s"
        );
        assert_eq!(expand_variables("up", &plan, 0, 15_000), "up");
    }

    #[test]
    fn legend_formats_replace_labels_and_keep_text() {
        let labels: std::collections::BTreeMap<String, String> = [("job", "api"), ("code", "500")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        assert_eq!(legend("{{job}} {{ code }}s", &labels), "api 500s");
        assert_eq!(legend("{{missing}}-x", &labels), "-x");
        assert_eq!(legend("open {{job", &labels), "open {{job");
        let r = resolve(json!({"expr": "up", "legendFormat": "__auto"}), "").expect("valid");
        assert_eq!(r.legend_format, None);
        let r = resolve(json!({"expr": "up", "legendFormat": "{{job}}"}), "").expect("valid");
        assert_eq!(r.legend_format.as_deref(), Some("{{job}}"));
    }

    #[test]
    fn min_step_is_a_duration() {
        let r = resolve(json!({"expr": "up", "interval": "1m"}), "").expect("valid");
        assert_eq!(r.min_step_ms, 60_000);
        assert_eq!(
            resolve(json!({"expr": "up"}), "")
                .expect("valid")
                .min_step_ms,
            0
        );
        let err = resolve(json!({"expr": "up", "interval": "fast"}), "").expect_err("invalid");
        assert!(err.contains("min step `fast`"), "{err}");
    }
}
