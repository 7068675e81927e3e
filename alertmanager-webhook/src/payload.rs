//! The Alertmanager webhook payload (version 4), parsed and checked.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Labels or annotations: sorted by name.
pub type KeyValues = BTreeMap<String, String>;

/// Whether a notification or an alert is firing or resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The alert is active.
    Firing,
    /// The alert has ended.
    Resolved,
}

impl Status {
    /// `firing` or `resolved`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Firing => "firing",
            Self::Resolved => "resolved",
        }
    }
}

/// One notification as Alertmanager posts it to a `webhook_config`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    /// Payload version; Alertmanager sends `"4"`.
    pub version: String,
    /// Identifies the alert group.
    pub group_key: String,
    /// Alerts left out because of `max_alerts`.
    #[serde(default)]
    pub truncated_alerts: u64,
    /// `firing` when at least one alert fires.
    pub status: Status,
    /// The receiver's name in the Alertmanager configuration.
    pub receiver: String,
    /// Labels the group is formed by.
    #[serde(default)]
    pub group_labels: KeyValues,
    /// Labels every alert of the notification has.
    #[serde(default)]
    pub common_labels: KeyValues,
    /// Annotations every alert of the notification has.
    #[serde(default)]
    pub common_annotations: KeyValues,
    /// Link back to the sending Alertmanager.
    #[serde(default, rename = "externalURL")]
    pub external_url: String,
    /// The alerts.
    pub alerts: Vec<Alert>,
}

/// One alert of a notification.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Alert {
    /// `firing` or `resolved`.
    pub status: Status,
    /// Identifying labels, `alertname` among them.
    pub labels: KeyValues,
    /// Annotations (summary, description, runbook_url, ...).
    #[serde(default)]
    pub annotations: KeyValues,
    /// RFC 3339 time the alert started firing.
    pub starts_at: String,
    /// RFC 3339 time the alert ended (`0001-01-01T00:00:00Z` while firing).
    #[serde(default)]
    pub ends_at: String,
    /// Link to the rule that produced the alert.
    #[serde(default, rename = "generatorURL")]
    pub generator_url: String,
    /// Alertmanager's identity of the alert (hash of its labels).
    #[serde(default)]
    pub fingerprint: String,
}

/// A notification whose times have been parsed, ready to store.
#[derive(Debug, Clone)]
pub struct Checked {
    /// The notification as received.
    pub notification: Notification,
    /// Per alert: start and end in Unix milliseconds (end is `None` while firing).
    pub times: Vec<(i64, Option<i64>)>,
}

/// Why a payload is refused (HTTP 400).
#[derive(Debug, thiserror::Error)]
pub enum PayloadError {
    /// The body is not JSON of the expected shape.
    #[error("malformed webhook payload: {0}")]
    Json(#[from] serde_json::Error),
    /// Only version 4 is understood.
    #[error("unsupported payload version `{0}` (expected \"4\")")]
    Version(String),
    /// A field has a value that cannot be used.
    #[error("alert {index}: {reason}")]
    Alert {
        /// Position of the alert in `alerts`.
        index: usize,
        /// What is wrong.
        reason: String,
    },
    /// Too many alerts in one notification.
    #[error("{count} alerts in one notification; at most {limit} are accepted")]
    TooManyAlerts {
        /// Alerts received.
        count: usize,
        /// The configured limit.
        limit: usize,
    },
}

/// Parses and checks a notification body.
pub fn parse(body: &[u8], max_alerts: usize) -> Result<Checked, PayloadError> {
    let mut notification: Notification = serde_json::from_slice(body)?;
    if notification.version != "4" {
        return Err(PayloadError::Version(notification.version));
    }
    if notification.alerts.len() > max_alerts {
        return Err(PayloadError::TooManyAlerts {
            count: notification.alerts.len(),
            limit: max_alerts,
        });
    }
    let mut times = Vec::with_capacity(notification.alerts.len());
    for (index, alert) in notification.alerts.iter_mut().enumerate() {
        let bad = |reason: String| PayloadError::Alert { index, reason };
        if alert.labels.is_empty() {
            return Err(bad("an alert needs at least one label".into()));
        }
        let starts = parse_time(&alert.starts_at).ok_or_else(|| {
            bad(format!(
                "startsAt `{}` is not an RFC 3339 time",
                alert.starts_at
            ))
        })?;
        let ends = if alert.ends_at.is_empty() {
            None
        } else {
            let ends = parse_time(&alert.ends_at).ok_or_else(|| {
                bad(format!(
                    "endsAt `{}` is not an RFC 3339 time",
                    alert.ends_at
                ))
            })?;
            // Alertmanager sends the zero time (year 1) for alerts without an end.
            (ends > 0).then_some(ends)
        };
        if alert.fingerprint.is_empty() {
            alert.fingerprint = fingerprint(&alert.labels);
        }
        times.push((starts, ends));
    }
    Ok(Checked {
        notification,
        times,
    })
}

/// Parses an RFC 3339 time into Unix milliseconds.
pub fn parse_time(text: &str) -> Option<i64> {
    let time =
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
    i64::try_from(time.unix_timestamp_nanos() / 1_000_000).ok()
}

/// Formats Unix milliseconds as an RFC 3339 UTC time.
pub fn format_time(millis: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// A stable identity for alerts sent without a fingerprint: 16 hex digits of a hash of the labels.
pub fn fingerprint(labels: &KeyValues) -> String {
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    for (name, value) in labels {
        hasher.update(name.as_bytes());
        hasher.update(&[0xff]);
        hasher.update(value.as_bytes());
        hasher.update(&[0xff]);
    }
    format!("{:016x}", hasher.digest())
}

#[cfg(test)]
pub(crate) mod tests_support {
    /// A notification as Alertmanager 0.25 sends it.
    const SAMPLE: &str = r#"{
      "receiver": "omen", "status": "firing", "version": "4",
      "groupKey": "{}:{alertname=\"HighLatency\"}", "truncatedAlerts": 0,
      "groupLabels": {"alertname": "HighLatency"},
      "commonLabels": {"alertname": "HighLatency", "service": "checkout"},
      "commonAnnotations": {"summary": "slow"},
      "externalURL": "http://am:9093",
      "alerts": [{
        "status": "firing",
        "labels": {"alertname": "HighLatency", "service": "checkout"},
        "annotations": {"summary": "slow"},
        "startsAt": "2026-11-23T03:00:00.123456789+01:00",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prom/graph",
        "fingerprint": "c0ffee"
      }]
    }"#;

    /// The sample notification.
    pub(crate) fn sample() -> String {
        SAMPLE.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tests_support::sample;

    #[test]
    fn parses_alertmanager_payload_with_offset_times_and_zero_end() {
        let checked = parse(sample().as_bytes(), 10).expect("valid");
        assert_eq!(checked.notification.alerts[0].fingerprint, "c0ffee");
        // 03:00:00.123 at +01:00 is 02:00:00.123 UTC.
        let expected = parse_time("2026-11-23T02:00:00.123Z").expect("time");
        assert_eq!(checked.times[0], (expected, None));
        assert_eq!(format_time(expected), "2026-11-23T02:00:00.123Z");
    }

    #[test]
    fn refuses_other_versions_bad_times_and_label_free_alerts() {
        let v3 = sample().replace(r#""version": "4""#, r#""version": "3""#);
        assert!(matches!(parse(v3.as_bytes(), 10), Err(PayloadError::Version(v)) if v == "3"));
        let bad_time = sample().replace("2026-11-23T03:00:00.123456789+01:00", "yesterday");
        let error = parse(bad_time.as_bytes(), 10)
            .expect_err("bad time")
            .to_string();
        assert!(error.contains("startsAt `yesterday`"), "{error}");
        let no_labels = sample().replace(
            r#""labels": {"alertname": "HighLatency", "service": "checkout"}"#,
            r#""labels": {}"#,
        );
        assert!(parse(no_labels.as_bytes(), 10).is_err());
        assert!(matches!(
            parse(sample().as_bytes(), 0),
            Err(PayloadError::TooManyAlerts { count: 1, limit: 0 })
        ));
        assert!(matches!(parse(b"{", 10), Err(PayloadError::Json(_))));
    }

    #[test]
    fn missing_fingerprint_is_derived_from_labels() {
        let text = sample().replace(r#""fingerprint": "c0ffee""#, r#""fingerprint": """#);
        let a = parse(text.as_bytes(), 10).expect("valid");
        let b = parse(text.as_bytes(), 10).expect("valid");
        let fp = &a.notification.alerts[0].fingerprint;
        assert_eq!(fp.len(), 16);
        assert_eq!(fp, &b.notification.alerts[0].fingerprint);
    }
}
