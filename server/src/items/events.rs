//! CRM webhooks: the receiver (`POST /api/raynet-event/{webhook_id}`) stores each event durably
//! and answers at once; the worker leases pending events, coalesces them per record, fetches the
//! records' current state in batches (`id[IN]`) and applies it. Because it applies the CRM's
//! state rather than the event, duplicates and out-of-order delivery end in the same result.

use std::{collections::BTreeMap, time::Duration};

use axum::{
    body::Bytes,
    extract::{Path, State},
    http::HeaderMap,
};
use serde::Serialize;
use subtle::ConstantTimeEq;
use utoipa::ToSchema;

use super::{Item, ItemKind};
use crate::{
    crm::{Crm, CrmError, RecordKind, webhook::parse_event},
    error::{AppError, AppJson},
    settings::{Setting, WebhookSettings},
    state::AppState,
    store::{NewEvent, StoredEvent, now_ms},
};

/// Events leased per round.
const BATCH: i64 = 1000;
/// Ids per `id[IN]` request.
const IDS_PER_FETCH: usize = 100;
/// How long a lease protects a round from other workers.
const LEASE_MS: i64 = 60_000;
/// Attempts before an event is given up.
const MAX_ATTEMPTS: i32 = 20;

/// The receiver's answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Received {
    /// `stored`, or `duplicate` for an event id seen before.
    pub status: &'static str,
}

/// Receives a CRM webhook.
#[utoipa::path(
    post,
    path = "/api/raynet-event/{webhook_id}",
    tag = "crm",
    params(("webhook_id" = String, Path, description = "Our webhook id")),
    request_body(content = String, description = "The CRM's event JSON"),
    responses(
        (status = 200, body = Received),
        (status = 400, body = crate::error::ErrorBody),
        (status = 401, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody)
    )
)]
pub async fn receive(
    State(state): State<AppState>,
    Path(webhook_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<AppJson<Received>, AppError> {
    let settings = WebhookSettings::load(state.store.as_ref()).await?;
    let known = !settings.webhook_id.is_empty()
        && bool::from(settings.webhook_id.as_bytes().ct_eq(webhook_id.as_bytes()));
    if !known {
        return Err(AppError::NotFound("no such webhook".into()));
    }
    let expected = settings.secret_token(&state.master_key)?;
    let sent = headers
        .get("x-raynetcrm-token")
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    let valid = expected.is_some_and(|t| {
        use secrecy::ExposeSecret;
        bool::from(t.expose_secret().as_bytes().ct_eq(sent))
    });
    if !valid {
        // Counted for the Health page: the CRM's webhook no longer carries our token.
        state.store.note_webhook_rejection().await?;
        return Err(AppError::Unauthorized(
            "missing or wrong X-RAYNETCRM-Token".into(),
        ));
    }
    let event = parse_event(&body).map_err(AppError::BadRequest)?;
    let (entity_name, entity_id) = (event.entity_name.clone(), event.entity_id);
    let stored = state
        .store
        .insert_event(&NewEvent {
            event_id: event.event_id,
            action: event.action.as_str().into(),
            entity_name: event.entity_name,
            item_kind: event.kind.map(|k| ItemKind::from(k).code()),
            entity_id: event.entity_id,
            created_at: event.created_at.map(|t| t.timestamp_millis()),
            to_apply: event.kind.is_some() || event.activity.is_some(),
        })
        .await?;
    if stored {
        // Two workers wait: one for cached records, one for the activities the ledger follows.
        state.wake.events.notify_waiters();
        state.wake.events.notify_one();
        crate::calendar::engine::on_crm_change(&state, &entity_name, entity_id).await;
    }
    Ok(AppJson(Received {
        status: if stored { "stored" } else { "duplicate" },
    }))
}

/// Webhook figures for the admin UI.
#[utoipa::path(
    get,
    path = "/api/admin/webhook/events",
    tag = "admin",
    responses((status = 200, body = crate::store::EventStats), (status = 401, body = crate::error::ErrorBody))
)]
pub async fn stats(
    State(state): State<AppState>,
    _admin: crate::identity::session::RequireAdmin,
) -> Result<AppJson<crate::store::EventStats>, AppError> {
    let midnight = chrono::Utc::now()
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .map_or(0, |t| t.and_utc().timestamp_millis());
    Ok(AppJson(state.store.event_stats(midnight).await?))
}

/// Applies pending events until `stop` turns true.
pub async fn run_worker(state: AppState, stop: tokio::sync::watch::Receiver<bool>) {
    run_rounds(state, stop, |state| Box::pin(apply_round(state))).await;
}

/// One round of an event worker: the number of events handled.
pub type Round =
    for<'a> fn(&'a AppState) -> futures::future::BoxFuture<'a, Result<usize, AppError>>;

/// Runs `round` until `stop` turns true, right away while there is work, else when the
/// receiver wakes the workers or the poll interval passes.
pub async fn run_rounds(
    state: AppState,
    mut stop: tokio::sync::watch::Receiver<bool>,
    round: Round,
) {
    let poll = Duration::from_millis(state.config.jobs.poll_interval_ms.max(10));
    loop {
        let worked = match round(&state).await {
            Ok(n) => n > 0,
            Err(e) => {
                tracing::warn!(error = %e, "applying CRM events failed; retrying");
                false
            }
        };
        if worked {
            continue;
        }
        tokio::select! {
            _ = stop.changed() => return,
            () = state.wake.events.notified() => {}
            () = tokio::time::sleep(poll) => {}
        }
        if *stop.borrow() {
            return;
        }
    }
}

/// One round: lease, coalesce, fetch, apply. Returns the number of events handled.
pub async fn apply_round(state: &AppState) -> Result<usize, AppError> {
    let events = state.store.lease_events(BATCH, LEASE_MS, false).await?;
    if events.is_empty() {
        return Ok(0);
    }
    let crm = match state
        .crm
        .admin(state.store.as_ref(), &state.master_key)
        .await
    {
        Ok(crm) => crm,
        Err(e) => {
            let ids: Vec<String> = events.iter().map(|e| e.event_id.clone()).collect();
            state
                .store
                .retry_events(&ids, &e.to_string(), now_ms() + 30_000, MAX_ATTEMPTS)
                .await?;
            return Ok(0);
        }
    };
    let mut by_kind: BTreeMap<ItemKind, Vec<&StoredEvent>> = BTreeMap::new();
    for event in &events {
        if let Some(kind) = event.item_kind.and_then(ItemKind::from_code) {
            by_kind.entry(kind).or_default().push(event);
        }
    }
    for (kind, group) in by_kind {
        let mut ids: Vec<i64> = group.iter().map(|e| e.entity_id).collect();
        ids.sort_unstable();
        ids.dedup();
        let event_ids: Vec<String> = group.iter().map(|e| e.event_id.clone()).collect();
        match refresh_records(state, crm.as_ref(), kind, &ids).await {
            Ok(()) => state.store.finish_events(&event_ids, "applied").await?,
            Err(err) => {
                let retry_at = match &err {
                    CrmError::RateLimited { until: Some(t) } => t.timestamp_millis(),
                    _ => now_ms() + backoff_ms(group.iter().map(|e| e.attempts).max().unwrap_or(0)),
                };
                tracing::warn!(error = %err, kind = kind.as_str(), "fetching changed records failed");
                state
                    .store
                    .retry_events(&event_ids, &err.to_string(), retry_at, MAX_ATTEMPTS)
                    .await?;
            }
        }
    }
    Ok(events.len())
}

fn backoff_ms(attempts: i32) -> i64 {
    let base = 1_000i64.saturating_mul(1 << attempts.clamp(0, 8));
    base + rand::random_range(0..=base / 2)
}

/// Fetches the current state of `ids` and stores it; ids the CRM no longer has are deleted.
pub async fn refresh_records(
    state: &AppState,
    crm: &dyn Crm,
    kind: ItemKind,
    ids: &[i64],
) -> Result<(), CrmError> {
    for chunk in ids.chunks(IDS_PER_FETCH) {
        let records = crm.get_many(RecordKind::from(kind), chunk).await?;
        let found: Vec<Item> = records.into_iter().map(Item::from).collect();
        let missing: Vec<(ItemKind, i64)> = chunk
            .iter()
            .filter(|id| !found.iter().any(|i| i.id == **id))
            .map(|id| (kind, *id))
            .collect();
        let store = state.store.as_ref();
        let keys: Vec<(ItemKind, i64)> = chunk.iter().map(|id| (kind, *id)).collect();
        state
            .items
            .upsert(store, found)
            .await
            .map_err(|e| CrmError::Upstream(format!("storing records failed: {e}")))?;
        state
            .items
            .delete(store, &missing)
            .await
            .map_err(|e| CrmError::Upstream(format!("deleting records failed: {e}")))?;
        crate::items::sync::announce(state, &keys).await;
    }
    Ok(())
}
