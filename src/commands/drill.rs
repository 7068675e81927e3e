//! `omen drill`: a scheduled sequence of incidents in the platform simulator, run in simulated
//! time, scored as the adapter scores and alerted as the anomaly rule alerts; reports precision,
//! recall and time to detect.
//!
//! Nothing waits on a clock: the simulator is stepped, "scraped" every `--scrape` interval, the
//! series chosen by the adapter configuration are scored by the scoring crate exactly as the adapter
//! does, and `OmenAnomalyDetected` (`avg_over_time(omen_anomaly_score[1m]) >= 1` held `for: 1m`)
//! is evaluated at every scrape, and the escalating `OmenAnomalySevere` and
//! `OmenAnomalyPersistent` beside it. A day of simulated traffic takes seconds.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use omen_exporters::sim::{Incident, IncidentKind, Noise, Platform, SimMetrics, default_services};
use omen_prom_adapter::labels::{LabelRef, series_hash};
use omen_prom_adapter::selector::SeriesFilter;
use omen_scoring::{Input, Model, Outcome, Scorer, ScorerConfig, SeriesKind};

use super::Failure;

mod rule;

use rule::{AlertRule, Detection, Episode, match_detections};

/// Arguments of `omen drill`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Incidents in the sequence; kinds take turns, services are drawn at random.
    #[arg(long, default_value_t = 20)]
    pub incidents: usize,
    /// Seed of the schedule and of the simulator's noise.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Quiet simulated time before the first incident (fills the model's windows).
    #[arg(long, default_value = "2h", value_parser = humantime::parse_duration)]
    pub warmup: Duration,
    /// How long each incident lasts (no remediation in a drill).
    #[arg(long, default_value = "10m", value_parser = humantime::parse_duration)]
    pub duration: Duration,
    /// Shortest quiet time between two incidents.
    #[arg(long, default_value = "40m", value_parser = humantime::parse_duration)]
    pub min_gap: Duration,
    /// Longest quiet time between two incidents.
    #[arg(long, default_value = "80m", value_parser = humantime::parse_duration)]
    pub max_gap: Duration,
    /// Scrape and rule evaluation interval.
    #[arg(long, default_value = "15s", value_parser = humantime::parse_duration)]
    pub scrape: Duration,
    /// After an incident ends, how long an alert still counts as detecting it.
    #[arg(long, default_value = "5m", value_parser = humantime::parse_duration)]
    pub grace: Duration,
    /// Adapter configuration whose `scoring.include`/`exclude` choose the scored series; the
    /// local stack's (provisioning/adapter.yml) when absent.
    #[arg(long)]
    pub adapter_config: Option<PathBuf>,
    /// ONNX model meeting the model contract; the embedded model when absent.
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Also write the results as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// Runs `omen drill`.
pub fn run(args: Args) -> Result<(), Failure> {
    if args.min_gap > args.max_gap || args.scrape.is_zero() {
        return Err(Failure::Usage(anyhow::anyhow!(
            "--min-gap must not exceed --max-gap, and --scrape must be positive"
        )));
    }
    let filter = scoring_filter(args.adapter_config.as_deref()).map_err(Failure::Usage)?;
    let model = super::load_model(args.model.as_deref())?;
    let report = drill(&args, filter, Arc::new(model)).map_err(Failure::Runtime)?;
    print!("{}", report.table());
    if let Some(path) = &args.json {
        let json = serde_json::to_string_pretty(&report).map_err(|e| Failure::Runtime(e.into()))?;
        std::fs::write(path, json + "\n")
            .with_context(|| format!("cannot write {}", path.display()))
            .map_err(Failure::Runtime)?;
    }
    Ok(())
}

fn scoring_filter(path: Option<&std::path::Path>) -> anyhow::Result<SeriesFilter> {
    let text = match path {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?,
        None => include_str!("../../provisioning/adapter.yml").to_owned(),
    };
    let config = omen_prom_adapter::Config::from_yaml(&text)?;
    SeriesFilter::new(&config.scoring.include, &config.scoring.exclude)
        .map_err(|e| anyhow::anyhow!("scoring selectors: {e}"))
}

/// Start of simulated time: a Monday 00:00 UTC, so the day's seasonality is realistic.
const EPOCH: f64 = 1_767_571_200.0;
/// Simulator steps per scrape (the live simulator steps every second).
const STEPS_PER_SCRAPE: u32 = 3;

/// The drill's incident schedule: kinds in turn, random services, random quiet gaps.
fn schedule(args: &Args, services: &[String]) -> Vec<Incident> {
    let mut noise = Noise::new(args.seed ^ 0x5eed);
    let mut at = EPOCH + args.warmup.as_secs_f64();
    let (min_gap, max_gap) = (args.min_gap.as_secs_f64(), args.max_gap.as_secs_f64());
    (0..args.incidents)
        .map(|i| {
            let service = services[(noise.next_u64() % services.len() as u64) as usize].clone();
            let incident = Incident {
                id: i as u64 + 1,
                kind: IncidentKind::ALL[i % IncidentKind::ALL.len()],
                service,
                started_at: at,
                ends_at: at + args.duration.as_secs_f64(),
                source: "schedule",
            };
            at = incident.ends_at + min_gap + (max_gap - min_gap) * noise.uniform();
            incident
        })
        .collect()
}

/// A scored series: its identity for the scorer and how it is scored.
#[derive(Clone, Copy)]
struct Tracked {
    hash: u64,
    kind: SeriesKind,
}

fn drill(args: &Args, filter: SeriesFilter, model: Arc<Model>) -> anyhow::Result<Report> {
    let services = default_services();
    let incidents = schedule(args, &services);
    let metrics = SimMetrics::new(&services, 1.0)?;
    let mut platform = Platform::new(&services, args.seed, metrics.clone());
    let scorer = Scorer::new(model, ScorerConfig::default());
    let scrape = args.scrape.as_secs_f64();
    let end = incidents
        .last()
        .map_or(EPOCH + args.warmup.as_secs_f64(), |i| i.ends_at)
        + args.max_gap.as_secs_f64();
    // Every series seen, with `None` for those the adapter configuration does not score.
    let mut seen: HashMap<Vec<(String, String)>, Option<Tracked>> = HashMap::new();
    // The anomaly alert first, then the escalating alerts, all on the same scores.
    let mut rules = [
        ("OmenAnomalyDetected", AlertRule::anomaly_detected()),
        ("OmenAnomalySevere", AlertRule::anomaly_severe()),
        ("OmenAnomalyPersistent", AlertRule::anomaly_persistent()),
    ];
    let (mut inputs, mut outcomes) = (Vec::new(), Vec::new());
    let mut now = EPOCH;
    while now < end {
        let dt = scrape / f64::from(STEPS_PER_SCRAPE);
        for _ in 0..STEPS_PER_SCRAPE {
            now += dt;
            let active: Vec<Incident> = incidents
                .iter()
                .filter(|i| i.started_at <= now && now < i.ends_at)
                .cloned()
                .collect();
            platform.step(now, dt, &active);
        }
        inputs.clear();
        for sample in metrics.samples() {
            let mut labels = sample.labels;
            labels.push(("job".into(), "omen-sim".into()));
            labels.sort();
            let tracked = match seen.get(&labels) {
                Some(tracked) => *tracked,
                None => {
                    let tracked = track(&labels, sample.counter, &filter, &mut rules);
                    seen.insert(labels, tracked);
                    tracked
                }
            };
            if let Some(series) = tracked {
                inputs.push(Input {
                    series: series.hash,
                    kind: series.kind,
                    timestamp_ms: (now * 1000.0).round() as i64,
                    value: sample.value,
                });
            }
        }
        scorer.score(&inputs, &mut outcomes)?;
        for (input, outcome) in inputs.iter().zip(&outcomes) {
            let score = match outcome {
                Outcome::Scored(scored) => Some(scored.score),
                Outcome::Skipped(_) => None,
            };
            for (_, rule) in &mut rules {
                rule.observe(input.series, now, score);
            }
        }
        for (_, rule) in &mut rules {
            rule.evaluate(now);
        }
    }
    let grace = args.grace.as_secs_f64();
    let mut results = rules.into_iter().map(|(name, rule)| {
        let mut episodes = rule.into_episodes(end);
        let detections = match_detections(&incidents, &mut episodes, grace);
        (name, episodes, detections)
    });
    let (_, episodes, detections) = results.next().expect("the anomaly alert comes first");
    let escalations = results
        .map(|(name, episodes, detections)| AlertResult::new(name, &episodes, &detections))
        .collect();
    let scored_series = seen.values().filter(|t| t.is_some()).count();
    Ok(Report::new(
        args,
        scored_series,
        (end - EPOCH) / 3600.0,
        &incidents,
        &episodes,
        &detections,
        escalations,
    ))
}

/// Decides whether a newly seen series (sorted labels) is scored, as the adapter would, and
/// registers it with the rules under its service.
fn track(
    labels: &[(String, String)],
    counter: bool,
    filter: &SeriesFilter,
    rules: &mut [(&str, AlertRule)],
) -> Option<Tracked> {
    let pairs: Vec<LabelRef<'_>> = labels
        .iter()
        .map(|(name, value)| LabelRef {
            name: name.as_bytes(),
            value: value.as_bytes(),
        })
        .collect();
    if !filter.selects(&pairs) {
        return None;
    }
    let hash = series_hash(&pairs);
    let service = labels
        .iter()
        .find(|(name, _)| name == "service")
        .map_or("", |(_, value)| value.as_str());
    for (_, rule) in rules {
        rule.track(hash, service);
    }
    let kind = if counter {
        SeriesKind::Counter
    } else {
        SeriesKind::Gauge
    };
    Some(Tracked { hash, kind })
}

/// Results of a drill.
#[derive(Debug, serde::Serialize)]
struct Report {
    seed: u64,
    simulated_hours: f64,
    scored_series: usize,
    incidents: usize,
    detected: usize,
    alert_episodes: usize,
    false_alarms: usize,
    precision: f64,
    recall: f64,
    f1: f64,
    time_to_detect_p50_s: Option<f64>,
    time_to_detect_max_s: Option<f64>,
    by_kind: Vec<KindResult>,
    detections: Vec<Detection>,
    escalations: Vec<AlertResult>,
}

/// How one alert did on the incidents: the anomaly alert's figures in the report, and those of
/// each escalating alert (`OmenAnomalySevere`, `OmenAnomalyPersistent`) beside them.
#[derive(Debug, serde::Serialize)]
struct AlertResult {
    alert: &'static str,
    detected: usize,
    false_alarms: usize,
    time_to_detect_p50_s: Option<f64>,
}

impl AlertResult {
    fn new(alert: &'static str, episodes: &[Episode], detections: &[Detection]) -> Self {
        let delays: Vec<f64> = detections
            .iter()
            .filter_map(|d| d.detected_after_s)
            .collect();
        Self {
            alert,
            detected: delays.len(),
            false_alarms: episodes.iter().filter(|e| e.incident.is_none()).count(),
            time_to_detect_p50_s: median(delays),
        }
    }
}

#[derive(Debug, serde::Serialize)]
struct KindResult {
    kind: &'static str,
    incidents: usize,
    detected: usize,
    time_to_detect_p50_s: Option<f64>,
}

fn median(mut values: Vec<f64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    Some(values[values.len() / 2])
}

impl Report {
    fn new(
        args: &Args,
        scored_series: usize,
        simulated_hours: f64,
        incidents: &[Incident],
        episodes: &[Episode],
        detections: &[Detection],
        escalations: Vec<AlertResult>,
    ) -> Self {
        let AlertResult {
            detected,
            false_alarms,
            time_to_detect_p50_s,
            ..
        } = AlertResult::new("OmenAnomalyDetected", episodes, detections);
        let precision = if detected + false_alarms == 0 {
            0.0
        } else {
            detected as f64 / (detected + false_alarms) as f64
        };
        let recall = if incidents.is_empty() {
            0.0
        } else {
            detected as f64 / incidents.len() as f64
        };
        let f1 = if precision + recall > 0.0 {
            2.0 * precision * recall / (precision + recall)
        } else {
            0.0
        };
        let delays = |kind: Option<IncidentKind>| -> Vec<f64> {
            detections
                .iter()
                .filter(|d| kind.is_none_or(|k| d.kind == k.as_str()))
                .filter_map(|d| d.detected_after_s)
                .collect()
        };
        let by_kind = IncidentKind::ALL
            .iter()
            .map(|&kind| KindResult {
                kind: kind.as_str(),
                incidents: detections
                    .iter()
                    .filter(|d| d.kind == kind.as_str())
                    .count(),
                detected: delays(Some(kind)).len(),
                time_to_detect_p50_s: median(delays(Some(kind))),
            })
            .collect();
        Self {
            seed: args.seed,
            simulated_hours,
            scored_series,
            incidents: incidents.len(),
            detected,
            alert_episodes: episodes.len(),
            false_alarms,
            precision,
            recall,
            f1,
            time_to_detect_p50_s,
            time_to_detect_max_s: delays(None).into_iter().reduce(f64::max),
            by_kind,
            detections: detections.to_vec(),
            escalations,
        }
    }

    fn table(&self) -> String {
        let secs = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.0} s"));
        let mut out = format!(
            "drill: {} incidents over {:.1} simulated hours, {} series scored (seed {})\n\n\
             | kind | incidents | detected | time to detect (p50) |\n| --- | --- | --- | --- |\n",
            self.incidents, self.simulated_hours, self.scored_series, self.seed
        );
        for k in &self.by_kind {
            out.push_str(&format!(
                "| {} | {} | {} | {} |\n",
                k.kind,
                k.incidents,
                k.detected,
                secs(k.time_to_detect_p50_s)
            ));
        }
        out.push_str(&format!(
            "| all | {} | {} | {} (max {}) |\n\nalert episodes {}, false alarms {}: \
             precision {:.2}, recall {:.2}, F1 {:.2}\n",
            self.incidents,
            self.detected,
            secs(self.time_to_detect_p50_s),
            secs(self.time_to_detect_max_s),
            self.alert_episodes,
            self.false_alarms,
            self.precision,
            self.recall,
            self.f1
        ));
        for e in &self.escalations {
            out.push_str(&format!(
                "{}: {} of {} incidents, time to detect (p50) {}, false alarms {}\n",
                e.alert,
                e.detected,
                self.incidents,
                secs(e.time_to_detect_p50_s),
                e.false_alarms
            ));
        }
        out
    }
}
