//! A real Alertmanager 0.25 (Debian package) calling the webhook: authorization, repeats,
//! resolved notifications, and two clustered peers that both deliver while the webhook was down.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::{Webhook, sqlite_url};
use omen_test_support::alertmanager::Alertmanager;
use omen_test_support::recorder::{Mode, Recorder};
use serde_json::{Value, json};

const TOKEN: &str = "am-to-omen";

fn alertmanager_config(webhook_port: u16, group_interval: &str) -> String {
    format!(
        r#"
route:
  receiver: omen
  group_by: [alertname, service]
  group_wait: 1s
  group_interval: {group_interval}
  repeat_interval: 3s
receivers:
  - name: omen
    webhook_configs:
      - url: http://127.0.0.1:{webhook_port}/webhook
        send_resolved: true
        max_alerts: 0
        http_config:
          authorization: {{credentials: {TOKEN}}}
"#
    )
}

fn webhook_config(store: &str, target: &Recorder) -> String {
    format!(
        r#"
store: {{url: "{store}"}}
auth: {{bearer_token: {TOKEN}}}
engine: {{poll_interval: 100ms}}
rules:
  - name: heal
    matchers: ['alertname="ServiceDown"', 'service=~"check.*"']
    actions: [remediate]
  - name: all-clear
    on: [resolved]
    matchers: ['alertname="ServiceDown"']
    actions: [all-clear]
actions:
  remediate:
    http: {{method: POST, url: "{url}/remediate/{{{{ labels.service }}}}"}}
  all-clear:
    http: {{method: POST, url: "{url}/resolved/{{{{ labels.service }}}}"}}
"#,
        url = target.url()
    )
}

fn prometheus_alert(ends_in: Duration) -> Value {
    let ends = time::OffsetDateTime::now_utc() + ends_in;
    json!([{
        "labels": {"alertname": "ServiceDown", "service": "checkout", "severity": "critical"},
        "annotations": {"summary": "checkout is down"},
        "endsAt": ends.format(&time::format_description::well_known::Rfc3339).expect("time"),
        "generatorURL": "http://127.0.0.1:9090/graph",
    }])
}

async fn wait_until<F, Fut>(what: &str, timeout: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn alertmanager_repeats_and_resolves_without_double_actions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let target = Recorder::start(Mode::Ok).await;
    let webhook = Webhook::start(&webhook_config(&sqlite_url(&dir), &target)).await;
    let port: u16 = webhook
        .url
        .trim_start_matches("http://127.0.0.1:")
        .trim_end_matches("/webhook")
        .parse()
        .expect("port");
    let alertmanager = Alertmanager::start(&alertmanager_config(port, "2s")).await;

    alertmanager
        .post_alerts(&prometheus_alert(Duration::from_secs(300)))
        .await;
    let held = alertmanager
        .wait_for_alert(
            "ServiceDown",
            &[("service", "checkout")],
            Duration::from_secs(10),
        )
        .await;
    // repeat_interval makes Alertmanager send the same firing alert again.
    wait_until(
        "repeated notifications",
        Duration::from_secs(30),
        || async {
            webhook
                .api("/api/v1/notifications")
                .await
                .as_array()
                .is_some_and(|n| n.len() >= 3)
        },
    )
    .await;
    let alerts = webhook.api("/api/v1/alerts").await;
    let fingerprints: BTreeSet<&str> = alerts
        .as_array()
        .expect("alerts")
        .iter()
        .filter_map(|a| a["fingerprint"].as_str())
        .collect();
    assert_eq!(
        fingerprints,
        BTreeSet::from([held["fingerprint"].as_str().expect("fingerprint")]),
        "the audit keeps Alertmanager's fingerprint"
    );

    // Prometheus stops sending the alert: Alertmanager resolves it.
    alertmanager
        .post_alerts(&prometheus_alert(Duration::ZERO))
        .await;
    let requests = target.wait_for(2, Duration::from_secs(30)).await;
    let jobs = webhook.wait_settled(2, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    let paths: Vec<String> = target.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(
        paths,
        ["/remediate/checkout", "/resolved/checkout"],
        "one action per state however often Alertmanager repeats: {jobs:?}"
    );
    assert_eq!(requests[0].method, "POST");
    let notifications = webhook.api("/api/v1/notifications").await;
    let first = &notifications.as_array().expect("notifications")[0];
    assert_eq!(first["receiver"], "omen");
    assert_eq!(first["status"], "resolved");
    webhook.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clustered_peers_both_deliver_after_an_outage_and_the_action_runs_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let target = Recorder::start(Mode::Ok).await;
    let webhook_port = omen_test_support::free_port();
    let (gossip_a, gossip_b) = (
        omen_test_support::free_port(),
        omen_test_support::free_port(),
    );
    let config = alertmanager_config(webhook_port, "1m");
    let peer_a = Alertmanager::start_clustered(&config, gossip_a, &[gossip_b]).await;
    let peer_b = Alertmanager::start_clustered(&config, gossip_b, &[gossip_a]).await;

    // Prometheus sends every alert to every Alertmanager.
    let alert = prometheus_alert(Duration::from_secs(600));
    peer_a.post_alerts(&alert).await;
    peer_b.post_alerts(&alert).await;
    // Neither peer can deliver, so neither records the notification in the shared log and
    // both keep retrying: the case that makes both peers deliver once the webhook is back.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let webhook =
        Webhook::start_on(&webhook_config(&sqlite_url(&dir), &target), webhook_port).await;

    wait_until(
        "deliveries from both peers",
        Duration::from_secs(45),
        || async {
            let notifications = webhook.api("/api/v1/notifications").await;
            let sources: BTreeSet<String> = notifications
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|n| n["external_url"].as_str().map(str::to_owned))
                .collect();
            sources.len() >= 2
        },
    )
    .await;
    let jobs = webhook.wait_settled(1, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert_eq!(jobs[0]["state"], "succeeded");
    let paths: Vec<String> = target.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(
        paths,
        ["/remediate/checkout"],
        "the action ran exactly once"
    );
    let metrics = webhook.metrics().await;
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("omen_webhook_jobs_deduplicated_total") && !l.ends_with(" 0")),
        "{metrics}"
    );
    webhook.stop().await;
}
