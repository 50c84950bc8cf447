//! Applying CRM webhooks: the receiver (`receiver`) stores each event durably and answers at
//! once; the `items.apply_events` job leases pending events, coalesces them per record, fetches the
//! records' current state in batches (`id[IN]`) and applies it. Because it applies the CRM's
//! state rather than the event, duplicates and out-of-order delivery end in the same result.

use std::{collections::BTreeMap, time::Duration};

use super::{Item, ItemKind, ItemsCtx};
use crate::{
    backoff,
    crm::{Crm, CrmError},
    jobs::{JobError, JobKind, Schedule, Signal, WorkError},
    store::{Job, StoredEvent, now_ms},
};

/// Events leased per round.
const BATCH: i64 = 1000;
/// Ids per `id[IN]` request.
const IDS_PER_FETCH: usize = 100;
/// How long a lease protects a round from other workers.
const LEASE_MS: i64 = 60_000;
/// Attempts before an event is given up.
const MAX_ATTEMPTS: i32 = 20;

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
