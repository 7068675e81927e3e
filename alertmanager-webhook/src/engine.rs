//! The remediation engine: claims queued jobs from the store, applies the safety checks
//! (circuit breaker, re-fire limit, cooldown, dry run), runs actions with a timeout, retries with
//! backoff, renews leases while an action runs and recovers jobs of replicas that died.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{Notify, Semaphore, watch};
use tracing::Instrument as _;

use crate::Error;
use crate::actions::{Executor, Spec};
use crate::config::{BreakerConfig, EscalationConfig};
use crate::metrics::{Metrics, stage};
use crate::rules::RuleSet;
use crate::store::{Claimed, Store, millis, now_millis, state};

/// Longest wait between two attempts of a job.
const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// How often leases are checked and gauges refreshed.
const MAINTENANCE_PERIOD: Duration = Duration::from_secs(2);

/// Control keys in the store.
const BREAKER_OPEN_SINCE: &str = "breaker_open_since";
const BREAKER_RESET_AT: &str = "breaker_reset_at";

/// Engine settings taken from the configuration.
#[derive(Debug, Clone)]
pub struct EngineSettings {
    /// Actions at once.
    pub workers: usize,
    /// Lease length.
    pub lease: Duration,
    /// Store polling period.
    pub poll_interval: Duration,
    /// Breaker limits.
    pub breaker: BreakerConfig,
    /// Escalation targets.
    pub escalation: EscalationConfig,
}

/// The engine, shared by its worker tasks.
pub struct Engine {
    store: Store,
    rules: Arc<RuleSet>,
    executor: Arc<Executor>,
    metrics: Metrics,
    settings: EngineSettings,
    wake: Arc<Notify>,
}

/// The breaker's state, as the API shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BreakerState {
    /// Whether automation is stopped.
    pub open: bool,
    /// When it opened (RFC 3339), while open.
    pub open_since: Option<String>,
    /// Failed jobs counted in the current window.
    pub failures: i64,
    /// Actions started in the current window.
    pub actions: i64,
    /// Failures that open it.
    pub max_failures: u32,
    /// Actions that open it.
    pub max_actions: u32,
    /// The window, in seconds.
    pub window_seconds: u64,
}

impl Engine {
    /// Creates the engine; `run` starts it.
    pub fn new(
        store: Store,
        rules: Arc<RuleSet>,
        executor: Arc<Executor>,
        metrics: Metrics,
        settings: EngineSettings,
    ) -> Self {
        Self {
            store,
            rules,
            executor,
            metrics,
            settings,
            wake: Arc::new(Notify::new()),
        }
    }

    /// Wakes the engine (new jobs were stored); cheap and never lost.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Claims and runs jobs until `stop` turns true, then waits (at most one lease) for running
    /// actions to end.
    pub async fn run(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        let permits = Arc::new(Semaphore::new(self.settings.workers));
        let mut next_maintenance = Instant::now();
        loop {
            if *stop.borrow() {
                break;
            }
            if Instant::now() >= next_maintenance {
                self.maintain().await;
                next_maintenance = Instant::now() + MAINTENANCE_PERIOD;
            }
            let free = permits.available_permits();
            let mut claimed_all = false;
            if free > 0 {
                match self.store.claim(free, self.settings.lease).await {
                    Ok(jobs) => {
                        claimed_all = jobs.len() == free;
                        for job in jobs {
                            let Ok(permit) = permits.clone().acquire_owned().await else {
                                break;
                            };
                            let engine = self.clone();
                            let span = tracing::info_span!(
                                "remediate",
                                job = job.id,
                                rule = %job.rule,
                                action = %job.action,
                                attempt = job.attempt
                            );
                            tokio::spawn(
                                async move {
                                    engine.execute(job).await;
                                    drop(permit);
                                }
                                .instrument(span),
                            );
                        }
                    }
                    Err(error) => {
                        self.count_error("claim", stage::STORE);
                        tracing::warn!(message = "Could not claim jobs.", %error);
                    }
                }
            }
            if claimed_all {
                // More work may be waiting: wait for a free worker, not for the poll.
                let _ = permits.clone().acquire_owned().await.map(drop);
                continue;
            }
            tokio::select! {
                () = self.wake.notified() => {}
                () = tokio::time::sleep(self.settings.poll_interval) => {}
                _ = stop.changed() => {}
            }
        }
        let all = u32::try_from(self.settings.workers).unwrap_or(u32::MAX);
        let _ = tokio::time::timeout(self.settings.lease, permits.acquire_many(all)).await;
    }

    async fn execute(&self, job: Claimed) {
        if let Err(error) = self.execute_inner(&job).await {
            self.count_error("store", stage::STORE);
            tracing::warn!(message = "Job bookkeeping failed; its lease will expire and it will be recovered.", %error);
        }
    }

    async fn execute_inner(&self, job: &Claimed) -> Result<(), Error> {
        if job.attempt == 1 {
            let delay = (now_millis() - job.received_at).max(0) as f64 / 1000.0;
            self.metrics
                .start_delay
                .with_label_values(&[job.kind.as_str()])
                .observe(delay);
        }
        let Some(action) = self.rules.action(&job.action) else {
            return self
                .end(
                    job,
                    state::FAILED,
                    "failed",
                    "the action is no longer configured",
                )
                .await;
        };
        let spec: Spec = match serde_json::from_str(&job.spec) {
            Ok(spec) => spec,
            Err(error) => {
                let detail = format!("stored action cannot be read: {error}");
                return self.end(job, state::FAILED, "failed", &detail).await;
            }
        };
        if job.attempt == 1 && !job.dry_run {
            if self.breaker_open().await? {
                let detail = "automation stopped by the circuit breaker; reset it through the API";
                return self.end(job, state::SKIPPED, "circuit_open", detail).await;
            }
            if let Some((max_runs, within)) = self.rules.refire_limit(&job.rule) {
                let since = now_millis() - millis(within);
                let runs = self
                    .store
                    .runs_on_target(&job.rule, &job.target, since, job.id)
                    .await?;
                if runs >= i64::from(max_runs) {
                    let detail = format!(
                        "rule acted on {} {runs} times within {}; a human should look",
                        job.target,
                        humantime::format_duration(within)
                    );
                    self.escalate(
                        format!("Omen: {} keeps re-firing", job.target),
                        detail.clone(),
                    );
                    return self.end(job, state::SKIPPED, "refire_limit", &detail).await;
                }
            }
            if let Some(cooldown) = action.cooldown {
                let until = now_millis() + millis(cooldown);
                if !self
                    .store
                    .reserve_cooldown(&job.target, job.id, until)
                    .await?
                {
                    let detail = format!("{} is cooling down", job.target);
                    return self.end(job, state::SKIPPED, "cooldown", &detail).await;
                }
            }
        }
        if job.dry_run {
            let detail = format!("dry run: would {}", spec.describe());
            return self.end(job, state::SUCCEEDED, "dry_run", &detail).await;
        }
        self.store
            .event(
                job.id,
                "started",
                &format!("attempt {} of {}", job.attempt, job.max_attempts),
            )
            .await?;
        let renewer = self.spawn_lease_renewal(job.id);
        let started = Instant::now();
        let result = match tokio::time::timeout(
            action.timeout,
            self.executor.run(&spec, action, &job.dedup_key),
        )
        .await
        {
            Ok(result) => result,
            Err(_) => Err(format!(
                "timed out after {}",
                humantime::format_duration(action.timeout)
            )),
        };
        renewer.abort();
        self.metrics
            .action_duration
            .with_label_values(&[job.kind.as_str()])
            .observe(started.elapsed().as_secs_f64());
        match result {
            Ok(detail) => self.end(job, state::SUCCEEDED, "succeeded", &detail).await,
            Err(error) if job.attempt < job.max_attempts => {
                let exponent = u32::try_from(job.attempt - 1).unwrap_or(u32::MAX).min(16);
                let wait = action
                    .backoff
                    .saturating_mul(2u32.saturating_pow(exponent))
                    .min(MAX_BACKOFF);
                tracing::info!(message = "Action failed; will retry.", %error, wait = %humantime::format_duration(wait));
                self.count_outcome(job, "retried");
                self.store
                    .retry_later(job.id, now_millis() + millis(wait), &error)
                    .await?;
                Ok(())
            }
            Err(error) => {
                tracing::warn!(message = "Action failed for good.", %error);
                self.end(job, state::FAILED, "failed", &error).await?;
                // A failure may open the breaker; check now so the escalation goes out at once.
                self.breaker_open().await?;
                Ok(())
            }
        }
    }

    /// Records the end of a job (fenced by the lease) and counts it.
    async fn end(
        &self,
        job: &Claimed,
        job_state: &str,
        outcome: &str,
        detail: &str,
    ) -> Result<(), Error> {
        if self
            .store
            .finish(job.id, job_state, outcome, detail)
            .await?
        {
            self.count_outcome(job, outcome);
            if job_state == state::FAILED {
                self.metrics
                    .jobs_failed
                    .with_label_values(&[job.rule.as_str(), job.action.as_str()])
                    .inc();
            }
        } else {
            tracing::warn!(
                message = "Lost the lease of a job before it ended; another replica took it over.",
                job = job.id
            );
        }
        Ok(())
    }

    fn count_outcome(&self, job: &Claimed, outcome: &str) {
        self.metrics
            .actions
            .with_label_values(&[job.rule.as_str(), job.action.as_str(), outcome])
            .inc();
    }

    fn count_error(&self, error_type: &str, stage: &str) {
        self.metrics
            .errors
            .with_label_values(&[error_type, stage])
            .inc();
    }

    fn spawn_lease_renewal(&self, id: i64) -> tokio::task::JoinHandle<()> {
        let store = self.store.clone();
        let lease = self.settings.lease;
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(lease / 3);
            tick.tick().await;
            loop {
                tick.tick().await;
                match store.renew(id, lease).await {
                    Ok(true) => {}
                    Ok(false) => break,
                    Err(error) => tracing::warn!(message = "Could not renew a lease.", %error),
                }
            }
        })
    }

    /// Whether the breaker is open; opens it (and escalates, once across replicas) when the
    /// failures or actions in the window reach their limits.
    async fn breaker_open(&self) -> Result<bool, Error> {
        let state = self.breaker_state().await?;
        if state.open {
            self.metrics.breaker_open.set(1);
            return Ok(true);
        }
        let limits = &self.settings.breaker;
        let tripped = state.failures >= i64::from(limits.max_failures)
            || state.actions > i64::from(limits.max_actions);
        if tripped {
            let now = now_millis();
            if self.store.control_swap(BREAKER_OPEN_SINCE, 0, now).await? {
                let detail = format!(
                    "{} failed jobs and {} actions within {}; automation is stopped until the breaker is reset (POST /api/v1/breaker/reset).",
                    state.failures,
                    state.actions,
                    humantime::format_duration(limits.window)
                );
                tracing::error!(message = "Circuit breaker opened; automation stopped.", %detail);
                self.escalate(
                    "Omen: remediation stopped by the circuit breaker".into(),
                    detail,
                );
            }
        }
        self.metrics.breaker_open.set(i64::from(tripped));
        Ok(tripped)
    }

    /// The breaker's state as stored.
    pub async fn breaker_state(&self) -> Result<BreakerState, Error> {
        let open_since = self.store.control(BREAKER_OPEN_SINCE).await?;
        let reset_at = self.store.control(BREAKER_RESET_AT).await?;
        let limits = &self.settings.breaker;
        let since = (now_millis() - millis(limits.window)).max(reset_at);
        let (failures, actions) = self.store.breaker_counts(since).await?;
        Ok(BreakerState {
            open: open_since > 0,
            open_since: (open_since > 0).then(|| crate::payload::format_time(open_since)),
            failures,
            actions,
            max_failures: limits.max_failures,
            max_actions: limits.max_actions,
            window_seconds: limits.window.as_secs(),
        })
    }

    /// Closes the breaker; failures before now no longer count.
    pub async fn reset_breaker(&self) -> Result<(), Error> {
        self.store
            .set_control(BREAKER_RESET_AT, now_millis())
            .await?;
        self.store.set_control(BREAKER_OPEN_SINCE, 0).await?;
        self.metrics.breaker_open.set(0);
        Ok(())
    }

    /// Sends an escalation by email and chat in the background.
    fn escalate(&self, subject: String, body: String) {
        let escalation = self.settings.escalation.clone();
        let executor = self.executor.clone();
        let rules = self.rules.clone();
        let metrics = self.metrics.clone();
        tokio::spawn(async move {
            if !escalation.email.is_empty()
                && let Some(mailer) = executor.mailer()
                && let Err(error) = mailer.send(&escalation.email, &subject, &body).await
            {
                metrics
                    .errors
                    .with_label_values(&["email", stage::ESCALATE])
                    .inc();
                tracing::error!(message = "Could not send the escalation email.", %error);
            }
            if let Some(chat) = &escalation.chat
                && let (Some(spec), Some(action)) = (
                    rules.chat_spec(chat, &format!("{subject}: {body}")),
                    rules.action(chat),
                )
                && let Err(error) = executor.run(&spec, action, "escalation").await
            {
                metrics
                    .errors
                    .with_label_values(&["chat", stage::ESCALATE])
                    .inc();
                tracing::error!(message = "Could not post the escalation to chat.", %error);
            }
        });
    }

    /// Recovers jobs of dead replicas and refreshes the gauges.
    async fn maintain(&self) {
        match self.store.expired_leases().await {
            Ok(expired) => {
                for (id, action, rule) in expired {
                    let idempotent = self.rules.action(&action).is_some_and(|a| a.idempotent);
                    match self.store.recover_expired(id, idempotent).await {
                        Ok(true) if !idempotent => {
                            self.metrics
                                .jobs_failed
                                .with_label_values(&[rule.as_str(), action.as_str()])
                                .inc();
                            self.metrics
                                .actions
                                .with_label_values(&[rule.as_str(), action.as_str(), "interrupted"])
                                .inc();
                            self.escalate(
                                format!("Omen: remediation job {id} was interrupted"),
                                format!("Job {id} ({rule}/{action}) was running on a replica that stopped; it was not repeated because the action is not idempotent. Check the target by hand."),
                            );
                        }
                        Ok(true) => self.wake(),
                        Ok(false) => {}
                        Err(error) => tracing::warn!(message = "Could not recover a job.", %error),
                    }
                }
            }
            Err(error) => tracing::warn!(message = "Could not look for expired leases.", %error),
        }
        match self.store.depth().await {
            Ok((queued, awaiting)) => {
                self.metrics.jobs_queued.set(queued);
                self.metrics.jobs_awaiting_approval.set(awaiting);
            }
            Err(error) => tracing::debug!(message = "Could not count queued jobs.", %error),
        }
        if let Ok(open) = self.store.control(BREAKER_OPEN_SINCE).await {
            self.metrics.breaker_open.set(i64::from(open > 0));
        }
    }
}
