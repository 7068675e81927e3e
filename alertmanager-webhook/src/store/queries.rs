//! Read queries behind the audit API.

use serde::{Deserialize, Serialize};
use sqlx::Row as _;
use sqlx::any::AnyRow;

use super::Store;
use crate::Error;
use crate::payload::format_time;

/// A job as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct JobRow {
    /// Id.
    pub id: i64,
    /// Rule name.
    pub rule: String,
    /// Action name.
    pub action: String,
    /// Action kind.
    pub kind: String,
    /// Alert fingerprint.
    pub fingerprint: String,
    /// `firing` or `resolved`.
    pub alert_status: String,
    /// Alert start (RFC 3339).
    pub starts_at: String,
    /// Cooldown target.
    pub target: String,
    /// Rendered action.
    pub spec: serde_json::Value,
    /// State (`queued`, `running`, `succeeded`, ...).
    pub state: String,
    /// Recorded in dry-run mode.
    pub dry_run: bool,
    /// Attempts made.
    pub attempts: i64,
    /// Attempts allowed.
    pub max_attempts: i64,
    /// When the notification arrived (RFC 3339).
    pub received_at: String,
    /// First attempt's start.
    pub started_at: Option<String>,
    /// End.
    pub finished_at: Option<String>,
    /// Outcome (`succeeded`, `failed`, `cooldown`, `circuit_open`, ...).
    pub outcome: Option<String>,
    /// Last result or error.
    pub detail: String,
    /// Who approved or rejected it.
    pub approved_by: Option<String>,
    /// The replica holding it while it runs.
    pub lease_owner: Option<String>,
    /// The audit trail (only in single-job answers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<JobEvent>>,
}

/// One entry of a job's audit trail.
#[derive(Debug, Clone, Serialize)]
pub struct JobEvent {
    /// When (RFC 3339).
    pub at: String,
    /// What happened.
    pub event: String,
    /// Details.
    pub detail: String,
    /// Which replica recorded it.
    pub replica: String,
}

/// A received alert.
#[derive(Debug, Clone, Serialize)]
pub struct AlertRow {
    /// Id.
    pub id: i64,
    /// The notification it came in.
    pub notification_id: i64,
    /// When it arrived.
    pub received_at: String,
    /// Fingerprint.
    pub fingerprint: String,
    /// `firing` or `resolved`.
    pub status: String,
    /// Labels.
    pub labels: serde_json::Value,
    /// Annotations.
    pub annotations: serde_json::Value,
    /// Start.
    pub starts_at: String,
    /// End, once resolved.
    pub ends_at: Option<String>,
}

/// A received notification.
#[derive(Debug, Clone, Serialize)]
pub struct NotificationRow {
    /// Id.
    pub id: i64,
    /// When it arrived.
    pub received_at: String,
    /// Alertmanager receiver name.
    pub receiver: String,
    /// `firing` or `resolved`.
    pub status: String,
    /// Alert group.
    pub group_key: String,
    /// Alertmanager URL.
    pub external_url: String,
    /// Alerts in it.
    pub alert_count: i64,
    /// Alerts Alertmanager left out.
    pub truncated_alerts: i64,
    /// Replica that stored it.
    pub replica: String,
}

/// Filters of `GET /api/v1/jobs`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobFilter {
    /// Only this state.
    pub state: Option<String>,
    /// Only this rule.
    pub rule: Option<String>,
    /// Only this alert fingerprint.
    pub fingerprint: Option<String>,
    /// Most rows (newest first). Default 100, at most 1000.
    pub limit: Option<i64>,
}

const JOB_COLUMNS: &str = "id, rule, action, kind, fingerprint, alert_status, starts_at, target, \
     spec, state, dry_run, attempts, max_attempts, received_at, started_at, finished_at, outcome, \
     detail, approved_by, lease_owner";

fn job_row(row: &AnyRow) -> Result<JobRow, sqlx::Error> {
    let time = |name: &str| -> Result<Option<String>, sqlx::Error> {
        Ok(row.try_get::<Option<i64>, _>(name)?.map(format_time))
    };
    Ok(JobRow {
        id: row.try_get("id")?,
        rule: row.try_get("rule")?,
        action: row.try_get("action")?,
        kind: row.try_get("kind")?,
        fingerprint: row.try_get("fingerprint")?,
        alert_status: row.try_get("alert_status")?,
        starts_at: format_time(row.try_get("starts_at")?),
        target: row.try_get("target")?,
        spec: serde_json::from_str(&row.try_get::<String, _>("spec")?)
            .unwrap_or(serde_json::Value::Null),
        state: row.try_get("state")?,
        dry_run: row.try_get::<i64, _>("dry_run")? != 0,
        attempts: row.try_get("attempts")?,
        max_attempts: row.try_get("max_attempts")?,
        received_at: format_time(row.try_get("received_at")?),
        started_at: time("started_at")?,
        finished_at: time("finished_at")?,
        outcome: row.try_get("outcome")?,
        detail: row.try_get("detail")?,
        approved_by: row.try_get("approved_by")?,
        lease_owner: row.try_get("lease_owner")?,
        events: None,
    })
}

fn limit(requested: Option<i64>) -> i64 {
    requested.unwrap_or(100).clamp(1, 1000)
}

impl Store {
    /// Jobs, newest first.
    pub async fn jobs(&self, filter: &JobFilter) -> Result<Vec<JobRow>, Error> {
        // Optional filters as `(column = $n OR $n IS NULL)` keep one statement for all cases.
        let sql = format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE \
             ($1 IS NULL OR state = $1) AND ($2 IS NULL OR rule = $2) AND \
             ($3 IS NULL OR fingerprint = $3) ORDER BY id DESC LIMIT $4"
        );
        let rows = sqlx::query(&sql)
            .bind(filter.state.as_deref())
            .bind(filter.rule.as_deref())
            .bind(filter.fingerprint.as_deref())
            .bind(limit(filter.limit))
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(job_row)
            .collect::<Result<_, _>>()
            .map_err(Error::from)
    }

    /// One job with its audit trail.
    pub async fn job(&self, id: i64) -> Result<Option<JobRow>, Error> {
        let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1");
        let Some(row) = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(self.pool())
            .await?
        else {
            return Ok(None);
        };
        let mut job = job_row(&row)?;
        let events = sqlx::query(
            "SELECT at, event, detail, replica FROM job_events WHERE job_id = $1 ORDER BY id",
        )
        .bind(id)
        .fetch_all(self.pool())
        .await?;
        job.events = Some(
            events
                .iter()
                .map(|r| {
                    Ok(JobEvent {
                        at: format_time(r.try_get("at")?),
                        event: r.try_get("event")?,
                        detail: r.try_get("detail")?,
                        replica: r.try_get("replica")?,
                    })
                })
                .collect::<Result<_, sqlx::Error>>()?,
        );
        Ok(Some(job))
    }

    /// Received alerts, newest first, optionally of one fingerprint.
    pub async fn alerts(
        &self,
        fingerprint: Option<&str>,
        max: Option<i64>,
    ) -> Result<Vec<AlertRow>, Error> {
        let rows = sqlx::query(
            "SELECT id, notification_id, received_at, fingerprint, status, labels, annotations, \
             starts_at, ends_at FROM alerts WHERE ($1 IS NULL OR fingerprint = $1) \
             ORDER BY id DESC LIMIT $2",
        )
        .bind(fingerprint)
        .bind(limit(max))
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let json = |name: &str| -> Result<serde_json::Value, sqlx::Error> {
                    Ok(serde_json::from_str(&r.try_get::<String, _>(name)?)
                        .unwrap_or(serde_json::Value::Null))
                };
                Ok(AlertRow {
                    id: r.try_get("id")?,
                    notification_id: r.try_get("notification_id")?,
                    received_at: format_time(r.try_get("received_at")?),
                    fingerprint: r.try_get("fingerprint")?,
                    status: r.try_get("status")?,
                    labels: json("labels")?,
                    annotations: json("annotations")?,
                    starts_at: format_time(r.try_get("starts_at")?),
                    ends_at: r.try_get::<Option<i64>, _>("ends_at")?.map(format_time),
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Error::from)
    }

    /// Received notifications, newest first.
    pub async fn notifications(&self, max: Option<i64>) -> Result<Vec<NotificationRow>, Error> {
        let rows = sqlx::query(
            "SELECT id, received_at, receiver, status, group_key, external_url, alert_count, \
             truncated_alerts, replica FROM notifications ORDER BY id DESC LIMIT $1",
        )
        .bind(limit(max))
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(NotificationRow {
                    id: r.try_get("id")?,
                    received_at: format_time(r.try_get("received_at")?),
                    receiver: r.try_get("receiver")?,
                    status: r.try_get("status")?,
                    group_key: r.try_get("group_key")?,
                    external_url: r.try_get("external_url")?,
                    alert_count: r.try_get("alert_count")?,
                    truncated_alerts: r.try_get("truncated_alerts")?,
                    replica: r.try_get("replica")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Error::from)
    }
}
