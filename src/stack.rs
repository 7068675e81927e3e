//! The local stack of `omen up`: its ports, the configuration files it writes from the embedded
//! provisioning/ and rules/ files, and the child processes it supervises.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::Context as _;

/// Default ports of the stack's components (all on 127.0.0.1).
pub mod port {
    /// Upstream Prometheus (scrapes, remote-writes to the adapter).
    pub const PROMETHEUS: u16 = 9090;
    /// Downstream Prometheus (remote-write receiver, rules, alerting).
    pub const PROMETHEUS_DOWNSTREAM: u16 = 9091;
    /// Alertmanager.
    pub const ALERTMANAGER: u16 = 9093;
    /// Platform simulator (`omen exporter sim`).
    pub const SIM: u16 = 9101;
    /// Adapter remote-write endpoint.
    pub const ADAPTER: u16 = 9201;
    /// Adapter admin endpoint.
    pub const ADAPTER_ADMIN: u16 = 9202;
    /// Webhook receiver (`omen webhook`).
    pub const WEBHOOK: u16 = 9301;
    /// Webhook admin endpoint.
    pub const WEBHOOK_ADMIN: u16 = 9302;
    /// Every port above.
    pub const ALL: [u16; 8] = [
        PROMETHEUS,
        PROMETHEUS_DOWNSTREAM,
        ALERTMANAGER,
        SIM,
        ADAPTER,
        ADAPTER_ADMIN,
        WEBHOOK,
        WEBHOOK_ADMIN,
    ];
}

/// The configuration files of the stack, embedded at build time; written under the state
/// directory with the same relative layout so the relative rule paths keep working.
pub const FILES: &[(&str, &str)] = &[
    (
        "provisioning/prometheus.yml",
        include_str!("../provisioning/prometheus.yml"),
    ),
    (
        "provisioning/prometheus-downstream.yml",
        include_str!("../provisioning/prometheus-downstream.yml"),
    ),
    (
        "provisioning/adapter.yml",
        include_str!("../provisioning/adapter.yml"),
    ),
    (
        "provisioning/alertmanager.yml",
        include_str!("../provisioning/alertmanager.yml"),
    ),
    (
        "provisioning/webhook.yml",
        include_str!("../provisioning/webhook.yml"),
    ),
    (
        "rules/omen-anomaly.yml",
        include_str!("../rules/omen-anomaly.yml"),
    ),
    (
        "rules/omen-self.yml",
        include_str!("../rules/omen-self.yml"),
    ),
    ("rules/slo.yml", include_str!("../rules/slo.yml")),
];

/// Ports shifted by a fixed offset, so a second stack (or a test) can run beside the default one.
#[derive(Clone, Copy, Debug)]
pub struct Ports {
    offset: u16,
}

impl Ports {
    /// Ports shifted by `offset`; refused when a shifted port would not exist.
    pub fn new(offset: u16) -> anyhow::Result<Self> {
        let highest = port::ALL.iter().max().copied().unwrap_or(0);
        anyhow::ensure!(
            u32::from(highest) + u32::from(offset) <= u32::from(u16::MAX),
            "--port-offset {offset} is too large (highest port would be {})",
            u32::from(highest) + u32::from(offset)
        );
        Ok(Self { offset })
    }

    /// The shifted `port`.
    pub fn get(&self, port: u16) -> u16 {
        port + self.offset
    }

    /// `127.0.0.1:<shifted port>`.
    pub fn addr(&self, port: u16) -> std::net::SocketAddr {
        std::net::SocketAddr::from(([127, 0, 0, 1], self.get(port)))
    }

    /// Rewrites every `127.0.0.1:<known port>` in `text` to the shifted port, in one pass.
    pub fn rewrite(&self, text: &str) -> String {
        const HOST: &str = "127.0.0.1:";
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(at) = rest.find(HOST) {
            let (before, after) = rest.split_at(at + HOST.len());
            out.push_str(before);
            let digits = after.bytes().take_while(u8::is_ascii_digit).count();
            match after[..digits].parse::<u16>() {
                Ok(p) if port::ALL.contains(&p) => out.push_str(&self.get(p).to_string()),
                _ => out.push_str(&after[..digits]),
            }
            rest = &after[digits..];
        }
        out.push_str(rest);
        out
    }

    /// Fails naming the first port already in use.
    pub fn check_free(&self) -> anyhow::Result<()> {
        for p in port::ALL {
            let addr = self.addr(p);
            std::net::TcpListener::bind(addr).with_context(|| {
                format!("port {addr} is in use; stop what uses it or pass --port-offset")
            })?;
        }
        Ok(())
    }
}

/// The embedded file at `path`, ports rewritten.
pub fn file(path: &str, ports: Ports) -> anyhow::Result<String> {
    FILES
        .iter()
        .find(|(p, _)| *p == path)
        .map(|(_, text)| ports.rewrite(text))
        .with_context(|| format!("{path} is not embedded"))
}

/// Removes the scrape jobs named `jobs` (`  - job_name: NAME` and its indented lines) from a
/// Prometheus configuration.
pub fn without_jobs(config: &str, jobs: &[&str]) -> String {
    let mut out = Vec::new();
    let mut skipping = false;
    for line in config.lines() {
        if let Some(name) = line.trim_start().strip_prefix("- job_name:") {
            skipping = jobs.contains(&name.trim());
        } else if skipping && !line.starts_with("    ") {
            skipping = false;
        }
        if !skipping {
            out.push(line);
        }
    }
    out.join("\n") + "\n"
}

/// Writes the embedded configuration files under `dir`, ports rewritten, without the scrape jobs
/// `skipped_jobs` in the Prometheus configurations.
pub fn write_files(dir: &Path, ports: Ports, skipped_jobs: &[&str]) -> anyhow::Result<()> {
    for (path, text) in FILES {
        let text = if path.starts_with("provisioning/prometheus") {
            without_jobs(text, skipped_jobs)
        } else {
            text.to_string()
        };
        let path = dir.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::write(&path, ports.rewrite(&text))
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

/// How to start one child process of the stack.
#[derive(Clone, Debug)]
pub struct ChildSpec {
    /// Short name, used for the log file and messages.
    pub name: &'static str,
    /// Program to run.
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
    /// URL answering 2xx once it is ready.
    pub ready_url: String,
    /// URL shown to the user.
    pub url: String,
}

/// A running child, its output going to `<state>/logs/<name>.log`.
pub struct Child {
    /// Its specification.
    pub spec: ChildSpec,
    process: tokio::process::Child,
    log: PathBuf,
}

impl Child {
    /// Starts the child with its output in `logs`.
    pub fn spawn(spec: ChildSpec, logs: &Path) -> anyhow::Result<Self> {
        let log = logs.join(format!("{}.log", spec.name));
        let file = std::fs::File::create(&log)
            .with_context(|| format!("cannot create {}", log.display()))?;
        let process = tokio::process::Command::new(&spec.program)
            .args(&spec.args)
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| {
                format!(
                    "cannot start {} (`{}`); scripts/install-deps installs Prometheus and Alertmanager",
                    spec.name,
                    spec.program.display()
                )
            })?;
        Ok(Self { spec, process, log })
    }

    /// Waits until the ready URL answers 2xx, failing with the end of the log otherwise.
    pub async fn wait_ready(
        &mut self,
        client: &reqwest::Client,
        timeout: Duration,
    ) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(response) = client.get(&self.spec.ready_url).send().await
                && response.status().is_success()
            {
                return Ok(());
            }
            if let Some(status) = self.process.try_wait()? {
                anyhow::bail!(
                    "{} exited with {status} while starting:\n{}",
                    self.spec.name,
                    self.log_tail()
                );
            }
            if Instant::now() > deadline {
                anyhow::bail!(
                    "{} not ready after {timeout:?}:\n{}",
                    self.spec.name,
                    self.log_tail()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Completes when the child exits.
    pub async fn exited(&mut self) -> std::io::Result<std::process::ExitStatus> {
        self.process.wait().await
    }

    /// Asks the child to stop (SIGTERM), and kills it if it has not after `grace`.
    pub async fn stop(mut self, grace: Duration) {
        if let Ok(Some(_)) = self.process.try_wait() {
            return;
        }
        if let Some(pid) = self.process.id() {
            let _ = tokio::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status()
                .await;
        }
        if tokio::time::timeout(grace, self.process.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                message = "Child did not stop in time; killing it.",
                name = self.spec.name
            );
            let _ = self.process.kill().await;
        }
    }

    /// The last lines of its log.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

/// Finds `names[0]`, or else one of the other names, on PATH.
pub fn find_program(names: &[&str]) -> Option<PathBuf> {
    let paths = std::env::var_os("PATH")?;
    names.iter().find_map(|name| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrite_shifts_known_ports_once_and_leaves_others() {
        let ports = Ports::new(1).expect("offset");
        let text =
            "a 127.0.0.1:9090 b 127.0.0.1:9091/x c 127.0.0.1:1234 d 127.0.0.1:9201/api/v1/write";
        assert_eq!(
            ports.rewrite(text),
            "a 127.0.0.1:9091 b 127.0.0.1:9092/x c 127.0.0.1:1234 d 127.0.0.1:9202/api/v1/write"
        );
        assert_eq!(Ports::new(0).expect("zero").rewrite(text), text);
        assert!(Ports::new(60_000).is_err());
    }

    #[test]
    fn without_jobs_drops_only_the_named_scrape_job() {
        let config = include_str!("../provisioning/prometheus.yml");
        let trimmed = without_jobs(config, &["omen-webhook"]);
        assert!(!trimmed.contains("omen-webhook"));
        assert!(!trimmed.contains(":9302"));
        for job in ["prometheus", "omen-sim", "omen-adapter", "alertmanager"] {
            assert!(
                trimmed.contains(&format!("job_name: {job}\n")),
                "{job} kept"
            );
        }
        assert!(trimmed.contains("remote_write:"));
        assert_eq!(without_jobs(config, &[]), config);
    }

    #[test]
    fn every_rule_file_is_embedded() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
        for entry in std::fs::read_dir(dir).expect("rules/") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|e| e == "yml") {
                let name = format!(
                    "rules/{}",
                    path.file_name().expect("name").to_string_lossy()
                );
                assert!(
                    FILES.iter().any(|(p, _)| *p == name),
                    "{name} is not embedded in src/stack.rs FILES"
                );
            }
        }
    }
}
