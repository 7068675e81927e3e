//! A real Prometheus (the `prometheus` binary on PATH) started for one test on 127.0.0.1.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub use crate::free_port;

/// A running Prometheus, killed when dropped.
pub struct Prometheus {
    /// Its HTTP port on 127.0.0.1.
    pub port: u16,
    child: Child,
    dir: tempfile::TempDir,
}

impl Prometheus {
    /// Starts Prometheus with the YAML config `config(port)` and extra flags; waits until it is ready.
    pub async fn start(config: impl FnOnce(u16) -> String, extra_flags: &[&str]) -> Self {
        Self::start_with_files(config, &[], extra_flags).await
    }

    /// Like [`Prometheus::start`], first writing `files` (relative path, content) next to the
    /// config, so the config can name them relatively (rule files, for instance).
    pub async fn start_with_files(
        config: impl FnOnce(u16) -> String,
        files: &[(&str, String)],
        extra_flags: &[&str],
    ) -> Self {
        require_binary();
        let dir = tempfile::tempdir().expect("tempdir");
        for (path, content) in files {
            let path = dir.path().join(path);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).expect("create dir");
            }
            std::fs::write(path, content).expect("write file");
        }
        let config_path = dir.path().join("prometheus.yml");
        let port = free_port();
        std::fs::write(&config_path, config(port)).expect("write config");
        let log = std::fs::File::create(dir.path().join("prometheus.log")).expect("log file");
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--log.level=warn")
            .args(extra_flags)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("the prometheus binary is on PATH (scripts/install-deps installs it)");
        let prometheus = Self { port, child, dir };
        prometheus.wait_ready().await;
        prometheus
    }

    /// Its base URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Its working directory (config, files, data, log).
    pub fn dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// What it logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("prometheus.log")).unwrap_or_default()
    }

    async fn wait_ready(&self) {
        if !crate::wait_http_ok(&format!("{}/-/ready", self.url()), Duration::from_secs(30)).await {
            panic!(
                "Prometheus did not become ready within 30s:\n{}",
                self.log()
            );
        }
    }

    /// Runs an instant query and returns the whole JSON answer, whatever its status.
    pub async fn query_raw(&self, promql: &str) -> (u16, serde_json::Value) {
        let response = reqwest::Client::new()
            .post(format!("{}/api/v1/query", self.url()))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(format!("query={}", crate::urlencode(promql)))
            .send()
            .await
            .expect("query sent");
        let status = response.status().as_u16();
        (status, response.json().await.expect("query answer is JSON"))
    }

    /// Runs an instant query and returns the `data.result` array.
    pub async fn query(&self, promql: &str) -> Vec<serde_json::Value> {
        let (_, response) = self.query_raw(promql).await;
        assert_eq!(
            response["status"], "success",
            "query {promql} failed: {response}"
        );
        response["data"]["result"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Polls `promql` until it returns at least one series or `timeout` passes.
    pub async fn wait_for(&self, promql: &str, timeout: Duration) -> Vec<serde_json::Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let result = self.query(promql).await;
            if !result.is_empty() {
                return result;
            }
            if Instant::now() > deadline {
                panic!(
                    "`{promql}` returned nothing within {timeout:?}; Prometheus log:\n{}",
                    self.log()
                );
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether the binary exists; tests fail loudly if not (scripts/test installs it).
pub fn require_binary() {
    crate::require_binary("prometheus");
}
