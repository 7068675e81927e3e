//! The audit and approval API on the admin listener (`/api/v1`).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::server::AppState;
use crate::store::JobFilter;

/// Query of list endpoints.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    fingerprint: Option<String>,
    limit: Option<i64>,
}

/// Who decides on an approval.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    by: Option<String>,
}

fn failed(error: &crate::Error) -> Response {
    tracing::warn!(message = "API request failed.", %error);
    (
        StatusCode::SERVICE_UNAVAILABLE,
        format!("store unavailable: {error}\n"),
    )
        .into_response()
}

/// The answer to missing or wrong API credentials.
struct Unauthorized;

impl IntoResponse for Unauthorized {
    fn into_response(self) -> Response {
        (
            StatusCode::UNAUTHORIZED,
            [(axum::http::header::WWW_AUTHENTICATE, "Bearer, Basic")],
            "missing or wrong credentials\n",
        )
            .into_response()
    }
}

/// Checks `api_auth`; returns who is asking.
fn authorize(state: &AppState, headers: &HeaderMap) -> Result<String, Unauthorized> {
    match &state.api_credentials {
        None => Ok("anonymous".into()),
        Some(credentials) => credentials
            .check(
                headers
                    .get(axum::http::header::AUTHORIZATION)
                    .map(|v| v.as_bytes()),
            )
            .ok_or(Unauthorized),
    }
}

/// `GET /api/v1/jobs?state=&rule=&fingerprint=&limit=`
pub async fn jobs(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(filter): Query<JobFilter>,
) -> Response {
    if let Err(denied) = authorize(&state, &headers) {
        return denied.into_response();
    }
    match state.store.jobs(&filter).await {
        Ok(rows) => Json(rows).into_response(),
        Err(error) => failed(&error),
    }
}

/// `GET /api/v1/jobs/{id}` with the job's audit trail.
pub async fn job(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Response {
    if let Err(denied) = authorize(&state, &headers) {
        return denied.into_response();
    }
    match state.store.job(id).await {
        Ok(Some(job)) => Json(job).into_response(),
        Ok(None) => (StatusCode::NOT_FOUND, format!("no job {id}\n")).into_response(),
        Err(error) => failed(&error),
    }
}

async fn decide(
    state: Arc<AppState>,
    headers: HeaderMap,
    id: i64,
    approve: bool,
    decision: Option<Json<Decision>>,
) -> Response {
    let who = match authorize(&state, &headers) {
        Ok(who) => who,
        Err(denied) => return denied.into_response(),
    };
    let who = match decision.and_then(|Json(d)| d.by) {
        Some(by) => format!("{by} ({who})"),
        None => who,
    };
    match state.store.decide(id, approve, &who).await {
        Ok(true) => {
            if approve {
                state.engine.wake();
            }
            match state.store.job(id).await {
                Ok(Some(job)) => Json(job).into_response(),
                Ok(None) => StatusCode::NOT_FOUND.into_response(),
                Err(error) => failed(&error),
            }
        }
        Ok(false) => (
            StatusCode::CONFLICT,
            format!("job {id} does not exist or is not awaiting approval\n"),
        )
            .into_response(),
        Err(error) => failed(&error),
    }
}

/// `POST /api/v1/jobs/{id}/approve` (optional body `{"by": "name"}`).
pub async fn approve(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    body: Option<Json<Decision>>,
) -> Response {
    decide(state, headers, id, true, body).await
}

/// `POST /api/v1/jobs/{id}/reject` (optional body `{"by": "name"}`).
pub async fn reject(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    body: Option<Json<Decision>>,
) -> Response {
    decide(state, headers, id, false, body).await
}

/// `GET /api/v1/alerts?fingerprint=&limit=`
pub async fn alerts(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(query): Query<ListQuery>,
) -> Response {
    if let Err(denied) = authorize(&state, &headers) {
        return denied.into_response();
    }
    match state
        .store
        .alerts(query.fingerprint.as_deref(), query.limit)
        .await
    {
        Ok(rows) => Json(rows).into_response(),
        Err(error) => failed(&error),
    }
}

/// `GET /api/v1/notifications?limit=`
pub async fn notifications(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(query): Query<ListQuery>,
) -> Response {
    if let Err(denied) = authorize(&state, &headers) {
        return denied.into_response();
    }
    match state.store.notifications(query.limit).await {
        Ok(rows) => Json(rows).into_response(),
        Err(error) => failed(&error),
    }
}

/// `GET /api/v1/breaker`
pub async fn breaker(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Err(denied) = authorize(&state, &headers) {
        return denied.into_response();
    }
    match state.engine.breaker_state().await {
        Ok(breaker) => Json(breaker).into_response(),
        Err(error) => failed(&error),
    }
}

/// `POST /api/v1/breaker/reset`
pub async fn reset_breaker(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let who = match authorize(&state, &headers) {
        Ok(who) => who,
        Err(denied) => return denied.into_response(),
    };
    if let Err(error) = state.engine.reset_breaker().await {
        return failed(&error);
    }
    tracing::warn!(message = "Circuit breaker reset; automation resumes.", by = %who);
    state.engine.wake();
    match state.engine.breaker_state().await {
        Ok(breaker) => Json(breaker).into_response(),
        Err(error) => failed(&error),
    }
}
