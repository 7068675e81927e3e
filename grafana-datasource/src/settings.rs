//! Datasource settings as Grafana stores them: `jsonData` (visible to the editor) and
//! `secureJsonData` (encrypted by Grafana, decrypted only for the plugin).
//!
//! Both are parsed leniently: Grafana adds fields of its own, so unknown fields are ignored, and
//! every field has a default so a half-configured datasource still loads and can report what is
//! missing through CheckHealth.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::query::Source;

/// Settings from the datasource's `jsonData`.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct JsonData {
    /// Timeout of one request to Prometheus, in seconds. Default: 30.
    pub timeout_seconds: u64,
    /// Most series one query may return; further series are dropped with a notice. Default: 100.
    pub max_series: usize,
    /// Source used when a query does not name one. Default: `live` (score on the fly).
    pub default_source: Source,
    /// Bearer-token authentication: send `Authorization: Bearer <secureJsonData.bearerToken>`.
    pub bearer_auth: bool,
    /// Scrape interval of the data, as in Grafana's Prometheus datasource (`15s`, `1m`); used
    /// for `$__rate_interval`. Default: 15s.
    pub time_interval: Option<String>,
}

impl Default for JsonData {
    fn default() -> Self {
        Self {
            timeout_seconds: 30,
            max_series: DEFAULT_MAX_SERIES,
            default_source: Source::default(),
            bearer_auth: false,
            time_interval: None,
        }
    }
}

/// Default of [`JsonData::max_series`].
pub const DEFAULT_MAX_SERIES: usize = 100;

/// Hard ceiling on [`JsonData::max_series`] and on a query's own `maxSeries`.
pub const MAX_SERIES_CEILING: usize = 10_000;

impl JsonData {
    /// The request timeout, at least one second.
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_seconds.max(1))
    }

    /// The scrape interval in ms (`timeInterval`; 15 s when absent or unreadable).
    pub fn scrape_interval_ms(&self) -> i64 {
        self.time_interval
            .as_deref()
            .and_then(|text| humantime::parse_duration(text.trim()).ok())
            .and_then(|d| i64::try_from(d.as_millis()).ok())
            .filter(|&ms| ms > 0)
            .unwrap_or(15_000)
    }

    /// The series limit, within `1..=MAX_SERIES_CEILING`.
    pub fn max_series(&self) -> usize {
        self.max_series.clamp(1, MAX_SERIES_CEILING)
    }
}

/// Secrets from the datasource's `secureJsonData`.
#[derive(Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SecureJsonData {
    /// Password for basic authentication (the user is Grafana's `basicAuthUser`).
    pub basic_auth_password: Option<String>,
    /// Token for bearer authentication.
    pub bearer_token: Option<String>,
}

impl std::fmt::Debug for SecureJsonData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecureJsonData")
            .field(
                "basic_auth_password",
                &self.basic_auth_password.as_ref().map(|_| "<set>"),
            )
            .field("bearer_token", &self.bearer_token.as_ref().map(|_| "<set>"))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_foreign_fields_parse_to_defaults() {
        let parsed: JsonData =
            serde_json::from_value(serde_json::json!({"httpMethod": "POST"})).expect("parses");
        assert_eq!(parsed, JsonData::default());
        assert_eq!(parsed.max_series(), DEFAULT_MAX_SERIES);
    }

    #[test]
    fn limits_are_clamped() {
        let parsed: JsonData =
            serde_json::from_value(serde_json::json!({"maxSeries": 0, "timeoutSeconds": 0}))
                .expect("parses");
        assert_eq!(parsed.max_series(), 1);
        assert_eq!(parsed.timeout(), Duration::from_secs(1));
    }

    #[test]
    fn secrets_are_not_printed() {
        let secure = SecureJsonData {
            basic_auth_password: Some("hunter2".into()),
            bearer_token: None,
        };
        assert!(!format!("{secure:?}").contains("hunter2"));
    }
}
