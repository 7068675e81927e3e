//! Kubernetes actions through the API server: rollout restart and scale, as kubectl does them.

use std::path::PathBuf;

use serde_json::json;

use super::truncate;
use crate::Error;
use crate::config::{KubernetesConfig, KubernetesOperation};

const SERVICE_ACCOUNT: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// A client for the apps/v1 API of one cluster.
pub(super) struct Client {
    base: String,
    token_file: Option<PathBuf>,
    http: reqwest::Client,
}

impl Client {
    /// From explicit settings, or the in-cluster service account.
    pub(super) fn new(config: KubernetesConfig) -> Result<Self, Error> {
        let in_cluster = || -> Option<String> {
            let host = std::env::var("KUBERNETES_SERVICE_HOST").ok()?;
            let port = std::env::var("KUBERNETES_SERVICE_PORT").unwrap_or_else(|_| "443".into());
            Some(if host.contains(':') {
                format!("https://[{host}]:{port}")
            } else {
                format!("https://{host}:{port}")
            })
        };
        let base = config
            .api_server
            .clone()
            .or_else(in_cluster)
            .ok_or_else(|| {
                Error::Config(
                    "Kubernetes actions need kubernetes.api_server (or to run inside a cluster)"
                        .into(),
                )
            })?;
        let default_file = |name: &str| {
            let path = PathBuf::from(SERVICE_ACCOUNT).join(name);
            path.exists().then_some(path)
        };
        let token_file = config.token_file.clone().or_else(|| default_file("token"));
        let ca_file = config.ca_file.clone().or_else(|| default_file("ca.crt"));
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("omen-webhook/", env!("CARGO_PKG_VERSION")))
            .tls_danger_accept_invalid_certs(config.insecure_skip_tls_verify);
        if let Some(ca) = ca_file {
            let pem = std::fs::read(&ca)
                .map_err(|e| Error::Config(format!("kubernetes CA {}: {e}", ca.display())))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| Error::Config(format!("kubernetes CA {}: {e}", ca.display())))?;
            builder = builder.tls_certs_merge(certs);
        }
        let http = builder
            .build()
            .map_err(|e| Error::Config(format!("Kubernetes client: {e}")))?;
        Ok(Self {
            base: base.trim_end_matches('/').to_owned(),
            token_file,
            http,
        })
    }

    /// Restarts (patches the pod template's `kubectl.kubernetes.io/restartedAt` annotation) or
    /// scales (patches the scale subresource) a workload.
    pub(super) async fn apply(
        &self,
        operation: KubernetesOperation,
        kind: &str,
        namespace: &str,
        name: &str,
        replicas: Option<u32>,
    ) -> Result<String, String> {
        let resource = format!("{kind}s");
        let object = format!(
            "{}/apis/apps/v1/namespaces/{namespace}/{resource}/{name}",
            self.base
        );
        let (url, content_type, body) = match operation {
            KubernetesOperation::RolloutRestart => {
                let now = crate::payload::format_time(now_millis());
                (
                    object,
                    "application/strategic-merge-patch+json",
                    json!({"spec": {"template": {"metadata": {"annotations": {
                        "kubectl.kubernetes.io/restartedAt": now
                    }}}}}),
                )
            }
            KubernetesOperation::Scale => {
                let replicas = replicas.ok_or("scale needs replicas")?;
                (
                    format!("{object}/scale"),
                    "application/merge-patch+json",
                    json!({"spec": {"replicas": replicas}}),
                )
            }
        };
        let mut request = self
            .http
            .patch(&url)
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body.to_string());
        if let Some(file) = &self.token_file {
            let token = tokio::fs::read_to_string(file)
                .await
                .map_err(|e| format!("cannot read Kubernetes token {}: {e}", file.display()))?;
            request = request.bearer_auth(token.trim());
        }
        let mut headers = reqwest::header::HeaderMap::new();
        super::http::inject_trace_context(&mut headers);
        let response = request
            .headers(headers)
            .send()
            .await
            .map_err(|e| format!("Kubernetes API: {e}"))?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        if status.is_success() {
            Ok(format!(
                "{} {kind} {namespace}/{name}: HTTP {status}",
                operation.as_str()
            ))
        } else {
            // The API answers with a Status object whose `message` says what is wrong.
            let message = serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_owned))
                .unwrap_or(text);
            Err(format!(
                "{} {kind} {namespace}/{name}: HTTP {status}: {}",
                operation.as_str(),
                truncate(message.trim(), 512)
            ))
        }
    }
}

fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
