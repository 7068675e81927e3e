//! The guided incident of `omen up`: once scores flow and the model has a baseline, an incident is
//! injected into the simulator, and the console follows it through the loop — detected by the
//! anomaly rules, alerted in Alertmanager, healed by the webhook, resolved.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde_json::Value;

/// Where the components of the stack answer (base URLs).
#[derive(Clone, Debug)]
pub struct Endpoints {
    /// The platform simulator.
    pub sim: String,
    /// The downstream Prometheus (scores, rules, `ALERTS`).
    pub downstream: String,
    /// Alertmanager.
    pub alertmanager: String,
    /// The webhook's admin port (audit API).
    pub webhook_admin: String,
}

/// What to inject and how long to wait.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Service hit by the incident.
    pub service: String,
    /// Baseline after the first scores, before injecting.
    pub baseline: Duration,
    /// Give up following the incident after this long.
    pub follow_for: Duration,
}

impl Default for Plan {
    fn default() -> Self {
        Self {
            service: "checkout".into(),
            baseline: Duration::from_secs(90),
            follow_for: Duration::from_secs(15 * 60),
        }
    }
}

/// The milestones reached, as times since injection.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    /// An anomaly alert of the service is pending or firing downstream.
    pub detected: Option<Duration>,
    /// An alert of the service is in Alertmanager.
    pub alerted: Option<Duration>,
    /// The webhook remediated the service.
    pub healed: Option<Duration>,
    /// No anomaly alert of the service is pending or firing any more (after healing).
    pub resolved: Option<Duration>,
}

struct Client {
    http: reqwest::Client,
    endpoints: Endpoints,
}

impl Client {
    async fn get(&self, url: String) -> anyhow::Result<Value> {
        let response = self.http.get(&url).send().await?;
        anyhow::ensure!(
            response.status().is_success(),
            "{url}: {}",
            response.status()
        );
        Ok(response.json().await?)
    }

    async fn query(&self, promql: &str) -> Vec<Value> {
        let Some(url) = query_url(&self.endpoints.downstream, promql) else {
            return Vec::new();
        };
        self.get(url.into())
            .await
            .ok()
            .and_then(|v| v["data"]["result"].as_array().cloned())
            .unwrap_or_default()
    }

    async fn inject(&self, kind: &str, service: &str) -> anyhow::Result<()> {
        let body = serde_json::json!({"kind": kind, "service": service, "duration": "30m"});
        let response = self
            .http
            .post(format!("{}/incidents", self.endpoints.sim))
            .json(&body)
            .send()
            .await?;
        anyhow::ensure!(
            response.status().is_success(),
            "the simulator refused the incident: {}",
            response.status()
        );
        Ok(())
    }
}

/// The instant-query URL of `promql` on the Prometheus at `base`.
fn query_url(base: &str, promql: &str) -> Option<reqwest::Url> {
    reqwest::Url::parse_with_params(&format!("{base}/api/v1/query"), [("query", promql)]).ok()
}

fn say(message: &str) {
    println!("omen up [demo] {message}");
}

fn secs(d: Duration) -> String {
    format!("{:.0}s", d.as_secs_f64())
}

/// Runs the demo; returns the milestones reached (printing each as it happens).
pub async fn run(endpoints: Endpoints, plan: Plan) -> anyhow::Result<Outcome> {
    let client = Client {
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .context("HTTP client")?,
        endpoints,
    };
    let service = plan.service.as_str();
    let scores = format!(r#"omen_anomaly_score{{service="{service}"}}"#);
    let waiting = Instant::now();
    say(&format!(
        "waiting for the first anomaly scores of {service} downstream..."
    ));
    while client.query(&scores).await.is_empty() {
        anyhow::ensure!(
            waiting.elapsed() < Duration::from_secs(300),
            "no scores for {service} after 5 minutes; see the adapter's log"
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    say(&format!(
        "scores flowing after {}; letting the model see {} of normal traffic",
        secs(waiting.elapsed()),
        secs(plan.baseline)
    ));
    tokio::time::sleep(plan.baseline).await;

    for kind in ["error_burst", "cpu_saturation"] {
        client.inject(kind, service).await?;
    }
    let injected = Instant::now();
    say(&format!(
        "injected error_burst + cpu_saturation into {service}; following it through the loop"
    ));

    let mut outcome = Outcome::default();
    let anomaly_alerts = format!(r#"ALERTS{{omen_alert="anomaly", service="{service}"}}"#);
    while injected.elapsed() < plan.follow_for && outcome.resolved.is_none() {
        let now = injected.elapsed();
        if outcome.detected.is_none()
            && let Some(alert) = client.query(&anomaly_alerts).await.first()
        {
            outcome.detected = Some(now);
            say(&format!(
                "+{} detected: {} on {} is {}",
                secs(now),
                alert["metric"]["alertname"].as_str().unwrap_or("?"),
                alert["metric"]["omen_metric"].as_str().unwrap_or("?"),
                alert["metric"]["alertstate"].as_str().unwrap_or("?"),
            ));
        }
        if outcome.alerted.is_none() {
            let alerts = client
                .get(format!("{}/api/v2/alerts", client.endpoints.alertmanager))
                .await
                .unwrap_or_default();
            let names: Vec<&str> = alerts
                .as_array()
                .into_iter()
                .flatten()
                .filter(|a| a["labels"]["service"] == service)
                .filter_map(|a| a["labels"]["alertname"].as_str())
                .collect();
            if !names.is_empty() {
                outcome.alerted = Some(now);
                say(&format!(
                    "+{} alerted: Alertmanager holds {}",
                    secs(now),
                    names.join(", ")
                ));
            }
        }
        if outcome.healed.is_none() {
            let jobs = client
                .get(format!(
                    "{}/api/v1/jobs?state=succeeded",
                    client.endpoints.webhook_admin
                ))
                .await
                .unwrap_or_default();
            let needle = format!("\"{service}\"");
            if let Some(job) = jobs.as_array().into_iter().flatten().find(|j| {
                j["spec"]["body"]
                    .as_str()
                    .is_some_and(|b| b.contains(&needle))
            }) {
                outcome.healed = Some(now);
                say(&format!(
                    "+{} healed: the webhook ran {} ({}) for rule {}",
                    secs(now),
                    job["action"].as_str().unwrap_or("?"),
                    job["detail"].as_str().unwrap_or("?"),
                    job["rule"].as_str().unwrap_or("?"),
                ));
            }
        }
        if outcome.healed.is_some()
            && outcome.detected.is_some()
            && client.query(&anomaly_alerts).await.is_empty()
        {
            outcome.resolved = Some(now);
            say(&format!(
                "+{} resolved: no anomaly alert of {service} is pending or firing",
                secs(now)
            ));
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    let show = |d: Option<Duration>| d.map_or_else(|| "not reached".to_owned(), secs);
    say(&format!(
        "summary: detected {}, alerted {}, healed {}, resolved {} after injection",
        show(outcome.detected),
        show(outcome.alerted),
        show(outcome.healed),
        show(outcome.resolved)
    ));
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn promql_is_encoded_for_a_query_string() {
        let promql = r#"ALERTS{service="a b", alertname=~"x|y&z"}"#;
        let url = query_url("http://127.0.0.1:9091", promql).expect("valid URL");
        assert_eq!(url.path(), "/api/v1/query");
        let pairs: Vec<_> = url.query_pairs().collect();
        assert_eq!(pairs.len(), 1);
        assert_eq!(pairs[0].0, "query");
        assert_eq!(pairs[0].1, promql);
        assert!(!url.as_str().contains('"') && !url.as_str().contains('{'));
    }
}
