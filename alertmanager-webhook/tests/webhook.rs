//! End-to-end behaviour of the webhook on its embedded SQLite store: the receiver contract,
//! exactly-once actions, retries, cooldowns across restarts, dry run, approval, the circuit
//! breaker with its escalation email, and every kind of action against real local endpoints
//! (an HTTP recorder, a fake Kubernetes API server, an SMTP sink, real processes).

mod common;

use std::time::Duration;

use common::{Webhook, alert, notification, sqlite_url};
use omen_test_support::recorder::{Mode, Recorder};
use omen_test_support::smtp::SmtpSink;
use serde_json::Value;

const SETTLE: Duration = Duration::from_secs(20);
const T0: &str = "2026-11-23T03:00:00Z";

/// A notification with one firing `ServiceDown` alert of checkout, started at [`T0`].
fn checkout_down() -> String {
    notification(&[alert("ServiceDown", "checkout", "firing", T0)])
}

fn http_config(store: &str, target: &Recorder, action_extra: &str) -> String {
    format!(
        r#"
store: {{url: "{store}"}}
engine: {{poll_interval: 100ms}}
rules:
  - name: heal
    matchers: ['alertname="ServiceDown"']
    actions: [remediate]
actions:
  remediate:
    http:
      method: POST
      url: "{url}/remediate/{{{{ labels.service }}}}"
      headers: {{Content-Type: application/json}}
      body: '{{"service": "{{{{ labels.service }}}}", "summary": "{{{{ annotations.summary }}}}"}}'
{action_extra}
"#,
        url = target.url()
    )
}

fn jobs_in(jobs: &[Value], state: &str) -> usize {
    jobs.iter().filter(|j| j["state"] == state).count()
}

#[tokio::test]
async fn duplicate_deliveries_run_the_action_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let target = Recorder::start(Mode::Ok).await;
    let webhook = Webhook::start(&http_config(&sqlite_url(&dir), &target, "")).await;

    let firing = notification(&[alert("ServiceDown", "checkout", "firing", T0)]);
    // Retries, repeat_interval re-sends and an HA peer all deliver the same alert.
    for _ in 0..4 {
        let (status, body) = webhook.post(&firing).await;
        assert_eq!(status, 200, "{body}");
    }
    // The same alert in a bigger group (group_interval re-send with a new member).
    let grown = notification(&[
        alert("ServiceDown", "checkout", "firing", T0),
        alert("ServiceDown", "payments", "firing", T0),
    ]);
    assert_eq!(webhook.post(&grown).await.0, 200);

    let jobs = webhook.wait_settled(2, SETTLE).await;
    assert_eq!(jobs.len(), 2, "one job per alert: {jobs:?}");
    assert_eq!(jobs_in(&jobs, "succeeded"), 2, "{jobs:?}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let requests = target.requests();
    assert_eq!(requests.len(), 2, "each alert acted on once");
    let checkout = requests
        .iter()
        .find(|r| r.path == "/remediate/checkout")
        .expect("checkout remediated");
    assert_eq!(
        serde_json::from_str::<Value>(&checkout.body).expect("JSON body"),
        serde_json::json!({"service": "checkout", "summary": "ServiceDown on checkout"})
    );
    let key = checkout
        .headers
        .get("idempotency-key")
        .expect("Idempotency-Key sent");
    assert!(key.starts_with("heal/remediate/"), "{key}");

    let notifications = webhook.api("/api/v1/notifications").await;
    assert_eq!(notifications.as_array().map(Vec::len), Some(5));
    let alerts = webhook.api("/api/v1/alerts").await;
    assert_eq!(
        alerts.as_array().map(Vec::len),
        Some(6),
        "every alert audited"
    );
    let payments = alert("ServiceDown", "payments", "firing", T0);
    let fingerprint = payments["fingerprint"].as_str().expect("fingerprint");
    let of_payments = webhook
        .api(&format!("/api/v1/alerts?fingerprint={fingerprint}"))
        .await;
    let of_payments = of_payments.as_array().expect("a list");
    assert_eq!(of_payments.len(), 1, "{of_payments:?}");
    assert_eq!(of_payments[0]["fingerprint"], fingerprint);

    let metrics = webhook.metrics().await;
    for line in [
        "omen_webhook_alerts_received_total{status=\"firing\"} 6",
        "omen_webhook_jobs_created_total{action=\"remediate\",rule=\"heal\"} 2",
        "omen_webhook_jobs_deduplicated_total 4",
        "omen_webhook_actions_total{action=\"remediate\",outcome=\"succeeded\",rule=\"heal\"} 2",
        "omen_webhook_requests_total{code=\"200\"} 5",
    ] {
        assert!(metrics.contains(line), "missing {line} in\n{metrics}");
    }
    assert!(
        metrics.contains("omen_webhook_action_start_delay_seconds_count{kind=\"http\"} 2"),
        "{metrics}"
    );
    webhook.stop().await;
}

#[tokio::test]
async fn requests_are_authenticated_limited_and_validated() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = format!(
        r#"
store: {{url: "{}"}}
auth: {{bearer_token: s3cret}}
limits: {{max_body_bytes: 4096}}
"#,
        sqlite_url(&dir)
    );
    let webhook = Webhook::start(&config).await;
    let body = notification(&[alert("ServiceDown", "checkout", "firing", T0)]);

    let (status, message) = webhook.post(&body).await;
    assert_eq!(status, 401, "{message}");
    assert_eq!(webhook.post_with(&body, Some("Bearer wrong")).await.0, 401);
    assert_eq!(
        webhook.post_with(&body, Some("Basic czNjcmV0")).await.0,
        401
    );
    let (status, message) = webhook.post_with(&body, Some("Bearer s3cret")).await;
    assert_eq!(status, 200, "{message}");

    let (status, message) = webhook
        .post_with("{\"version\": \"4\", \"alerts\": [", Some("Bearer s3cret"))
        .await;
    assert_eq!(status, 400);
    assert!(!message.is_empty(), "a readable reason");
    let no_fingerprint_time = body.replace(T0, "yesterday");
    let (status, message) = webhook
        .post_with(&no_fingerprint_time, Some("Bearer s3cret"))
        .await;
    assert_eq!(status, 400);
    assert!(message.contains("startsAt"), "{message}");

    let many: Vec<Value> = (0..100)
        .map(|i| alert("ServiceDown", &format!("service-{i}"), "firing", T0))
        .collect();
    let (status, message) = webhook
        .post_with(&notification(&many), Some("Bearer s3cret"))
        .await;
    assert_eq!(status, 413, "{message}");

    let stored = webhook.api("/api/v1/notifications").await;
    assert_eq!(
        stored.as_array().map(Vec::len),
        Some(1),
        "only the good one"
    );
    webhook.stop().await;
}

#[tokio::test]
async fn basic_auth_is_accepted_as_alertmanager_sends_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = format!(
        "store: {{url: \"{}\"}}\nauth: {{basic: {{username: am, password: pw}}}}\n",
        sqlite_url(&dir)
    );
    let webhook = Webhook::start(&config).await;
    let body = notification(&[alert("ServiceDown", "checkout", "firing", T0)]);
    // base64("am:pw") and base64("am:px").
    assert_eq!(
        webhook.post_with(&body, Some("Basic YW06cHc=")).await.0,
        200
    );
    assert_eq!(
        webhook.post_with(&body, Some("Basic YW06cHg=")).await.0,
        401
    );
    webhook.stop().await;
}

#[tokio::test]
async fn failed_actions_are_retried_with_backoff_until_they_succeed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let target = Recorder::start(Mode::FailFirst(2)).await;
    let extra = "    retries: 3\n    backoff: 50ms\n";
    let webhook = Webhook::start(&http_config(&sqlite_url(&dir), &target, extra)).await;
    webhook.post(&checkout_down()).await;

    let jobs = webhook.wait_settled(1, SETTLE).await;
    assert_eq!(jobs[0]["state"], "succeeded", "{jobs:?}");
    assert_eq!(jobs[0]["attempts"], 3);
    let requests = target.wait_for(3, SETTLE).await;
    assert_eq!(requests.len(), 3);
    // Every attempt carries the same idempotency key.
    let keys: std::collections::BTreeSet<_> = requests
        .iter()
        .map(|r| r.headers.get("idempotency-key").cloned())
        .collect();
    assert_eq!(keys.len(), 1);
    // Exponential backoff: the second wait is at least the doubled first.
    assert!(requests[2].at - requests[1].at >= Duration::from_millis(100));

    let id = jobs[0]["id"].as_i64().expect("id");
    let job = webhook.api(&format!("/api/v1/jobs/{id}")).await;
    let events: Vec<&str> = job["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["event"].as_str())
        .collect();
    assert_eq!(
        events.iter().filter(|e| **e == "started").count(),
        3,
        "{events:?}"
    );
    assert!(events.contains(&"retry"), "{events:?}");
    webhook.stop().await;
}

#[tokio::test]
async fn a_cooldown_outlives_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let target = Recorder::start(Mode::Ok).await;
    let extra = "    cooldown: 1h\n    cooldown_key: \"{{ labels.service }}\"\n";
    let config = http_config(&sqlite_url(&dir), &target, extra);

    let webhook = Webhook::start(&config).await;
    webhook.post(&checkout_down()).await;
    webhook.wait_settled(1, SETTLE).await;
    webhook.stop().await;

    let webhook = Webhook::start(&config).await;
    // A new incident on the same service (new start time) within the hour.
    webhook
        .post(&notification(&[alert(
            "ServiceDown",
            "checkout",
            "firing",
            "2026-11-23T03:20:00Z",
        )]))
        .await;
    let jobs = webhook.wait_settled(2, SETTLE).await;
    assert_eq!(jobs.len(), 2);
    let skipped: Vec<_> = jobs.iter().filter(|j| j["state"] == "skipped").collect();
    assert_eq!(skipped.len(), 1, "{jobs:?}");
    assert_eq!(skipped[0]["outcome"], "cooldown");
    assert_eq!(target.requests().len(), 1);
    webhook.stop().await;
}

#[tokio::test]
async fn dry_run_records_what_would_happen_and_does_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let target = Recorder::start(Mode::Ok).await;
    let config = http_config(&sqlite_url(&dir), &target, "")
        .replace("engine: {poll_interval: 100ms}", "engine: {dry_run: true}");
    let webhook = Webhook::start(&config).await;
    webhook.post(&checkout_down()).await;
    let jobs = webhook.wait_settled(1, SETTLE).await;
    assert_eq!(jobs[0]["state"], "succeeded");
    assert_eq!(jobs[0]["outcome"], "dry_run");
    assert_eq!(jobs[0]["dry_run"], true);
    let detail = jobs[0]["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("/remediate/checkout"), "{detail}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(target.requests().is_empty());
    webhook.stop().await;
}

#[tokio::test]
async fn destructive_actions_wait_for_approval() {
    let dir = tempfile::tempdir().expect("tempdir");
    let target = Recorder::start(Mode::Ok).await;
    let config = http_config(&sqlite_url(&dir), &target, "    approval: true\n");
    let webhook = Webhook::start(&config).await;
    webhook
        .post(&notification(&[
            alert("ServiceDown", "checkout", "firing", T0),
            alert("ServiceDown", "payments", "firing", T0),
        ]))
        .await;
    let pending = webhook.wait_settled(2, SETTLE).await;
    assert_eq!(jobs_in(&pending, "awaiting_approval"), 2, "{pending:?}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(target.requests().is_empty(), "nothing runs unapproved");

    let id_of = |service: &str| {
        pending
            .iter()
            .find(|j| j["spec"].to_string().contains(service))
            .and_then(|j| j["id"].as_i64())
            .expect("job")
    };
    let approve = reqwest::Client::new()
        .post(format!(
            "{}/api/v1/jobs/{}/approve",
            webhook.admin,
            id_of("checkout")
        ))
        .json(&serde_json::json!({"by": "alice"}))
        .send()
        .await
        .expect("approve");
    assert_eq!(approve.status(), 200);
    let (status, job) = webhook
        .api_post(&format!("/api/v1/jobs/{}/reject", id_of("payments")))
        .await;
    assert_eq!(status, 200);
    assert_eq!(job["state"], "rejected");
    let (status, _) = webhook
        .api_post(&format!("/api/v1/jobs/{}/approve", id_of("payments")))
        .await;
    assert_eq!(status, 409, "a decided job cannot be approved");

    let requests = target.wait_for(1, SETTLE).await;
    let jobs = webhook.wait_settled(2, SETTLE).await;
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].path, "/remediate/checkout");
    let approved = jobs
        .iter()
        .find(|j| j["state"] == "succeeded")
        .expect("approved job ran");
    assert!(
        approved["approved_by"]
            .as_str()
            .is_some_and(|who| who.starts_with("alice")),
        "{approved}"
    );
    webhook.stop().await;
}

#[tokio::test]
async fn the_breaker_stops_automation_escalates_and_resets() {
    let dir = tempfile::tempdir().expect("tempdir");
    let target = Recorder::start(Mode::Fail).await;
    let smtp = SmtpSink::start().await;
    let config = format!(
        r#"{base}
    retries: 0
engine: {{workers: 1, poll_interval: 100ms}}
breaker: {{window: 1h, max_failures: 2, max_actions: 100}}
escalation: {{email: [oncall@example.com]}}
smtp: {{host: 127.0.0.1, port: {port}, tls: none, from: omen@example.com}}
"#,
        base = http_config(&sqlite_url(&dir), &target, "")
            .replace("engine: {poll_interval: 100ms}\n", ""),
        port = smtp.port
    );
    let webhook = Webhook::start(&config).await;
    for service in ["a", "b"] {
        webhook
            .post(&notification(&[alert(
                "ServiceDown",
                service,
                "firing",
                T0,
            )]))
            .await;
        webhook.wait_settled(1, SETTLE).await;
    }
    let mails = smtp.wait_for(1, SETTLE).await;
    assert_eq!(mails.len(), 1, "one escalation");
    assert_eq!(mails[0].to, ["oncall@example.com"]);
    assert!(
        mails[0].data.contains("circuit breaker"),
        "{}",
        mails[0].data
    );
    let breaker = webhook.api("/api/v1/breaker").await;
    assert_eq!(breaker["open"], true, "{breaker}");

    webhook
        .post(&notification(&[alert("ServiceDown", "c", "firing", T0)]))
        .await;
    let jobs = webhook.wait_settled(3, SETTLE).await;
    let stopped: Vec<_> = jobs
        .iter()
        .filter(|j| j["outcome"] == "circuit_open")
        .collect();
    assert_eq!(stopped.len(), 1, "{jobs:?}");
    assert_eq!(target.requests().len(), 2, "no action while open");
    assert!(
        webhook
            .metrics()
            .await
            .contains("omen_webhook_breaker_open 1")
    );

    target.set_mode(Mode::Ok);
    let (status, breaker) = webhook.api_post("/api/v1/breaker/reset").await;
    assert_eq!(status, 200);
    assert_eq!(breaker["open"], false);
    assert_eq!(
        breaker["failures"], 0,
        "failures before the reset no longer count"
    );
    webhook
        .post(&notification(&[alert("ServiceDown", "d", "firing", T0)]))
        .await;
    let jobs = webhook.wait_settled(4, SETTLE).await;
    assert_eq!(jobs_in(&jobs, "succeeded"), 1, "{jobs:?}");
    assert_eq!(target.requests().len(), 3);
    webhook.stop().await;
}

#[tokio::test]
async fn kubernetes_actions_patch_through_the_api_server() {
    let dir = tempfile::tempdir().expect("tempdir");
    let api = Recorder::start(Mode::Ok).await;
    let token = dir.path().join("token");
    std::fs::write(&token, "k8s-token\n").expect("token");
    let config = format!(
        r#"
store: {{url: "{store}"}}
engine: {{poll_interval: 100ms}}
kubernetes: {{api_server: "{api}", token_file: "{token}", max_replicas: 10}}
rules:
  - name: restart
    matchers: ['alertname="Leak"']
    actions: [rollout]
  - name: scale
    matchers: ['alertname="Saturated"']
    actions: [scale-out]
actions:
  rollout:
    kubernetes:
      operation: rollout_restart
      namespace: shop
      name: "{{{{ labels.service }}}}"
  scale-out:
    kubernetes:
      operation: scale
      namespace: shop
      name: "{{{{ labels.service }}}}"
      replicas: "{{{{ annotations.replicas }}}}"
"#,
        store = sqlite_url(&dir),
        api = api.url(),
        token = token.display()
    );
    let webhook = Webhook::start(&config).await;
    let mut saturated = alert("Saturated", "checkout", "firing", T0);
    saturated["annotations"]["replicas"] = "4".into();
    let mut too_big = alert("Saturated", "search", "firing", T0);
    too_big["annotations"]["replicas"] = "400".into();
    webhook
        .post(&notification(&[
            alert("Leak", "checkout", "firing", T0),
            alert("Leak", "Bad_Name", "firing", T0),
            saturated,
            too_big,
        ]))
        .await;
    let jobs = webhook.wait_settled(4, SETTLE).await;
    assert_eq!(jobs_in(&jobs, "succeeded"), 2, "{jobs:?}");
    assert_eq!(
        jobs_in(&jobs, "failed"),
        2,
        "invalid name and replicas refused: {jobs:?}"
    );

    let mut requests = api.requests();
    requests.sort_by(|a, b| a.path.cmp(&b.path));
    assert_eq!(requests.len(), 2);
    let restart = &requests[0];
    assert_eq!(restart.method, "PATCH");
    assert_eq!(
        restart.path,
        "/apis/apps/v1/namespaces/shop/deployments/checkout"
    );
    assert_eq!(
        restart.headers.get("content-type").map(String::as_str),
        Some("application/strategic-merge-patch+json")
    );
    assert_eq!(
        restart.headers.get("authorization").map(String::as_str),
        Some("Bearer k8s-token")
    );
    let patch: Value = serde_json::from_str(&restart.body).expect("patch JSON");
    assert!(
        patch["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"]
            .is_string(),
        "{patch}"
    );
    let scale = &requests[1];
    assert_eq!(
        scale.path,
        "/apis/apps/v1/namespaces/shop/deployments/checkout/scale"
    );
    let patch: Value = serde_json::from_str(&scale.body).expect("patch JSON");
    assert_eq!(patch["spec"]["replicas"], 4);
    webhook.stop().await;
}

#[tokio::test]
async fn email_and_chat_actions_deliver() {
    let dir = tempfile::tempdir().expect("tempdir");
    let smtp = SmtpSink::start().await;
    let chat = Recorder::start(Mode::Ok).await;
    let config = format!(
        r#"
store: {{url: "{store}"}}
engine: {{poll_interval: 100ms}}
smtp: {{host: 127.0.0.1, port: {port}, tls: none, from: "Omen <omen@example.com>"}}
rules:
  - name: tell
    on: [firing, resolved]
    matchers: ['severity="warning"']
    actions: [mail, slack, discord]
actions:
  mail:
    email:
      to: [sre@example.com]
      subject: "[{{{{ status | upper }}}}] {{{{ labels.alertname }}}} on {{{{ labels.service }}}}"
  slack:
    chat: {{url: "{chat}/slack", text: "{{{{ labels.service }}}} is {{{{ status }}}}"}}
  discord:
    chat: {{url: "{chat}/discord", format: discord}}
"#,
        store = sqlite_url(&dir),
        port = smtp.port,
        chat = chat.url()
    );
    let webhook = Webhook::start(&config).await;
    webhook.post(&checkout_down()).await;
    webhook
        .post(&notification(&[alert(
            "ServiceDown",
            "checkout",
            "resolved",
            T0,
        )]))
        .await;
    let jobs = webhook.wait_settled(6, SETTLE).await;
    assert_eq!(jobs_in(&jobs, "succeeded"), 6, "{jobs:?}");

    let mails = smtp.wait_for(2, SETTLE).await;
    assert_eq!(mails.len(), 2);
    assert!(mails.iter().all(|m| m.to == ["sre@example.com"]));
    let subjects: Vec<bool> = [
        "[FIRING] ServiceDown on checkout",
        "[RESOLVED] ServiceDown on checkout",
    ]
    .iter()
    .map(|s| mails.iter().any(|m| m.data.contains(s)))
    .collect();
    assert_eq!(subjects, [true, true]);

    let requests = chat.wait_for(4, SETTLE).await;
    let slack: Vec<Value> = requests
        .iter()
        .filter(|r| r.path == "/slack")
        .map(|r| serde_json::from_str(&r.body).expect("JSON"))
        .collect();
    assert!(slack.contains(&serde_json::json!({"text": "checkout is firing"})));
    assert!(slack.contains(&serde_json::json!({"text": "checkout is resolved"})));
    let discord: Vec<Value> = requests
        .iter()
        .filter(|r| r.path == "/discord")
        .map(|r| serde_json::from_str(&r.body).expect("JSON"))
        .collect();
    assert_eq!(discord.len(), 2);
    assert!(
        discord.iter().all(|d| d["content"].is_string()),
        "{discord:?}"
    );
    webhook.stop().await;
}

#[tokio::test]
async fn commands_get_labels_safely_and_never_through_a_shell() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out");
    std::fs::create_dir(&out).expect("out dir");
    let config = format!(
        r#"
store: {{url: "{store}"}}
engine: {{poll_interval: 100ms}}
rules:
  - name: mark
    matchers: ['alertname="ServiceDown"']
    actions: [touch, env]
actions:
  touch:
    command:
      argv: [touch, "{out}/{{{{ labels.service }}}}"]
  env:
    command:
      argv: [printenv, OMEN_LABEL_SERVICE]
"#,
        store = sqlite_url(&dir),
        out = out.display()
    );
    let webhook = Webhook::start(&config).await;
    webhook
        .post(&notification(&[
            alert("ServiceDown", "checkout", "firing", T0),
            alert("ServiceDown", "../escape;rm -rf x", "firing", T0),
        ]))
        .await;
    let jobs = webhook.wait_settled(4, SETTLE).await;
    assert!(out.join("checkout").exists(), "{jobs:?}");
    let entries = std::fs::read_dir(&out).expect("out").count();
    assert_eq!(entries, 1, "the hostile label never became an argument");
    let refused: Vec<_> = jobs
        .iter()
        .filter(|j| j["action"] == "touch" && j["state"] == "failed")
        .collect();
    assert_eq!(refused.len(), 1, "{jobs:?}");
    let printed: Vec<&str> = jobs
        .iter()
        .filter(|j| j["action"] == "env")
        .filter_map(|j| j["detail"].as_str())
        .collect();
    assert!(printed.contains(&"exit 0; stdout: checkout"), "{printed:?}");
    assert!(
        printed.contains(&"exit 0; stdout: ../escape;rm -rf x"),
        "labels reach commands verbatim as environment: {printed:?}"
    );
    webhook.stop().await;
}

#[tokio::test]
async fn rules_act_on_resolved_alerts_only_when_configured() {
    let dir = tempfile::tempdir().expect("tempdir");
    let target = Recorder::start(Mode::Ok).await;
    let config = http_config(&sqlite_url(&dir), &target, "").replace(
        "    actions: [remediate]",
        "    on: [resolved]\n    actions: [remediate]",
    );
    let webhook = Webhook::start(&config).await;
    webhook.post(&checkout_down()).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(webhook.jobs().await.is_empty(), "firing is not acted on");
    webhook
        .post(&notification(&[alert(
            "ServiceDown",
            "checkout",
            "resolved",
            T0,
        )]))
        .await;
    let jobs = webhook.wait_settled(1, SETTLE).await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0]["alert_status"], "resolved");
    assert_eq!(target.wait_for(1, SETTLE).await.len(), 1);
    webhook.stop().await;
}
