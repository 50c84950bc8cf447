//! The admin JSON API (`/api/admin/*`: session, password, employees, Office 365 settings, audit
//! log) and the one-time first-admin setup page (`/admin/setup/{token}`). Handlers are thin:
//! sessions and CSRF live in `identity::session`, persistence in `store`.

/// Marks a string literal as a catalog key, so the catalog test sees it.
macro_rules! tkey {
    ($key:literal) => {
        $key
    };
}

pub mod audit;
pub mod employees;
pub mod office365;
pub mod pages;
pub mod session;
pub mod setup;

use axum::{Router, routing::get};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{error::AppError, identity::session::AdminSession, state::AppState, store::NewAudit};

/// The JSON endpoints of the admin API.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(session::login, session::logout, session::whoami))
        .routes(routes!(session::change_password))
        .routes(routes!(employees::list, employees::create))
        .routes(routes!(employees::get_one, employees::update))
        .routes(routes!(office365::get_settings, office365::put_settings))
        .routes(routes!(audit::list))
}

/// The HTML pages owned by this module (the first-admin setup link).
pub fn html_router() -> Router<AppState> {
    Router::new()
        .route(
            "/admin/setup/{token}",
            get(setup::form).post(setup::create_admin),
        )
        .merge(pages::router())
}

/// Writes one audit row for a change made by `by`.
pub(crate) async fn audit(
    state: &AppState,
    by: &AdminSession,
    action: &str,
    target: &str,
    detail: impl Into<String>,
) -> Result<(), AppError> {
    state
        .store
        .add_audit(NewAudit {
            actor_id: Some(by.employee.id.clone()),
            actor: by.actor(),
            action: action.into(),
            target: target.into(),
            detail: detail.into(),
        })
        .await?;
    Ok(())
}
