//! `GET /api/admin/audit`: the newest audit entries.

use axum::extract::{Query, State};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::{
    api_responses::AdminOnly,
    error::{AppError, AppJson},
    identity::session::RequireAdmin,
    state::AppState,
    store::AuditEntry,
};

/// Query of the audit list.
#[derive(Debug, Deserialize, IntoParams)]
pub struct AuditQuery {
    /// How many entries (1–1000, default 100).
    pub limit: Option<i64>,
}

/// The newest audit entries, newest first.
#[utoipa::path(
    get,
    path = "/api/admin/audit",
    tag = "admin",
    params(AuditQuery),
    responses(
        (status = 200, body = Vec<AuditEntry>),
        AdminOnly
    )
)]
pub async fn list(
    State(state): State<AppState>,
    RequireAdmin(_session): RequireAdmin,
    Query(query): Query<AuditQuery>,
) -> Result<AppJson<Vec<AuditEntry>>, AppError> {
    let limit = query.limit.unwrap_or(100).clamp(1, 1000);
    Ok(AppJson(state.store.list_audit(limit).await?))
}
