//! The anomaly alert rule as Prometheus 2.42 evaluates it, and matching alerts to incidents.
//!
//! `OmenAnomalyDetected`: `avg_over_time(omen_anomaly_score[1m]) >= 1` held `for: 1m`, one alert
//! per scored series (`OmenAnomalySevere` and `OmenAnomalyPersistent` likewise, with their own
//! threshold and hold). The range `[t - 1m, t]` includes both ends, as in Prometheus 2.x; an alert
//! becomes pending at the first evaluation where the condition holds and fires at the first
//! evaluation at least `for` later; it resolves at the first evaluation where it no longer holds.

use omen_exporters::sim::Incident;
use std::collections::{HashMap, VecDeque};

/// One alerting rule over per-series scores.
#[derive(Debug)]
pub struct AlertRule {
    range: f64,
    hold: f64,
    threshold: f64,
    series: HashMap<u64, SeriesAlert>,
    /// Firing intervals of all series: (service, start, end).
    fired: Vec<(String, f64, f64)>,
}

#[derive(Debug, Default)]
struct SeriesAlert {
    service: String,
    scores: VecDeque<(f64, f64)>,
    pending_since: Option<f64>,
    firing_since: Option<f64>,
}

/// A service-level alert episode: the union of overlapping firing alerts of one service.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Episode {
    /// The service.
    pub service: String,
    /// When the first alert fired, simulated seconds.
    pub start: f64,
    /// When the last alert resolved.
    pub end: f64,
    /// The incident it detected, if any.
    pub incident: Option<u64>,
}

/// Whether and how fast an incident was detected.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Detection {
    /// Incident id.
    pub incident: u64,
    /// Incident kind.
    pub kind: &'static str,
    /// Service it hit.
    pub service: String,
    /// Seconds from the incident's start to the alert firing; `None` when missed.
    pub detected_after_s: Option<f64>,
}

impl AlertRule {
    /// `avg_over_time(omen_anomaly_score[1m]) >= threshold` held `for: hold` seconds.
    fn one_minute_average(threshold: f64, hold: f64) -> Self {
        Self {
            range: 60.0,
            hold,
            threshold,
            series: HashMap::new(),
            fired: Vec::new(),
        }
    }

    /// `OmenAnomalyDetected` from rules/omen-anomaly.yml (1m range, `for: 1m`, threshold 1).
    pub fn anomaly_detected() -> Self {
        Self::one_minute_average(1.0, 60.0)
    }

    /// `OmenAnomalySevere` from rules/omen-anomaly.yml (1m range, `for: 2m`, threshold 3).
    pub fn anomaly_severe() -> Self {
        Self::one_minute_average(3.0, 120.0)
    }

    /// `OmenAnomalyPersistent` from rules/omen-anomaly.yml (1m range, `for: 5m`, threshold 1).
    pub fn anomaly_persistent() -> Self {
        Self::one_minute_average(1.0, 300.0)
    }

    /// Starts watching a series of `service`.
    pub fn track(&mut self, series: u64, service: &str) {
        self.series.entry(series).or_insert_with(|| SeriesAlert {
            service: service.to_owned(),
            ..SeriesAlert::default()
        });
    }

    /// Records a score of a tracked series (`None`: the sample was not scored, nothing is
    /// written); samples of untracked series are ignored.
    pub fn observe(&mut self, series: u64, at: f64, score: Option<f64>) {
        if let (Some(alert), Some(score)) = (self.series.get_mut(&series), score) {
            alert.scores.push_back((at, score));
        }
    }

    /// Evaluates the rule for every series at `now`.
    pub fn evaluate(&mut self, now: f64) {
        for alert in self.series.values_mut() {
            while alert
                .scores
                .front()
                .is_some_and(|&(at, _)| at < now - self.range)
            {
                alert.scores.pop_front();
            }
            let holds = !alert.scores.is_empty()
                && alert.scores.iter().map(|&(_, s)| s).sum::<f64>() / alert.scores.len() as f64
                    >= self.threshold;
            if holds {
                let since = *alert.pending_since.get_or_insert(now);
                if alert.firing_since.is_none() && now - since >= self.hold {
                    alert.firing_since = Some(now);
                }
            } else {
                alert.pending_since = None;
                if let Some(start) = alert.firing_since.take() {
                    self.fired.push((alert.service.clone(), start, now));
                }
            }
        }
    }

    /// Closes alerts still firing at `end` and merges firing intervals into service episodes.
    pub fn into_episodes(mut self, end: f64) -> Vec<Episode> {
        for alert in self.series.values_mut() {
            if let Some(start) = alert.firing_since.take() {
                self.fired.push((alert.service.clone(), start, end));
            }
        }
        merge(self.fired)
    }
}

/// Merges overlapping (or touching) intervals of the same service.
fn merge(mut fired: Vec<(String, f64, f64)>) -> Vec<Episode> {
    fired.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
    let mut episodes: Vec<Episode> = Vec::new();
    for (service, start, end) in fired {
        match episodes.last_mut() {
            Some(last) if last.service == service && start <= last.end => {
                last.end = last.end.max(end);
            }
            _ => episodes.push(Episode {
                service,
                start,
                end,
                incident: None,
            }),
        }
    }
    episodes.sort_by(|a, b| a.start.total_cmp(&b.start));
    episodes
}

/// Marks each episode that starts during an incident of its service, or within `grace` seconds
/// after it (the return to normal is a change too), as caused by that incident; returns, per
/// incident, how fast it was detected: by an episode that started while it was going on.
pub fn match_detections(
    incidents: &[Incident],
    episodes: &mut [Episode],
    grace: f64,
) -> Vec<Detection> {
    incidents
        .iter()
        .map(|incident| {
            let mut first: Option<f64> = None;
            for episode in episodes.iter_mut().filter(|e| {
                e.service == incident.service
                    && e.start >= incident.started_at
                    && e.start <= incident.ends_at + grace
            }) {
                episode.incident.get_or_insert(incident.id);
                if episode.start < incident.ends_at {
                    first = Some(first.map_or(episode.start, |f| f.min(episode.start)));
                }
            }
            Detection {
                incident: incident.id,
                kind: incident.kind.as_str(),
                service: incident.service.clone(),
                detected_after_s: first.map(|at| at - incident.started_at),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use omen_exporters::sim::IncidentKind;

    use super::*;

    fn rule() -> AlertRule {
        AlertRule::anomaly_detected()
    }

    fn feed(rule: &mut AlertRule, scores: &[f64]) {
        for (i, &score) in scores.iter().enumerate() {
            let at = 15.0 * i as f64;
            rule.track(1, "checkout");
            rule.observe(1, at, Some(score));
            rule.evaluate(at);
        }
    }

    #[test]
    fn fires_after_the_average_holds_for_a_minute_and_resolves_when_it_drops() {
        let mut r = rule();
        // The 1m average reaches 1 at t=30 (0,0,3 -> avg 1) and holds until the 3s leave the range.
        let scores = [
            0.0, 0.0, 3.0, 3.0, 3.0, 3.0, 3.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
        ];
        feed(&mut r, &scores);
        let episodes = r.into_episodes(1000.0);
        assert_eq!(episodes.len(), 1);
        assert_eq!(
            episodes[0].start, 90.0,
            "pending at 30 s, firing 60 s later"
        );
        assert!(episodes[0].end > episodes[0].start && episodes[0].end < 1000.0);
    }

    #[test]
    fn a_single_sample_fires_only_if_it_lifts_the_average_of_five_for_the_whole_hold() {
        // The inclusive 1m range holds five 15 s samples: one score of 3 averages 0.6 and never
        // fires; one of 20 averages 4 in each of the five evaluations that see it, and fires.
        let quiet = [0.0; 5];
        let mut moderate = rule();
        feed(&mut moderate, &[&quiet[..], &[3.0], &quiet[..]].concat());
        assert!(moderate.into_episodes(1000.0).is_empty());
        let mut huge = rule();
        feed(&mut huge, &[&quiet[..], &[20.0], &quiet[..]].concat());
        assert_eq!(huge.into_episodes(1000.0).len(), 1);
    }

    #[test]
    fn escalations_need_three_times_the_threshold_or_five_minutes_at_it() {
        // A score at the threshold for 7 minutes, then quiet.
        let scores: Vec<f64> = [vec![0.0; 4], vec![1.05; 28], vec![0.0; 8]].concat();
        let mut severe = AlertRule::anomaly_severe();
        feed(&mut severe, &scores);
        assert!(severe.into_episodes(1000.0).is_empty());
        let mut persistent = AlertRule::anomaly_persistent();
        feed(&mut persistent, &scores);
        let episodes = persistent.into_episodes(1000.0);
        assert_eq!(episodes.len(), 1);
        // Pending once the 1m range holds only 1.05s (t = 120 s), firing 5 minutes later.
        assert_eq!(episodes[0].start, 420.0);
        // One quiet sample in the middle starts the wait again: 4 and 2.75 minutes never fire.
        let broken: Vec<f64> = [vec![0.0; 4], vec![1.05; 16], vec![0.0], vec![1.05; 11]].concat();
        let mut persistent = AlertRule::anomaly_persistent();
        feed(&mut persistent, &broken);
        assert!(persistent.into_episodes(1000.0).is_empty());
    }

    #[test]
    fn unscored_samples_do_not_count_towards_the_average() {
        let mut r = rule();
        for i in 0..10 {
            let at = 15.0 * f64::from(i);
            let score = (i % 2 == 0).then_some(2.0);
            r.track(7, "checkout");
            r.observe(7, at, score);
            r.evaluate(at);
        }
        assert_eq!(r.into_episodes(500.0).len(), 1);
    }

    #[test]
    fn overlapping_alerts_of_a_service_make_one_episode_and_are_matched_to_its_incident() {
        let fired = vec![
            ("checkout".to_owned(), 100.0, 200.0),
            ("checkout".to_owned(), 150.0, 300.0),
            ("checkout".to_owned(), 5000.0, 5100.0),
            ("search".to_owned(), 120.0, 180.0),
        ];
        let mut episodes = merge(fired);
        assert_eq!(episodes.len(), 3);
        let incident = Incident {
            id: 9,
            kind: IncidentKind::ErrorBurst,
            service: "checkout".into(),
            started_at: 60.0,
            ends_at: 660.0,
            source: "schedule",
        };
        let detections = match_detections(&[incident], &mut episodes, 300.0);
        assert_eq!(detections[0].detected_after_s, Some(40.0));
        let matched: Vec<_> = episodes.iter().map(|e| e.incident).collect();
        assert_eq!(
            matched,
            [Some(9), None, None],
            "other services and later alarms stay false"
        );
    }

    #[test]
    fn an_alert_on_the_return_to_normal_is_not_a_false_alarm_but_not_a_detection_either() {
        let mut episodes = merge(vec![("cart".to_owned(), 700.0, 800.0)]);
        let incident = Incident {
            id: 3,
            kind: IncidentKind::TrafficDrop,
            service: "cart".into(),
            started_at: 0.0,
            ends_at: 600.0,
            source: "schedule",
        };
        let detections = match_detections(&[incident], &mut episodes, 300.0);
        assert_eq!(detections[0].detected_after_s, None);
        assert_eq!(episodes[0].incident, Some(3));
    }
}
