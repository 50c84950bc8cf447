//! The admin's endpoints of the item cache: start an import and follow its progress (JSON and
//! server-sent events), the import history, and an id sweep on demand.

use std::{convert::Infallible, time::Duration};

use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::sse::{Event, KeepAlive, Sse},
};
use crm_bridge_wire::JobStatus;
use futures::Stream;
use serde::Serialize;
use utoipa::ToSchema;

use super::{
    ItemsCtx,
    import::{ImportRun, queue_run},
    reconcile::{SweepReport, sweep_once},
};
use crate::{
    api_responses::{AdminOnly, Conflict, NotFound, Unavailable, Upstream},
    error::{AppError, AppJson},
    identity::session::RequireAdmin,
};

/// A queued run.
#[derive(Debug, Serialize, ToSchema)]
pub struct Queued {
    /// Its id.
    pub run_id: String,
}

/// Import history.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportRuns {
    /// Newest first.
    pub runs: Vec<ImportRun>,
}

/// Starts an import of every firm, person, project and business case.
#[utoipa::path(
    post,
    path = "/api/admin/import",
    tag = "admin",
    responses(
        (status = 202, body = Queued),
        AdminOnly,
        Conflict
    )
)]
pub async fn start(
    State(state): State<ItemsCtx>,
    RequireAdmin(admin): RequireAdmin,
) -> Result<(StatusCode, AppJson<Queued>), AppError> {
    let run_id = queue_run(&state, Some(&admin.employee.id)).await?;
    admin
        .audit(
            state.store.as_ref(),
            "import.start",
            &format!("import:{run_id}"),
            "",
        )
        .await?;
    Ok((StatusCode::ACCEPTED, AppJson(Queued { run_id })))
}

/// The import history, newest first.
#[utoipa::path(
    get,
    path = "/api/admin/import",
    tag = "admin",
    responses((status = 200, body = ImportRuns), AdminOnly)
)]
pub async fn list(
    State(state): State<ItemsCtx>,
    _admin: RequireAdmin,
) -> Result<AppJson<ImportRuns>, AppError> {
    let rows = state.store.import_runs(20).await?;
    Ok(AppJson(ImportRuns {
        runs: rows.iter().map(ImportRun::from_row).collect(),
    }))
}

async fn load_run(state: &ItemsCtx, id: &str) -> Result<ImportRun, AppError> {
    let row = state
        .store
        .import_run(id)
        .await?
        .ok_or_else(|| AppError::NotFound("no such import run".into()))?;
    Ok(ImportRun::from_row(&row))
}

/// One run's progress.
#[utoipa::path(
    get,
    path = "/api/admin/import/{id}",
    tag = "admin",
    params(("id" = String, Path, description = "Run id")),
    responses((status = 200, body = ImportRun), AdminOnly, NotFound)
)]
pub async fn get_one(
    State(state): State<ItemsCtx>,
    _admin: RequireAdmin,
    Path(id): Path<String>,
) -> Result<AppJson<ImportRun>, AppError> {
    Ok(AppJson(load_run(&state, &id).await?))
}

/// Live progress as server-sent events (`progress`, data = the run), until the run ends.
#[utoipa::path(
    get,
    path = "/api/admin/import/{id}/events",
    tag = "admin",
    params(("id" = String, Path, description = "Run id")),
    responses((status = 200, content_type = "text/event-stream", body = ImportRun), AdminOnly, NotFound)
)]
pub async fn events(
    State(state): State<ItemsCtx>,
    _admin: RequireAdmin,
    Path(id): Path<String>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, AppError> {
    let first = load_run(&state, &id).await?;
    let stream = futures::stream::unfold(
        (state, id, Some(first), None::<String>, false),
        |(state, id, mut pending, mut last, finished)| async move {
            if finished {
                return None;
            }
            loop {
                let run = match pending.take() {
                    Some(run) => run,
                    None => {
                        tokio::time::sleep(Duration::from_millis(250)).await;
                        match load_run(&state, &id).await {
                            Ok(run) => run,
                            Err(_) => return None,
                        }
                    }
                };
                let text = serde_json::to_string(&run).unwrap_or_default();
                if last.as_deref() == Some(text.as_str()) {
                    continue;
                }
                let end = matches!(
                    JobStatus::parse(&run.status),
                    Some(JobStatus::Done | JobStatus::Failed)
                );
                last = Some(text.clone());
                let event = Event::default().event("progress").data(text);
                return Some((Ok(event), (state, id, None, last, end)));
            }
        },
    );
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// Runs an id sweep now (admins; it also runs every `jobs.sweep_hours`).
#[utoipa::path(
    post,
    path = "/api/admin/sweep",
    tag = "admin",
    responses(
        (status = 200, body = SweepReport),
        AdminOnly,
        Upstream,
        Unavailable
    )
)]
pub async fn sweep_now(
    axum::extract::State(state): axum::extract::State<ItemsCtx>,
    _admin: crate::identity::session::RequireAdmin,
) -> Result<crate::error::AppJson<SweepReport>, AppError> {
    Ok(crate::error::AppJson(sweep_once(&state).await?))
}
