//! Running one resolved query: fetch from Prometheus, score live or join the stored scores, and
//! cap the number of series.

use std::sync::Arc;

use omen_scoring::{Model, RETRY_HORIZON};

use crate::Error;
use crate::columns::{Columns, kind_of, score_live};
use crate::prom::{PromClient, Series};
use crate::query::{Plan, Resolved, Source, expand_variables};
use crate::stored::{OUTPUTS, Selector, join};

/// Grafana's time range and resolution hints for one query.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Range {
    /// Start, ms since the Unix epoch.
    pub from_ms: i64,
    /// End, ms since the Unix epoch.
    pub to_ms: i64,
    /// Suggested interval between points, ms (0 when Grafana gave none).
    pub interval_ms: i64,
    /// Most points Grafana wants per series (0 when it gave none, as alerting does).
    pub max_data_points: i64,
    /// Scrape interval of the data, ms (for `$__rate_interval`).
    pub scrape_ms: i64,
}

/// The answer to one query.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Answer {
    /// One entry per series, at most the query's series limit.
    pub series: Vec<Columns>,
    /// What was asked of Prometheus, for Grafana's query inspector.
    pub executed: String,
    /// Warnings to show with the data (series dropped by the limit, ...).
    pub notices: Vec<String>,
}

/// Runs `query` over `range` against `client`; live scoring uses `model`.
pub async fn run(
    client: &PromClient,
    model: Option<&Arc<Model>>,
    query: &Resolved,
    range: Range,
) -> Result<Answer, Error> {
    match query.source {
        Source::Live => {
            let model = model
                .ok_or_else(|| Error::Scoring("no model is loaded (see CheckHealth)".into()))?;
            live(client, Arc::clone(model), query, range).await
        }
        Source::Stored => stored(client, query, range).await,
    }
}

async fn live(
    client: &PromClient,
    model: Arc<Model>,
    query: &Resolved,
    range: Range,
) -> Result<Answer, Error> {
    let warmup = model.window() + RETRY_HORIZON;
    let plan = plan(range, warmup)?;
    let expr = expand_variables(&query.expr, &plan, range.from_ms, range.scrape_ms);
    let mut series = client
        .query_range(&expr, plan.fetch_start_ms, plan.end_ms, plan.step_ms)
        .await?;
    let notices = cap(&mut series, query.max_series);
    let kinds: Vec<_> = series
        .iter()
        .map(|s| kind_of(query.kind, &s.labels))
        .collect();
    // Inference is CPU-bound: keep it off the async workers.
    let scored = tokio::task::spawn_blocking(move || {
        series
            .iter()
            .zip(kinds)
            .map(|(s, kind)| score_live(&model, kind, s, plan.start_ms))
            .collect::<Result<Vec<_>, _>>()
    })
    .await
    .map_err(|error| Error::Scoring(format!("scoring task failed: {error}")))??;
    Ok(Answer {
        series: scored,
        executed: format!(
            "{} (range query, step {}s, {} warm-up points before the range, scored live)",
            expr,
            plan.step_ms as f64 / 1000.0,
            warmup
        ),
        notices,
    })
}

async fn stored(client: &PromClient, query: &Resolved, range: Range) -> Result<Answer, Error> {
    let selector = Selector::parse(&query.expr).map_err(Error::Query)?;
    let plan = plan(range, 0)?;
    let fetch = |expr: String| async move {
        client
            .query_range(&expr, plan.start_ms, plan.end_ms, plan.step_ms)
            .await
    };
    let outputs = OUTPUTS.map(|output| selector.output(output));
    let (mut values, score, expected, lower, upper) = tokio::try_join!(
        fetch(query.expr.clone()),
        fetch(outputs[0].clone()),
        fetch(outputs[1].clone()),
        fetch(outputs[2].clone()),
        fetch(outputs[3].clone()),
    )?;
    let mut notices = cap(&mut values, query.max_series);
    if !values.is_empty() && score.is_empty() {
        notices.push(format!(
            "no stored scores match `{}`: is the Omen adapter scoring this metric?",
            outputs[0]
        ));
    }
    Ok(Answer {
        series: join(values, [score, expected, lower, upper]),
        executed: format!(
            "{}; {} (range queries, step {}s)",
            query.expr,
            outputs.join("; "),
            plan.step_ms as f64 / 1000.0
        ),
        notices,
    })
}

fn plan(range: Range, warmup: usize) -> Result<Plan, Error> {
    Plan::new(
        range.from_ms,
        range.to_ms,
        range.interval_ms,
        range.max_data_points,
        warmup,
    )
    .map_err(Error::Query)
}

/// Keeps the first `limit` series; says how many were dropped.
fn cap(series: &mut Vec<Series>, limit: usize) -> Vec<String> {
    if series.len() <= limit {
        return Vec::new();
    }
    let total = series.len();
    series.truncate(limit);
    vec![format!(
        "the query returned {total} series; showing the first {limit} (raise maxSeries or narrow the query)"
    )]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_keeps_the_limit_and_says_so() {
        let mut series = vec![Series::default(); 5];
        assert!(cap(&mut series, 5).is_empty());
        let notices = cap(&mut series, 2);
        assert_eq!(series.len(), 2);
        assert!(notices[0].contains("returned 5 series"), "{notices:?}");
    }
}
