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
        Self::start_with_args(config, &["--cluster.listen-address=".to_owned()]).await
    }

    /// Starts one peer of an Alertmanager cluster: gossip on 127.0.0.1:`cluster_port`, joining
    /// `peers` (their cluster ports), with short peer timeouts so HA behaviour shows in seconds.
    pub async fn start_clustered(config: &str, cluster_port: u16, peers: &[u16]) -> Self {
        let mut args = vec![
            format!("--cluster.listen-address=127.0.0.1:{cluster_port}"),
            format!("--cluster.advertise-address=127.0.0.1:{cluster_port}"),
            "--cluster.peer-timeout=2s".to_owned(),
            "--cluster.gossip-interval=100ms".to_owned(),
            "--cluster.pushpull-interval=2s".to_owned(),
            "--cluster.settle-timeout=1s".to_owned(),
        ];
        args.extend(
            peers
                .iter()
                .map(|p| format!("--cluster.peer=127.0.0.1:{p}")),
        );
        Self::start_with_args(config, &args).await
    }

    async fn start_with_args(config: &str, extra: &[String]) -> Self {
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
            .args(extra)
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

    /// Posts alerts as Prometheus does (`POST /api/v2/alerts`, a JSON array).
    pub async fn post_alerts(&self, alerts: &serde_json::Value) {
        let response = reqwest::Client::new()
            .post(format!("{}/api/v2/alerts", self.url()))
            .json(alerts)
            .send()
            .await
            .expect("alertmanager answers");
        assert!(
            response.status().is_success(),
            "posting alerts: {}",
            response.status()
        );
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
