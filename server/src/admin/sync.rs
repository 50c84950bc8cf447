//! Sync parameters (the participant sync mode: which Raynet activities synced to Outlook carry
//! their participants as attendees): validation and saving shared by `GET/PUT /api/admin/sync`
//! and the Synchronisation page.

use axum::extract::State;
use serde::Deserialize;
use utoipa::ToSchema;

use super::{Problems, audit};
use crate::{
    error::{AppError, AppJson},
    identity::session::{AdminSession, RequireAdmin},
    settings::{ParticipantSyncMode, Setting, SyncSettings},
    state::AppState,
};

/// Sync parameters as typed (the mode as its stored name, so a form and JSON validate alike).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SyncInput {
    /// `none`, `meetings_only` or `all_activities`.
    #[serde(default)]
    pub participant_mode: String,
}

/// The mode named `name`, or the problem with it.
pub fn parse(input: &SyncInput) -> Result<SyncSettings, Problems> {
    let participant_mode = match input.participant_mode.trim() {
        "none" => ParticipantSyncMode::None,
        "meetings_only" => ParticipantSyncMode::MeetingsOnly,
        "all_activities" => ParticipantSyncMode::AllActivities,
        _ => {
            let mut problems = Problems::default();
            problems.add("participant_mode", "sync-mode-unknown");
            return Err(problems);
        }
    };
    Ok(SyncSettings { participant_mode })
}

/// Validates and saves the sync parameters, auditing the change.
pub async fn save(
    state: &AppState,
    by: &AdminSession,
    input: &SyncInput,
) -> Result<SyncSettings, AppError> {
    let settings = parse(input).map_err(|p| p.error())?;
    settings.save(state.store.as_ref()).await?;
    audit(
        state,
        by,
        "sync.update",
        "settings:sync",
        format!("participant_mode: {}", input.participant_mode.trim()),
    )
    .await?;
    Ok(settings)
}

/// The sync parameters.
#[utoipa::path(
    get,
    path = "/api/admin/sync",
    tag = "admin",
    responses(
        (status = 200, body = SyncSettings),
        (status = 401, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody)
    )
)]
pub async fn get_settings(
    State(state): State<AppState>,
    RequireAdmin(_session): RequireAdmin,
) -> Result<AppJson<SyncSettings>, AppError> {
    Ok(AppJson(SyncSettings::load(state.store.as_ref()).await?))
}

/// Replaces the sync parameters (validated like the Sync page).
#[utoipa::path(
    put,
    path = "/api/admin/sync",
    tag = "admin",
    request_body = SyncInput,
    responses(
        (status = 200, body = SyncSettings),
        (status = 401, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody)
    )
)]
pub async fn put_settings(
    State(state): State<AppState>,
    RequireAdmin(session): RequireAdmin,
    AppJson(input): AppJson<SyncInput>,
) -> Result<AppJson<SyncSettings>, AppError> {
    Ok(AppJson(save(&state, &session, &input).await?))
}
