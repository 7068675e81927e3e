//! CPU cost of answering one live query in the plugin: 100 series x 1,000 points (plus the
//! model's warm-up history) parsed from a Prometheus `query_range` answer, scored, turned into
//! band frames and encoded as Arrow, as `QueryData` does. Prometheus' own time is not included;
//! the end-to-end figure comes from the ignored test `query_latency_end_to_end`.
#![allow(missing_docs)]

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use grafana_plugin_sdk::backend::DataResponse;
use grafana_plugin_sdk::data::Frame;
use omen_grafana_datasource::QueryType;
use omen_grafana_datasource::columns::score_live;
use omen_grafana_datasource::frames::{display_name, series_frame};
use omen_grafana_datasource::prom::parse_range_answer;
use omen_scoring::{Model, RETRY_HORIZON, SeriesKind};

const SERIES: usize = 100;
const POINTS: usize = 1_000;

fn answer_body(points: usize) -> Vec<u8> {
    let result: Vec<serde_json::Value> = (0..SERIES)
        .map(|s| {
            let values: Vec<serde_json::Value> = (0..points)
                .map(|i| {
                    let v = 100.0 + 10.0 * ((i + s) as f64 / 6.0).sin() + (i * 7 % 5) as f64;
                    serde_json::json!([1_700_000_000 + i as i64 * 15, v.to_string()])
                })
                .collect();
            serde_json::json!({"metric": {"__name__": "load", "instance": s.to_string()}, "values": values})
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({
        "status": "success",
        "data": {"resultType": "matrix", "result": result}
    }))
    .expect("json")
}

fn bench(c: &mut Criterion) {
    let model = Arc::new(Model::embedded().expect("model"));
    let warmup = model.window() + RETRY_HORIZON;
    let body = answer_body(POINTS + warmup);
    let start_ms = (1_700_000_000 + warmup as i64 * 15) * 1000;
    let mut group = c.benchmark_group("grafana_datasource");
    group.sample_size(20);
    group.bench_function("live_band_100x1000", |b| {
        b.iter(|| {
            let series = parse_range_answer(black_box(&body)).expect("parses");
            let frames: Vec<Frame> = series
                .iter()
                .map(|s| {
                    let columns =
                        score_live(&model, SeriesKind::Gauge, s, start_ms).expect("scores");
                    series_frame(
                        &columns,
                        display_name(&columns.labels),
                        QueryType::Band,
                        1.0,
                    )
                })
                .collect();
            let checked = frames.iter().map(|f| f.check().expect("valid")).collect();
            black_box(DataResponse::new("A".into(), checked))
        })
    });
    group.bench_function("parse_only_100x1000", |b| {
        b.iter(|| black_box(parse_range_answer(black_box(&body)).expect("parses")))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
