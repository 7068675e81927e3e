//! Remediation actions: the rendered [`Spec`] of a job and the [`Executor`] that runs it.

mod chat;
mod command;
mod email;
mod http;
mod kubernetes;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::Error;
use crate::config::{ActionConfig, Config, KubernetesOperation};

pub use email::Mailer;

/// An action with its parameters rendered for one alert; stored with the job, so the audit
/// trail shows exactly what ran. Secrets (tokens, passwords) stay in the configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Spec {
    /// An HTTP request.
    Http {
        /// Method.
        method: String,
        /// URL.
        url: String,
        /// Extra headers.
        headers: BTreeMap<String, String>,
        /// Body.
        body: Option<String>,
    },
    /// A program run without a shell.
    Command {
        /// Program and arguments.
        argv: Vec<String>,
        /// Environment (the only variables the program sees besides `PATH`).
        env: BTreeMap<String, String>,
    },
    /// A Kubernetes workload operation.
    Kubernetes {
        /// Restart or scale.
        operation: KubernetesOperation,
        /// `deployment`, `statefulset` or `daemonset`.
        kind: String,
        /// Namespace.
        namespace: String,
        /// Workload name.
        name: String,
        /// Replica count for scale.
        replicas: Option<u32>,
    },
    /// An email.
    Email {
        /// Recipients.
        to: Vec<String>,
        /// Subject.
        subject: String,
        /// Plain-text body.
        body: String,
    },
    /// A chat webhook post.
    Chat {
        /// Incoming-webhook URL.
        url: String,
        /// JSON payload.
        payload: serde_json::Value,
    },
}

impl Spec {
    /// One line saying what the action does, for the audit trail and dry runs.
    pub fn describe(&self) -> String {
        match self {
            Self::Http { method, url, .. } => format!("{method} {url}"),
            Self::Command { argv, .. } => format!("run {argv:?}"),
            Self::Kubernetes {
                operation,
                kind,
                namespace,
                name,
                replicas,
            } => match replicas {
                Some(n) => format!("{} {kind} {namespace}/{name} to {n}", operation.as_str()),
                None => format!("{} {kind} {namespace}/{name}", operation.as_str()),
            },
            Self::Email { to, subject, .. } => format!("email {to:?}: {subject}"),
            Self::Chat { url, .. } => format!("chat post to {}", redact_url(url)),
        }
    }
}

/// Chat webhook URLs carry their secret in the path: keep scheme and host only.
fn redact_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(parsed) => format!(
            "{}://{}/...",
            parsed.scheme(),
            parsed.host_str().unwrap_or("")
        ),
        Err(_) => "(invalid url)".into(),
    }
}

/// Runs actions. One per process, shared by the workers.
pub struct Executor {
    http: reqwest::Client,
    kubernetes: Option<kubernetes::Client>,
    mailer: Option<Mailer>,
}

impl Executor {
    /// Builds the HTTP, Kubernetes and SMTP clients the configuration needs.
    pub fn new(config: &Config) -> Result<Self, Error> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("omen-webhook/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Config(format!("HTTP client: {e}")))?;
        let needs_kubernetes = config.actions.values().any(|a| a.kubernetes.is_some());
        let kubernetes = if needs_kubernetes {
            Some(kubernetes::Client::new(
                config.kubernetes.clone().unwrap_or_default(),
            )?)
        } else {
            None
        };
        let mailer = config.smtp.as_ref().map(Mailer::new).transpose()?;
        Ok(Self {
            http,
            kubernetes,
            mailer,
        })
    }

    /// The SMTP client, when configured (escalation uses it too).
    pub fn mailer(&self) -> Option<&Mailer> {
        self.mailer.as_ref()
    }

    /// Runs one attempt of `spec`; `Ok` carries a short description of the result, `Err` why it
    /// failed. `key` identifies the job (sent as `Idempotency-Key` on HTTP actions). The caller
    /// applies the timeout.
    pub async fn run(
        &self,
        spec: &Spec,
        action: &ActionConfig,
        key: &str,
    ) -> Result<String, String> {
        match spec {
            Spec::Http {
                method,
                url,
                headers,
                body,
            } => {
                let token_file = action
                    .http
                    .as_ref()
                    .and_then(|h| h.bearer_token_file.as_deref());
                http::send(
                    &self.http,
                    method,
                    url,
                    headers,
                    body.as_deref(),
                    token_file,
                    key,
                )
                .await
            }
            Spec::Command { argv, env } => {
                let dir = action
                    .command
                    .as_ref()
                    .and_then(|c| c.working_dir.as_deref());
                command::run(argv, env, dir).await
            }
            Spec::Kubernetes {
                operation,
                kind,
                namespace,
                name,
                replicas,
            } => {
                let client = self
                    .kubernetes
                    .as_ref()
                    .ok_or("no Kubernetes API configured")?;
                client
                    .apply(*operation, kind, namespace, name, *replicas)
                    .await
            }
            Spec::Email { to, subject, body } => {
                let mailer = self.mailer.as_ref().ok_or("no smtp section configured")?;
                mailer.send(to, subject, body).await
            }
            Spec::Chat { url, payload } => chat::post(&self.http, url, payload, key).await,
        }
    }
}

/// Keeps at most `max` bytes of `text` (on a character boundary), marking the cut.
pub(crate) fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &text[..end])
}
