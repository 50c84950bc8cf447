//! The CRM's webhook endpoint (`POST` on `crm::webhook::ROUTE`): checks our webhook id and the
//! CRM's token in constant time, stores the event durably (deduplicated by its id) and answers
//! at once; the `items.apply_events` and `activities.follow` jobs apply it. Also the admin's
//! webhook figures.

use axum::{
    body::Bytes,
    extract::{Path, State},
    http::HeaderMap,
};
use serde::Serialize;
use subtle::ConstantTimeEq;
use utoipa::ToSchema;

use super::ItemsCtx;
use crate::{
    api_responses::{AdminOnly, BadRequest, NotFound, Unauthorized},
    crm::webhook::{self, CrmEvent, parse_event},
    error::{AppError, AppJson},
    jobs::drain::EVENT_STORED,
    settings::{Setting, WebhookSettings},
    store::{NewEvent, StoreError},
};

/// The receiver's answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Received {
    /// `stored`, or `duplicate` for an event id seen before.
    pub status: &'static str,
}

/// Receives a CRM webhook.
#[utoipa::path(
    post,
    path = crate::crm::webhook::ROUTE,
    tag = "crm",
    params(("webhook_id" = String, Path, description = "Our webhook id")),
    request_body(content = String, description = "The CRM's event JSON"),
    responses(
        (status = 200, body = Received),
        BadRequest,
        Unauthorized,
        NotFound
    )
)]
pub async fn receive(
    State(state): State<ItemsCtx>,
    Path(webhook_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<AppJson<Received>, AppError> {
    check_sender(&state, &webhook_id, &headers).await?;
    let event = parse_event(&body).map_err(AppError::BadRequest)?;
    let stored = store_event(&state, event).await?;
    Ok(AppJson(Received {
        status: if stored { "stored" } else { "duplicate" },
    }))
}

/// 404 unless `webhook_id` is ours, 401 unless the CRM's token is the stored one (compared in
/// constant time).
async fn check_sender(
    state: &ItemsCtx,
    webhook_id: &str,
    headers: &HeaderMap,
) -> Result<(), AppError> {
    let settings = WebhookSettings::load(state.store.as_ref()).await?;
    let known = !settings.webhook_id.is_empty()
        && bool::from(settings.webhook_id.as_bytes().ct_eq(webhook_id.as_bytes()));
    if !known {
        return Err(AppError::NotFound("no such webhook".into()));
    }
    let expected = settings.secret_token(&state.master_key)?;
    if !webhook::authenticate(headers, expected.as_ref()) {
        // Counted for the Health page: the CRM's webhook no longer carries our token.
        state.store.note_webhook_rejection().await?;
        return Err(AppError::Unauthorized(webhook::WRONG_TOKEN.into()));
    }
    Ok(())
}

/// Stores `event` (false: its id was seen before) and wakes what applies it.
async fn store_event(state: &ItemsCtx, event: CrmEvent) -> Result<bool, StoreError> {
    let (entity_name, entity_id) = (event.entity_name.clone(), event.entity_id);
    let stored = state
        .store
        .insert_event(&NewEvent {
            event_id: event.event_id,
            action: event.action.as_str().into(),
            entity_name: event.entity_name,
            item_kind: event.kind.map(|k| k.code()),
            entity_id: event.entity_id,
            created_at: event.created_at.map(|t| t.timestamp_millis()),
            to_apply: event.kind.is_some() || event.activity.is_some(),
        })
        .await?;
    if stored {
        state.jobs.signal(EVENT_STORED);
        crate::calendar::engine::on_crm_change(
            state.store.as_ref(),
            &state.jobs,
            &entity_name,
            entity_id,
        )
        .await;
    }
    Ok(stored)
}

/// Webhook figures for the admin UI.
#[utoipa::path(
    get,
    path = "/api/admin/webhook/events",
    tag = "admin",
    responses((status = 200, body = crate::store::EventStats), AdminOnly)
)]
pub async fn stats(
    State(state): State<ItemsCtx>,
    _admin: crate::identity::session::RequireAdmin,
) -> Result<AppJson<crate::store::EventStats>, AppError> {
    let midnight = chrono::Utc::now()
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .map_or(0, |t| t.and_utc().timestamp_millis());
    Ok(AppJson(state.store.event_stats(midnight).await?))
}
