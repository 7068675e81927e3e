//! Test helpers shared by Omen's crates: a real Prometheus and a real Alertmanager (the binaries
//! from the Debian packages, installed by scripts/install-deps), each started for one test on
//! 127.0.0.1 with its own temporary directory, and stopped when dropped.
//!
//! ```no_run
//! # async fn run() {
//! let prometheus = omen_test_support::prometheus::Prometheus::start(
//!     |port| format!("scrape_configs: [{{job_name: self, static_configs: [{{targets: ['127.0.0.1:{port}']}}]}}]"),
//!     &[],
//! )
//! .await;
//! let up = prometheus.wait_for("up == 1", std::time::Duration::from_secs(30)).await;
//! assert_eq!(up.len(), 1);
//! # }
//! ```

pub mod alertmanager;
pub mod postgres;
pub mod prometheus;
pub mod recorder;
pub mod smtp;

use std::path::Path;
use std::time::{Duration, Instant};

/// A port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// Asserts that `binary` is on PATH; tests fail loudly if not (scripts/install-deps installs it).
pub fn require_binary(binary: &str) {
    let found = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|p| Path::new(&p).join(binary).is_file()))
        .unwrap_or(false);
    assert!(found, "`{binary}` not on PATH: run scripts/install-deps");
}

/// Polls `url` until it answers 2xx; false if `timeout` passes first.
pub async fn wait_http_ok(url: &str, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    let client = reqwest::Client::new();
    while Instant::now() < deadline {
        if let Ok(response) = client.get(url).send().await
            && response.status().is_success()
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// Percent-encodes `text` for a form body or query string.
pub fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
