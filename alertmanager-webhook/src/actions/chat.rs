//! Chat webhook posts (Slack, Mattermost, Discord, Teams incoming webhooks).

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use super::truncate;

/// Posts the JSON payload; a 2xx answer is success.
pub(super) async fn post(
    client: &reqwest::Client,
    url: &str,
    payload: &serde_json::Value,
    key: &str,
) -> Result<String, String> {
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_str(key) {
        headers.insert(HeaderName::from_static("idempotency-key"), value);
    }
    super::http::inject_trace_context(&mut headers);
    let response = client
        .post(url)
        .headers(headers)
        .json(payload)
        .send()
        .await
        .map_err(|e| format!("chat post failed: {}", e.without_url()))?;
    let status = response.status();
    if status.is_success() {
        Ok(format!("chat HTTP {status}"))
    } else {
        let text = response.text().await.unwrap_or_default();
        Err(format!(
            "chat HTTP {status}: {}",
            truncate(text.trim(), 256)
        ))
    }
}
