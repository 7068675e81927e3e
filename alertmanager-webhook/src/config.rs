//! The webhook's configuration file (YAML), with defaults and a `validate` step.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::Error;
use crate::payload::Status;

/// The whole configuration. Every field has a default, so an empty file is valid.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where Alertmanager posts notifications. Default `127.0.0.1:9301`.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Admin listener: `/metrics`, `/live`, `/ready` and the `/api/v1` audit and approval API.
    /// Default `127.0.0.1:9302`.
    #[serde(default = "default_admin_listen")]
    pub admin_listen: SocketAddr,
    /// Path of the webhook endpoint. Default `/webhook`.
    #[serde(default = "default_path")]
    pub path: String,
    /// Credentials Alertmanager must send (its `http_config`); none means no authentication.
    #[serde(default)]
    pub auth: Option<AuthConfig>,
    /// Credentials the `/api/v1` endpoints require; none means open (the admin port is local by default).
    #[serde(default)]
    pub api_auth: Option<AuthConfig>,
    /// Request limits.
    #[serde(default)]
    pub limits: Limits,
    /// Where notifications, jobs and the audit trail are kept.
    #[serde(default)]
    pub store: StoreConfig,
    /// How jobs are run.
    #[serde(default)]
    pub engine: EngineConfig,
    /// When automation stops and escalates.
    #[serde(default)]
    pub breaker: BreakerConfig,
    /// Who is told when automation stops.
    #[serde(default)]
    pub escalation: EscalationConfig,
    /// SMTP server for email actions and escalation.
    #[serde(default)]
    pub smtp: Option<SmtpConfig>,
    /// Kubernetes API access for Kubernetes actions.
    #[serde(default)]
    pub kubernetes: Option<KubernetesConfig>,
    /// Which alerts trigger which actions, in order.
    #[serde(default)]
    pub rules: Vec<RuleConfig>,
    /// The actions rules refer to, by name.
    #[serde(default)]
    pub actions: BTreeMap<String, ActionConfig>,
}

/// Accepted credentials: a bearer token, basic auth, or both.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// Token expected as `Authorization: Bearer <token>`.
    #[serde(default)]
    pub bearer_token: Option<String>,
    /// File holding the token (trailing newline ignored).
    #[serde(default)]
    pub bearer_token_file: Option<PathBuf>,
    /// Basic-auth credentials.
    #[serde(default)]
    pub basic: Option<BasicAuth>,
}

/// Basic-auth user and password.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicAuth {
    /// User name.
    pub username: String,
    /// Password, inline.
    #[serde(default)]
    pub password: Option<String>,
    /// File holding the password (trailing newline ignored).
    #[serde(default)]
    pub password_file: Option<PathBuf>,
}

/// Request limits.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Largest accepted body in bytes. Default 4 MiB.
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: usize,
    /// Most alerts in one notification. Default 5000.
    #[serde(default = "default_max_alerts")]
    pub max_alerts: usize,
}

/// The store.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// `sqlite://path/file.db` (created if missing) or `postgres://user@host/db`.
    /// Default `sqlite://omen-webhook.db`.
    #[serde(default = "default_store_url")]
    pub url: String,
    /// Connections in the pool. Default 8.
    #[serde(default = "default_max_connections")]
    pub max_connections: u32,
}

/// How jobs run.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EngineConfig {
    /// Actions running at once in this replica. Default 8.
    #[serde(default = "default_workers")]
    pub workers: usize,
    /// How long a replica owns a running job without renewing it. Default 60s.
    #[serde(default = "default_lease", with = "humantime_serde")]
    pub lease: Duration,
    /// How often the store is polled for work other replicas queued, retries and approvals.
    /// Default 1s.
    #[serde(default = "default_poll_interval", with = "humantime_serde")]
    pub poll_interval: Duration,
    /// Record what would run without running anything. Default false.
    #[serde(default)]
    pub dry_run: bool,
    /// Name of this replica in the audit trail. Default `<hostname>-<pid>`.
    #[serde(default)]
    pub replica: Option<String>,
}

/// The circuit breaker: stops all automation when remediation keeps failing or runs too often.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BreakerConfig {
    /// The sliding window the limits count in. Default 15m.
    #[serde(default = "default_breaker_window", with = "humantime_serde")]
    pub window: Duration,
    /// Failed jobs in the window that open the breaker. Default 5.
    #[serde(default = "default_max_failures")]
    pub max_failures: u32,
    /// Actions started in the window that open the breaker (a global rate limit). Default 100.
    #[serde(default = "default_max_actions")]
    pub max_actions: u32,
}

/// Escalation when the breaker opens or an alert keeps re-firing after remediation.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EscalationConfig {
    /// Email recipients (needs `smtp`).
    #[serde(default)]
    pub email: Vec<String>,
    /// Name of a chat action to post to as well.
    #[serde(default)]
    pub chat: Option<String>,
}

/// TLS towards the SMTP server.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain text (local relays and test sinks).
    None,
    /// STARTTLS required.
    #[default]
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
}

/// SMTP server.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    /// Host name.
    pub host: String,
    /// Port. Default 587.
    #[serde(default = "default_smtp_port")]
    pub port: u16,
    /// TLS mode. Default `starttls`.
    #[serde(default)]
    pub tls: SmtpTls,
    /// Sender address.
    pub from: String,
    /// User name for SMTP AUTH.
    #[serde(default)]
    pub username: Option<String>,
    /// Password for SMTP AUTH, inline.
    #[serde(default)]
    pub password: Option<String>,
    /// File holding the password.
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// Connection and command timeout. Default 10s.
    #[serde(default = "default_smtp_timeout", with = "humantime_serde")]
    pub timeout: Duration,
}

/// Kubernetes API access. Without `api_server`, the in-cluster service account is used.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KubernetesConfig {
    /// API server URL; default from `KUBERNETES_SERVICE_HOST`/`_PORT`.
    #[serde(default)]
    pub api_server: Option<String>,
    /// Bearer token file; default the service-account token when it exists.
    #[serde(default)]
    pub token_file: Option<PathBuf>,
    /// CA bundle for the API server; default the service-account CA when it exists.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Skip certificate verification (never in production). Default false.
    #[serde(default)]
    pub insecure_skip_tls_verify: bool,
    /// Largest replica count a scale action may set. Default 50.
    #[serde(default = "default_max_replicas")]
    pub max_replicas: u32,
}

/// A remediation rule.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    /// Name (in metrics and the audit trail).
    pub name: String,
    /// Alertmanager-style matchers, all of which must match: `name="v"`, `!=`, `=~`, `!~`.
    #[serde(default)]
    pub matchers: Vec<String>,
    /// Alert states that trigger the actions. Default `[firing]`.
    #[serde(default = "default_on")]
    pub on: Vec<Status>,
    /// Names of the actions to run, each as its own job.
    pub actions: Vec<String>,
    /// Dry-run this rule only.
    #[serde(default)]
    pub dry_run: bool,
    /// Escalate instead of acting when the rule has acted on the same target this often.
    #[serde(default)]
    pub refire_limit: Option<RefireLimit>,
    /// Stop at this rule when it matches (later rules are not considered). Default false.
    #[serde(default)]
    pub stop: bool,
}

/// How often a rule may act on one target before a human must look.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefireLimit {
    /// Runs allowed within `within`.
    pub max_runs: u32,
    /// The window.
    #[serde(with = "humantime_serde")]
    pub within: Duration,
}

/// An action: exactly one of `http`, `command`, `kubernetes`, `email`, `chat`, plus run options.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionConfig {
    /// Send an HTTP request.
    #[serde(default)]
    pub http: Option<HttpAction>,
    /// Run a program (argv, never a shell).
    #[serde(default)]
    pub command: Option<CommandAction>,
    /// Restart or scale a workload through the Kubernetes API.
    #[serde(default)]
    pub kubernetes: Option<KubernetesAction>,
    /// Send an email.
    #[serde(default)]
    pub email: Option<EmailAction>,
    /// Post to a chat webhook.
    #[serde(default)]
    pub chat: Option<ChatAction>,
    /// Time limit of one attempt. Default 30s.
    #[serde(default = "default_action_timeout", with = "humantime_serde")]
    pub timeout: Duration,
    /// Attempts after the first one fails. Default 2.
    #[serde(default = "default_retries")]
    pub retries: u32,
    /// Wait before the first retry, doubled for each further one (capped at 5m). Default 2s.
    #[serde(default = "default_backoff", with = "humantime_serde")]
    pub backoff: Duration,
    /// Do not act on the same target again within this time (kept across restarts).
    #[serde(default, with = "humantime_serde")]
    pub cooldown: Option<Duration>,
    /// Template naming the target the cooldown applies to. Default `{{ fingerprint }}`.
    #[serde(default)]
    pub cooldown_key: Option<String>,
    /// Hold each job until approved through the API (for destructive actions). Default false.
    #[serde(default)]
    pub approval: bool,
    /// Safe to run again when a replica died mid-action; otherwise such a job is marked
    /// `interrupted` and escalated. Default false.
    #[serde(default)]
    pub idempotent: bool,
}

/// HTTP request action. `url`, header values and `body` are templates.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpAction {
    /// Method. Default `POST`.
    #[serde(default = "default_method")]
    pub method: String,
    /// URL template.
    pub url: String,
    /// Header templates.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Body template.
    #[serde(default)]
    pub body: Option<String>,
    /// File with a bearer token sent as `Authorization` (not stored in the audit trail).
    #[serde(default)]
    pub bearer_token_file: Option<PathBuf>,
}

/// Command action: `argv[0]` is a fixed program; later arguments are templates checked against
/// `arg_pattern`. Alert labels and annotations are passed as `OMEN_LABEL_<NAME>` and
/// `OMEN_ANNOTATION_<NAME>` environment variables.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandAction {
    /// Program and arguments.
    pub argv: Vec<String>,
    /// Regular expression every rendered argument must match in full.
    /// Default `[A-Za-z0-9._:/=@+-]*`.
    #[serde(default = "default_arg_pattern")]
    pub arg_pattern: String,
    /// Extra environment variables (templates).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Working directory.
    #[serde(default)]
    pub working_dir: Option<PathBuf>,
}

/// What a Kubernetes action does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KubernetesOperation {
    /// `kubectl rollout restart`: bump the pod template's restartedAt annotation.
    RolloutRestart,
    /// `kubectl scale`: set the replica count through the scale subresource.
    Scale,
}

/// Kubernetes action. `namespace`, `name` and `replicas` are templates.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KubernetesAction {
    /// Operation.
    pub operation: KubernetesOperation,
    /// `deployment` (default), `statefulset` or `daemonset` (restart only).
    #[serde(default = "default_workload_kind")]
    pub kind: String,
    /// Namespace template.
    pub namespace: String,
    /// Workload name template.
    pub name: String,
    /// Replica count template (scale only).
    #[serde(default)]
    pub replicas: Option<String>,
}

/// Email action. `subject` and `body` are templates.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailAction {
    /// Recipients.
    pub to: Vec<String>,
    /// Subject template.
    #[serde(default = "default_email_subject")]
    pub subject: String,
    /// Body template.
    #[serde(default = "default_email_body")]
    pub body: String,
}

/// Payload shape of a chat webhook.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChatFormat {
    /// `{"text": ...}`: Slack, Mattermost, Rocket.Chat, Google Chat.
    #[default]
    Slack,
    /// `{"content": ...}`: Discord.
    Discord,
    /// `{"text": ...}` for Microsoft Teams incoming webhooks.
    Teams,
}

/// Chat webhook action.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatAction {
    /// Incoming-webhook URL.
    pub url: String,
    /// Payload shape. Default `slack`.
    #[serde(default)]
    pub format: ChatFormat,
    /// Message template.
    #[serde(default = "default_chat_text")]
    pub text: String,
}

impl ActionConfig {
    /// The kind of action: `http`, `command`, `kubernetes`, `email` or `chat`.
    pub fn kind(&self) -> &'static str {
        if self.http.is_some() {
            "http"
        } else if self.command.is_some() {
            "command"
        } else if self.kubernetes.is_some() {
            "kubernetes"
        } else if self.email.is_some() {
            "email"
        } else {
            "chat"
        }
    }

    fn kinds_set(&self) -> usize {
        usize::from(self.http.is_some())
            + usize::from(self.command.is_some())
            + usize::from(self.kubernetes.is_some())
            + usize::from(self.email.is_some())
            + usize::from(self.chat.is_some())
    }
}

impl Default for Config {
    fn default() -> Self {
        Self::from_yaml("{}").unwrap_or_else(|_| unreachable!("the empty configuration is valid"))
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: default_max_body_bytes(),
            max_alerts: default_max_alerts(),
        }
    }
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            url: default_store_url(),
            max_connections: default_max_connections(),
        }
    }
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            workers: default_workers(),
            lease: default_lease(),
            poll_interval: default_poll_interval(),
            dry_run: false,
            replica: None,
        }
    }
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            window: default_breaker_window(),
            max_failures: default_max_failures(),
            max_actions: default_max_actions(),
        }
    }
}

impl Config {
    /// Parses YAML and validates the result.
    pub fn from_yaml(text: &str) -> Result<Self, Error> {
        let config: Self =
            serde_yaml_ng::from_str(text).map_err(|e| Error::Config(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// Checks what serde cannot: references between rules and actions, matchers, limits.
    /// Templates are compiled (and checked) by [`crate::rules::RuleSet::new`].
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |message: String| Err(Error::Config(message));
        if !self.path.starts_with('/') {
            return bad(format!("path `{}` must start with /", self.path));
        }
        if self.limits.max_body_bytes == 0 || self.limits.max_alerts == 0 {
            return bad("limits must be positive".into());
        }
        if !(self.store.url.starts_with("sqlite:")
            || self.store.url.starts_with("postgres://")
            || self.store.url.starts_with("postgresql://"))
        {
            return bad(format!(
                "store.url `{}` must start with sqlite: or postgres://",
                self.store.url
            ));
        }
        if self.store.max_connections == 0 || self.engine.workers == 0 {
            return bad("store.max_connections and engine.workers must be positive".into());
        }
        if self.engine.lease < Duration::from_secs(2) {
            return bad("engine.lease must be at least 2s".into());
        }
        if self.engine.poll_interval.is_zero() || self.breaker.window.is_zero() {
            return bad("engine.poll_interval and breaker.window must be positive".into());
        }
        for auth in [&self.auth, &self.api_auth].into_iter().flatten() {
            if auth.bearer_token.is_none()
                && auth.bearer_token_file.is_none()
                && auth.basic.is_none()
            {
                return bad("an auth section needs bearer_token(_file) or basic".into());
            }
        }
        if !self.escalation.email.is_empty() && self.smtp.is_none() {
            return bad("escalation.email needs an smtp section".into());
        }
        if let Some(chat) = &self.escalation.chat {
            match self.actions.get(chat) {
                Some(action) if action.chat.is_some() => {}
                _ => return bad(format!("escalation.chat `{chat}` is not a chat action")),
            }
        }
        let mut names = std::collections::HashSet::new();
        for rule in &self.rules {
            if rule.name.is_empty() || !names.insert(rule.name.as_str()) {
                return bad(format!("rule name `{}` is empty or used twice", rule.name));
            }
            if rule.actions.is_empty() || rule.on.is_empty() {
                return bad(format!(
                    "rule `{}` needs actions and `on` states",
                    rule.name
                ));
            }
            for matcher in &rule.matchers {
                crate::matcher::Matcher::parse(matcher)
                    .map_err(|e| Error::Config(format!("rule `{}`: {e}", rule.name)))?;
            }
            for action in &rule.actions {
                if !self.actions.contains_key(action) {
                    return bad(format!(
                        "rule `{}` names unknown action `{action}`",
                        rule.name
                    ));
                }
            }
            if let Some(limit) = &rule.refire_limit
                && (limit.max_runs == 0 || limit.within.is_zero())
            {
                return bad(format!(
                    "rule `{}`: refire_limit must be positive",
                    rule.name
                ));
            }
        }
        for (name, action) in &self.actions {
            if action.kinds_set() != 1 {
                return bad(format!(
                    "action `{name}` needs exactly one of http, command, kubernetes, email, chat"
                ));
            }
            if action.timeout.is_zero() {
                return bad(format!("action `{name}`: timeout must be positive"));
            }
            if let Some(command) = &action.command {
                match command.argv.first() {
                    None => return bad(format!("action `{name}`: argv is empty")),
                    Some(program) if program.contains("{{") || program.contains("{%") => {
                        return bad(format!("action `{name}`: argv[0] must be a fixed program"));
                    }
                    Some(_) => {}
                }
                regex::Regex::new(&command.arg_pattern)
                    .map_err(|e| Error::Config(format!("action `{name}`: arg_pattern: {e}")))?;
            }
            if action.email.is_some() && self.smtp.is_none() {
                return bad(format!(
                    "action `{name}` sends email but there is no smtp section"
                ));
            }
            if let Some(email) = &action.email
                && email.to.is_empty()
            {
                return bad(format!("action `{name}`: email needs recipients"));
            }
            if let Some(k8s) = &action.kubernetes {
                if !["deployment", "statefulset", "daemonset"].contains(&k8s.kind.as_str()) {
                    return bad(format!(
                        "action `{name}`: kind `{}` is not supported",
                        k8s.kind
                    ));
                }
                let scale = k8s.operation == KubernetesOperation::Scale;
                if scale != k8s.replicas.is_some() || (scale && k8s.kind == "daemonset") {
                    return bad(format!(
                        "action `{name}`: `replicas` goes with scale (of a deployment or statefulset) only"
                    ));
                }
            }
        }
        if let Some(smtp) = &self.smtp {
            smtp.from
                .parse::<lettre::message::Mailbox>()
                .map_err(|e| Error::Config(format!("smtp.from `{}`: {e}", smtp.from)))?;
        }
        Ok(())
    }
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 9301))
}
fn default_admin_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 9302))
}
fn default_path() -> String {
    "/webhook".into()
}
fn default_max_body_bytes() -> usize {
    4 << 20
}
fn default_max_alerts() -> usize {
    5000
}
fn default_store_url() -> String {
    "sqlite://omen-webhook.db".into()
}
fn default_max_connections() -> u32 {
    8
}
fn default_workers() -> usize {
    8
}
fn default_lease() -> Duration {
    Duration::from_secs(60)
}
fn default_poll_interval() -> Duration {
    Duration::from_secs(1)
}
fn default_breaker_window() -> Duration {
    Duration::from_secs(15 * 60)
}
fn default_max_failures() -> u32 {
    5
}
fn default_max_actions() -> u32 {
    100
}
fn default_smtp_port() -> u16 {
    587
}
fn default_smtp_timeout() -> Duration {
    Duration::from_secs(10)
}
fn default_max_replicas() -> u32 {
    50
}
fn default_on() -> Vec<Status> {
    vec![Status::Firing]
}
fn default_action_timeout() -> Duration {
    Duration::from_secs(30)
}
fn default_retries() -> u32 {
    2
}
fn default_backoff() -> Duration {
    Duration::from_secs(2)
}
fn default_method() -> String {
    "POST".into()
}
fn default_arg_pattern() -> String {
    "[A-Za-z0-9._:/=@+-]*".into()
}
fn default_workload_kind() -> String {
    "deployment".into()
}
fn default_email_subject() -> String {
    "[{{ status | upper }}] {{ labels.alertname }}".into()
}
fn default_email_body() -> String {
    "{{ annotations.summary }}\n\n{{ annotations.description }}\n\nLabels: {{ labels }}\nSource: {{ generatorURL }}\n".into()
}
fn default_chat_text() -> String {
    "[{{ status | upper }}] {{ labels.alertname }}: {{ annotations.summary }}".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_gives_documented_defaults() {
        let config = Config::from_yaml("{}").expect("valid");
        assert_eq!(config.listen.port(), 9301);
        assert_eq!(config.admin_listen.port(), 9302);
        assert_eq!(config.path, "/webhook");
        assert_eq!(config.store.url, "sqlite://omen-webhook.db");
        assert_eq!(config.engine.lease, Duration::from_secs(60));
        assert_eq!(config.breaker.max_failures, 5);
    }

    #[test]
    fn unknown_fields_and_dangling_references_are_refused() {
        for (yaml, reason) in [
            ("listn: 1", "unknown field"),
            (
                "rules: [{name: r, actions: [nope]}]",
                "unknown action `nope`",
            ),
            (
                "actions: {a: {http: {url: x}, command: {argv: [ls]}}}",
                "exactly one of",
            ),
            (
                "actions: {a: {command: {argv: ['{{ labels.x }}']}}}",
                "fixed program",
            ),
            ("actions: {a: {email: {to: [x@y]}}}", "no smtp section"),
            (
                "actions: {a: {kubernetes: {operation: scale, namespace: n, name: d}}}",
                "replicas",
            ),
            (
                "rules: [{name: r, matchers: ['x'], actions: []}]",
                "needs actions",
            ),
            ("store: {url: 'mysql://x'}", "sqlite: or postgres://"),
            ("escalation: {email: [a@b]}", "smtp"),
        ] {
            let error = Config::from_yaml(yaml).expect_err(yaml).to_string();
            assert!(error.contains(reason), "{yaml}: {error}");
        }
    }

    #[test]
    fn every_example_config_in_the_repository_is_valid() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).expect("examples dir") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|e| e == "yml") {
                let text = std::fs::read_to_string(&path).expect("read");
                let config =
                    Config::from_yaml(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                crate::rules::RuleSet::new(&config)
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                seen += 1;
            }
        }
        assert!(seen >= 1, "no example configs in {}", dir.display());
    }
}
