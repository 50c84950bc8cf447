//! CRM webhooks: the receiver (`POST` on `crm::webhook::ROUTE`) stores each event durably
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

use super::ItemsCtx;
use super::{Item, ItemKind};
use crate::{
    backoff,
    crm::{
        Crm, CrmError,
        webhook::{self, parse_event},
    },
    error::{AppError, AppJson},
    jobs::{JobError, JobKind, Schedule, Signal, WorkError},
    settings::{Setting, WebhookSettings},
    store::{Job, NewEvent, StoredEvent, now_ms},
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
    path = crate::crm::webhook::ROUTE,
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
    State(state): State<ItemsCtx>,
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
    if !webhook::authenticate(&headers, expected.as_ref()) {
        // Counted for the Health page: the CRM's webhook no longer carries our token.
        state.store.note_webhook_rejection().await?;
        return Err(AppError::Unauthorized(webhook::WRONG_TOKEN.into()));
    }
    let event = parse_event(&body).map_err(AppError::BadRequest)?;
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
    State(state): State<ItemsCtx>,
    _admin: crate::identity::session::RequireAdmin,
) -> Result<AppJson<crate::store::EventStats>, AppError> {
    let midnight = chrono::Utc::now()
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .map_or(0, |t| t.and_utc().timestamp_millis());
    Ok(AppJson(state.store.event_stats(midnight).await?))
}

/// The job kind that applies stored CRM events to the cached records.
pub const APPLY_EVENTS_JOB: &str = "items.apply_events";

/// Given by the receiver when it stored a new event.
pub const EVENT_STORED: Signal = Signal("crm-event-stored");

/// The `items.apply_events` job: a scheduled drain of the stored events, woken by the receiver.
pub struct ApplyEvents {
    state: ItemsCtx,
}

impl ApplyEvents {
    /// The kind, applying events with `state`.
    pub fn new(state: ItemsCtx) -> Self {
        Self { state }
    }
}

#[async_trait::async_trait]
impl JobKind for ApplyEvents {
    fn name(&self) -> &'static str {
        APPLY_EVENTS_JOB
    }

    fn schedule(&self) -> Schedule {
        Schedule::Every(Duration::from_millis(
            self.state.config.jobs.poll_interval_ms.max(10),
        ))
    }

    fn woken_by(&self) -> &'static [Signal] {
        &[EVENT_STORED]
    }

    async fn run(&self, _job: &Job) -> Result<(), JobError> {
        while apply_round(&self.state).await? > 0 {}
        Ok(())
    }
}

/// One round: lease, coalesce, fetch, apply. Returns the number of events handled.
pub async fn apply_round(state: &ItemsCtx) -> Result<usize, WorkError> {
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
    let attempt = u32::try_from(attempts).unwrap_or(0);
    backoff::delay_ms(attempt, Duration::from_secs(2), Duration::from_secs(512))
}

/// Fetches the current state of `ids` and stores it; ids the CRM no longer has are deleted.
pub async fn refresh_records(
    state: &ItemsCtx,
    crm: &dyn Crm,
    kind: ItemKind,
    ids: &[i64],
) -> Result<(), CrmError> {
    for chunk in ids.chunks(IDS_PER_FETCH) {
        let records = crm.get_many(kind, chunk).await?;
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
