//! The embedded default model scored by the engine against the Python reference that exported it
//! (models/train.py writes models/testdata/golden.json with onnxruntime and models/contract.py).
//! Tolerance: the model runs in f32 in both tract and onnxruntime, whose kernels may sum in a
//! different order, so values agree to about 1e-5 relative, not bit for bit.

use omen_scoring::{Model, SeriesKind, score_series};

#[derive(serde::Deserialize)]
struct Golden {
    threshold: f64,
    tolerance: Tolerance,
    series: Vec<Case>,
}

#[derive(serde::Deserialize)]
struct Tolerance {
    relative: f64,
    absolute: f64,
}

#[derive(serde::Deserialize)]
struct Case {
    name: String,
    values: Vec<f64>,
    scored: Vec<Point>,
}

#[derive(serde::Deserialize)]
struct Point {
    index: usize,
    score: f64,
    expected: f64,
    lower: f64,
    upper: f64,
}

fn golden() -> Golden {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../models/testdata/golden.json"
    );
    let text = std::fs::read_to_string(path).expect("golden file readable");
    serde_json::from_str(&text).expect("golden file parses")
}

#[test]
fn embedded_model_matches_the_python_reference() {
    let golden = golden();
    let model = Model::embedded().expect("embedded model loads");
    assert!((model.info().threshold - golden.threshold).abs() < 1e-3);
    let tol = &golden.tolerance;
    let close = |a: f64, b: f64| (a - b).abs() <= tol.absolute + tol.relative * b.abs();
    let mut compared = 0;
    for case in &golden.series {
        let points: Vec<(i64, f64)> = case
            .values
            .iter()
            .enumerate()
            .map(|(i, &v)| (i as i64 * 15_000, v))
            .collect();
        let out = score_series(&model, SeriesKind::Gauge, &points).expect("scores");
        let scored_indices: Vec<usize> = (0..out.len()).filter(|&i| out[i].is_some()).collect();
        let expected_indices: Vec<usize> = case.scored.iter().map(|p| p.index).collect();
        assert_eq!(
            scored_indices, expected_indices,
            "{}: scored points",
            case.name
        );
        for point in &case.scored {
            let got = out[point.index].expect("scored");
            for (what, a, b) in [
                ("model score", got.model_score, point.score),
                ("expected", got.expected, point.expected),
                ("lower", got.lower, point.lower),
                ("upper", got.upper, point.upper),
            ] {
                assert!(
                    close(a, b),
                    "{} point {} {what}: engine {a} vs reference {b}",
                    case.name,
                    point.index
                );
            }
            compared += 1;
        }
    }
    assert!(compared > 150, "compared {compared} points");
}

#[test]
fn the_spike_is_the_first_alert_of_its_series() {
    let golden = golden();
    let case = golden
        .series
        .iter()
        .find(|c| c.name == "flat_then_spike")
        .expect("case present");
    let model = Model::embedded().expect("embedded model loads");
    let points: Vec<(i64, f64)> = case
        .values
        .iter()
        .enumerate()
        .map(|(i, &v)| (i as i64 * 15_000, v))
        .collect();
    let out = score_series(&model, SeriesKind::Gauge, &points).expect("scores");
    let alerts: Vec<usize> = (0..out.len())
        .filter(|&i| out[i].is_some_and(|s| s.score > 1.0))
        .collect();
    assert_eq!(alerts.first(), Some(&45), "alerts at {alerts:?}");
}
