//! `omen up --duration`: every component of the local stack answers, data flows from the
//! simulator through Prometheus and the adapter into the downstream Prometheus, and everything
//! stops by itself at the end. Real Prometheus and Alertmanager (scripts/install-deps).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Default ports of the stack (src/stack.rs); the test shifts them by an offset with all free.
const PORTS: [u16; 8] = [9090, 9091, 9093, 9101, 9201, 9202, 9301, 9302];

fn free_offset() -> u16 {
    let base = 20_000 + (std::process::id() % 200) as u16 * 100;
    (0..50)
        .map(|i| base + i * 7)
        .find(|offset| {
            PORTS
                .iter()
                .all(|p| std::net::TcpListener::bind(("127.0.0.1", p + offset)).is_ok())
        })
        .expect("a free port offset")
}

async fn status(url: &str) -> Option<u16> {
    reqwest::Client::new()
        .get(url)
        .timeout(Duration::from_secs(2))
        .send()
        .await
        .ok()
        .map(|r| r.status().as_u16())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn omen_up_starts_every_component_and_stops_after_its_duration() {
    omen_test_support::require_binary("prometheus");
    omen_test_support::require_binary("prometheus-alertmanager");
    let offset = free_offset();
    let state = tempfile::tempdir().expect("tempdir");
    let started = Instant::now();
    let mut up = Command::new(env!("CARGO_BIN_EXE_omen"))
        .args(["up", "--duration", "40s", "--log", "warn"])
        .arg(format!("--port-offset={offset}"))
        .arg(format!("--state-dir={}", state.path().display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("omen runs");
    let p = |port: u16| port + offset;
    let endpoints = [
        ("simulator", format!("http://127.0.0.1:{}/metrics", p(9101))),
        (
            "adapter admin",
            format!("http://127.0.0.1:{}/ready", p(9202)),
        ),
        (
            "prometheus",
            format!("http://127.0.0.1:{}/-/ready", p(9090)),
        ),
        (
            "prometheus downstream",
            format!("http://127.0.0.1:{}/-/ready", p(9091)),
        ),
        (
            "alertmanager",
            format!("http://127.0.0.1:{}/-/ready", p(9093)),
        ),
        ("webhook", format!("http://127.0.0.1:{}/ready", p(9302))),
        (
            "webhook audit API",
            format!("http://127.0.0.1:{}/api/v1/jobs", p(9302)),
        ),
    ];
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut pending: Vec<_> = endpoints.iter().collect();
    while !pending.is_empty() && Instant::now() < deadline {
        let mut still = Vec::new();
        for endpoint in pending {
            if status(&endpoint.1).await != Some(200) {
                still.push(endpoint);
            }
        }
        pending = still;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(pending.is_empty(), "not answering: {pending:?}");

    // Data flows sim -> Prometheus -> adapter -> downstream, originals and scores.
    let downstream = format!("http://127.0.0.1:{}", p(9091));
    let mut seen = false;
    while Instant::now() < started + Duration::from_secs(38) {
        let answer: serde_json::Value = reqwest::Client::new()
            .get(format!(
                "{downstream}/api/v1/query?query={}",
                omen_test_support::urlencode(r#"omen_sim_cpu_usage_ratio{job="omen-sim"}"#)
            ))
            .send()
            .await
            .expect("downstream answers")
            .json()
            .await
            .expect("json");
        if answer["data"]["result"]
            .as_array()
            .is_some_and(|r| r.len() == 8)
        {
            seen = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(
        seen,
        "the simulator's 8 services reached the downstream Prometheus through the adapter"
    );
    // Rules are loaded downstream.
    let rules: serde_json::Value = reqwest::Client::new()
        .get(format!("{downstream}/api/v1/rules"))
        .send()
        .await
        .expect("rules")
        .json()
        .await
        .expect("json");
    let groups = rules["data"]["groups"]
        .as_array()
        .map(Vec::len)
        .unwrap_or(0);
    assert!(groups >= 5, "rule groups loaded downstream: {groups}");

    let output = tokio::task::spawn_blocking(move || {
        let deadline = Instant::now() + Duration::from_secs(40);
        loop {
            if let Some(status) = up.try_wait().expect("wait") {
                let mut out = String::new();
                use std::io::Read as _;
                if let Some(mut stdout) = up.stdout.take() {
                    let _ = stdout.read_to_string(&mut out);
                }
                let mut err = String::new();
                if let Some(mut stderr) = up.stderr.take() {
                    let _ = stderr.read_to_string(&mut err);
                }
                return (status, out, err);
            }
            if Instant::now() > deadline {
                let _ = up.kill();
                panic!("omen up did not stop after its duration");
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    })
    .await
    .expect("join");
    let (exit, stdout, stderr) = output;
    assert!(
        exit.success(),
        "omen up exit {exit:?}\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        stdout.contains(&format!("http://127.0.0.1:{}", p(9090))),
        "URLs printed:\n{stdout}"
    );
    for port in PORTS {
        assert!(
            std::net::TcpListener::bind(("127.0.0.1", port + offset)).is_ok(),
            "port {} released after stopping",
            port + offset
        );
    }
    assert!(state.path().join("logs/prometheus.log").exists());
}
