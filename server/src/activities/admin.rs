//! The admin's view of the job queue: the list (failures first in the UI) and the retry button.

use axum::{
    extract::{Path, Query, State},
    http::StatusCode,
};
use crm_bridge_wire::JobStatus;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::{
    api_responses::{AdminOnly, Conflict, NotFound},
    error::{AppError, AppJson},
    identity::session::RequireAdmin,
    state::AppState,
    store::Job,
};

/// A job as the admin UI shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobView {
    /// Job id.
    pub id: String,
    /// What it does, e.g. `activity.sync`.
    pub kind: String,
    /// `queued`, `done` or `failed`.
    pub status: String,
    /// Attempts so far.
    pub attempts: i32,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When it runs next (RFC 3339).
    pub next_attempt_at: String,
    /// The ledger entry it works on.
    pub entry_id: Option<String>,
    /// When it was queued (RFC 3339).
    pub created_at: String,
}

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl From<Job> for JobView {
    fn from(j: Job) -> Self {
        Self {
            id: j.id,
            kind: j.kind,
            status: j.status,
            attempts: j.attempts,
            last_error: j.last_error,
            next_attempt_at: rfc3339(j.next_attempt_at),
            entry_id: j.entry_id,
            created_at: rfc3339(j.created_at),
        }
    }
}

/// The job list with the queue's counts.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobList {
    /// Jobs, newest first (at most 200).
    pub jobs: Vec<JobView>,
    /// Jobs waiting to run.
    pub queued: i64,
    /// Jobs that failed for good.
    pub failed: i64,
}

/// Which jobs to list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct JobQuery {
    /// `failed`, `queued` or `done`; all when left out.
    pub status: Option<String>,
}

/// The background jobs, newest first.
#[utoipa::path(
    get,
    path = "/api/admin/jobs",
    tag = "admin",
    params(JobQuery),
    responses((status = 200, body = JobList), AdminOnly)
)]
pub async fn list_jobs(
    State(state): State<AppState>,
    RequireAdmin(_session): RequireAdmin,
    Query(query): Query<JobQuery>,
) -> Result<AppJson<JobList>, AppError> {
    let status = query.status.as_deref().filter(|s| !s.is_empty());
    if let Some(s) = status
        && !matches!(
            JobStatus::parse(s),
            Some(JobStatus::Queued | JobStatus::Failed | JobStatus::Done)
        )
    {
        return Err(AppError::invalid_field("status", "queued, failed or done"));
    }
    let store = state.store.as_ref();
    let jobs = store.list_jobs(status, 200).await?;
    Ok(AppJson(JobList {
        jobs: jobs.into_iter().map(JobView::from).collect(),
        queued: store.count_jobs(JobStatus::Queued.as_str()).await?,
        failed: store.count_jobs(JobStatus::Failed.as_str()).await?,
    }))
}

/// Runs a failed job again with a fresh attempt count.
#[utoipa::path(
    post,
    path = "/api/admin/jobs/{id}/retry",
    tag = "admin",
    params(("id" = String, Path, description = "Job id")),
    responses(
        (status = 202, body = JobView),
        AdminOnly,
        NotFound,
        Conflict
    )
)]
pub async fn retry_job(
    State(state): State<AppState>,
    RequireAdmin(session): RequireAdmin,
    Path(id): Path<String>,
) -> Result<(StatusCode, AppJson<JobView>), AppError> {
    let store = state.store.as_ref();
    let Some(job) = store.retry_job(&id).await? else {
        return Err(match store.job(&id).await? {
            None => AppError::NotFound("no such job".into()),
            Some(_) => AppError::Conflict("only failed jobs can be retried".into()),
        });
    };
    if let Some(entry) = &job.entry_id {
        store.mark_item_queued(entry).await?;
    }
    crate::admin::audit(&state, &session, "job.retry", &job.id, job.kind.clone()).await?;
    state.jobs.wake();
    Ok((StatusCode::ACCEPTED, AppJson(JobView::from(job))))
}
