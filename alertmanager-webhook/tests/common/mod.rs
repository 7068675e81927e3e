//! Helpers of the webhook's integration tests: an in-process webhook on 127.0.0.1 and
//! notification payloads shaped like Alertmanager's.

#![allow(dead_code, missing_docs)]

use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// A webhook server running in this test's runtime.
pub struct Webhook {
    pub url: String,
    pub admin: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Webhook {
    /// Starts a webhook from YAML (listeners are set to free ports unless `port` is given).
    pub async fn start(yaml: &str) -> Self {
        Self::start_on(yaml, 0).await
    }

    /// Starts a webhook whose webhook listener uses `port`.
    pub async fn start_on(yaml: &str, port: u16) -> Self {
        let mut config = omen_webhook::Config::from_yaml(yaml).expect("test config is valid");
        config.listen = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        config.admin_listen = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
        let server = omen_webhook::Server::bind(config)
            .await
            .expect("webhook starts");
        let url = format!("http://{}/webhook", server.data_addr());
        let admin = format!("http://{}", server.admin_addr());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            server
                .serve(async {
                    let _ = stopped.await;
                })
                .await
                .expect("webhook serves");
        });
        Self {
            url,
            admin,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Stops it gracefully and waits.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    /// Posts a body to the webhook endpoint; returns status and body.
    pub async fn post(&self, body: &str) -> (u16, String) {
        self.post_with(body, None).await
    }

    /// Posts with an `Authorization` header.
    pub async fn post_with(&self, body: &str, authorization: Option<&str>) -> (u16, String) {
        let mut request = reqwest::Client::new()
            .post(&self.url)
            .header("content-type", "application/json")
            .body(body.to_owned());
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        let response = request.send().await.expect("webhook answers");
        let status = response.status().as_u16();
        (status, response.text().await.unwrap_or_default())
    }

    /// `GET {admin}{path}` as JSON.
    pub async fn api(&self, path: &str) -> Value {
        reqwest::get(format!("{}{path}", self.admin))
            .await
            .expect("api answers")
            .json()
            .await
            .expect("api JSON")
    }

    /// `POST {admin}{path}`; status and JSON (or null).
    pub async fn api_post(&self, path: &str) -> (u16, Value) {
        let response = reqwest::Client::new()
            .post(format!("{}{path}", self.admin))
            .send()
            .await
            .expect("api answers");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Jobs (newest first).
    pub async fn jobs(&self) -> Vec<Value> {
        self.api("/api/v1/jobs?limit=1000")
            .await
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Polls until every job has reached a final state and at least `n` jobs exist.
    pub async fn wait_settled(&self, n: usize, timeout: Duration) -> Vec<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let jobs = self.jobs().await;
            let settled = jobs.len() >= n
                && jobs
                    .iter()
                    .all(|j| !matches!(j["state"].as_str(), Some("queued" | "running")));
            if settled || Instant::now() > deadline {
                return jobs;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// The `/metrics` text.
    pub async fn metrics(&self) -> String {
        reqwest::get(format!("{}/metrics", self.admin))
            .await
            .expect("metrics")
            .text()
            .await
            .expect("text")
    }
}

/// One alert of a test notification.
pub fn alert(name: &str, service: &str, status: &str, starts_at: &str) -> Value {
    let labels = json!({"alertname": name, "service": service, "severity": "warning"});
    let fingerprint = format!("{:x}", {
        let text = format!("{name}/{service}");
        text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        })
    });
    json!({
        "status": status,
        "labels": labels,
        "annotations": {"summary": format!("{name} on {service}")},
        "startsAt": starts_at,
        "endsAt": if status == "resolved" { "2026-11-23T04:00:00Z" } else { "0001-01-01T00:00:00Z" },
        "generatorURL": "http://127.0.0.1:9090/graph",
        "fingerprint": fingerprint,
    })
}

/// A version-4 notification carrying `alerts`.
pub fn notification(alerts: &[Value]) -> String {
    let firing = alerts.iter().any(|a| a["status"] == "firing");
    json!({
        "version": "4",
        "groupKey": "{}:{alertname=\"test\"}",
        "truncatedAlerts": 0,
        "status": if firing { "firing" } else { "resolved" },
        "receiver": "omen",
        "groupLabels": {},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://127.0.0.1:9093",
        "alerts": alerts,
    })
    .to_string()
}

/// A SQLite store URL in `dir`.
pub fn sqlite_url(dir: &tempfile::TempDir) -> String {
    format!("sqlite://{}", dir.path().join("webhook.db").display())
}
