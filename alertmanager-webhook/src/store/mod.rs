//! The durable store: SQLite (embedded default) or PostgreSQL (several replicas), one code path
//! through sqlx's `Any` driver. Holds every notification and alert received, every job with its
//! events (the audit trail), cooldowns and the circuit breaker's state.

mod queries;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Executor as _, Row as _};

use crate::Error;
use crate::config::StoreConfig;
use crate::payload::Checked;
use crate::rules::NewJob;

pub use queries::{AlertRow, JobEvent, JobFilter, JobRow, NotificationRow};

/// Which database the store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite file.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// Job states.
pub mod state {
    /// Waiting to run.
    pub const QUEUED: &str = "queued";
    /// Held until approved through the API.
    pub const AWAITING_APPROVAL: &str = "awaiting_approval";
    /// A replica holds the lease and runs it.
    pub const RUNNING: &str = "running";
    /// Ran successfully (or was recorded in dry-run mode).
    pub const SUCCEEDED: &str = "succeeded";
    /// Failed after its last attempt, or could not be rendered.
    pub const FAILED: &str = "failed";
    /// Not run: cooldown, open breaker or re-fire limit.
    pub const SKIPPED: &str = "skipped";
    /// Refused through the API.
    pub const REJECTED: &str = "rejected";
    /// The replica running it died and the action is not idempotent.
    pub const INTERRUPTED: &str = "interrupted";
}

/// A notification with the jobs its alerts call for, ready to store.
pub struct Ingest {
    /// The parsed notification.
    pub checked: Checked,
    /// Jobs per alert (same order as the alerts).
    pub jobs: Vec<Vec<NewJob>>,
    /// When it was received, Unix milliseconds.
    pub received_at: i64,
}

/// What storing a notification did.
#[derive(Debug, Default, Clone)]
pub struct Ingested {
    /// Id of the stored notification.
    pub notification_id: i64,
    /// Jobs created, as (rule, action, state).
    pub created: Vec<(String, String, &'static str)>,
    /// Jobs not created because the same job exists (a duplicate delivery).
    pub duplicates: usize,
}

/// A job a replica has claimed.
#[derive(Debug, Clone)]
pub struct Claimed {
    /// Job id.
    pub id: i64,
    /// The dedup key (used as the idempotency key of outgoing requests).
    pub dedup_key: String,
    /// Rule name.
    pub rule: String,
    /// Action name.
    pub action: String,
    /// Action kind.
    pub kind: String,
    /// Cooldown and re-fire target.
    pub target: String,
    /// Rendered action (JSON of [`crate::actions::Spec`]).
    pub spec: String,
    /// Dry run.
    pub dry_run: bool,
    /// This attempt's number, from 1.
    pub attempt: i64,
    /// Attempts allowed.
    pub max_attempts: i64,
    /// When the notification was received, Unix milliseconds.
    pub received_at: i64,
}

/// Alerts inserted by one statement (10 parameters each; within SQLite's and PostgreSQL's limits
/// on parameters per statement).
const ALERT_ROWS_PER_STATEMENT: usize = 500;
/// Notification rows per insert statement (8 values each; SQLite allows 32,766 per statement).
const NOTIFICATION_ROWS_PER_STATEMENT: usize = 500;

/// Once the SQLite write-ahead log holds this many frames (pages of about 4 KiB), the writer
/// restarts it from its beginning (see [`Store::restart_log`]).
pub const LOG_RESTART_FRAMES: i64 = 32_768;

/// How long SQLite connections wait for a lock held by another connection.
const BUSY_TIMEOUT_MS: u32 = 10_000;

/// How long the log restart waits for readers still reading the log before it gives up until
/// the next time.
const LOG_RESTART_BUSY_MS: u32 = 5;

/// The store.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    replica: String,
    /// Set by the checkpoint loop when the log has grown past [`LOG_RESTART_FRAMES`].
    log_restart_due: Arc<AtomicBool>,
}

/// Milliseconds since the Unix epoch.
pub fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Milliseconds in a duration, saturating.
pub fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// Creates the directory of a SQLite file named by a `sqlite:` URL, so a fresh state directory
/// works.
fn create_parent_dir(url: &str) -> Result<(), Error> {
    let path = url
        .trim_start_matches("sqlite:")
        .trim_start_matches("//")
        .split('?')
        .next()
        .unwrap_or_default();
    match std::path::Path::new(path).parent() {
        Some(dir) if !path.is_empty() && path != ":memory:" && !dir.as_os_str().is_empty() => {
            std::fs::create_dir_all(dir).map_err(|e| {
                Error::Config(format!(
                    "cannot create the store directory {}: {e}",
                    dir.display()
                ))
            })
        }
        _ => Ok(()),
    }
}

impl Store {
    /// Connects, creates the SQLite file if needed, and applies pending migrations.
    pub async fn connect(config: &StoreConfig, replica: &str) -> Result<Self, Error> {
        install_default_drivers();
        let (backend, url) = if config.url.starts_with("sqlite:") {
            create_parent_dir(&config.url)?;
            let url = if config.url.contains('?') {
                config.url.clone()
            } else {
                format!("{}?mode=rwc", config.url)
            };
            (Backend::Sqlite, url)
        } else {
            (Backend::Postgres, config.url.clone())
        };
        let pool = AnyPoolOptions::new()
            .max_connections(config.max_connections)
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL with FULL sync: a commit is on disk before the notification is
                        // acknowledged; readers do not block the writer. Checkpoints run in the
                        // background (`checkpoint_loop`), never inside an acknowledged commit.
                        // A page cache of up to 16 MiB per connection keeps the indexes of a
                        // growing audit trail in memory, and statement journals stay in memory.
                        conn.execute(
                            format!(
                                "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
                                 PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}; \
                                 PRAGMA wal_autocheckpoint = 0; \
                                 PRAGMA cache_size = -16384; PRAGMA temp_store = MEMORY;"
                            )
                            .as_str(),
                        )
                        .await?;
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await?;
        match backend {
            Backend::Sqlite => sqlx::migrate!("migrations/sqlite").run(&pool).await?,
            Backend::Postgres => sqlx::migrate!("migrations/postgres").run(&pool).await?,
        }
        Ok(Self {
            pool,
            backend,
            replica: replica.to_owned(),
            log_restart_due: Arc::default(),
        })
    }

    /// Copies the SQLite write-ahead log into the database every `period` until `stop` turns
    /// true, so commits on the receive path only append to the log. Nothing to do on PostgreSQL.
    ///
    /// These passes run beside the writers, so under a steady stream of commits the log is
    /// never copied to its end and SQLite cannot start it again from the beginning: it would
    /// grow for as long as the stream lasts. When a pass leaves more than `restart_frames` in
    /// the log, it asks the writer to restart the log ([`Store::restart_log`]).
    pub async fn checkpoint_loop(
        self,
        period: Duration,
        restart_frames: i64,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) {
        if self.backend != Backend::Sqlite {
            return;
        }
        loop {
            tokio::select! {
                _ = stop.wait_for(|stop| *stop) => break,
                () = tokio::time::sleep(period) => {}
            }
            match sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                .fetch_one(&self.pool)
                .await
                .and_then(|row| row.try_get::<i64, _>(1))
            {
                Ok(frames) if frames > restart_frames => {
                    self.log_restart_due.store(true, Ordering::Relaxed)
                }
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(message = "SQLite checkpoint failed; will retry.", %error)
                }
            }
        }
        // A last full checkpoint keeps the log short for the next start.
        let _ = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&self.pool)
            .await;
    }

    /// Whether the checkpoint loop asked for a log restart since the last call.
    pub fn log_restart_due(&self) -> bool {
        self.log_restart_due.swap(false, Ordering::Relaxed)
    }

    /// Copies what is left of the write-ahead log into the database and lets the next commit
    /// write the log from its beginning again, over pages the OS already holds, instead of
    /// appending to an ever longer file. Called by the notification writer between two of its
    /// commits, so it has no writer of its own to wait for. The background passes have already
    /// copied most of the log, so this is short. It waits at most a few milliseconds for
    /// readers still reading the log; if some remain, it answers `false` and the restart waits
    /// for a later request.
    pub async fn restart_log(&self) -> Result<bool, Error> {
        let mut conn = self.pool.acquire().await?;
        conn.execute(format!("PRAGMA busy_timeout = {LOG_RESTART_BUSY_MS}").as_str())
            .await?;
        let checkpoint = sqlx::query("PRAGMA wal_checkpoint(RESTART)")
            .fetch_one(&mut *conn)
            .await
            .and_then(|row| row.try_get::<i64, _>(0));
        if let Err(error) = conn
            .execute(format!("PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}").as_str())
            .await
        {
            // Not back in the pool with the short timeout: closed instead.
            drop(conn.detach());
            return Err(error.into());
        }
        Ok(checkpoint? == 0)
    }

    /// The backend in use.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// This replica's name.
    pub fn replica(&self) -> &str {
        &self.replica
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }

    /// Stores notifications, their alerts and new jobs in one transaction (one disk sync for
    /// the batch). A job whose dedup key exists is not created again. Jobs are inserted in
    /// dedup-key order, so replicas writing overlapping batches at once never deadlock.
    pub async fn ingest(&self, batch: &[Ingest]) -> Result<Vec<Ingested>, Error> {
        let mut tx = self.pool.begin().await?;
        let mut results = Vec::with_capacity(batch.len());
        let mut jobs = Vec::new();
        let mut ids = Vec::with_capacity(batch.len());
        for chunk in batch.chunks(NOTIFICATION_ROWS_PER_STATEMENT) {
            ids.extend(self.insert_notifications(&mut tx, chunk).await?);
        }
        for (position, (item, &notification_id)) in batch.iter().zip(&ids).enumerate() {
            results.push(Ingested {
                notification_id,
                ..Ingested::default()
            });
            let item_jobs = item.jobs.iter().flatten();
            jobs.extend(item_jobs.map(|job| (position, notification_id, job)));
        }
        self.insert_alerts(&mut tx, batch, &ids).await?;
        jobs.sort_by(|a, b| a.2.dedup_key.cmp(&b.2.dedup_key));
        for (position, notification_id, job) in jobs {
            let received_at = batch[position].received_at;
            let result = &mut results[position];
            match self
                .insert_job(&mut tx, job, notification_id, received_at)
                .await?
            {
                Some(job_state) => {
                    result
                        .created
                        .push((job.rule.clone(), job.action.clone(), job_state));
                }
                None => result.duplicates += 1,
            }
        }
        tx.commit().await?;
        Ok(results)
    }

    /// Inserts notifications in one statement; returns their ids in the order given.
    ///
    /// Both backends assign the ids of one multi-row insert in the order of its rows (SQLite
    /// rowids, a PostgreSQL sequence read row by row), so sorting the returned ids restores it.
    async fn insert_notifications(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        items: &[Ingest],
    ) -> Result<Vec<i64>, Error> {
        const COLUMNS: usize = 8;
        let sql = format!(
            "INSERT INTO notifications (received_at, receiver, status, group_key, external_url, \
             alert_count, truncated_alerts, replica) VALUES {} RETURNING id",
            self.placeholders(items.len(), COLUMNS)
        );
        let mut query = sqlx::query(&sql);
        for item in items {
            let n = &item.checked.notification;
            query = query
                .bind(item.received_at)
                .bind(&n.receiver)
                .bind(n.status.as_str())
                .bind(&n.group_key)
                .bind(&n.external_url)
                .bind(n.alerts.len() as i64)
                .bind(i64::try_from(n.truncated_alerts).unwrap_or(i64::MAX))
                .bind(&self.replica);
        }
        let mut ids = query
            .fetch_all(&mut **tx)
            .await?
            .iter()
            .map(|row| row.try_get::<i64, _>(0))
            .collect::<Result<Vec<_>, _>>()?;
        if ids.len() != items.len() {
            return Err(Error::Internal(format!(
                "inserted {} notifications but got {} ids",
                items.len(),
                ids.len()
            )));
        }
        ids.sort_unstable();
        Ok(ids)
    }

    /// `(?, ?), (?, ?)`-style placeholders for `rows` rows of `columns` values. SQLite looks
    /// named parameters up one by one (quadratic in their number), so it gets anonymous ones.
    fn placeholders(&self, rows: usize, columns: usize) -> String {
        let mut sql = String::with_capacity(rows * columns * 5);
        for row in 0..rows {
            if row > 0 {
                sql.push_str(", ");
            }
            sql.push('(');
            for column in 0..columns {
                if column > 0 {
                    sql.push_str(", ");
                }
                match self.backend {
                    Backend::Sqlite => sql.push('?'),
                    Backend::Postgres => {
                        sql.push('$');
                        sql.push_str(&(row * columns + column + 1).to_string());
                    }
                }
            }
            sql.push(')');
        }
        sql
    }

    /// Inserts the alerts of a batch, many rows per statement (one statement per alert would
    /// make the per-statement cost of the driver the limit of the receive path).
    async fn insert_alerts(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        batch: &[Ingest],
        notification_ids: &[i64],
    ) -> Result<(), Error> {
        const COLUMNS: usize = 10;
        let rows: Vec<(i64, &Ingest, usize)> = batch
            .iter()
            .zip(notification_ids)
            .flat_map(|(item, &id)| {
                (0..item.checked.notification.alerts.len()).map(move |index| (id, item, index))
            })
            .collect();
        for chunk in rows.chunks(ALERT_ROWS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO alerts (notification_id, received_at, fingerprint, status, alertname, \
                 starts_at, ends_at, labels, annotations, generator_url) VALUES {}",
                self.placeholders(chunk.len(), COLUMNS)
            );
            let mut query = sqlx::query(&sql);
            for &(notification_id, item, index) in chunk {
                let alert = &item.checked.notification.alerts[index];
                let (starts_at, ends_at) = item.checked.times[index];
                query = query
                    .bind(notification_id)
                    .bind(item.received_at)
                    .bind(&alert.fingerprint)
                    .bind(alert.status.as_str())
                    .bind(alert.labels.get("alertname").map_or("", String::as_str))
                    .bind(starts_at)
                    .bind(ends_at)
                    .bind(serde_json::to_string(&alert.labels).unwrap_or_default())
                    .bind(serde_json::to_string(&alert.annotations).unwrap_or_default())
                    .bind(&alert.generator_url);
            }
            query.execute(&mut **tx).await?;
        }
        Ok(())
    }

    /// Inserts a job unless its dedup key exists; returns its initial state when created.
    async fn insert_job(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        job: &NewJob,
        notification_id: i64,
        received_at: i64,
    ) -> Result<Option<&'static str>, Error> {
        let (spec, job_state, outcome, detail, finished) = match &job.spec {
            Ok(spec) => (
                serde_json::to_string(spec).unwrap_or_default(),
                if job.approval {
                    state::AWAITING_APPROVAL
                } else {
                    state::QUEUED
                },
                None,
                spec.describe(),
                None,
            ),
            Err(error) => (
                "null".to_owned(),
                state::FAILED,
                Some("template_error"),
                error.clone(),
                Some(received_at),
            ),
        };
        let id: Option<i64> = sqlx::query(
            "INSERT INTO jobs (dedup_key, notification_id, rule, action, kind, \
             fingerprint, alert_status, starts_at, target, spec, state, dry_run, \
             attempts, max_attempts, not_before, received_at, finished_at, outcome, \
             detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 0, \
             $13, $14, $14, $15, $16, $17) ON CONFLICT (dedup_key) DO NOTHING \
             RETURNING id",
        )
        .bind(&job.dedup_key)
        .bind(notification_id)
        .bind(&job.rule)
        .bind(&job.action)
        .bind(job.kind)
        .bind(&job.fingerprint)
        .bind(job.alert_status.as_str())
        .bind(job.starts_at)
        .bind(&job.target)
        .bind(spec)
        .bind(job_state)
        .bind(i64::from(job.dry_run))
        .bind(job.max_attempts)
        .bind(received_at)
        .bind(finished)
        .bind(outcome)
        .bind(&detail)
        .fetch_optional(&mut **tx)
        .await?
        .map(|row| row.try_get(0))
        .transpose()?;
        match id {
            Some(id) => {
                self.event_in(tx, id, received_at, job_state, &detail)
                    .await?;
                Ok(Some(job_state))
            }
            None => Ok(None),
        }
    }

    async fn event_in(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        job_id: i64,
        at: i64,
        event: &str,
        detail: &str,
    ) -> Result<(), Error> {
        sqlx::query(
            "INSERT INTO job_events (job_id, at, event, detail, replica) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(job_id)
        .bind(at)
        .bind(event)
        .bind(detail)
        .bind(&self.replica)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Appends an event to a job's audit trail.
    pub async fn event(&self, job_id: i64, event: &str, detail: &str) -> Result<(), Error> {
        sqlx::query(
            "INSERT INTO job_events (job_id, at, event, detail, replica) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(job_id)
        .bind(now_millis())
        .bind(event)
        .bind(detail)
        .bind(&self.replica)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Claims up to `limit` runnable jobs for this replica with a lease of `lease`. On
    /// PostgreSQL, `FOR UPDATE SKIP LOCKED` lets replicas claim side by side without taking the
    /// same job; SQLite serialises writers.
    pub async fn claim(&self, limit: usize, lease: Duration) -> Result<Vec<Claimed>, Error> {
        let now = now_millis();
        let lock = match self.backend {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let sql = format!(
            "UPDATE jobs SET state = 'running', lease_owner = $1, lease_until = $2, \
             attempts = attempts + 1, started_at = COALESCE(started_at, $3) \
             WHERE id IN (SELECT id FROM jobs WHERE state = 'queued' AND not_before <= $3 \
             ORDER BY id LIMIT $4{lock}) \
             RETURNING id, dedup_key, rule, action, kind, target, spec, dry_run, attempts, \
             max_attempts, received_at"
        );
        let rows = sqlx::query(&sql)
            .bind(&self.replica)
            .bind(now + millis(lease))
            .bind(now)
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await?;
        let mut claimed = rows
            .iter()
            .map(|row| {
                Ok(Claimed {
                    id: row.try_get("id")?,
                    dedup_key: row.try_get("dedup_key")?,
                    rule: row.try_get("rule")?,
                    action: row.try_get("action")?,
                    kind: row.try_get("kind")?,
                    target: row.try_get("target")?,
                    spec: row.try_get("spec")?,
                    dry_run: row.try_get::<i64, _>("dry_run")? != 0,
                    attempt: row.try_get("attempts")?,
                    max_attempts: row.try_get("max_attempts")?,
                    received_at: row.try_get("received_at")?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        claimed.sort_by_key(|c| c.id);
        Ok(claimed)
    }

    /// Extends this replica's lease on a running job; false when the lease was lost.
    pub async fn renew(&self, id: i64, lease: Duration) -> Result<bool, Error> {
        let done = sqlx::query(
            "UPDATE jobs SET lease_until = $1 WHERE id = $2 AND lease_owner = $3 AND state = 'running'",
        )
        .bind(now_millis() + millis(lease))
        .bind(id)
        .bind(&self.replica)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Ends a running job this replica holds; false when the lease was lost meanwhile.
    pub async fn finish(
        &self,
        id: i64,
        job_state: &str,
        outcome: &str,
        detail: &str,
    ) -> Result<bool, Error> {
        let now = now_millis();
        let done = sqlx::query(
            "UPDATE jobs SET state = $1, outcome = $2, detail = $3, finished_at = $4, \
             lease_owner = NULL, lease_until = NULL \
             WHERE id = $5 AND lease_owner = $6 AND state = 'running'",
        )
        .bind(job_state)
        .bind(outcome)
        .bind(detail)
        .bind(now)
        .bind(id)
        .bind(&self.replica)
        .execute(&self.pool)
        .await?;
        let owned = done.rows_affected() == 1;
        if owned {
            self.event(id, outcome, detail).await?;
        }
        Ok(owned)
    }

    /// Puts a failed attempt back in the queue to run again at `not_before`.
    pub async fn retry_later(&self, id: i64, not_before: i64, detail: &str) -> Result<bool, Error> {
        let done = sqlx::query(
            "UPDATE jobs SET state = 'queued', not_before = $1, detail = $2, lease_owner = NULL, \
             lease_until = NULL WHERE id = $3 AND lease_owner = $4 AND state = 'running'",
        )
        .bind(not_before)
        .bind(detail)
        .bind(id)
        .bind(&self.replica)
        .execute(&self.pool)
        .await?;
        let owned = done.rows_affected() == 1;
        if owned {
            self.event(id, "retry", detail).await?;
        }
        Ok(owned)
    }

    /// Takes the cooldown of `target` for job `job_id` until `until`: true when the target was
    /// free (or already held by this job), false when another job acted on it within the
    /// cooldown. Atomic across replicas.
    pub async fn reserve_cooldown(
        &self,
        target: &str,
        job_id: i64,
        until: i64,
    ) -> Result<bool, Error> {
        let row = sqlx::query(
            "INSERT INTO cooldowns (target, until_ms, job_id) VALUES ($1, $2, $3) \
             ON CONFLICT (target) DO UPDATE SET until_ms = excluded.until_ms, job_id = excluded.job_id \
             WHERE cooldowns.until_ms <= $4 OR cooldowns.job_id = excluded.job_id \
             RETURNING job_id",
        )
        .bind(target)
        .bind(until)
        .bind(job_id)
        .bind(now_millis())
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.is_some())
    }

    /// Jobs of `rule` on `target` that ran (succeeded or failed) since `since`, excluding `job_id`.
    pub async fn runs_on_target(
        &self,
        rule: &str,
        target: &str,
        since: i64,
        job_id: i64,
    ) -> Result<i64, Error> {
        let row = sqlx::query(
            "SELECT COUNT(*) FROM jobs WHERE rule = $1 AND target = $2 AND received_at >= $3 \
             AND id <> $4 AND state IN ('succeeded', 'failed', 'running', 'interrupted') \
             AND dry_run = 0",
        )
        .bind(rule)
        .bind(target)
        .bind(since)
        .bind(job_id)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get(0)?)
    }

    /// Failed jobs and started actions since `since` (for the circuit breaker).
    pub async fn breaker_counts(&self, since: i64) -> Result<(i64, i64), Error> {
        let row = sqlx::query(
            "SELECT \
             (SELECT COUNT(*) FROM jobs WHERE finished_at >= $1 AND state IN ('failed', 'interrupted') \
              AND outcome <> 'template_error'), \
             (SELECT COUNT(*) FROM jobs WHERE started_at >= $1 AND dry_run = 0 \
              AND state IN ('running', 'succeeded', 'failed', 'interrupted'))",
        )
        .bind(since)
        .fetch_one(&self.pool)
        .await?;
        Ok((row.try_get(0)?, row.try_get(1)?))
    }

    /// A control value (breaker state).
    pub async fn control(&self, name: &str) -> Result<i64, Error> {
        let row = sqlx::query("SELECT value FROM control WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?.unwrap_or(0))
    }

    /// Sets a control value if it still is `expected`; true when this call changed it (so one
    /// replica alone acts on the change).
    pub async fn control_swap(&self, name: &str, expected: i64, value: i64) -> Result<bool, Error> {
        let done = sqlx::query("UPDATE control SET value = $1 WHERE name = $2 AND value = $3")
            .bind(value)
            .bind(name)
            .bind(expected)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Sets a control value.
    pub async fn set_control(&self, name: &str, value: i64) -> Result<(), Error> {
        sqlx::query("UPDATE control SET value = $1 WHERE name = $2")
            .bind(value)
            .bind(name)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Running jobs whose lease expired (their replica died): (id, action, rule).
    pub async fn expired_leases(&self) -> Result<Vec<(i64, String, String)>, Error> {
        let rows = sqlx::query(
            "SELECT id, action, rule FROM jobs WHERE state = 'running' AND lease_until < $1",
        )
        .bind(now_millis())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Error::from)
    }

    /// Takes over a job whose lease expired: back to the queue (`requeue`) or `interrupted`.
    /// False when another replica got there first or the owner renewed.
    pub async fn recover_expired(&self, id: i64, requeue: bool) -> Result<bool, Error> {
        let now = now_millis();
        let (job_state, event, detail) = if requeue {
            (
                state::QUEUED,
                "requeued",
                "lease expired; the action is idempotent, running it again",
            )
        } else {
            (
                state::INTERRUPTED,
                "interrupted",
                "lease expired while the action ran; not repeated because it is not idempotent",
            )
        };
        let done = sqlx::query(
            "UPDATE jobs SET state = $1, lease_owner = NULL, lease_until = NULL, not_before = $2, \
             finished_at = CASE WHEN $1 = 'interrupted' THEN $2 ELSE NULL END, \
             outcome = CASE WHEN $1 = 'interrupted' THEN 'interrupted' ELSE outcome END, detail = $3 \
             WHERE id = $4 AND state = 'running' AND lease_until < $2",
        )
        .bind(job_state)
        .bind(now)
        .bind(detail)
        .bind(id)
        .execute(&self.pool)
        .await?;
        let taken = done.rows_affected() == 1;
        if taken {
            self.event(id, event, detail).await?;
        }
        Ok(taken)
    }

    /// Jobs waiting to run, and jobs waiting for approval.
    pub async fn depth(&self) -> Result<(i64, i64), Error> {
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM jobs WHERE state = 'queued'), \
             (SELECT COUNT(*) FROM jobs WHERE state = 'awaiting_approval')",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok((row.try_get(0)?, row.try_get(1)?))
    }

    /// Approves (`true`) or rejects a job awaiting approval; false when it was not waiting.
    pub async fn decide(&self, id: i64, approve: bool, who: &str) -> Result<bool, Error> {
        let now = now_millis();
        let (next, event) = if approve {
            (state::QUEUED, "approved")
        } else {
            (state::REJECTED, "rejected")
        };
        let done = sqlx::query(
            "UPDATE jobs SET state = $1, approved_by = $2, not_before = $3, \
             finished_at = CASE WHEN $1 = 'rejected' THEN $3 ELSE NULL END, \
             outcome = CASE WHEN $1 = 'rejected' THEN 'rejected' ELSE NULL END \
             WHERE id = $4 AND state = 'awaiting_approval'",
        )
        .bind(next)
        .bind(who)
        .bind(now)
        .bind(id)
        .execute(&self.pool)
        .await?;
        let changed = done.rows_affected() == 1;
        if changed {
            self.event(id, event, &format!("by {who}")).await?;
        }
        Ok(changed)
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }
}
