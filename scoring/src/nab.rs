//! The Numenta Anomaly Benchmark (NAB) scoring rules, to evaluate a detector as NAB does.
//!
//! Each labelled anomaly has a window of rows. A detection inside a window earns a reward that
//! falls along a scaled sigmoid from the window's start to its end; only the best (earliest)
//! detection of a window counts; a window without detection costs the profile's false-negative
//! weight; a detection outside every window costs the false-positive weight, scaled by how far it
//! lies past the preceding window. The first 15% of each file (at most 750 rows) is a
//! probationary period that is not scored. One threshold is chosen for the whole corpus per
//! profile (the best one), and the raw score is normalised so that the null detector (never
//! detects) scores 0 and a perfect detector 100.

/// Weights of a NAB application profile.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Profile {
    /// Profile name as NAB spells it.
    pub name: &'static str,
    /// Reward of a detection at a window's start.
    pub tp: f64,
    /// Cost of a detection far from any window.
    pub fp: f64,
    /// Cost of a missed window.
    pub fn_: f64,
}

/// NAB's three profiles.
pub const PROFILES: [Profile; 3] = [
    Profile {
        name: "standard",
        tp: 1.0,
        fp: 0.11,
        fn_: 1.0,
    },
    Profile {
        name: "reward_low_FP_rate",
        tp: 1.0,
        fp: 0.22,
        fn_: 1.0,
    },
    Profile {
        name: "reward_low_FN_rate",
        tp: 1.0,
        fp: 0.11,
        fn_: 2.0,
    },
];

/// `2 * sigmoid(-5 x) - 1`, and `-1` beyond 3: +0.987 at a window's start (x = -1), 0 at its end
/// (x = 0), towards -1 after it.
pub fn scaled_sigmoid(relative_position: f64) -> f64 {
    if relative_position > 3.0 {
        -1.0
    } else {
        2.0 / (1.0 + (5.0 * relative_position).exp()) - 1.0
    }
}

/// Where a row lies with respect to the labelled windows.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Row {
    /// Corpus-wide index of the window the row is in, if any.
    pub window: Option<usize>,
    /// The row's unweighted NAB score if detected (sigmoid of its relative position).
    pub unweighted: f64,
    /// In the probationary period: never scored.
    pub probationary: bool,
}

/// Labels the rows of one file. `windows` are `(start, end)` timestamps that occur in
/// `timestamps` (NAB's windows do); their corpus indices start at `first_window`. Returns the
/// rows and the number of windows used.
pub fn label_rows(
    timestamps: &[i64],
    windows: &[(i64, i64)],
    first_window: usize,
) -> (Vec<Row>, usize) {
    let n = timestamps.len();
    let probation = probationary_length(n);
    let index_of = |t: i64| timestamps.iter().position(|&x| x == t);
    let mut spans: Vec<(usize, usize)> = windows
        .iter()
        .filter_map(|&(start, end)| Some((index_of(start)?, index_of(end)?)))
        .collect();
    spans.sort_unstable();
    let mut rows = Vec::with_capacity(n);
    let mut next = 0;
    let mut current: Option<(usize, usize, usize)> = None; // (window id, start, end)
    let mut previous: Option<(usize, f64)> = None; // (end index, width)
    for i in 0..n {
        if current.is_none() && next < spans.len() && spans[next].0 == i {
            current = Some((first_window + next, spans[next].0, spans[next].1));
            next += 1;
        }
        let (window, unweighted) = match current {
            Some((id, start, end)) => {
                let width = (end - start + 1) as f64;
                let position = -((end as f64 - i as f64 + 1.0) / width);
                (Some(id), scaled_sigmoid(position))
            }
            None => match previous {
                None => (None, -1.0),
                Some((end, width)) => {
                    let past = (i as f64 - end as f64).abs() / (width - 1.0).max(1.0);
                    (None, scaled_sigmoid(past))
                }
            },
        };
        rows.push(Row {
            window,
            unweighted,
            probationary: (i as f64) < probation,
        });
        if let Some((_, start, end)) = current
            && i == end
        {
            previous = Some((end, (end - start + 1) as f64));
            current = None;
        }
    }
    (rows, spans.len())
}

/// NAB's probationary period: 15% of the rows, at most 750.
pub fn probationary_length(rows: usize) -> f64 {
    (0.15 * rows as f64).floor().min(0.15 * 5000.0)
}

/// The corpus score at one threshold.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct ThresholdScore {
    /// Detections are rows with a detector output at or above this.
    pub threshold: f64,
    /// Raw NAB score (sum over windows and false positives).
    pub score: f64,
    /// Rows detected inside windows.
    pub tp_rows: usize,
    /// Rows detected outside windows.
    pub fp_rows: usize,
}

/// Scores every distinct threshold (highest first) over a corpus of `(detector output, row)`
/// pairs whose windows are numbered `0..windows`.
pub fn sweep(points: &[(f64, Row)], windows: usize, profile: &Profile) -> Vec<ThresholdScore> {
    let max_tp = scaled_sigmoid(-1.0);
    let mut scorable: Vec<&(f64, Row)> = points.iter().filter(|(_, r)| !r.probationary).collect();
    scorable.sort_by(|a, b| b.0.total_cmp(&a.0));
    // Only windows with a scorable row take part (NAB names windows from such rows).
    let mut in_play = vec![false; windows];
    for (_, row) in &scorable {
        if let Some(w) = row.window {
            in_play[w] = true;
        }
    }
    let mut best_in_window: Vec<f64> = vec![-profile.fn_; windows];
    let mut window_total: f64 = in_play.iter().filter(|p| **p).count() as f64 * -profile.fn_;
    let mut fp_total = 0.0;
    let (mut tp_rows, mut fp_rows) = (0, 0);
    let mut out = Vec::new();
    let mut threshold = f64::INFINITY;
    for (output, row) in scorable {
        if *output != threshold {
            out.push(ThresholdScore {
                threshold,
                score: window_total + fp_total,
                tp_rows,
                fp_rows,
            });
            threshold = *output;
        }
        match row.window {
            Some(w) => {
                tp_rows += 1;
                let weighted = row.unweighted * profile.tp / max_tp;
                if weighted > best_in_window[w] {
                    window_total += weighted - best_in_window[w];
                    best_in_window[w] = weighted;
                }
            }
            None => {
                fp_rows += 1;
                fp_total += row.unweighted * profile.fp;
            }
        }
    }
    out.push(ThresholdScore {
        threshold,
        score: window_total + fp_total,
        tp_rows,
        fp_rows,
    });
    out
}

/// What binary detections score: the raw NAB score and event counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct DetectionScore {
    /// Raw NAB score.
    pub score: f64,
    /// Windows with at least one detection.
    pub windows_detected: usize,
    /// Windows scored (with rows past the probationary period).
    pub windows: usize,
    /// Detections outside every window.
    pub false_positives: usize,
    /// Sum over detected windows of the first detection's position in its window (0 = start,
    /// 1 = end).
    pub delay_sum: f64,
}

/// Scores binary detections (`detected[i]` for `rows[i]`) with NAB's rules; windows are
/// numbered `0..windows` across the corpus, `window_len[w]` rows long.
pub fn score_detections(
    rows: &[Row],
    detected: &[bool],
    window_len: &[usize],
    profile: &Profile,
) -> DetectionScore {
    let windows = window_len.len();
    let max_tp = scaled_sigmoid(-1.0);
    let mut best = vec![None::<f64>; windows];
    let mut first_seen = vec![None::<usize>; windows];
    let mut seen_rows = vec![0usize; windows];
    let mut in_play = vec![false; windows];
    let mut result = DetectionScore::default();
    let mut fp_total = 0.0;
    for (row, &hit) in rows.iter().zip(detected) {
        if let Some(w) = row.window {
            seen_rows[w] += 1;
        }
        if row.probationary {
            continue;
        }
        if let Some(w) = row.window {
            in_play[w] = true;
            if hit {
                let weighted = row.unweighted * profile.tp / max_tp;
                if best[w].is_none_or(|b| weighted > b) {
                    best[w] = Some(weighted);
                }
                first_seen[w].get_or_insert(seen_rows[w] - 1);
            }
        } else if hit {
            result.false_positives += 1;
            fp_total += row.unweighted * profile.fp;
        }
    }
    let mut window_total = 0.0;
    for w in (0..windows).filter(|&w| in_play[w]) {
        result.windows += 1;
        match best[w] {
            Some(score) => {
                result.windows_detected += 1;
                window_total += score;
                let at = first_seen[w].unwrap_or(0) as f64;
                result.delay_sum += at / window_len[w].max(1) as f64;
            }
            None => window_total -= profile.fn_,
        }
    }
    result.score = window_total + fp_total;
    result
}

/// The best threshold of a sweep (the highest score; the higher threshold on ties).
pub fn best(sweep: &[ThresholdScore]) -> ThresholdScore {
    sweep
        .iter()
        .copied()
        .fold(None::<ThresholdScore>, |best, s| match best {
            Some(b) if b.score >= s.score => Some(b),
            _ => Some(s),
        })
        .unwrap_or(ThresholdScore {
            threshold: f64::INFINITY,
            score: 0.0,
            tp_rows: 0,
            fp_rows: 0,
        })
}

/// The score at a fixed threshold (detections: output >= threshold).
pub fn at_threshold(sweep: &[ThresholdScore], threshold: f64) -> ThresholdScore {
    sweep
        .iter()
        .copied()
        .take_while(|s| s.threshold >= threshold)
        .last()
        .unwrap_or(sweep[0])
}

/// NAB's normalisation: the null detector's score (every scored window missed) maps to 0 and
/// `labelled_windows` perfect detections to 100.
pub fn normalise(raw: f64, null: f64, labelled_windows: usize, profile: &Profile) -> f64 {
    let perfect = labelled_windows as f64 * profile.tp;
    100.0 * (raw - null) / (perfect - null)
}

#[cfg(test)]
mod tests {
    use super::*;

    const STANDARD: Profile = PROFILES[0];

    /// 100 rows (15 probationary), one window over rows 50..=59.
    fn corpus(detections: &[(usize, f64)]) -> (Vec<(f64, Row)>, usize) {
        let timestamps: Vec<i64> = (0..100).collect();
        let (rows, windows) = label_rows(&timestamps, &[(50, 59)], 0);
        let mut outputs = vec![0.0; 100];
        for &(i, v) in detections {
            outputs[i] = v;
        }
        (outputs.into_iter().zip(rows).collect(), windows)
    }

    #[test]
    fn the_sigmoid_has_nab_values_at_the_window_edges() {
        assert!((scaled_sigmoid(-1.0) - 0.986_614).abs() < 1e-6);
        assert!(scaled_sigmoid(0.0).abs() < 1e-12);
        assert!((scaled_sigmoid(1.0) + 0.986_614).abs() < 1e-6);
        assert_eq!(scaled_sigmoid(3.5), -1.0);
    }

    #[test]
    fn a_detection_at_the_window_start_scores_the_full_reward() {
        let (points, windows) = corpus(&[(50, 1.0)]);
        let result = best(&sweep(&points, windows, &STANDARD));
        assert!((result.score - 1.0).abs() < 1e-9, "{result:?}");
        assert_eq!(result.threshold, 1.0);
        assert!((normalise(result.score, -1.0, 1, &STANDARD) - 100.0).abs() < 1e-9);
    }

    #[test]
    fn no_detection_costs_the_false_negative_weight_and_normalises_to_zero() {
        let (points, windows) = corpus(&[]);
        let sweep = sweep(&points, windows, &PROFILES[2]);
        let nothing = sweep[0];
        assert_eq!(nothing.threshold, f64::INFINITY);
        assert_eq!(nothing.score, -2.0);
        assert_eq!(normalise(nothing.score, -2.0, 1, &PROFILES[2]), 0.0);
    }

    #[test]
    fn only_the_earliest_detection_in_a_window_counts() {
        let (points, windows) = corpus(&[(55, 0.9), (57, 0.8)]);
        let sweep = sweep(&points, windows, &STANDARD);
        // Row 55 of a 10-row window ending at 59: position -(59 - 55 + 1) / 10 = -0.5.
        let expected = scaled_sigmoid(-0.5) / scaled_sigmoid(-1.0);
        let both = at_threshold(&sweep, 0.8);
        assert!((both.score - expected).abs() < 1e-9, "{both:?}");
        assert_eq!(both.tp_rows, 2);
        assert_eq!(best(&sweep).score, both.score);
    }

    #[test]
    fn false_positives_cost_more_the_further_from_a_window() {
        // Before any window: -1 x 0.11 each.
        let (points, windows) = corpus(&[(50, 1.0), (20, 1.0)]);
        let result = at_threshold(&sweep(&points, windows, &STANDARD), 1.0);
        assert!((result.score - (1.0 - 0.11)).abs() < 1e-9, "{result:?}");
        // Just after the window (row 60: 1 row past the end, width 10): small cost.
        let (points, windows) = corpus(&[(50, 1.0), (60, 1.0)]);
        let result = at_threshold(&sweep(&points, windows, &STANDARD), 1.0);
        let cost = scaled_sigmoid(1.0 / 9.0) * 0.11;
        assert!((result.score - (1.0 + cost)).abs() < 1e-9, "{result:?}");
        assert_eq!(result.fp_rows, 1);
    }

    #[test]
    fn binary_detections_score_like_the_sweep() {
        let (points, windows) = corpus(&[(55, 1.0), (20, 1.0), (70, 1.0)]);
        let rows: Vec<Row> = points.iter().map(|(_, r)| *r).collect();
        let detected: Vec<bool> = points.iter().map(|(o, _)| *o >= 1.0).collect();
        let swept = at_threshold(&sweep(&points, windows, &STANDARD), 1.0);
        let scored = score_detections(&rows, &detected, &[10], &STANDARD);
        assert!(
            (scored.score - swept.score).abs() < 1e-12,
            "{scored:?} {swept:?}"
        );
        assert_eq!(scored.false_positives, 2);
        assert_eq!((scored.windows_detected, scored.windows), (1, 1));
        assert!((scored.delay_sum - 0.5).abs() < 1e-12);
    }

    #[test]
    fn probationary_rows_are_not_scored() {
        assert_eq!(probationary_length(100), 15.0);
        assert_eq!(probationary_length(100_000), 750.0);
        let (points, windows) = corpus(&[(5, 1.0)]);
        let result = at_threshold(&sweep(&points, windows, &STANDARD), 1.0);
        assert_eq!((result.fp_rows, result.tp_rows), (0, 0));
        assert_eq!(result.score, -1.0);
    }

    #[test]
    fn the_best_threshold_trades_false_positives_against_detections() {
        // A weak detection in the window and many strong false positives before it.
        let mut detections: Vec<(usize, f64)> = (20..40).map(|i| (i, 0.9)).collect();
        detections.push((52, 0.5));
        let (points, windows) = corpus(&detections);
        let sweep = sweep(&points, windows, &STANDARD);
        let best = best(&sweep);
        // Detecting at 0.5 earns about 0.96 but costs 20 x 0.11 = 2.2: missing is better.
        assert_eq!(best.threshold, f64::INFINITY);
        assert_eq!(best.score, -1.0);
    }
}
