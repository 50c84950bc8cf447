//! Sync parameters (the participant sync mode: which Raynet activities synced to Outlook carry
//! their participants as attendees): validation and saving shared by `GET/PUT /api/admin/sync`
//! and the Synchronisation page.

use axum::extract::State;
use serde::Deserialize;
use utoipa::ToSchema;

use super::{Problems, audit};
use crate::{
    api_responses::{AdminOnly, Invalid},
    calendar::reconcile::SETTINGS_CHANGED,
    error::{AppError, AppJson},
    identity::session::{AdminSession, RequireAdmin},
    service_errors::SaveError,
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

/// Validates and saves the sync parameters, auditing the change; a new mode starts the calendar
/// reconcile at once, so synced events take it without waiting for the next pass.
pub async fn save(
    state: &AppState,
    by: &AdminSession,
    input: &SyncInput,
) -> Result<SyncSettings, SaveError> {
    let settings = parse(input).map_err(|p| p.in_english())?;
    let before = SyncSettings::load(state.store.as_ref()).await?;
    settings.save(state.store.as_ref()).await?;
    if before != settings {
        state.jobs.signal(SETTINGS_CHANGED);
    }
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
        AdminOnly
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
        AdminOnly,
        Invalid
    )
)]
pub async fn put_settings(
    State(state): State<AppState>,
    RequireAdmin(session): RequireAdmin,
    AppJson(input): AppJson<SyncInput>,
) -> Result<AppJson<SyncSettings>, AppError> {
    Ok(AppJson(save(&state, &session, &input).await?))
}
