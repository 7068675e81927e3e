-- Omen webhook store (PostgreSQL). Times are Unix milliseconds.
CREATE TABLE notifications (
    id BIGSERIAL PRIMARY KEY,
    received_at BIGINT NOT NULL,
    receiver TEXT NOT NULL,
    status TEXT NOT NULL,
    group_key TEXT NOT NULL,
    external_url TEXT NOT NULL,
    alert_count BIGINT NOT NULL,
    truncated_alerts BIGINT NOT NULL,
    replica TEXT NOT NULL
);
CREATE INDEX notifications_received ON notifications (received_at);

CREATE TABLE alerts (
    id BIGSERIAL PRIMARY KEY,
    notification_id BIGINT NOT NULL REFERENCES notifications (id),
    received_at BIGINT NOT NULL,
    fingerprint TEXT NOT NULL,
    status TEXT NOT NULL,
    alertname TEXT NOT NULL,
    starts_at BIGINT NOT NULL,
    ends_at BIGINT,
    labels TEXT NOT NULL,
    annotations TEXT NOT NULL,
    generator_url TEXT NOT NULL
);
CREATE INDEX alerts_fingerprint ON alerts (fingerprint, received_at);
CREATE INDEX alerts_received ON alerts (received_at);

CREATE TABLE jobs (
    id BIGSERIAL PRIMARY KEY,
    dedup_key TEXT NOT NULL UNIQUE,
    notification_id BIGINT NOT NULL,
    rule TEXT NOT NULL,
    action TEXT NOT NULL,
    kind TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    alert_status TEXT NOT NULL,
    starts_at BIGINT NOT NULL,
    target TEXT NOT NULL,
    spec TEXT NOT NULL,
    state TEXT NOT NULL,
    dry_run BIGINT NOT NULL,
    attempts BIGINT NOT NULL,
    max_attempts BIGINT NOT NULL,
    not_before BIGINT NOT NULL,
    lease_owner TEXT,
    lease_until BIGINT,
    received_at BIGINT NOT NULL,
    started_at BIGINT,
    finished_at BIGINT,
    outcome TEXT,
    detail TEXT NOT NULL,
    approved_by TEXT
);
CREATE INDEX jobs_runnable ON jobs (state, not_before);
CREATE INDEX jobs_target ON jobs (rule, target, received_at);
CREATE INDEX jobs_finished ON jobs (finished_at);

CREATE TABLE job_events (
    id BIGSERIAL PRIMARY KEY,
    job_id BIGINT NOT NULL,
    at BIGINT NOT NULL,
    event TEXT NOT NULL,
    detail TEXT NOT NULL,
    replica TEXT NOT NULL
);
CREATE INDEX job_events_job ON job_events (job_id);

CREATE TABLE cooldowns (
    target TEXT PRIMARY KEY,
    until_ms BIGINT NOT NULL,
    job_id BIGINT NOT NULL
);

CREATE TABLE control (
    name TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO control (name, value) VALUES ('breaker_open_since', 0), ('breaker_reset_at', 0);
