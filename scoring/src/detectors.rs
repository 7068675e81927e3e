//! Long-memory detectors beside the model, and the calibration that turns all of them into the
//! one anomaly score (1.0 = alert).
//!
//! The ONNX model sees the last W samples only. Per-series detectors with constant memory
//! remember more:
//! - **model likelihood**: how unusual the model's recent band deviations are for this series
//!   (the tail probability of their short-term average under the series' own long-run mean and
//!   variance of it), so a series the model always finds noisy does not alert all the time;
//! - **range**: how far a value falls outside everything the series has done so far (the range
//!   widens towards a value beyond it over a few minutes, so a level that stays there keeps
//!   scoring for a while);
//! - **week profile**: how far a value is from what the series did at the same hour (UTC) of
//!   earlier weekdays, or of earlier weekend days on a Saturday or Sunday (UTC), made a
//!   likelihood the same way; a surprise below the largest the profile produced in about the
//!   past week scores only its share of it, so one that recurs (a daily cron spike, a burst
//!   like last week's) alerts less each time;
//! - **step size**: how unusual the recent absolute changes from one value to the next are (a
//!   likelihood of `|x - previous x|`), for a series that becomes noisier or jumpier;
//! - **flatline**: a value that stays exactly the same for longer than any run of one value before
//!   (once such runs have lasted two hours), for a sensor, exporter or feed that gets stuck.
//!
//! The anomaly score is the largest of them, each weighted, scaled so that 1.0 is the alert
//! threshold. Until
//! the model likelihood has seen [`LIKELIHOOD_WARMUP`] samples, the model's band deviation
//! itself stands in for it. Parameters were chosen on NAB's development subset
//! (docs/model.md).

/// Samples a likelihood needs before it scores.
pub const LIKELIHOOD_WARMUP: u32 = 64;
/// Samples after which the long-run mean and variance forget at a constant rate.
const LIKELIHOOD_HORIZON: u32 = 4096;
/// Weight of the newest value in the short-term average.
const SHORT_ALPHA: f32 = 0.05;
/// Variance floor of the long-run statistics (scores of near-constant series).
const VARIANCE_FLOOR: f32 = 1e-4;
/// Tail probability that scores 1.0 before calibration: 1e-10.
const TAIL_DECADES: f64 = 10.0;
/// Weight of the model likelihood against the other detectors. 0.7 scored full NAB 68.5, 0.1
/// scored 71.3 (72.1 with the present short averages); the drill's saturations and traffic
/// drops, which needed 0.7 while the range took a new level at its first sample, are caught by
/// the range since it widens over [`RANGE_EXPAND_SECONDS`] (docs/model.md).
const MODEL_WEIGHT: f64 = 0.1;

/// Samples the range detector needs before it scores.
const RANGE_WARMUP: u32 = 32;
/// A value this fraction of the range's width beyond it scores 1.0 before calibration.
const RANGE_TOLERANCE: f64 = 0.02;
/// The range score is capped here: one far outlier scores like a near one, so a single record
/// value of a noisy series does not carry a 1-minute average over the threshold on its own.
const RANGE_CAP: f64 = 1.0;
/// Per sample, the range shrinks towards its middle by this fraction, so it forgets old extremes
/// (time constant 100,000 samples: about 17 days at a 15 s scrape interval).
const RANGE_DECAY: f64 = 1e-5;
/// Seconds over which the range widens to a value beyond it: each sample moves the edge by the
/// fraction `elapsed / RANGE_EXPAND_SECONDS` (at most all) of the way to the value. A series that
/// jumps to a level beyond its range and stays there (a saturated CPU, traffic falling to a
/// tenth) keeps scoring at the cap while the edge catches up, about `300 s * ln(jump /
/// tolerance)` (8 to 20 minutes for a jump of 5 to 50 tolerances), long enough for the 1-minute
/// alert rule, instead of only at its first sample; samples 5 minutes or more apart (NAB) widen
/// it at once.
const RANGE_EXPAND_SECONDS: f64 = 300.0;

/// A value unchanged for longer than this share beyond the longest run of one value before scores
/// 1.0 before calibration (the range's cap).
const FLAT_TOLERANCE: f64 = 0.1;
/// Seconds the longest earlier run of one value must have lasted before a longer one scores: a
/// series that has never held a value for two hours gives no measure of how long it may (a data
/// feed that repeats its value for an hour once is not stuck when it does so for 70 minutes).
const FLAT_MIN_SECONDS: f64 = 7_200.0;
/// Seconds a run scores once it is [`FLAT_TOLERANCE`] beyond the longest (at least one sample):
/// long enough for the 1-minute alert rule at a short scrape interval, one sample at NAB's 5
/// minutes, like the range's widening.
const FLAT_HOLD_SECONDS: f64 = 300.0;

/// Bins of the week profile: 24 hours of a weekday, then 24 hours of a weekend day.
const PROFILE_BINS: usize = 48;
/// Seconds of in-bin time over which a bin's level adapts (a weekday bin gets 3,600 s a day,
/// so its level remembers about three days; a weekend bin about two weekends).
const PROFILE_TAU_SECONDS: f64 = 10_000.0;
/// Seconds of history before the week profile scores.
const PROFILE_WARMUP_SECONDS: i64 = 2 * 86_400;
/// Seconds after [`PROFILE_WARMUP_SECONDS`] during which the profile's likelihood learns the
/// statistics of its distances without scoring: its mean and variance of a slow short average
/// are unreliable from a few hours of values, and a day shows it every hour of the profile once.
const PROFILE_LIKELIHOOD_WARMUP_SECONDS: i64 = 86_400;
/// Seconds of history after which the week profile scores.
const PROFILE_SCORES_AFTER_SECONDS: f64 =
    (PROFILE_WARMUP_SECONDS + PROFILE_LIKELIHOOD_WARMUP_SECONDS) as f64;
/// Seconds over which the profile's peak surprise (the largest likelihood it produced) decays
/// by a factor e.
const PROFILE_PEAK_SECONDS: f64 = 7.0 * 86_400.0;
/// Weight of the newest value in the short-term average of the profile's likelihood (slow: one
/// odd value of a noisy series should not alert on its own).
const PROFILE_SHORT_ALPHA: f32 = 0.06;
/// Weight of the week profile's likelihood against the range score.
const PROFILE_WEIGHT: f64 = 3.0;

/// Weight of the newest value in the short-term average of the step likelihood.
const STEP_SHORT_ALPHA: f32 = 0.03;
/// Weight of the step likelihood against the range score.
const STEP_WEIGHT: f64 = 0.7;

/// Divides the combined detector output so that 1.0 is the alert threshold (NAB standard
/// profile, docs/model.md).
const CALIBRATION: f64 = 0.95;

/// Streaming anomaly likelihood of a non-negative signal.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Likelihood {
    count: u32,
    mean: f32,
    variance: f32,
    short: f32,
}

impl Likelihood {
    /// Whether it has seen enough samples to score.
    pub(crate) fn is_warm(&self) -> bool {
        self.count >= LIKELIHOOD_WARMUP
    }

    /// Feeds one value; returns `-log10(tail probability) / 10` of its short-term average under the
    /// statistics before it (0 while warming up or below the mean).
    pub(crate) fn update(&mut self, x: f64) -> f64 {
        self.update_with(x, SHORT_ALPHA)
    }

    /// [`Self::update`] with weight `alpha` of the newest value in the short-term average.
    fn update_with(&mut self, x: f64, alpha: f32) -> f64 {
        let x = x as f32;
        self.short = if self.count == 0 {
            x
        } else {
            self.short + alpha * (x - self.short)
        };
        let score = if self.is_warm() {
            let std = self.variance.max(VARIANCE_FLOOR).sqrt();
            upper_tail_decades(f64::from((self.short - self.mean) / std)) / TAIL_DECADES
        } else {
            0.0
        };
        self.count = self.count.saturating_add(1);
        let a = 1.0 / self.count.min(LIKELIHOOD_HORIZON) as f32;
        let d = self.short - self.mean;
        self.mean += a * d;
        self.variance = (1.0 - a) * (self.variance + a * d * d);
        score
    }
}

/// `-log10` of the standard normal upper tail at `z` (0 for `z <= 0`).
fn upper_tail_decades(z: f64) -> f64 {
    if z.is_nan() || z <= 0.0 {
        return 0.0;
    }
    let tail = 0.5 * libm::erfc(z / std::f64::consts::SQRT_2);
    if tail > 1e-300 {
        -tail.log10()
    } else {
        // Asymptotic: tail ~ exp(-z^2/2) / (z sqrt(2 pi)).
        (z * z / 2.0 + (z * (2.0 * std::f64::consts::PI).sqrt()).ln()) / std::f64::consts::LN_10
    }
}

/// The range of values seen, forgetting slowly.
#[derive(Clone, Copy, Debug)]
struct Range {
    low: f64,
    high: f64,
    count: u32,
}

impl Default for Range {
    fn default() -> Self {
        Self {
            low: f64::INFINITY,
            high: f64::NEG_INFINITY,
            count: 0,
        }
    }
}

impl Range {
    /// Scores `value` against the range before it, then widens the range towards it;
    /// `elapsed` is the seconds since the previous value (`None` for the first).
    fn update(&mut self, value: f64, elapsed: Option<f64>) -> f64 {
        let width = self.high - self.low;
        let warm = self.count >= RANGE_WARMUP && width > 0.0;
        let score = if warm {
            let tolerance = width * RANGE_TOLERANCE;
            ((value - self.high) / tolerance)
                .max((self.low - value) / tolerance)
                .clamp(0.0, RANGE_CAP)
        } else {
            0.0
        };
        match elapsed {
            Some(elapsed) if warm && elapsed < RANGE_EXPAND_SECONDS => {
                let share = elapsed.max(0.0) / RANGE_EXPAND_SECONDS;
                if value < self.low {
                    self.low += share * (value - self.low);
                }
                if value > self.high {
                    self.high += share * (value - self.high);
                }
            }
            _ => {
                self.low = self.low.min(value);
                self.high = self.high.max(value);
            }
        }
        let middle = 0.5 * (self.low + self.high);
        self.low += (middle - self.low) * RANGE_DECAY;
        self.high -= (self.high - middle) * RANGE_DECAY;
        self.count = self.count.saturating_add(1);
        score
    }
}

/// How long the value has stayed the same, against the longest such run so far: a sensor or
/// exporter that gets stuck, a queue or a counter rate that stops moving, a data feed that
/// repeats its last value.
#[derive(Clone, Copy, Debug, Default)]
struct Flatline {
    /// Seconds since the value last changed.
    run: f32,
    /// Longest `run` of the earlier values (at the sample before each change).
    longest: f32,
}

impl Flatline {
    /// Scores `value` given the value fed before it and the seconds since then; `warm` says
    /// whether the series has history enough to score.
    fn update(&mut self, value: f64, previous: Option<f64>, elapsed: f64, warm: bool) -> f64 {
        if previous != Some(value) {
            self.longest = self.longest.max(self.run);
            self.run = 0.0;
            return 0.0;
        }
        self.run += elapsed.max(0.0) as f32;
        let longest = f64::from(self.longest);
        let edge = longest * (1.0 + FLAT_TOLERANCE);
        let run = f64::from(self.run);
        if warm && longest >= FLAT_MIN_SECONDS && run > edge && run <= edge + FLAT_HOLD_SECONDS {
            1.0
        } else {
            0.0
        }
    }
}

/// Level per hour of a weekday and per hour of a weekend day (UTC), and how unusual the
/// distance from it is.
#[derive(Clone, Copy, Debug)]
struct WeekProfile {
    /// Level per bin; NaN until the bin has one (fed values are finite).
    levels: [f32; PROFILE_BINS],
    /// Mean absolute distance from the profile.
    spread: f32,
    spread_count: u32,
    /// Seconds since the first sample, counted up to the end of the warm-up (whole seconds, so
    /// exact in an `f32`).
    age: f32,
    likelihood: Likelihood,
    /// Largest likelihood so far, decaying over [`PROFILE_PEAK_SECONDS`].
    peak: f32,
}

impl Default for WeekProfile {
    fn default() -> Self {
        Self {
            levels: [f32::NAN; PROFILE_BINS],
            spread: 0.0,
            spread_count: 0,
            age: 0.0,
            likelihood: Likelihood::default(),
            peak: 0.0,
        }
    }
}

/// The profile bin of a time: its hour (UTC), plus 24 on a Saturday or Sunday.
fn profile_bin(seconds: i64) -> usize {
    let hour = (seconds.rem_euclid(86_400) as usize * 24) / 86_400;
    // 1970-01-01 was a Thursday: day 0 is weekday 3 counting from Monday = 0.
    let weekday = (seconds.div_euclid(86_400) + 3).rem_euclid(7);
    hour + if weekday >= 5 { 24 } else { 0 }
}

impl WeekProfile {
    /// Feeds a value; `previous_ms` is the time of the value fed before it (the series keeps it,
    /// so the profile does not).
    fn update(&mut self, timestamp_ms: i64, previous_ms: Option<i64>, value: f64) -> f64 {
        let seconds = timestamp_ms.div_euclid(1000);
        let bin = profile_bin(seconds);
        let elapsed = previous_ms.map_or(0, |p| seconds - p.div_euclid(1000)) as f64;
        let age = (f64::from(self.age) + elapsed).min(PROFILE_SCORES_AFTER_SECONDS);
        self.age = age as f32;
        let warm = age >= PROFILE_WARMUP_SECONDS as f64;
        let mut distance = 0.0;
        if self.levels[bin].is_nan() {
            self.levels[bin] = value as f32;
        } else {
            let level = f64::from(self.levels[bin]);
            // The distance to the nearest level of this bin and the two around it, so that a
            // daily peak that comes a little early or late is not far from the profile.
            let mut error = (value - level).abs();
            for neighbour in [bin + PROFILE_BINS - 1, bin + 1] {
                let neighbour = neighbour % PROFILE_BINS;
                let level = self.levels[neighbour];
                if !level.is_nan() {
                    error = error.min((value - f64::from(level)).abs());
                }
            }
            if warm {
                distance = error / (f64::from(self.spread) + 1e-9);
            }
            self.spread_count = self.spread_count.saturating_add(1);
            let a = 1.0 / self.spread_count.min(LIKELIHOOD_HORIZON) as f32;
            self.spread += a * (error as f32 - self.spread);
            let alpha = (elapsed / PROFILE_TAU_SECONDS).clamp(1e-4, 1.0);
            self.levels[bin] = (level + alpha * (value - level)) as f32;
        }
        if !warm {
            return 0.0;
        }
        // Logarithmic: distances of spiky series are heavy-tailed, their likelihood should not
        // take every large one for a change.
        let likelihood = self
            .likelihood
            .update_with(distance.ln_1p(), PROFILE_SHORT_ALPHA);
        if age < PROFILE_SCORES_AFTER_SECONDS {
            // The peak does not learn from the likelihood's warm-up day either: at a 15 s
            // scrape its first, least reliable values would damp real surprises for a week.
            return 0.0;
        }
        let peak = f64::from(self.peak) * (-elapsed.max(0.0) / PROFILE_PEAK_SECONDS).exp();
        self.peak = peak.max(likelihood) as f32;
        habituated(likelihood, peak)
    }
}

/// A likelihood `score` against the largest of the recent past, `peak` (decayed): as it is from
/// the peak up, below it scaled by its share of the peak (`score^2 / peak`), so a surprise no
/// larger than one the profile already produced in the past days scores less.
fn habituated(score: f64, peak: f64) -> f64 {
    if score >= peak {
        score
    } else {
        score * score / peak
    }
}

/// The long-memory detectors of one series.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Detectors {
    model: Likelihood,
    range: Range,
    profile: WeekProfile,
    step: Likelihood,
    flat: Flatline,
}

impl Detectors {
    /// Reads a word of each detector (see `SeriesState::touch`).
    pub(crate) fn touch(&self) -> u32 {
        self.model.count
            ^ self.range.count
            ^ self.profile.likelihood.count
            ^ self.profile.levels[0].to_bits()
            ^ self.step.count
            ^ self.flat.run.to_bits()
    }

    /// Feeds a new value to the detectors that do not need the model; returns their score.
    /// `previous` is the time and value fed before it, if any (kept by the series).
    pub(crate) fn observe(
        &mut self,
        timestamp_ms: i64,
        value: f64,
        previous: Option<(i64, f64)>,
    ) -> f64 {
        let previous_ms = previous.map(|(t, _)| t);
        let elapsed_seconds = previous_ms.map(|t| (timestamp_ms - t) as f64 / 1000.0);
        let warm = self.range.count >= RANGE_WARMUP;
        let range = self.range.update(value, elapsed_seconds);
        let flat = self.flat.update(
            value,
            previous.map(|(_, v)| v),
            elapsed_seconds.unwrap_or(0.0),
            warm,
        );
        let profile = self.profile.update(timestamp_ms, previous_ms, value);
        let step = match previous {
            Some((_, previous)) => self
                .step
                .update_with((value - previous).abs(), STEP_SHORT_ALPHA),
            None => 0.0,
        };
        range
            .max(PROFILE_WEIGHT * profile)
            .max(STEP_WEIGHT * step)
            .max(flat)
    }

    /// Feeds the model's band deviation of the same value; returns the calibrated anomaly score
    /// given the other detectors' score `context`.
    pub(crate) fn finish(&mut self, model_score: f64, context: f64) -> f64 {
        let warm = self.model.is_warm();
        let likelihood = self.model.update(model_score);
        let model = if warm {
            MODEL_WEIGHT * likelihood / CALIBRATION
        } else {
            model_score
        };
        model.max(context / CALIBRATION)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_decades_are_continuous_where_the_asymptote_takes_over() {
        // 1e-10 is about 6.36 sigma.
        assert!((upper_tail_decades(6.3613) - 10.0).abs() < 0.01);
        assert_eq!(upper_tail_decades(-1.0), 0.0);
        let below = upper_tail_decades(37.0);
        let above = upper_tail_decades(37.6);
        assert!(below < above && above - below < 10.0, "{below} {above}");
    }

    #[test]
    fn likelihood_is_quiet_on_steady_noise_and_high_on_a_sustained_rise() {
        let mut l = Likelihood::default();
        let mut quiet = 0.0f64;
        for i in 0..2000 {
            let x = 0.3 + 0.1 * ((i * 7919 % 100) as f64 / 100.0);
            let s = l.update(x);
            if i >= 200 {
                quiet = quiet.max(s);
            }
        }
        assert!(quiet < 0.5, "steady noise scored {quiet}");
        let peak = (0..20).map(|_| l.update(3.0)).fold(0.0, f64::max);
        assert!(peak > 1.0, "a sustained tenfold rise scored {peak}");
    }

    #[test]
    fn range_scores_values_beyond_the_seen_range() {
        let mut r = Range::default();
        for i in 0..100 {
            // The range forgets slowly, so its edges score a little above 0.
            assert!(r.update(f64::from(i % 10), None) < 0.01);
        }
        assert_eq!(r.update(5.0, None), 0.0);
        // Width 9, tolerance 0.18: 9.18 is exactly 1.0, far away is capped.
        assert!((r.update(9.0 + 0.18, None) - 1.0).abs() < 1e-3);
        assert_eq!(r.update(1e9, None), RANGE_CAP);
    }

    #[test]
    fn a_sustained_level_beyond_the_range_scores_for_minutes_at_a_short_interval() {
        // CPU between 0.3 and 0.6, then saturated at 0.97 for two hours.
        let run = |interval: f64| {
            let mut r = Range::default();
            for i in 0..200 {
                r.update(0.3 + 0.3 * f64::from(i % 7) / 6.0, Some(interval));
            }
            let scores: Vec<f64> = (0..(7200.0 / interval) as usize)
                .map(|_| r.update(0.97, Some(interval)))
                .collect();
            let at_cap = scores.iter().take_while(|s| **s >= RANGE_CAP).count();
            (at_cap, *scores.last().unwrap_or(&1.0))
        };
        // Every 15 s: at the cap for more than the 2 minutes the alert rule needs, then the
        // range has taken the new level in.
        let (at_cap, last) = run(15.0);
        assert!((8..240).contains(&at_cap), "{at_cap} samples at the cap");
        // (The range forgets slowly, so its edge scores a little above 0.)
        assert!(last < 0.01, "{last}");
        // Every 5 minutes: the range takes the new level at once, only its first sample scores.
        let (at_cap, last) = run(300.0);
        assert_eq!(at_cap, 1);
        assert!(last < 0.01, "{last}");
    }

    /// Scores of a [`Flatline`] fed `values` every `interval` seconds (warm from the start).
    fn flatline_scores(values: &[f64], interval: f64) -> Vec<f64> {
        let mut f = Flatline::default();
        let mut previous = None;
        values
            .iter()
            .map(|&v| {
                let score = f.update(v, previous, interval, true);
                previous = Some(v);
                score
            })
            .collect()
    }

    /// A gauge that changes every sample, except for `runs` (start, length): held values.
    fn with_held_values(len: usize, runs: &[(usize, usize)]) -> Vec<f64> {
        let mut values: Vec<f64> = (0..len).map(|i| 10.0 + ((i * 7919) % 13) as f64).collect();
        for &(start, length) in runs {
            for i in start + 1..start + length {
                values[i] = values[start];
            }
        }
        values
    }

    #[test]
    fn flatline_scores_a_value_stuck_longer_than_any_run_before() {
        // Every 5 minutes: the value holds for 36 samples (2 h 55 min) once a day, then on day 4
        // for 72.
        let normal = [(100, 36), (388, 36), (676, 36)];
        let stuck = [(100, 36), (388, 36), (676, 36), (964, 72)];
        let quiet = flatline_scores(&with_held_values(1200, &normal), 300.0);
        assert!(
            quiet.iter().all(|s| *s == 0.0),
            "runs as long as before score"
        );
        let scores = flatline_scores(&with_held_values(1200, &stuck), 300.0);
        let scored: Vec<usize> = (0..scores.len()).filter(|&i| scores[i] > 0.0).collect();
        // 10% beyond 10,500 s is 11,550 s, passed at the 39th repeat: one sample at NAB's
        // interval, at the range's cap.
        assert_eq!(scored, [964 + 39]);
        assert_eq!(scores[964 + 39], RANGE_CAP);
    }

    #[test]
    fn flatline_scores_for_five_minutes_at_a_short_interval() {
        // Every 15 s: held for 720 samples (3 hours) twice, then stuck.
        let values = with_held_values(6000, &[(100, 720), (1500, 720), (3000, 2000)]);
        let scores = flatline_scores(&values, 15.0);
        let scored = scores.iter().filter(|s| **s > 0.0).count();
        // 300 s of samples (20) once the run is 10% beyond 3 hours: enough for the 1-minute rule.
        assert_eq!(scored, 20);
        assert!(scores[3000..].iter().any(|s| *s > 0.0));
    }

    #[test]
    fn flatline_needs_earlier_runs_of_two_hours() {
        // A series that never changes has no earlier run to compare with; one whose values held
        // for an hour at most is not stuck when one holds for five.
        let constant = flatline_scores(&[3.0; 2000], 300.0);
        assert!(constant.iter().all(|s| *s == 0.0));
        let short = with_held_values(1200, &[(100, 12), (400, 12), (800, 60)]);
        assert!(flatline_scores(&short, 300.0).iter().all(|s| *s == 0.0));
        // Through the detectors: the stuck series alerts once the range is warm.
        let mut d = Detectors::default();
        let mut previous = None;
        let mut peak = 0.0f64;
        for (i, v) in with_held_values(1200, &[(100, 36), (388, 36), (676, 36), (964, 72)])
            .into_iter()
            .enumerate()
        {
            let t = i as i64 * 300_000;
            let score = d.observe(t, v, previous);
            if i >= 964 {
                peak = peak.max(score);
            }
            previous = Some((t, v));
        }
        assert!(peak / CALIBRATION > 1.0, "the stuck value scored {peak}");
    }

    #[test]
    fn week_profile_flags_a_missing_daily_peak_after_two_days() {
        let mut d = WeekProfile::default();
        let step = 300_000; // 5 minutes
        let value = |t: i64| {
            let hour = (t / 3_600_000) % 24;
            if (9..12).contains(&hour) { 100.0 } else { 10.0 }
        };
        let alert = |score: f64| PROFILE_WEIGHT * score / CALIBRATION;
        let mut quiet = 0.0f64;
        let mut t = 0;
        let mut previous = None;
        // Thursday 1 January 1970 to Tuesday: weekdays and a weekend.
        while t < 6 * 86_400_000 {
            quiet = quiet.max(alert(d.update(
                t,
                previous,
                value(t) + ((t / step) % 3) as f64,
            )));
            previous = Some(t);
            t += step;
        }
        assert!(quiet < 1.0, "regular days scored {quiet}");
        // Wednesday: the peak does not come.
        let mut missing = 0.0f64;
        while t < 6 * 86_400_000 + 12 * 3_600_000 {
            missing = missing.max(alert(d.update(t, previous, 10.0 + ((t / step) % 3) as f64)));
            previous = Some(t);
            t += step;
        }
        assert!(missing > 1.0, "the missing peak scored {missing}");
    }

    #[test]
    fn week_profile_habituates_to_a_spike_it_sees_every_day() {
        // A flat series with a single-sample spike at 03:00 every day (a cron job), then an
        // hour at three times the level at 17:00. `plain` forgets its peak before every value,
        // so it scores the likelihood as it is.
        let (mut d, mut plain) = (WeekProfile::default(), WeekProfile::default());
        let step = 300_000; // 5 minutes
        let alert = |score: f64| PROFILE_WEIGHT * score / CALIBRATION;
        let mut previous = None;
        // Per day, the largest score of each in the three hours from the spike on.
        let (mut daily, mut daily_plain) = (Vec::new(), Vec::new());
        let mut t = 0;
        while t < 14 * 86_400_000 {
            let hour_ms = t % 86_400_000;
            let spike = hour_ms == 3 * 3_600_000;
            let value = 0.1 + 0.001 * ((t / step) % 3) as f64 + if spike { 1.4 } else { 0.0 };
            plain.peak = 0.0;
            let score = alert(d.update(t, previous, value));
            let score_plain = alert(plain.update(t, previous, value));
            previous = Some(t);
            t += step;
            if spike {
                daily.push(score);
                daily_plain.push(score_plain);
            } else if (3 * 3_600_000..6 * 3_600_000).contains(&hour_ms) {
                let last = daily.len() - 1;
                daily[last] = daily[last].max(score);
                daily_plain[last] = daily_plain[last].max(score_plain);
            }
        }
        // Nothing before day 3 (two days of levels, one of likelihood statistics), then the
        // spike alerts at first; the likelihood alone takes it for an anomaly for a week, the
        // habituated score stops alerting on day 6.
        assert!(daily[..3].iter().all(|s| *s == 0.0), "{daily:?}");
        assert!(daily[3] > 1.0, "{daily:?}");
        assert!(daily.iter().zip(&daily_plain).all(|(h, p)| h <= p));
        assert!(daily_plain[6] > 1.0, "{daily_plain:?}");
        assert!(daily[6..].iter().all(|s| *s < 1.0), "{daily:?}");
        // An hour at three times the level, at an hour that has never had a spike, alerts.
        let mut odd = 0.0f64;
        let evening = t + 17 * 3_600_000;
        while t < evening + 2 * 3_600_000 {
            let level = if (evening..evening + 3_600_000).contains(&t) {
                0.3
            } else {
                0.1
            };
            let value = level + 0.001 * ((t / step) % 3) as f64;
            let score = alert(d.update(t, previous, value));
            if t >= evening {
                odd = odd.max(score);
            } else {
                assert!(score < 1.0, "{score} at {t}");
            }
            previous = Some(t);
            t += step;
        }
        assert!(odd > 1.0, "the new level scored {odd}");
    }

    #[test]
    fn the_peak_does_not_learn_from_the_likelihoods_warm_up_day() {
        // Every 15 s: an hour-long burst on day 3, while the likelihood learns without scoring.
        let mut d = WeekProfile::default();
        let step = 15_000;
        let mut previous = None;
        let mut t = 0;
        let mut surprise = 0.0f32;
        while t < 3 * 86_400_000 {
            let burst = (60 * 3_600_000..61 * 3_600_000).contains(&t);
            let value = 10.0 + ((t / step) % 5) as f64 * 0.1 + if burst { 50.0 } else { 0.0 };
            let score = d.update(t, previous, value);
            assert_eq!(score, 0.0, "nothing scores before day 4");
            if burst {
                // How many standard deviations the short average stands above its mean.
                let l = d.likelihood;
                surprise = surprise.max((l.short - l.mean) / l.variance.max(VARIANCE_FLOOR).sqrt());
            }
            previous = Some(t);
            t += step;
        }
        // Its likelihood would have become a peak of about 0.2, damping later surprises.
        let would_be_peak = upper_tail_decades(f64::from(surprise)) / TAIL_DECADES;
        assert!(would_be_peak > 0.1, "{would_be_peak}");
        assert_eq!(d.peak, 0.0, "the burst of the warm-up day is not the peak");
        // From day 4 the peak follows what the profile scores.
        let first = d.update(t, previous, 10.0);
        assert!(
            (f64::from(d.peak) - first).abs() < 1e-6,
            "{} {first}",
            d.peak
        );
    }

    #[test]
    fn habituated_scores_fall_below_the_peak() {
        assert_eq!(habituated(0.6, 0.5), 0.6);
        assert_eq!(habituated(0.5, 0.5), 0.5);
        assert!((habituated(0.25, 0.5) - 0.125).abs() < 1e-12);
        assert_eq!(habituated(0.0, 0.0), 0.0);
    }

    #[test]
    fn weekend_hours_have_their_own_bins() {
        // 1970-01-03 was a Saturday, 1970-01-05 a Monday.
        assert_eq!(profile_bin(2 * 86_400 + 3_600), 25);
        assert_eq!(profile_bin(4 * 86_400 + 3_600), 1);
        // 1969-12-31 23:59:59 was a Wednesday.
        assert_eq!(profile_bin(-1), 23);
    }

    #[test]
    fn step_likelihood_flags_a_series_that_turns_jumpy() {
        let mut d = Detectors::default();
        let mut quiet = 0.0f64;
        let mut t = 0;
        let mut previous = None;
        for i in 0..2000 {
            let v = 50.0 + ((i * 7919) % 10) as f64 * 0.1;
            quiet = quiet.max(d.observe(t, v, previous));
            previous = Some((t, v));
            t += 300_000;
        }
        assert!(quiet / CALIBRATION < 1.0, "steady noise scored {quiet}");
        // Same range, same level, but ten times the step size.
        let mut jumpy = 0.0f64;
        for i in 0..100 {
            let v = if i % 2 == 0 { 50.0 } else { 50.9 };
            jumpy = jumpy.max(d.observe(t, v, previous));
            previous = Some((t, v));
            t += 300_000;
        }
        assert!(jumpy / CALIBRATION > 1.0, "a jumpy series scored {jumpy}");
    }

    #[test]
    fn the_model_score_stands_in_until_its_likelihood_is_warm() {
        let mut d = Detectors::default();
        assert_eq!(d.finish(2.5, 0.0), 2.5);
        for _ in 0..LIKELIHOOD_WARMUP {
            d.finish(0.3, 0.0);
        }
        let steady = d.finish(0.3, 0.0);
        assert!(steady < 0.1, "{steady}");
        assert!((d.finish(0.3, 1.3) - 1.3 / CALIBRATION).abs() < 1e-9);
    }
}
