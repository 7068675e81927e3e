//! HTTP request actions, with trace context and an idempotency key on every request.

use std::collections::BTreeMap;
use std::path::Path;

use opentelemetry::propagation::Injector;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use super::truncate;

/// Writes propagation headers (`traceparent`, `tracestate`) into a header map.
struct HeaderInjector<'a>(&'a mut HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(key.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}

/// Adds the current span's trace context to `headers` (no-op without a propagator).
pub(crate) fn inject_trace_context(headers: &mut HeaderMap) {
    let context = tracing::Span::current().context();
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&context, &mut HeaderInjector(headers));
    });
}

/// Sends the request; a 2xx answer is success.
pub(super) async fn send(
    client: &reqwest::Client,
    method: &str,
    url: &str,
    headers: &BTreeMap<String, String>,
    body: Option<&str>,
    bearer_token_file: Option<&Path>,
    key: &str,
) -> Result<String, String> {
    let method = reqwest::Method::from_bytes(method.as_bytes())
        .map_err(|_| format!("`{method}` is not an HTTP method"))?;
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("`{name}` is not a header name"))?;
        let value = HeaderValue::from_str(value)
            .map_err(|_| format!("header {name}: value is not valid in a header"))?;
        map.insert(name, value);
    }
    if let Some(file) = bearer_token_file {
        let token = tokio::fs::read_to_string(file)
            .await
            .map_err(|e| format!("cannot read bearer_token_file {}: {e}", file.display()))?;
        let mut value = HeaderValue::from_str(&format!("Bearer {}", token.trim()))
            .map_err(|_| "the bearer token is not valid in a header".to_owned())?;
        value.set_sensitive(true);
        map.insert(reqwest::header::AUTHORIZATION, value);
    }
    if let Ok(value) = HeaderValue::from_str(key) {
        map.insert(HeaderName::from_static("idempotency-key"), value);
    }
    inject_trace_context(&mut map);
    let mut request = client.request(method, url).headers(map);
    if let Some(body) = body {
        if !headers
            .keys()
            .any(|h| h.eq_ignore_ascii_case("content-type"))
        {
            let looks_json = body.trim_start().starts_with(['{', '[']);
            let kind = if looks_json {
                "application/json"
            } else {
                "text/plain; charset=utf-8"
            };
            request = request.header(reqwest::header::CONTENT_TYPE, kind);
        }
        request = request.body(body.to_owned());
    }
    let response = request
        .send()
        .await
        .map_err(|e| format!("request failed: {e}"))?;
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    if status.is_success() {
        Ok(format!("HTTP {status}"))
    } else {
        Err(format!("HTTP {status}: {}", truncate(text.trim(), 512)))
    }
}
