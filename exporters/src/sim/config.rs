//! The simulator's configuration (YAML); every key has a default.

use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;

use super::incidents::IncidentKind;
use crate::Error;

/// Configuration of `omen exporter sim`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimConfig {
    /// Address serving `/metrics` and the incident API. Default `127.0.0.1:9101`.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Simulated seconds per real second (1 = real time). Default `1`.
    #[serde(default = "default_time_scale")]
    pub time_scale: f64,
    /// Real time between two simulation steps. Default `1s`.
    #[serde(default = "default_tick", with = "humantime_serde")]
    pub tick: Duration,
    /// Seed of the noise; the same seed gives the same series. Default `1`.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Service names; profiles (traffic, latency, resources) are assigned in order from a built-in
    /// table. Default: the eight services of [`default_services`].
    #[serde(default = "default_services")]
    pub services: Vec<String>,
    /// Incidents started on a schedule. Default none.
    #[serde(default)]
    pub incidents: Vec<ScheduledIncident>,
}

/// An incident started `after` the simulator starts (simulated time), optionally repeated `every`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ScheduledIncident {
    /// What goes wrong.
    pub kind: IncidentKind,
    /// Which service.
    pub service: String,
    /// Simulated time from start to the first occurrence, e.g. `10m`.
    #[serde(with = "humantime_serde")]
    pub after: Duration,
    /// How long each occurrence lasts (simulated), unless remediated earlier, e.g. `5m`.
    #[serde(with = "humantime_serde")]
    pub duration: Duration,
    /// Repeat period (simulated). Default: once.
    #[serde(default, with = "humantime_serde")]
    pub every: Option<Duration>,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            listen: default_listen(),
            time_scale: default_time_scale(),
            tick: default_tick(),
            seed: default_seed(),
            services: default_services(),
            incidents: Vec::new(),
        }
    }
}

impl SimConfig {
    /// Parses YAML and validates it.
    pub fn from_yaml(text: &str) -> Result<Self, Error> {
        let config: Self =
            serde_yaml_ng::from_str(text).map_err(|e| Error::Config(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// Refuses settings that parse but cannot work, naming the key.
    pub fn validate(&self) -> Result<(), Error> {
        if !(self.time_scale.is_finite() && self.time_scale > 0.0) {
            return Err(Error::Config("time_scale must be a positive number".into()));
        }
        if self.tick < Duration::from_millis(10) || self.tick > Duration::from_secs(60) {
            return Err(Error::Config("tick must be between 10ms and 60s".into()));
        }
        if self.services.is_empty() {
            return Err(Error::Config(
                "services must name at least one service".into(),
            ));
        }
        for (i, name) in self.services.iter().enumerate() {
            let valid = !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !valid {
                return Err(Error::Config(format!(
                    "services[{i}]: `{name}` must be non-empty ASCII letters, digits, `-` or `_`"
                )));
            }
            if self.services[..i].contains(name) {
                return Err(Error::Config(format!(
                    "services[{i}]: `{name}` is listed twice"
                )));
            }
        }
        for (i, incident) in self.incidents.iter().enumerate() {
            if !self.services.contains(&incident.service) {
                return Err(Error::Config(format!(
                    "incidents[{i}].service: unknown service `{}`",
                    incident.service
                )));
            }
            if incident.duration.is_zero() {
                return Err(Error::Config(format!(
                    "incidents[{i}].duration must be positive"
                )));
            }
            if incident
                .every
                .is_some_and(|every| every <= incident.duration)
            {
                return Err(Error::Config(format!(
                    "incidents[{i}].every must be longer than its duration"
                )));
            }
        }
        Ok(())
    }
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 9101))
}

fn default_time_scale() -> f64 {
    1.0
}

fn default_tick() -> Duration {
    Duration::from_secs(1)
}

fn default_seed() -> u64 {
    1
}

/// The default services: `frontend`, `api-gateway`, `auth`, `catalog`, `search`, `cart`,
/// `checkout`, `payments`.
pub fn default_services() -> Vec<String> {
    [
        "frontend",
        "api-gateway",
        "auth",
        "catalog",
        "search",
        "cart",
        "checkout",
        "payments",
    ]
    .map(String::from)
    .to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        let config = SimConfig::from_yaml("{}").expect("empty config");
        assert_eq!(config.listen.port(), 9101);
        assert_eq!(config.services.len(), 8);
    }

    #[test]
    fn example_config_parses() {
        let text = include_str!("../../examples/sim.yml");
        let config = SimConfig::from_yaml(text).expect("example parses");
        assert!(!config.incidents.is_empty());
    }

    #[test]
    fn bad_configs_name_the_key() {
        for (yaml, key) in [
            ("time_scale: 0", "time_scale"),
            ("tick: 1ms", "tick"),
            ("services: []", "services"),
            ("services: [a, a]", "services[1]"),
            ("services: ['a b']", "services[0]"),
            (
                "incidents: [{kind: error_burst, service: nope, after: 1m, duration: 1m}]",
                "incidents[0].service",
            ),
            (
                "incidents: [{kind: error_burst, service: auth, after: 1m, duration: 5m, every: 1m}]",
                "incidents[0].every",
            ),
            ("unknown: 1", "unknown"),
        ] {
            let error = SimConfig::from_yaml(yaml).expect_err(yaml).to_string();
            assert!(error.contains(key), "{yaml}: {error}");
        }
    }
}
