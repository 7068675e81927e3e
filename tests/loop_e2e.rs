//! The closed loop with real components: the simulator is scraped by a real Prometheus, which
//! remote-writes to the adapter; the adapter forwards originals and scores into a second real
//! Prometheus evaluating the repository's rules (rules/, with `for:` and group intervals shortened
//! for the test); alerts go to a real Alertmanager configured from provisioning/alertmanager.yml,
//! whose notifications reach the real webhook configured from provisioning/webhook.yml; its
//! remediation (POST /remediate on the simulator) ends the incidents and the alerts resolve.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use omen_exporters::sim::{SimConfig, SimServer};
use omen_test_support::alertmanager::Alertmanager;
use omen_test_support::prometheus::Prometheus;

fn repo_file(path: &str) -> String {
    std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path))
        .expect("repository file")
}

/// The repository's rules with every `for:` at 10s and every group evaluated each second.
fn fast_rules(path: &str) -> String {
    repo_file(path)
        .lines()
        .map(|line| {
            let trimmed = line.trim_start();
            let indent = &line[..line.len() - trimmed.len()];
            if trimmed.starts_with("for: ") {
                format!("{indent}for: 10s")
            } else if trimmed.starts_with("interval: ") {
                format!("{indent}interval: 1s")
            } else {
                line.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The webhook as the local stack configures it (provisioning/webhook.yml), healing `sim`.
async fn start_webhook(sim: SocketAddr, store: &std::path::Path) -> (SocketAddr, SocketAddr) {
    let text = repo_file("provisioning/webhook.yml")
        .replace("127.0.0.1:9301", "127.0.0.1:0")
        .replace("127.0.0.1:9302", "127.0.0.1:0")
        .replace("http://127.0.0.1:9101/", &format!("http://{sim}/"))
        .replace("poll_interval: 1s", "poll_interval: 200ms")
        // A warm-up alert may heal a service shortly before the incident; a 2m cooldown would
        // then skip the healing this test waits for (60 s after the alert).
        .replace("cooldown: 2m", "cooldown: 5s")
        // Healing on the anomaly alert only, so the test shows the detector closing the loop
        // (the burn-rate alert fires first and would otherwise heal the service before).
        .replace("|SLO.*BudgetBurnFast", "");
    let mut config = omen_webhook::Config::from_yaml(&text).expect("provisioning/webhook.yml");
    config.store.url = format!("sqlite://{}", store.join("webhook.db").display());
    let webhook = omen_webhook::Server::bind(config)
        .await
        .expect("webhook binds");
    let addrs = (webhook.data_addr(), webhook.admin_addr());
    tokio::spawn(webhook.serve(std::future::pending()));
    addrs
}

async fn get_json(url: String) -> serde_json::Value {
    reqwest::get(url)
        .await
        .expect("answers")
        .json()
        .await
        .expect("json")
}

async fn post_incident(sim: SocketAddr, kind: &str, service: &str) {
    let response = reqwest::Client::new()
        .post(format!("http://{sim}/incidents"))
        .json(&serde_json::json!({"kind": kind, "service": service, "duration": "30m"}))
        .send()
        .await
        .expect("simulator answers");
    assert_eq!(response.status().as_u16(), 201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incident_is_scored_alerted_notified_and_remediated() {
    // Simulator (real time, fine steps).
    let sim = SimServer::bind(
        SimConfig::from_yaml("listen: 127.0.0.1:0\ntick: 250ms\nseed: 7\n").expect("sim config"),
    )
    .await
    .expect("sim binds");
    let sim_addr = sim.addr();
    let simulator = sim.simulator();
    tokio::spawn(sim.serve(std::future::pending()));

    // The webhook, healing the simulator.
    let state = tempfile::tempdir().expect("tempdir");
    let (webhook_addr, webhook_admin) = start_webhook(sim_addr, state.path()).await;

    // Alertmanager from the provisioning file, pointed at the webhook, with short waits.
    let config = repo_file("provisioning/alertmanager.yml")
        .replace(
            "http://127.0.0.1:9301/webhook",
            &format!("http://{webhook_addr}/webhook"),
        )
        .replace("group_wait: 10s", "group_wait: 1s")
        .replace("group_interval: 1m", "group_interval: 2s");
    let alertmanager = Alertmanager::start(&config).await;

    // Downstream Prometheus with the repository's rules.
    let am_port = alertmanager.port;
    let rule_files = [
        (
            "rules/omen-anomaly.yml",
            fast_rules("rules/omen-anomaly.yml"),
        ),
        ("rules/slo.yml", fast_rules("rules/slo.yml")),
        ("rules/omen-self.yml", fast_rules("rules/omen-self.yml")),
    ];
    let downstream = Prometheus::start_with_files(
        move |_| {
            format!(
                "global: {{evaluation_interval: 1s}}\nrule_files: [rules/*.yml]\nalerting:\n  alertmanagers:\n    - static_configs: [{{targets: ['127.0.0.1:{am_port}']}}]\n"
            )
        },
        &rule_files,
        &["--web.enable-remote-write-receiver"],
    )
    .await;

    // The adapter as the local stack configures it (provisioning/adapter.yml).
    let text = repo_file("provisioning/adapter.yml")
        .replace("127.0.0.1:9201", "127.0.0.1:0")
        .replace("127.0.0.1:9202", "127.0.0.1:0")
        .replace(
            "http://127.0.0.1:9091/api/v1/write",
            &format!("{}/api/v1/write", downstream.url()),
        );
    let mut adapter =
        omen_prom_adapter::Config::from_yaml(&text).expect("provisioning/adapter.yml");
    adapter.downstream.retry_for = Duration::from_secs(5);
    let adapter = omen_prom_adapter::Server::bind(adapter)
        .await
        .expect("adapter binds");
    let adapter_url = format!("http://{}/api/v1/write", adapter.data_addr());
    let adapter_admin = adapter.admin_addr();
    tokio::spawn(adapter.serve(std::future::pending()));

    // Upstream Prometheus scraping the simulator every 15 s, as in production: the model's window
    // is counted in samples, so a faster scrape would shorten what it remembers in time.
    let _upstream = Prometheus::start(
        move |_| {
            format!(
                r#"global: {{scrape_interval: 15s}}
scrape_configs:
  - job_name: omen-sim
    static_configs: [{{targets: ["{sim_addr}"]}}]
  - job_name: omen-adapter
    static_configs: [{{targets: ["{adapter_admin}"]}}]
remote_write:
  - url: {adapter_url}
    queue_config: {{batch_send_deadline: 1s, max_samples_per_send: 5000, min_backoff: 100ms}}
    metadata_config: {{send: true, send_interval: 5s}}
"#
            )
        },
        &[],
    )
    .await;

    // Warm-up: scores for the simulator's series arrive downstream, then a baseline long enough
    // for the first (warm-up) scores to leave the rules' 1m averaging window.
    let started = Instant::now();
    downstream
        .wait_for(
            r#"omen_anomaly_score{omen_metric="omen_sim_cpu_usage_ratio", service="checkout"}"#,
            Duration::from_secs(300),
        )
        .await;
    let first_score = started.elapsed();
    tokio::time::sleep(Duration::from_secs(90)).await;
    let key = |labels: &serde_json::Value| {
        format!(
            "{}/{}/{}",
            labels["alertname"], labels["omen_metric"], labels["service"]
        )
    };
    let before: Vec<String> = downstream
        .query(r#"ALERTS{alertstate="firing", omen_alert="anomaly"}"#)
        .await
        .iter()
        .map(|a| key(&a["metric"]))
        .collect();
    let burning = downstream
        .query(r#"ALERTS{alertname="SLOAvailabilityBudgetBurnFast", service="checkout"}"#)
        .await;
    assert!(
        burning.is_empty(),
        "no fast burn before the incident: {burning:?}"
    );
    let total_scored = downstream.query("count(omen_anomaly_score)").await;
    println!(
        "first score after {first_score:?}; anomaly alerts firing before the incident (false positives): {} of {} scored series: {before:?}",
        before.len(),
        total_scored[0]["value"][1]
    );

    // Jobs from before the incident (alerts of the warm-up) are not the healing looked for below.
    let earlier_jobs: Vec<i64> = get_json(format!("http://{webhook_admin}/api/v1/jobs?limit=1000"))
        .await
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|job| job["id"].as_i64())
        .collect();

    // The incident: checkout saturates its CPU and fails a quarter of its requests.
    let injected = Instant::now();
    post_incident(sim_addr, "cpu_saturation", "checkout").await;
    post_incident(sim_addr, "error_burst", "checkout").await;
    let truth = downstream
        .wait_for(
            r#"omen_sim_incident_active{service="checkout", kind="error_burst"} == 1"#,
            Duration::from_secs(20),
        )
        .await;
    assert_eq!(truth.len(), 1, "ground truth reached downstream");

    // The SLO burn-rate alert and an anomaly alert reach Alertmanager.
    let burn = alertmanager
        .wait_for_alert(
            "SLOAvailabilityBudgetBurnFast",
            &[("service", "checkout")],
            Duration::from_secs(60),
        )
        .await;
    assert_eq!(burn["labels"]["severity"], "critical");
    let burn_after = injected.elapsed();
    let deadline = Instant::now() + Duration::from_secs(180);
    let anomaly = loop {
        // An anomaly alert of checkout that was not already firing before the incident.
        let found = alertmanager.alerts().await.into_iter().find(|alert| {
            alert["labels"]["omen_alert"] == "anomaly"
                && alert["labels"]["service"] == "checkout"
                && !before.contains(&key(&alert["labels"]))
        });
        if let Some(alert) = found {
            break alert;
        }
        assert!(
            Instant::now() < deadline,
            "no anomaly alert for checkout within 180s; highest scores since the injection: {:?}",
            downstream
                .query(r#"topk(5, max_over_time(omen_anomaly_score{service="checkout"}[5m]))"#)
                .await
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let anomaly_after = injected.elapsed();
    assert!(
        anomaly["annotations"]["runbook_url"]
            .as_str()
            .is_some_and(|u| u.contains("docs/operations.md#")),
        "{anomaly}"
    );
    println!(
        "detected: burn-rate alert after {burn_after:?}, anomaly alert {} ({}) after {anomaly_after:?}",
        anomaly["labels"]["alertname"], anomaly["labels"]["omen_metric"]
    );

    // Alertmanager notified the webhook, whose rule heals checkout through the simulator.
    let deadline = Instant::now() + Duration::from_secs(60);
    let job = loop {
        let jobs = get_json(format!(
            "http://{webhook_admin}/api/v1/jobs?state=succeeded"
        ))
        .await;
        let found = jobs.as_array().into_iter().flatten().find(|job| {
            job["spec"]["body"]
                .as_str()
                .is_some_and(|body| body.contains("\"checkout\""))
                && job["id"]
                    .as_i64()
                    .is_some_and(|id| !earlier_jobs.contains(&id))
        });
        if let Some(job) = found {
            break job.clone();
        }
        assert!(
            Instant::now() < deadline,
            "the webhook did not heal checkout: {jobs}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let healed_after = injected.elapsed();
    assert_eq!(job["rule"], "heal-simulated-service");
    assert!(
        job["detail"].as_str().is_some_and(|d| d.contains("200")),
        "{job}"
    );
    assert!(
        simulator.active().iter().all(|i| i.service != "checkout"),
        "both checkout incidents ended"
    );
    assert_eq!(
        simulator
            .metrics()
            .incident_active
            .with_label_values(&["checkout", "error_burst"])
            .get(),
        0,
        "ground truth cleared by remediation"
    );

    // Healed, the service's anomaly alert resolves.
    let alert_key = key(&anomaly["labels"]);
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let firing: Vec<String> = downstream
            .query(r#"ALERTS{alertstate="firing", omen_alert="anomaly", service="checkout"}"#)
            .await
            .iter()
            .map(|a| key(&a["metric"]))
            .collect();
        if !firing.contains(&alert_key) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{alert_key} still firing 5m after healing"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let resolved_after = injected.elapsed();
    let jobs = get_json(format!("http://{webhook_admin}/api/v1/jobs?limit=1000")).await;
    let acted: Vec<String> = jobs
        .as_array()
        .into_iter()
        .flatten()
        .filter(|j| j["state"] == "succeeded")
        .filter_map(|j| j["spec"]["body"].as_str().map(str::to_owned))
        .collect();
    println!(
        "healed {healed_after:?} after injection; alert resolved after {resolved_after:?}; remediations run: {acted:?}"
    );
}
