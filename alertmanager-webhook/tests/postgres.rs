//! Two webhook replicas on one real PostgreSQL database: every alert delivered to both, several
//! times and at once, still runs its action exactly once.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{Webhook, alert, notification};
use omen_test_support::postgres::TempDatabase;
use omen_test_support::recorder::{Mode, Recorder};

const ALERTS: usize = 40;

fn config(database: &str, target: &Recorder, replica: &str) -> String {
    format!(
        r#"
store: {{url: "{database}", max_connections: 8}}
engine: {{workers: 4, poll_interval: 100ms, replica: {replica}}}
rules:
  - name: heal
    matchers: ['alertname="ServiceDown"']
    actions: [remediate]
actions:
  remediate:
    http:
      method: POST
      url: "{url}/remediate/{{{{ labels.service }}}}"
    retries: 2
    backoff: 100ms
"#,
        url = target.url()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_on_postgres_act_once_per_alert() {
    let database = TempDatabase::create().await;
    // The first few failures make both replicas race over retries too.
    let target = Recorder::start(Mode::FailFirst(5)).await;
    let a = Webhook::start(&config(&database.url, &target, "replica-a")).await;
    let b = Webhook::start(&config(&database.url, &target, "replica-b")).await;

    let bodies: Vec<String> = (0..ALERTS)
        .map(|i| {
            notification(&[alert(
                "ServiceDown",
                &format!("svc-{i}"),
                "firing",
                "2026-11-23T03:00:00Z",
            )])
        })
        .collect();
    // Both Alertmanager peers deliver every notification, and each retries once.
    let mut sends = Vec::new();
    for _ in 0..2 {
        for body in &bodies {
            for replica in [&a, &b] {
                let (url, body) = (replica.url.clone(), body.clone());
                sends.push(tokio::spawn(async move {
                    let response = reqwest::Client::new()
                        .post(url)
                        .header("content-type", "application/json")
                        .body(body)
                        .send()
                        .await
                        .expect("replica answers");
                    let status = response.status().as_u16();
                    (status, response.text().await.unwrap_or_default())
                }));
            }
        }
    }
    for send in sends {
        let (status, body) = send.await.expect("send task");
        assert_eq!(status, 200, "{body}");
    }

    let jobs = a.wait_settled(ALERTS, Duration::from_secs(60)).await;
    assert_eq!(jobs.len(), ALERTS, "one job per alert across replicas");
    assert!(jobs.iter().all(|j| j["state"] == "succeeded"), "{jobs:#?}");
    tokio::time::sleep(Duration::from_millis(500)).await;

    let mut successes: BTreeMap<String, usize> = BTreeMap::new();
    let requests = target.requests();
    // FailFirst answers 503 to the first five requests; those were retried.
    assert_eq!(requests.len(), ALERTS + 5);
    for request in requests.iter().skip(5) {
        *successes.entry(request.path.clone()).or_default() += 1;
    }
    assert_eq!(successes.len(), ALERTS, "every alert remediated");
    assert!(
        successes.values().all(|n| *n == 1),
        "no action succeeded twice: {successes:?}"
    );

    let notifications = a.api("/api/v1/notifications?limit=1000").await;
    let replicas: std::collections::BTreeSet<&str> = notifications
        .as_array()
        .expect("notifications")
        .iter()
        .filter_map(|n| n["replica"].as_str())
        .collect();
    assert_eq!(notifications.as_array().map(Vec::len), Some(ALERTS * 4));
    assert_eq!(replicas.len(), 2, "both replicas stored deliveries");

    a.stop().await;
    b.stop().await;
}
