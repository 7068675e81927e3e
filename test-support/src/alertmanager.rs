//! A real Alertmanager (the Debian `prometheus-alertmanager` binary) started for one test.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The binary name of the Debian package.
pub const BINARY: &str = "prometheus-alertmanager";

/// A running Alertmanager, killed when dropped.
pub struct Alertmanager {
    /// Its HTTP port on 127.0.0.1.
    pub port: u16,
    child: Child,
    dir: tempfile::TempDir,
}

impl Alertmanager {
    /// Starts Alertmanager with the YAML config `config`, clustering off; waits until it is ready.
    pub async fn start(config: &str) -> Self {
        crate::require_binary(BINARY);
        let dir = tempfile::tempdir().expect("tempdir");
        let config_path = dir.path().join("alertmanager.yml");
        std::fs::write(&config_path, config).expect("write config");
        let port = crate::free_port();
        let log = std::fs::File::create(dir.path().join("alertmanager.log")).expect("log file");
        let child = Command::new(BINARY)
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!(
                "--storage.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--cluster.listen-address=")
            .arg("--log.level=warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("the prometheus-alertmanager binary is on PATH (scripts/install-deps)");
        let alertmanager = Self { port, child, dir };
        if !crate::wait_http_ok(
            &format!("{}/-/ready", alertmanager.url()),
            Duration::from_secs(30),
        )
        .await
        {
            panic!("Alertmanager did not become ready:\n{}", alertmanager.log());
        }
        alertmanager
    }

    /// Its base URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// What it logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("alertmanager.log")).unwrap_or_default()
    }

    /// The alerts it holds (`GET /api/v2/alerts`).
    pub async fn alerts(&self) -> Vec<serde_json::Value> {
        reqwest::Client::new()
            .get(format!("{}/api/v2/alerts", self.url()))
            .send()
            .await
            .expect("alertmanager answers")
            .json()
            .await
            .expect("alerts are JSON")
    }

    /// Polls until an alert named `name` whose labels include `labels` is held, or panics after `timeout`.
    pub async fn wait_for_alert(
        &self,
        name: &str,
        labels: &[(&str, &str)],
        timeout: Duration,
    ) -> serde_json::Value {
        let deadline = Instant::now() + timeout;
        loop {
            let found = self.alerts().await.into_iter().find(|alert| {
                alert["labels"]["alertname"] == name
                    && labels.iter().all(|(k, v)| alert["labels"][*k] == *v)
            });
            if let Some(alert) = found {
                return alert;
            }
            if Instant::now() > deadline {
                panic!(
                    "no alert {name} {labels:?} within {timeout:?}; alerts: {:?}\nlog:\n{}",
                    self.alerts().await,
                    self.log()
                );
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
