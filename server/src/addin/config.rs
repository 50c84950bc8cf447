//! `GET /api/public/addin-config`: what the task pane needs before it can sign in. Public, so it
//! lives outside `/api/addin/` (where every endpoint needs a token); it holds only ids that also
//! appear in the manifest.

use axum::{Json, extract::State};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{error::AppError, identity::office365::Office365Settings, state::AppState};

/// The task pane's sign-in configuration.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AddinConfig {
    /// Application (client) id of the Office 365 app; empty until the admin sets it.
    pub client_id: String,
    /// MSAL authority, `{entra.authority}/{tenant}` (or `/organizations` without a tenant).
    pub authority: String,
    /// The scopes the pane asks for: `{Application ID URI}/{entra.scope}`, the one scope both
    /// MSAL (Nested App Authentication) and Office's `getAccessToken` path use.
    pub scopes: Vec<String>,
}

/// Sign-in configuration for the task pane.
#[utoipa::path(
    get,
    path = "/api/public/addin-config",
    tag = "addin",
    responses((status = 200, body = AddinConfig))
)]
pub async fn get_config(State(state): State<AppState>) -> Result<Json<AddinConfig>, AppError> {
    let settings = Office365Settings::load(&state).await?;
    let tenant = match settings.tenant_id.trim() {
        "" => "organizations",
        t => t,
    };
    let authority = format!(
        "{}/{tenant}",
        state.config.entra.authority.trim_end_matches('/')
    );
    let base = state.config.server.public_base(state.config.tls.enabled());
    let scopes = settings
        .app_id_uri(&base)
        .map(|uri| format!("{uri}/{}", state.config.entra.scope))
        .into_iter()
        .collect();
    Ok(Json(AddinConfig {
        client_id: settings.client_id.trim().to_owned(),
        authority,
        scopes,
    }))
}
