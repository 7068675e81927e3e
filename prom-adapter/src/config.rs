//! The adapter's configuration file (YAML). Every field has a default; see docs/configuration.md.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::Error;
use crate::output::OutputKind;
use crate::selector::SeriesFilter;

/// Top-level adapter configuration.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address of the remote-write endpoint (`POST /api/v1/write`). Default `127.0.0.1:9201`.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Address of the admin endpoints (`/metrics`, `/live`, `/ready`). Default `127.0.0.1:9202`.
    #[serde(default = "default_admin_listen")]
    pub admin_listen: SocketAddr,
    /// Which model to load.
    #[serde(default)]
    pub model: ModelConfig,
    /// Size limits on requests and state.
    #[serde(default)]
    pub limits: LimitsConfig,
    /// What is scored and what is written.
    #[serde(default)]
    pub scoring: ScoringConfig,
    /// Where originals and scores are forwarded.
    #[serde(default)]
    pub downstream: DownstreamConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: default_listen(),
            admin_listen: default_admin_listen(),
            model: ModelConfig::default(),
            limits: LimitsConfig::default(),
            scoring: ScoringConfig::default(),
            downstream: DownstreamConfig::default(),
        }
    }
}

/// Model selection.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// Path of an ONNX model meeting the model contract (models/README.md). Default: the embedded model.
    pub path: Option<PathBuf>,
}

/// Limits that keep memory bounded and reject abusive requests.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Largest compressed request body, bytes. Default 16 MiB.
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: usize,
    /// Largest decompressed request body, bytes. Default 64 MiB.
    #[serde(default = "default_max_decoded_bytes")]
    pub max_decoded_bytes: usize,
    /// Most labels per series. Default 64.
    #[serde(default = "default_max_labels")]
    pub max_labels_per_series: usize,
    /// Longest label name, bytes. Default 1024.
    #[serde(default = "default_max_name_bytes")]
    pub max_label_name_bytes: usize,
    /// Longest label value, bytes. Default 8192.
    #[serde(default = "default_max_value_bytes")]
    pub max_label_value_bytes: usize,
    /// Most series with scoring state; further series are forwarded but not scored. Default 2000000.
    #[serde(default = "default_max_series")]
    pub max_series: usize,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            max_body_bytes: default_max_body_bytes(),
            max_decoded_bytes: default_max_decoded_bytes(),
            max_labels_per_series: default_max_labels(),
            max_label_name_bytes: default_max_name_bytes(),
            max_label_value_bytes: default_max_value_bytes(),
            max_series: default_max_series(),
        }
    }
}

/// What is scored and which series are written for each scored input series.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScoringConfig {
    /// Series selectors (PromQL syntax); a series is scored if it matches any. Default: all series.
    #[serde(default)]
    pub include: Vec<String>,
    /// Series selectors; matching series are never scored (still forwarded). Default: none.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Output series written per scored series. Default `[score]`; also `expected`, `lower`, `upper`.
    #[serde(default = "default_outputs")]
    pub outputs: Vec<OutputKind>,
    /// Forget a series' state after this long without samples. Default `15m`.
    #[serde(default = "default_idle_timeout", with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// Treat series whose metric name ends with `_total`, `_count`, `_sum` or `_bucket` as counters when
    /// no metadata says otherwise. Default `true`.
    #[serde(default = "default_true")]
    pub counter_suffixes: bool,
    /// Threads one large request is scored on: the thread that received it and `threads - 1`
    /// helpers (0: one per available CPU). Default 1. More lowers the latency of a lightly loaded
    /// adapter and costs throughput (see docs/benchmarks.md).
    #[serde(default = "default_threads")]
    pub threads: usize,
}

fn default_threads() -> usize {
    1
}

impl ScoringConfig {
    /// The number of scoring threads: `threads`, or one per available CPU when 0.
    pub fn thread_count(&self) -> usize {
        match self.threads {
            0 => std::thread::available_parallelism().map_or(1, usize::from),
            n => n,
        }
    }
}

impl Default for ScoringConfig {
    fn default() -> Self {
        Self {
            include: Vec::new(),
            exclude: Vec::new(),
            outputs: default_outputs(),
            idle_timeout: default_idle_timeout(),
            counter_suffixes: true,
            threads: default_threads(),
        }
    }
}

/// The downstream remote-write endpoint and how to send to it.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DownstreamConfig {
    /// Remote-write 1.0 URL. Default `http://127.0.0.1:9091/api/v1/write`.
    #[serde(default = "default_downstream_url")]
    pub url: String,
    /// Timeout of one downstream request. Default `10s`.
    #[serde(default = "default_timeout", with = "humantime_serde")]
    pub timeout: Duration,
    /// Parallel queues, each sending one request at a time; an encoded series always uses the
    /// same one. Default 4.
    #[serde(default = "default_shards")]
    pub shards: usize,
    /// Queued chunks are joined into one downstream request up to this many samples; a request
    /// forwarded whole is not split. Default 5000.
    #[serde(default = "default_max_samples_per_send")]
    pub max_samples_per_send: usize,
    /// Samples a queue may hold before requests are answered 503. Default 200000.
    #[serde(default = "default_queue_samples")]
    pub queue_samples: usize,
    /// First retry delay. Default `50ms`.
    #[serde(default = "default_min_backoff", with = "humantime_serde")]
    pub min_backoff: Duration,
    /// Longest retry delay. Default `2s`.
    #[serde(default = "default_max_backoff", with = "humantime_serde")]
    pub max_backoff: Duration,
    /// Give up retrying after this long and answer the sender 503 (it retries from its WAL). Default `20s`.
    #[serde(default = "default_retry_for", with = "humantime_serde")]
    pub retry_for: Duration,
    /// Extra HTTP headers (for example `X-Scope-OrgID` for Mimir tenants). Default none.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Bearer token sent as `Authorization: Bearer ...`. Default none.
    #[serde(default)]
    pub bearer_token: Option<String>,
    /// Basic auth credentials. Default none.
    #[serde(default)]
    pub basic_auth: Option<BasicAuth>,
}

impl Default for DownstreamConfig {
    fn default() -> Self {
        Self {
            url: default_downstream_url(),
            timeout: default_timeout(),
            shards: default_shards(),
            max_samples_per_send: default_max_samples_per_send(),
            queue_samples: default_queue_samples(),
            min_backoff: default_min_backoff(),
            max_backoff: default_max_backoff(),
            retry_for: default_retry_for(),
            headers: BTreeMap::new(),
            bearer_token: None,
            basic_auth: None,
        }
    }
}

/// HTTP basic auth credentials.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicAuth {
    /// User name.
    pub username: String,
    /// Password.
    pub password: String,
}

impl Config {
    /// Parses YAML and validates it.
    pub fn from_yaml(text: &str) -> Result<Self, Error> {
        let config: Self =
            serde_yaml_ng::from_str(text).map_err(|e| Error::Config(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// Checks values that parse but cannot work.
    pub fn validate(&self) -> Result<(), Error> {
        let fail = |why: String| Err(Error::Config(why));
        let url = reqwest::Url::parse(&self.downstream.url)
            .map_err(|e| Error::Config(format!("downstream.url `{}`: {e}", self.downstream.url)))?;
        if !matches!(url.scheme(), "http" | "https") {
            return fail(format!(
                "downstream.url must be http or https, got `{}`",
                url.scheme()
            ));
        }
        if !(1..=256).contains(&self.downstream.shards) {
            return fail(format!(
                "downstream.shards must be within 1..=256, got {}",
                self.downstream.shards
            ));
        }
        if self.downstream.max_samples_per_send == 0
            || self.downstream.queue_samples < self.downstream.max_samples_per_send
        {
            return fail(
                "downstream.queue_samples must be at least downstream.max_samples_per_send (> 0)"
                    .into(),
            );
        }
        if self.scoring.threads > 256 {
            return fail(format!(
                "scoring.threads must be within 0..=256 (0: one per CPU), got {}",
                self.scoring.threads
            ));
        }
        if self.downstream.min_backoff > self.downstream.max_backoff {
            return fail("downstream.min_backoff must not exceed downstream.max_backoff".into());
        }
        if self.downstream.bearer_token.is_some() && self.downstream.basic_auth.is_some() {
            return fail("downstream: set bearer_token or basic_auth, not both".into());
        }
        for (name, value) in &self.downstream.headers {
            if http::HeaderName::try_from(name.as_str()).is_err()
                || http::HeaderValue::try_from(value.as_str()).is_err()
            {
                return fail(format!(
                    "downstream.headers: `{name}` is not a valid HTTP header"
                ));
            }
        }
        if self.limits.max_decoded_bytes < self.limits.max_body_bytes {
            return fail("limits.max_decoded_bytes must be at least limits.max_body_bytes".into());
        }
        if self.limits.max_labels_per_series == 0 || self.limits.max_series == 0 {
            return fail(
                "limits.max_labels_per_series and limits.max_series must be positive".into(),
            );
        }
        if self.scoring.outputs.is_empty() {
            return fail(
                "scoring.outputs must name at least one output (score, expected, lower, upper)"
                    .into(),
            );
        }
        SeriesFilter::new(&self.scoring.include, &self.scoring.exclude)
            .map_err(|e| Error::Config(format!("scoring: {e}")))?;
        if self.listen == self.admin_listen && self.listen.port() != 0 {
            return fail("listen and admin_listen must differ".into());
        }
        Ok(())
    }
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 9201))
}
fn default_admin_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 9202))
}
fn default_max_body_bytes() -> usize {
    16 << 20
}
fn default_max_decoded_bytes() -> usize {
    64 << 20
}
fn default_max_labels() -> usize {
    64
}
fn default_max_name_bytes() -> usize {
    1024
}
fn default_max_value_bytes() -> usize {
    8192
}
fn default_max_series() -> usize {
    2_000_000
}
fn default_outputs() -> Vec<OutputKind> {
    vec![OutputKind::Score]
}
fn default_idle_timeout() -> Duration {
    Duration::from_secs(15 * 60)
}
fn default_true() -> bool {
    true
}
fn default_downstream_url() -> String {
    "http://127.0.0.1:9091/api/v1/write".into()
}
fn default_timeout() -> Duration {
    Duration::from_secs(10)
}
fn default_shards() -> usize {
    4
}
fn default_max_samples_per_send() -> usize {
    5000
}
fn default_queue_samples() -> usize {
    200_000
}
fn default_min_backoff() -> Duration {
    Duration::from_millis(50)
}
fn default_max_backoff() -> Duration {
    Duration::from_secs(2)
}
fn default_retry_for() -> Duration {
    Duration::from_secs(20)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_document_gives_the_defaults() {
        let config = Config::from_yaml("{}").expect("defaults");
        assert_eq!(config.listen, default_listen());
        assert_eq!(config.scoring.outputs, vec![OutputKind::Score]);
    }

    #[test]
    fn unknown_fields_and_bad_values_are_refused() {
        assert!(Config::from_yaml("listen: 127.0.0.1:1\nlisen: x").is_err());
        let err = Config::from_yaml("downstream: {url: 'ftp://x'}").expect_err("scheme");
        assert!(err.to_string().contains("http or https"));
        let err = Config::from_yaml("downstream: {shards: 0}").expect_err("shards");
        assert!(err.to_string().contains("shards"));
        let err = Config::from_yaml("scoring: {include: ['{job=x}']}").expect_err("selector");
        assert!(err.to_string().contains("invalid selector"));
        let err = Config::from_yaml("scoring: {idle_timeout: 5 parsecs}").expect_err("duration");
        assert!(err.to_string().contains("idle_timeout"), "{err}");
    }
}
