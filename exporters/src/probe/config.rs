//! The probe exporter's configuration (YAML); every key has a default.

use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;

use crate::Error;

/// Configuration of `omen exporter probe`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeConfig {
    /// Address serving `/metrics`. Default `127.0.0.1:9102`.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Time between two rounds of probes. Default `15s`.
    #[serde(default = "default_interval", with = "humantime_serde")]
    pub interval: Duration,
    /// Longest wait for one answer. Default `5s`.
    #[serde(default = "default_timeout", with = "humantime_serde")]
    pub timeout: Duration,
    /// URLs to GET. Default: the local stack's simulator (`http://127.0.0.1:9101/live`) and adapter
    /// (`http://127.0.0.1:9202/ready`).
    #[serde(default = "default_targets")]
    pub targets: Vec<String>,
}

impl Default for ProbeConfig {
    fn default() -> Self {
        Self {
            listen: default_listen(),
            interval: default_interval(),
            timeout: default_timeout(),
            targets: default_targets(),
        }
    }
}

impl ProbeConfig {
    /// Parses YAML and validates it.
    pub fn from_yaml(text: &str) -> Result<Self, Error> {
        let config: Self =
            serde_yaml_ng::from_str(text).map_err(|e| Error::Config(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// Refuses settings that parse but cannot work, naming the key.
    pub fn validate(&self) -> Result<(), Error> {
        if self.interval < Duration::from_millis(100) {
            return Err(Error::Config("interval must be at least 100ms".into()));
        }
        if self.timeout.is_zero() || self.timeout > self.interval {
            return Err(Error::Config(
                "timeout must be positive and at most the interval".into(),
            ));
        }
        if self.targets.is_empty() {
            return Err(Error::Config("targets must list at least one URL".into()));
        }
        for (i, target) in self.targets.iter().enumerate() {
            let valid = reqwest::Url::parse(target)
                .is_ok_and(|url| matches!(url.scheme(), "http" | "https") && url.has_host());
            if !valid {
                return Err(Error::Config(format!(
                    "targets[{i}]: `{target}` is not an http(s) URL"
                )));
            }
            if self.targets[..i].contains(target) {
                return Err(Error::Config(format!(
                    "targets[{i}]: `{target}` is listed twice"
                )));
            }
        }
        Ok(())
    }
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 9102))
}

fn default_interval() -> Duration {
    Duration::from_secs(15)
}

fn default_timeout() -> Duration {
    Duration::from_secs(5)
}

fn default_targets() -> Vec<String> {
    vec![
        "http://127.0.0.1:9101/live".into(),
        "http://127.0.0.1:9202/ready".into(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_example_are_valid() {
        assert_eq!(
            ProbeConfig::from_yaml("{}")
                .expect("defaults")
                .listen
                .port(),
            9102
        );
        let example = ProbeConfig::from_yaml(include_str!("../../examples/probe.yml"))
            .expect("example parses");
        assert!(!example.targets.is_empty());
    }

    #[test]
    fn bad_configs_name_the_key() {
        for (yaml, key) in [
            ("interval: 10ms", "interval"),
            ("interval: 1s\ntimeout: 2s", "timeout"),
            ("targets: []", "targets"),
            ("targets: ['ftp://x']", "targets[0]"),
            ("targets: ['http://a/', 'http://a/']", "targets[1]"),
            ("nope: 1", "nope"),
        ] {
            let error = ProbeConfig::from_yaml(yaml).expect_err(yaml).to_string();
            assert!(error.contains(key), "{yaml}: {error}");
        }
    }
}
