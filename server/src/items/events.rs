//! Applying CRM webhooks: the receiver (`receiver`) stores each event durably and answers at
//! once; the `items.apply_events` drain (`jobs::drain`) leases pending events, coalesces them per record, fetches the
//! records' current state in batches (`id[IN]`) and applies it. Because it applies the CRM's
//! state rather than the event, duplicates and out-of-order delivery end in the same result.

use std::{collections::BTreeMap, time::Duration};

use super::{Item, ItemKind, ItemsCtx};
use crate::{
    backoff,
    crm::{Crm, CrmError},
    jobs::{
        WorkError,
        drain::{EventHandler, Events, MAX_ATTEMPTS},
    },
    store::{Store, StoredEvent, now_ms},
};

/// Events leased per round.
const BATCH: i64 = 1000;
/// Ids per `id[IN]` request.
const IDS_PER_FETCH: usize = 100;

/// The job kind that applies stored CRM events to the cached records.
pub const APPLY_EVENTS_JOB: &str = "items.apply_events";

/// What the `items.apply_events` drain (`jobs::drain::Drain`) does with a batch of stored
/// record events.
pub struct ApplyEvents {
    state: ItemsCtx,
}

impl ApplyEvents {
    /// The handler, applying events with `state`.
    pub fn new(state: ItemsCtx) -> Self {
        Self { state }
    }
}

#[async_trait::async_trait]
impl EventHandler for ApplyEvents {
    fn name(&self) -> &'static str {
        APPLY_EVENTS_JOB
    }

    fn events(&self) -> Events {
        Events::Records
    }

    fn batch_size(&self) -> i64 {
        BATCH
    }

    fn store(&self) -> &dyn Store {
        self.state.store.as_ref()
    }

    async fn handle(&self, events: &[StoredEvent]) -> Result<usize, WorkError> {
        apply_events(&self.state, events).await
    }
}

/// Coalesces the leased `events` per kind, fetches the records and applies them. Returns the
/// number of events handled (0 when no CRM client could be built: the batch waits 30 s).
async fn apply_events(state: &ItemsCtx, events: &[StoredEvent]) -> Result<usize, WorkError> {
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
    for event in events {
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
