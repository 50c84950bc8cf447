//! Operational endpoints: liveness, readiness, Prometheus metrics.

use axum::{extract::State, http::header, response::IntoResponse};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{api_responses::Unavailable, error::AppError, state::AppState};

/// Answer of the health probes.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok` when healthy.
    pub status: &'static str,
}

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
}

/// Liveness: the process answers HTTP.
#[utoipa::path(get, path = "/healthz", tag = "ops", responses((status = 200, body = Health)))]
pub async fn healthz() -> axum::Json<Health> {
    axum::Json(Health { status: "ok" })
}

/// Readiness: the database answers and there is a task pane to serve.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "ops",
    responses((status = 200, body = Health), Unavailable)
)]
pub async fn readyz(State(state): State<AppState>) -> Result<axum::Json<Health>, AppError> {
    state.store.ping().await.map_err(|e| {
        tracing::warn!(error = %e, "readiness check failed");
        AppError::Unavailable("the database does not answer".into())
    })?;
    let pane = crate::web::PaneFiles::of(&state.config.server);
    if !pane.has_pane().await {
        return Err(AppError::Unavailable(pane.missing()));
    }
    Ok(axum::Json(Health { status: "ok" }))
}

/// Prometheus text exposition.
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
}
