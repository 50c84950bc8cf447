//! Periodic reconcile: asks the CRM for records changed since the last reconcile
//! (`rowInfo.lastModifiedAt[GT]`), so a lost webhook is repaired. One instance at a time (a
//! lease), and each kind keeps its own watermark in the settings table.
//!
//! A change query never shows a record deleted while its webhook was lost, so a less frequent
//! id sweep lists every id the CRM has (ids only, paged) and removes cached records it lacks,
//! after checking each candidate once more by id.

use std::{collections::BTreeMap, time::Duration};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Item, ItemKind, ItemsCtx};
use crate::{
    crm::{MAX_PAGE, PageRequest},
    jobs::{JobError, JobKind, Schedule, WorkError},
    settings::Setting,
    store::{Job, now_ms},
};

/// Changes this close to the watermark are fetched again: clocks and commit order drift.
const OVERLAP: Duration = Duration::from_secs(120);

/// When each kind was last reconciled, and how the last run ended.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct ReconcileState {
    /// Kind → start of the last successful reconcile (Unix ms).
    pub watermarks: BTreeMap<String, i64>,
    /// End of the last run (Unix ms).
    pub last_run_at: Option<i64>,
    /// Records changed by the last run.
    pub last_changed: u64,
    /// Error of the last run, if it failed.
    pub last_error: Option<String>,
    /// The last id sweep, if one ran.
    pub last_sweep: Option<SweepReport>,
}

/// What an id sweep did.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(default)]
pub struct SweepReport {
    /// When it ended (Unix ms).
    pub finished_at: i64,
    /// Ids the CRM listed.
    pub crm_ids: u64,
    /// Cached records compared.
    pub cached: u64,
    /// Cached records removed because the CRM no longer has them.
    pub removed: u64,
    /// CRM requests made.
    pub requests: u64,
    /// How long it took, in milliseconds.
    pub took_ms: u64,
}

/// Lists every id of every kind in the CRM and removes cached records the CRM no longer has
/// (each candidate is checked by id first, so a record created meanwhile is kept).
pub async fn sweep_once(state: &ItemsCtx) -> Result<SweepReport, WorkError> {
    let store = state.store.as_ref();
    let crm = state.crm.admin(store, &state.master_key).await?;
    let started = std::time::Instant::now();
    let mut report = SweepReport::default();
    for kind in ItemKind::ALL {
        let mut in_crm: Vec<i64> = Vec::new();
        let mut request = PageRequest::first(None);
        loop {
            let page = crm.list_ids(kind, request).await?;
            report.requests += 1;
            let count = page.items.len() as u64;
            in_crm.extend(page.items);
            if count < MAX_PAGE {
                break;
            }
            request = request.next();
        }
        in_crm.sort_unstable();
        report.crm_ids += in_crm.len() as u64;
        let cached = store.item_ids(kind).await?;
        report.cached += cached.len() as u64;
        let candidates: Vec<i64> = cached
            .into_iter()
            .filter(|id| in_crm.binary_search(id).is_err())
            .collect();
        if candidates.is_empty() {
            continue;
        }
        let before = store.count_items(kind).await?;
        super::events::refresh_records(state, crm.as_ref(), kind, &candidates).await?;
        report.requests += candidates.len().div_ceil(100) as u64;
        let after = store.count_items(kind).await?;
        report.removed += u64::try_from(before - after).unwrap_or(0);
    }
    report.took_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    report.finished_at = now_ms();
    let mut status = ReconcileState::load(store).await?;
    status.last_sweep = Some(report.clone());
    status.save(store).await?;
    Ok(report)
}

impl Setting for ReconcileState {
    const KEY: &'static str = "reconcile";
}

/// Reconciles every kind once; returns how many records were refreshed.
pub async fn reconcile_once(state: &ItemsCtx) -> Result<u64, WorkError> {
    let store = state.store.as_ref();
    let mut status = ReconcileState::load(store).await?;
    let crm = state.crm.admin(store, &state.master_key).await?;
    let mut changed = 0;
    let result: Result<(), WorkError> = async {
        for kind in ItemKind::ALL {
            let started = now_ms();
            let since = status
                .watermarks
                .get(kind.as_str())
                .and_then(|ms| DateTime::<Utc>::from_timestamp_millis(*ms))
                .map(|t| t - OVERLAP);
            let Some(since) = since else {
                // Never imported: the initial import, not the reconcile, fills this kind.
                continue;
            };
            let mut request = PageRequest {
                offset: 0,
                limit: MAX_PAGE,
                changed_since: Some(since),
            };
            loop {
                let page = crm.list(kind, request).await?;
                let count = page.items.len() as u64;
                let items: Vec<Item> = page.items.into_iter().map(Item::from).collect();
                let keys: Vec<(ItemKind, i64)> = items.iter().map(|i| (i.kind, i.id)).collect();
                state.items.upsert(store, items).await?;
                super::sync::announce(state, &keys).await;
                changed += count;
                if count < MAX_PAGE {
                    break;
                }
                request = request.next();
            }
            status.watermarks.insert(kind.as_str().to_owned(), started);
        }
        Ok(())
    }
    .await;
    status.last_run_at = Some(now_ms());
    status.last_changed = changed;
    status.last_error = result.as_ref().err().map(ToString::to_string);
    status.save(store).await?;
    result.map(|()| changed)
}

/// Marks every kind as reconciled up to `at` (called when an import starts).
pub async fn set_watermarks(state: &ItemsCtx, at: i64) -> Result<(), WorkError> {
    let store = state.store.as_ref();
    let mut status = ReconcileState::load(store).await?;
    for kind in ItemKind::ALL {
        status.watermarks.insert(kind.as_str().to_owned(), at);
    }
    Ok(status.save(store).await?)
}

/// The job kind of the periodic reconcile.
pub const RECONCILE_JOB: &str = "items.reconcile";

/// The job kind of the id sweep.
pub const SWEEP_JOB: &str = "items.sweep";

/// The `items.reconcile` job, every `jobs.reconcile_minutes`: the reconcile, then the CRM
/// security levels, then pruning events older than a week.
pub struct Reconcile {
    state: ItemsCtx,
}

impl Reconcile {
    /// The kind, reconciling with `state`.
    pub fn new(state: ItemsCtx) -> Self {
        Self { state }
    }
}

#[async_trait::async_trait]
impl JobKind for Reconcile {
    fn name(&self) -> &'static str {
        RECONCILE_JOB
    }

    fn schedule(&self) -> Schedule {
        match self.state.config.jobs.reconcile_minutes {
            0 => Schedule::Off,
            minutes => Schedule::Every(Duration::from_secs(minutes * 60)),
        }
    }

    async fn run(&self, _job: &Job) -> Result<(), JobError> {
        let state = &self.state;
        let result = reconcile_once(state).await;
        match &result {
            Ok(n) => tracing::info!(changed = n, "reconcile done"),
            Err(e) => tracing::warn!(error = %e, "reconcile failed"),
        }
        if let Err(e) = super::access::refresh_all_levels(state).await {
            tracing::warn!(error = %e, "refreshing CRM security levels failed");
        }
        if let Err(e) = state
            .store
            .prune_events(now_ms() - 7 * 24 * 3_600_000)
            .await
        {
            tracing::warn!(error = %e, "pruning old CRM events failed");
        }
        result
            .map(|_| ())
            .map_err(|e| JobError::retry(e.to_string()))
    }
}

/// The `items.sweep` job, every `jobs.sweep_hours`.
pub struct Sweep {
    state: ItemsCtx,
}

impl Sweep {
    /// The kind, sweeping with `state`.
    pub fn new(state: ItemsCtx) -> Self {
        Self { state }
    }
}

#[async_trait::async_trait]
impl JobKind for Sweep {
    fn name(&self) -> &'static str {
        SWEEP_JOB
    }

    fn schedule(&self) -> Schedule {
        match self.state.config.jobs.sweep_hours {
            0 => Schedule::Off,
            hours => Schedule::Every(Duration::from_secs(hours * 3600)),
        }
    }

    async fn run(&self, _job: &Job) -> Result<(), JobError> {
        let report = sweep_once(&self.state)
            .await
            .map_err(|e| JobError::retry(e.to_string()))?;
        tracing::info!(
            removed = report.removed,
            took_ms = report.took_ms,
            "id sweep done"
        );
        Ok(())
    }
}
