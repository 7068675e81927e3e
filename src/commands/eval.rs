//! `omen eval`: the Numenta Anomaly Benchmark score of the production scoring path.
//!
//! Every file of the corpus is streamed sample by sample through the scoring crate exactly as the
//! adapter scores a gauge, then scored with NAB's rules (`omen_scoring::nab`) in two ways:
//! - `raw score`: the anomaly score of every row is the detector output, one threshold swept over
//!   the corpus, as NAB runs its detectors;
//! - `alerting`: how Omen is used — an alert when the score reaches the threshold, then quiet for
//!   `--suppress` rows (as Alertmanager does not re-notify a firing alert); one threshold chosen
//!   for the corpus per profile.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use omen_scoring::nab::{self, PROFILES, Profile, Row};
use omen_scoring::{Model, SeriesKind, score_series};

use super::Failure;
use super::score::{parse_timestamp, read_points};

/// Arguments of `omen eval`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// NAB corpus: `data/<category>/<file>.csv` and `combined_windows.json` (or
    /// `labels/combined_windows.json`, as in a clone of github.com/numenta/NAB).
    #[arg(long, default_value = "../shared/data/nab-dev")]
    pub corpus: PathBuf,
    /// ONNX model meeting the model contract; the embedded model when absent.
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Rows after an alert during which the alerting detector does not alert again.
    #[arg(long, default_value_t = 100)]
    pub suppress: usize,
    /// The out-of-the-box alert threshold, reported besides the optimised ones.
    #[arg(long, default_value_t = 1.0)]
    pub threshold: f64,
    /// Also write the results as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Instead of scoring with Omen, read another detector's anomaly scores from NAB's results
    /// directory (`<dir>/<detector>/<category>/<detector>_<file>.csv`), to check this scorer against NAB's
    /// published figures. Needs `--detector`.
    #[arg(long, requires = "detector")]
    pub results: Option<PathBuf>,
    /// The detector whose results `--results` reads (e.g. `numenta`, `ARTime`).
    #[arg(long)]
    pub detector: Option<String>,
}

/// The corpus scored by the detector.
struct Corpus {
    files: usize,
    rows: Vec<Row>,
    scores: Vec<f64>,
    /// Start row of each file in `rows`.
    file_starts: Vec<usize>,
    window_len: Vec<usize>,
    labelled_windows: usize,
}

#[derive(serde::Serialize)]
struct ProfileResult {
    profile: &'static str,
    raw_score_nab: f64,
    raw_score_threshold: f64,
    alerting_nab: f64,
    alerting_threshold: f64,
    alerting: Events,
    fixed_threshold_nab: f64,
    fixed_threshold: Events,
}

#[derive(serde::Serialize)]
struct Events {
    windows_detected: usize,
    windows: usize,
    false_positives: usize,
    precision: f64,
    recall: f64,
    f1: f64,
    mean_delay_fraction_of_window: f64,
}

impl Events {
    fn of(score: &nab::DetectionScore) -> Self {
        let tp = score.windows_detected as f64;
        let precision = tp / (tp + score.false_positives as f64).max(1.0);
        let recall = tp / (score.windows as f64).max(1.0);
        let f1 = if precision + recall > 0.0 {
            2.0 * precision * recall / (precision + recall)
        } else {
            0.0
        };
        Self {
            windows_detected: score.windows_detected,
            windows: score.windows,
            false_positives: score.false_positives,
            precision,
            recall,
            f1,
            mean_delay_fraction_of_window: score.delay_sum / tp.max(1.0),
        }
    }
}

/// Runs the evaluation and prints the table.
pub fn run(args: Args) -> Result<(), Failure> {
    let model = super::load_model(args.model.as_deref())?;
    let started = std::time::Instant::now();
    let source = match (&args.results, &args.detector) {
        (Some(dir), Some(name)) => Source::Results(dir, name),
        _ => Source::Omen(&model),
    };
    let corpus = load(&args.corpus, &source).map_err(Failure::Usage)?;
    eprintln!(
        "scored {} rows of {} files in {:.1}s",
        corpus.rows.len(),
        corpus.files,
        started.elapsed().as_secs_f64()
    );
    let thresholds = candidate_thresholds(&corpus.scores, args.threshold);
    let results: Vec<ProfileResult> = PROFILES
        .iter()
        .map(|profile| evaluate(&corpus, profile, &thresholds, &args))
        .collect();
    print_table(&corpus, &results, &args);
    if let Some(path) = &args.json {
        let out = serde_json::json!({
            "corpus": args.corpus,
            "files": corpus.files,
            "rows": corpus.rows.len(),
            "labelled_windows": corpus.labelled_windows,
            "suppress_rows": args.suppress,
            "fixed_threshold": args.threshold,
            "model": model.info(),
            "profiles": results,
        });
        let text = serde_json::to_string_pretty(&out).map_err(|e| Failure::Runtime(e.into()))?;
        std::fs::write(path, text)
            .with_context(|| format!("cannot write {}", path.display()))
            .map_err(Failure::Runtime)?;
    }
    Ok(())
}

/// Where the detector output comes from.
enum Source<'a> {
    /// Omen's scoring path with this model.
    Omen(&'a Model),
    /// A NAB results directory and detector name.
    Results(&'a Path, &'a str),
}

impl Source<'_> {
    fn scores(&self, file: &str, points: &[(i64, f64)]) -> anyhow::Result<Vec<f64>> {
        match self {
            Self::Omen(model) => Ok(score_series(model, SeriesKind::Gauge, points)?
                .iter()
                .map(|s| s.map_or(0.0, |s| s.score))
                .collect()),
            Self::Results(dir, detector) => {
                let (category, name) = file.split_once('/').unwrap_or(("", file));
                let path = dir
                    .join(detector)
                    .join(category)
                    .join(format!("{detector}_{name}"));
                let text = std::fs::read_to_string(&path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                let scores = text
                    .lines()
                    .skip(1)
                    .filter(|l| !l.trim().is_empty())
                    .map(|line| {
                        line.split(',')
                            .nth(2)
                            .and_then(|v| v.trim().parse::<f64>().ok())
                            .with_context(|| {
                                format!("{}: no anomaly_score in `{line}`", path.display())
                            })
                    })
                    .collect::<anyhow::Result<Vec<f64>>>()?;
                anyhow::ensure!(
                    scores.len() == points.len(),
                    "{}: {} rows, the data file has {}",
                    path.display(),
                    scores.len(),
                    points.len()
                );
                Ok(scores)
            }
        }
    }
}

fn load(dir: &Path, source: &Source<'_>) -> anyhow::Result<Corpus> {
    let labels = [
        dir.join("combined_windows.json"),
        dir.join("labels/combined_windows.json"),
    ]
    .into_iter()
    .find(|p| p.is_file())
    .with_context(|| format!("no combined_windows.json in {}", dir.display()))?;
    let text = std::fs::read_to_string(&labels)?;
    let windows: BTreeMap<String, Vec<(String, String)>> = serde_json::from_str(&text)
        .with_context(|| format!("{} is not NAB's window format", labels.display()))?;
    let mut corpus = Corpus {
        files: 0,
        rows: Vec::new(),
        scores: Vec::new(),
        file_starts: Vec::new(),
        window_len: Vec::new(),
        labelled_windows: windows.values().map(Vec::len).sum(),
    };
    for (file, limits) in &windows {
        let points = read_points(&dir.join("data").join(file))?;
        let limits: Vec<(i64, i64)> = limits
            .iter()
            .map(|(a, b)| Ok((parse_timestamp(a)?, parse_timestamp(b)?)))
            .collect::<anyhow::Result<_>>()
            .with_context(|| format!("windows of {file}"))?;
        let timestamps: Vec<i64> = points.iter().map(|p| p.0).collect();
        let (rows, used) = nab::label_rows(&timestamps, &limits, corpus.window_len.len());
        anyhow::ensure!(
            used == limits.len(),
            "{file}: a window limit is not a timestamp of the file"
        );
        let index = |t: i64| timestamps.iter().position(|&x| x == t).unwrap_or(0);
        corpus
            .window_len
            .extend(limits.iter().map(|&(a, b)| index(b) - index(a) + 1));
        let scores = source.scores(file, &points)?;
        corpus.file_starts.push(corpus.rows.len());
        corpus.rows.extend(rows);
        corpus.scores.extend(scores);
        corpus.files += 1;
    }
    Ok(corpus)
}

/// Thresholds tried by the alerting detector: quantiles of the positive scores, and the fixed
/// threshold.
fn candidate_thresholds(scores: &[f64], fixed: f64) -> Vec<f64> {
    let mut positive: Vec<f64> = scores.iter().copied().filter(|s| *s > 0.0).collect();
    positive.sort_by(f64::total_cmp);
    let mut out: Vec<f64> = (0..400)
        .map(|i| {
            // Denser towards the top: the useful thresholds are rare scores.
            let q = 1.0 - (1.0 - i as f64 / 400.0).powi(3);
            positive
                .get(((positive.len() as f64 - 1.0) * q) as usize)
                .copied()
                .unwrap_or(fixed)
        })
        .chain([fixed, f64::INFINITY])
        .collect();
    out.sort_by(f64::total_cmp);
    out.dedup();
    out
}

/// Alerts of the alerting detector at `threshold`: the score reaches it and no alert was raised in
/// the previous `suppress` rows of the same file.
fn alerts(corpus: &Corpus, threshold: f64, suppress: usize) -> Vec<bool> {
    let mut out = vec![false; corpus.scores.len()];
    let mut ends = corpus.file_starts.iter().skip(1).copied();
    let mut next_file = ends.next().unwrap_or(usize::MAX);
    let mut last: Option<usize> = None;
    for (i, &score) in corpus.scores.iter().enumerate() {
        if i == next_file {
            last = None;
            next_file = ends.next().unwrap_or(usize::MAX);
        }
        if score >= threshold && last.is_none_or(|l| i - l > suppress) {
            out[i] = true;
            last = Some(i);
        }
    }
    out
}

fn evaluate(corpus: &Corpus, profile: &Profile, thresholds: &[f64], args: &Args) -> ProfileResult {
    let nothing = vec![false; corpus.rows.len()];
    let null = nab::score_detections(&corpus.rows, &nothing, &corpus.window_len, profile).score;
    let normalise = |raw: f64| nab::normalise(raw, null, corpus.labelled_windows, profile);

    let points: Vec<(f64, Row)> = corpus
        .scores
        .iter()
        .copied()
        .zip(corpus.rows.iter().copied())
        .collect();
    let raw = nab::best(&nab::sweep(&points, corpus.window_len.len(), profile));

    let score_at = |threshold: f64| {
        let detected = alerts(corpus, threshold, args.suppress);
        nab::score_detections(&corpus.rows, &detected, &corpus.window_len, profile)
    };
    let (alerting_threshold, alerting) = thresholds
        .iter()
        .map(|&t| (t, score_at(t)))
        .fold(
            None,
            |best: Option<(f64, nab::DetectionScore)>, (t, s)| match best {
                Some((_, b)) if b.score >= s.score => best,
                _ => Some((t, s)),
            },
        )
        .unwrap_or((f64::INFINITY, nab::DetectionScore::default()));
    let fixed = score_at(args.threshold);
    ProfileResult {
        profile: profile.name,
        raw_score_nab: normalise(raw.score),
        raw_score_threshold: raw.threshold,
        alerting_nab: normalise(alerting.score),
        alerting_threshold,
        alerting: Events::of(&alerting),
        fixed_threshold_nab: normalise(fixed.score),
        fixed_threshold: Events::of(&fixed),
    }
}

fn print_table(corpus: &Corpus, results: &[ProfileResult], args: &Args) {
    println!(
        "NAB evaluation of {} ({} files, {} rows, {} labelled windows); alerts quiet for {} rows",
        args.corpus.display(),
        corpus.files,
        corpus.rows.len(),
        corpus.labelled_windows,
        args.suppress
    );
    println!(
        "{:<20} {:>10} {:>10} {:>10} {:>10} {:>12} {:>10}",
        "profile", "raw score", "alerting", "threshold", "at fixed", "P / R", "delay"
    );
    for r in results {
        println!(
            "{:<20} {:>10.1} {:>10.1} {:>10.3} {:>10.1} {:>5.2} / {:<4.2} {:>10.2}",
            r.profile,
            r.raw_score_nab,
            r.alerting_nab,
            r.alerting_threshold,
            r.fixed_threshold_nab,
            r.alerting.precision,
            r.alerting.recall,
            r.alerting.mean_delay_fraction_of_window,
        );
    }
    if let Some(standard) = results.first() {
        let e = &standard.fixed_threshold;
        println!(
            "at the fixed threshold {}: {}/{} windows detected, {} false alerts, precision {:.2}, recall {:.2}, F1 {:.2}, mean delay {:.2} of a window",
            args.threshold,
            e.windows_detected,
            e.windows,
            e.false_positives,
            e.precision,
            e.recall,
            e.f1,
            e.mean_delay_fraction_of_window
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn corpus(scores: Vec<f64>, file_starts: Vec<usize>) -> Corpus {
        let n = scores.len();
        Corpus {
            files: file_starts.len(),
            rows: vec![
                Row {
                    window: None,
                    unweighted: -1.0,
                    probationary: false
                };
                n
            ],
            scores,
            file_starts,
            window_len: Vec::new(),
            labelled_windows: 0,
        }
    }

    #[test]
    fn alerts_are_suppressed_after_firing_and_reset_per_file() {
        let c = corpus(vec![2.0, 2.0, 2.0, 0.0, 2.0, 2.0, 2.0], vec![0, 5]);
        let fired: Vec<usize> = alerts(&c, 1.0, 2)
            .iter()
            .enumerate()
            .filter_map(|(i, a)| a.then_some(i))
            .collect();
        // Rows 1 and 2 are within 2 rows of the alert at 0; row 3 is below the threshold; row 4
        // fires again; row 5 starts a new file and fires at once; row 6 is suppressed.
        assert_eq!(fired, [0, 4, 5]);
    }

    #[test]
    fn thresholds_include_the_fixed_one_and_never_fire() {
        let t = candidate_thresholds(&[0.0, 0.5, 3.0, 1.5], 1.0);
        assert!(t.contains(&1.0));
        assert_eq!(t.last(), Some(&f64::INFINITY));
        assert!(t.windows(2).all(|w| w[0] < w[1]));
    }
}
