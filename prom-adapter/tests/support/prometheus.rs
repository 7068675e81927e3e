//! A real Prometheus (the `prometheus` binary on PATH) started for one test on 127.0.0.1.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Prometheus {
    pub port: u16,
    child: Child,
    _dir: tempfile::TempDir,
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

impl Prometheus {
    /// Starts Prometheus with the YAML config `config(port)` and extra flags; waits until it is ready.
    pub async fn start(config: impl FnOnce(u16) -> String, extra_flags: &[&str]) -> Self {
        require_binary();
        let dir = tempfile::tempdir().expect("tempdir");
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
        let prometheus = Self {
            port,
            child,
            _dir: dir,
        };
        prometheus.wait_ready().await;
        prometheus
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("prometheus.log")).unwrap_or_default()
    }

    async fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let client = reqwest::Client::new();
        while Instant::now() < deadline {
            if let Ok(r) = client.get(format!("{}/-/ready", self.url())).send().await
                && r.status().is_success()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "Prometheus did not become ready within 30s:\n{}",
            self.log()
        );
    }

    /// Runs an instant query and returns the `data.result` array.
    pub async fn query(&self, promql: &str) -> Vec<serde_json::Value> {
        let response: serde_json::Value = reqwest::Client::new()
            .post(format!("{}/api/v1/query", self.url()))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(format!("query={}", urlencode(promql)))
            .send()
            .await
            .expect("query sent")
            .json()
            .await
            .expect("query answer is JSON");
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
    let found = std::env::var_os("PATH")
        .map(|paths| {
            std::env::split_paths(&paths).any(|p| Path::new(&p).join("prometheus").is_file())
        })
        .unwrap_or(false);
    assert!(found, "`prometheus` not on PATH: run scripts/install-deps");
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
