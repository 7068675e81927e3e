//! The scoring engine against a hand-built model whose outputs are known: expected = last window
//! value, scale = 1, threshold 4, window 8, min_history 2 (scoring/testdata/naive-last.onnx).

use std::path::Path;
use std::sync::Arc;

use omen_scoring::{
    Error, Input, Model, Normaliser, Outcome, STALE_NAN_BITS, Scorer, ScorerConfig, SeriesKind,
    Skip, score_series,
};

fn naive_model() -> Model {
    Model::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/naive-last.onnx"))
        .expect("fixture loads")
}

fn gauge(series: u64, t: i64, value: f64) -> Input {
    Input {
        series,
        kind: SeriesKind::Gauge,
        timestamp_ms: t * 1_000,
        value,
    }
}

fn scored(outcome: Outcome) -> omen_scoring::Scored {
    match outcome {
        Outcome::Scored(s) => s,
        other => panic!("expected a score, got {other:?}"),
    }
}

#[test]
fn metadata_of_the_fixture_is_read() {
    let info = naive_model().info().clone();
    assert_eq!((info.window, info.threshold, info.min_history), (8, 4.0, 2));
    assert_eq!(info.name, "naive-last");
}

#[test]
fn score_and_band_follow_the_contract_by_hand() {
    let model = naive_model();
    let values = [10.0, 12.0, 11.0, 13.0, 12.0, 11.0, 10.0, 12.0, 30.0];
    let points: Vec<(i64, f64)> = values
        .iter()
        .enumerate()
        .map(|(i, &v)| (i as i64 * 1000, v))
        .collect();
    let out = score_series(&model, SeriesKind::Gauge, &points).expect("scores");
    assert!(
        out[0].is_none() && out[1].is_none(),
        "fewer than min_history values: no score"
    );
    let last = out[8].expect("scored");
    let n = Normaliser::of(&values[..8], &mut Vec::new());
    let e = n.normalise(12.0); // naive forecast: the last window value
    let z = n.normalise(30.0);
    assert!(
        (last.score - (z - e).abs() / 4.0).abs() < 1e-5,
        "score {}",
        last.score
    );
    assert!((last.expected - 12.0).abs() < 1e-4);
    assert!((last.upper - n.denormalise(e + 4.0)).abs() < 1e-4);
    assert!((last.lower - n.denormalise(e - 4.0)).abs() < 1e-4);
    assert!(last.score > 1.0, "a jump to 30 is far outside the band");
}

#[test]
fn streaming_and_offline_scoring_agree() {
    let model = Arc::new(naive_model());
    let points: Vec<(i64, f64)> = (0..300)
        .map(|i| (i * 15_000, ((i * 37) % 11) as f64 + (i as f64) * 0.1))
        .collect();
    let offline = score_series(&model, SeriesKind::Gauge, &points).expect("offline");
    let scorer = Scorer::new(model, ScorerConfig::default());
    let mut outcomes = Vec::new();
    // Stream in requests of varying sizes, interleaved with another series.
    let mut streamed = Vec::new();
    for chunk in points.chunks(7) {
        let mut inputs: Vec<Input> = chunk.iter().map(|&(t, v)| gauge(1, t / 1000, v)).collect();
        inputs.push(gauge(2, chunk[0].0 / 1000, 5.0));
        scorer.score(&inputs, &mut outcomes).expect("scores");
        streamed.extend(outcomes[..chunk.len()].iter().map(|o| match o {
            Outcome::Scored(s) => Some(*s),
            Outcome::Skipped(_) => None,
        }));
    }
    assert_eq!(offline, streamed);
}

#[test]
fn scores_do_not_depend_on_batch_composition() {
    let model = Arc::new(naive_model());
    let series: Vec<u64> = (0..1500)
        .map(|i| 0x9e37_79b9_7f4a_7c15u64.wrapping_mul(i + 1))
        .collect();
    let history = |s: u64, t: i64| ((s % 97) as f64) + ((t * (s as i64 % 13 + 1)) % 17) as f64;
    let big = Scorer::new(model.clone(), ScorerConfig::default());
    let small = Scorer::new(model, ScorerConfig::default());
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for t in 0..12 {
        let inputs: Vec<Input> = series.iter().map(|&s| gauge(s, t, history(s, t))).collect();
        big.score(&inputs, &mut a).expect("big batch");
        let mut pieces = Vec::new();
        for chunk in inputs.chunks(3) {
            small.score(chunk, &mut b).expect("small batch");
            pieces.extend_from_slice(&b);
        }
        assert_eq!(a, pieces, "step {t}");
    }
}

#[test]
fn retried_requests_get_identical_scores() {
    let scorer = Scorer::new(Arc::new(naive_model()), ScorerConfig::default());
    let mut first = Vec::new();
    let mut again = Vec::new();
    for t in 0..20 {
        let request = vec![
            gauge(7, t, (t % 5) as f64),
            gauge(8, t, (t % 3) as f64 * 2.0),
        ];
        scorer.score(&request, &mut first).expect("first");
        scorer.score(&request, &mut again).expect("retry");
        assert_eq!(first, again, "step {t}");
    }
    // A conflicting value for an already scored timestamp is not scored and does not corrupt state.
    scorer
        .score(&[gauge(7, 19, 1234.0)], &mut again)
        .expect("conflict");
    assert_eq!(again, vec![Outcome::Skipped(Skip::DuplicateConflict)]);
    scorer.score(&[gauge(7, 3, 1.0)], &mut again).expect("old");
    assert_eq!(again, vec![Outcome::Skipped(Skip::OutOfOrder)]);
    scorer
        .score(&[gauge(7, 20, 0.0)], &mut again)
        .expect("next");
    let reference = score_series(
        &naive_model(),
        SeriesKind::Gauge,
        &(0..=20)
            .map(|t| (t * 1000, if t == 20 { 0.0 } else { (t % 5) as f64 }))
            .collect::<Vec<_>>(),
    )
    .expect("reference");
    assert_eq!(Some(scored(again[0])), reference[20]);
}

#[test]
fn retries_after_the_detectors_warm_up_get_their_first_scores() {
    // Long enough for the model likelihood and the range detector to score, with record values
    // that move the range; each request of 4 samples is retried whole, then with its newest
    // sample duplicated in one request.
    let scorer = Scorer::new(Arc::new(naive_model()), ScorerConfig::default());
    let value = |t: i64| ((t * 37) % 11) as f64 + if t % 50 == 49 { 40.0 + t as f64 } else { 0.0 };
    let (mut first, mut again) = (Vec::new(), Vec::new());
    let mut scored_after_warm_up = 0;
    for step in 0..60 {
        let request: Vec<Input> = (step * 4..step * 4 + 4)
            .map(|t| gauge(3, t, value(t)))
            .collect();
        scorer.score(&request, &mut first).expect("first");
        scorer.score(&request, &mut again).expect("retry");
        assert_eq!(first, again, "step {step}");
        let mut doubled = request.clone();
        doubled.push(request[3]);
        scorer.score(&doubled, &mut again).expect("duplicated");
        assert_eq!(again[..4], first[..], "step {step}");
        assert_eq!(again[4], first[3], "step {step}");
        if step >= 20 {
            scored_after_warm_up += first
                .iter()
                .filter(|o| matches!(o, Outcome::Scored(_)))
                .count();
        }
    }
    assert_eq!(scored_after_warm_up, 160);
    // The records at t = 49, 99, ... make the final score differ from the model's alone.
    let offline = score_series(
        &naive_model(),
        SeriesKind::Gauge,
        &(0..240).map(|t| (t * 1000, value(t))).collect::<Vec<_>>(),
    )
    .expect("offline");
    assert!(
        offline.iter().flatten().any(|s| s.score != s.model_score),
        "the long-memory detectors take part"
    );
}

#[test]
fn stale_markers_reset_the_window_and_non_finite_values_are_skipped() {
    let scorer = Scorer::new(Arc::new(naive_model()), ScorerConfig::default());
    let mut out = Vec::new();
    let inputs: Vec<Input> = (0..10).map(|t| gauge(1, t, t as f64)).collect();
    scorer.score(&inputs, &mut out).expect("scores");
    assert_eq!(scorer.active_series(), 1);
    let stale = f64::from_bits(STALE_NAN_BITS);
    scorer
        .score(
            &[
                gauge(1, 10, stale),
                gauge(1, 11, f64::NAN),
                gauge(1, 12, f64::INFINITY),
                gauge(1, 13, 3.0),
            ],
            &mut out,
        )
        .expect("scores");
    assert_eq!(
        out,
        vec![
            Outcome::Skipped(Skip::Stale),
            Outcome::Skipped(Skip::NonFinite),
            Outcome::Skipped(Skip::NonFinite),
            Outcome::Skipped(Skip::WarmingUp),
        ]
    );
}

#[test]
fn counters_are_scored_on_their_rate() {
    let model = naive_model();
    // A counter growing 10/s with a reset at i=25 (5 counted since): rates stay 10/s around it, not a
    // huge negative step, so two samples after the reset the naive forecast is 10/s again.
    let mut value = 0.0;
    let points: Vec<(i64, f64)> = (0..40)
        .map(|i| {
            value = if i == 25 { 5.0 } else { value + 50.0 };
            (i * 5_000, value)
        })
        .collect();
    let out = score_series(&model, SeriesKind::Counter, &points).expect("scores");
    let after_reset = out[27].expect("scored");
    assert!(
        (after_reset.expected - 10.0).abs() < 1e-3,
        "expected rate 10/s, got {}",
        after_reset.expected
    );
    assert!(after_reset.score < 1.0);
}

#[test]
fn series_limit_and_idle_eviction_bound_memory() {
    let config = ScorerConfig {
        max_series: 3,
        idle_timeout: std::time::Duration::ZERO,
    };
    let scorer = Scorer::new(Arc::new(naive_model()), config);
    let mut out = Vec::new();
    let inputs: Vec<Input> = (0..5).map(|s| gauge(s, 0, 1.0)).collect();
    scorer.score(&inputs, &mut out).expect("scores");
    assert_eq!(scorer.active_series(), 3);
    assert_eq!(out[4], Outcome::Skipped(Skip::SeriesLimit));
    assert_eq!(scorer.evict_idle(), 3);
    assert_eq!(scorer.active_series(), 0);
}

#[test]
fn models_that_break_the_contract_are_refused_with_a_reason() {
    let garbage = Model::from_bytes(b"not an onnx model");
    assert!(matches!(garbage, Err(Error::Load(_))), "{garbage:?}");
    let bytes =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/naive-last.onnx"))
            .expect("read");
    // Corrupt the contract version in the metadata: "omen.contract" -> value "1" becomes "9".
    let needle = b"omen.contract\x12\x011";
    let at = bytes
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("metadata present");
    let mut broken = bytes.clone();
    broken[at + needle.len() - 1] = b'9';
    let err = Model::from_bytes(&broken).expect_err("contract 9 is refused");
    assert!(err.to_string().contains("omen.contract"), "{err}");
}
