//! `omen webhook` killed with SIGKILL while work is pending, then restarted on the same SQLite
//! file: every acknowledged alert is still acted on exactly once, and an action that was running
//! when the process died is not repeated unless it is marked idempotent.

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use omen_test_support::recorder::{Mode, Recorder};
use serde_json::{Value, json};

struct Process {
    child: Child,
    admin: String,
}

impl Process {
    async fn start(config: &std::path::Path, log: &std::path::Path, admin_port: u16) -> Self {
        let child = Command::new(env!("CARGO_BIN_EXE_omen"))
            .args(["webhook", "-c"])
            .arg(config)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(log).expect("log"))
            .spawn()
            .expect("omen webhook starts");
        let admin = format!("http://127.0.0.1:{admin_port}");
        assert!(
            omen_test_support::wait_http_ok(&format!("{admin}/ready"), Duration::from_secs(30))
                .await,
            "webhook not ready: {}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        Self { child, admin }
    }

    /// SIGKILL: no graceful shutdown, nothing flushed.
    fn kill(mut self) {
        self.child.kill().expect("kill");
        self.child.wait().expect("reaped");
    }

    async fn jobs(&self) -> Vec<Value> {
        reqwest::get(format!("{}/api/v1/jobs?limit=1000", self.admin))
            .await
            .expect("api")
            .json()
            .await
            .expect("json")
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn notification(service: &str) -> String {
    json!({
        "version": "4", "groupKey": format!("{{}}:{{service=\"{service}\"}}"), "truncatedAlerts": 0,
        "status": "firing", "receiver": "omen", "groupLabels": {"service": service},
        "commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://127.0.0.1:9093",
        "alerts": [{
            "status": "firing",
            "labels": {"alertname": "ServiceDown", "service": service},
            "annotations": {}, "startsAt": "2026-11-23T03:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "", "fingerprint": format!("{:016x}", service.len() * 7919 + service.bytes().map(usize::from).sum::<usize>()),
        }],
    })
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_webhook_resumes_pending_work_without_repeating_actions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let retried = Recorder::start(Mode::Fail).await;
    let slow = Recorder::start(Mode::Slow(Duration::from_secs(30))).await;
    let (port, admin_port) = (
        omen_test_support::free_port(),
        omen_test_support::free_port(),
    );
    let config = dir.path().join("webhook.yml");
    std::fs::write(
        &config,
        format!(
            r#"
listen: 127.0.0.1:{port}
admin_listen: 127.0.0.1:{admin_port}
store: {{url: "sqlite://{db}"}}
engine: {{lease: 2s, poll_interval: 100ms}}
breaker: {{max_failures: 1000}}
rules:
  - name: heal
    matchers: ['service=~"svc-.*"']
    actions: [remediate]
  - name: restart
    matchers: ['service="slow-one"']
    actions: [restart-once]
  - name: restart-idempotent
    matchers: ['service="slow-idempotent"']
    actions: [restart-idempotent]
actions:
  remediate:
    http: {{method: POST, url: "{retried}/heal/{{{{ labels.service }}}}"}}
    retries: 20
    backoff: 500ms
    idempotent: true
  restart-once:
    http: {{method: POST, url: "{slow}/restart/{{{{ labels.service }}}}"}}
    timeout: 1m
  restart-idempotent:
    http: {{method: POST, url: "{slow}/restart/{{{{ labels.service }}}}"}}
    timeout: 1m
    idempotent: true
"#,
            db = dir.path().join("webhook.db").display(),
            retried = retried.url(),
            slow = slow.url(),
        ),
    )
    .expect("config");
    let log = dir.path().join("webhook.log");
    let webhook = Process::start(&config, &log, admin_port).await;

    let client = reqwest::Client::new();
    let services: Vec<String> = (0..20)
        .map(|i| format!("svc-{i}"))
        .chain(["slow-one".to_owned(), "slow-idempotent".to_owned()])
        .collect();
    for service in &services {
        let response = client
            .post(format!("http://127.0.0.1:{port}/webhook"))
            .header("content-type", "application/json")
            .body(notification(service))
            .send()
            .await
            .expect("webhook answers");
        assert_eq!(response.status(), 200, "acknowledged means stored");
    }
    // Every retried action has failed at least once and both slow actions are in flight. A retried
    // action may also be mid-attempt when the process dies; being idempotent, it is tried again.
    retried.wait_for(20, Duration::from_secs(30)).await;
    slow.wait_for(2, Duration::from_secs(30)).await;
    webhook.kill();
    // A request the killed process had already sent is still answered (and recorded) as a
    // failure before the recorder turns healthy.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let failed_before_kill = retried.requests().len();

    retried.set_mode(Mode::Ok);
    slow.set_mode(Mode::Ok);
    let webhook = Process::start(&config, &log, admin_port).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    let jobs = loop {
        let jobs = webhook.jobs().await;
        let done = jobs.len() == services.len()
            && jobs
                .iter()
                .all(|j| !matches!(j["state"].as_str(), Some("queued" | "running")));
        if done || Instant::now() > deadline {
            break jobs;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let state_of = |service: &str| -> String {
        jobs.iter()
            .find(|j| j["spec"].to_string().contains(&format!("/{service}\"")))
            .map(|j| j["state"].as_str().unwrap_or_default().to_owned())
            .unwrap_or_default()
    };
    for i in 0..20 {
        assert_eq!(state_of(&format!("svc-{i}")), "succeeded", "{jobs:#?}");
    }
    assert_eq!(
        state_of("slow-one"),
        "interrupted",
        "a non-idempotent action is never started twice"
    );
    assert_eq!(state_of("slow-idempotent"), "succeeded");

    tokio::time::sleep(Duration::from_secs(1)).await;
    // Every request after the restart was answered 200: exactly one per alert.
    let mut successes: BTreeMap<String, usize> = BTreeMap::new();
    for request in &retried.requests()[failed_before_kill..] {
        *successes.entry(request.path.clone()).or_default() += 1;
    }
    assert_eq!(successes.len(), 20, "{successes:?}");
    assert!(successes.values().all(|n| *n == 1), "{successes:?}");
    let slow_paths: Vec<String> = slow.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(
        slow_paths
            .iter()
            .filter(|p| p.as_str() == "/restart/slow-one")
            .count(),
        1,
        "{slow_paths:?}"
    );
    assert_eq!(
        slow_paths
            .iter()
            .filter(|p| p.as_str() == "/restart/slow-idempotent")
            .count(),
        2,
        "resumed after the crash: {slow_paths:?}"
    );
}
