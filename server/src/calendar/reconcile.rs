//! The scheduled reconcile `calendar.reconcile` (every `jobs.calendar_reconcile_secs`): repairs
//! what lost webhooks missed. It queues a `calendar.sync` job for every activity of the synced
//! types changed since the last pass (`rowInfo.lastModifiedAt`) that concerns a synced employee
//! or has an event, and lists the ids the CRM still has to sync (and so remove) the linked
//! activities it no longer has. Its jobs run one at a time per activity with the webhooks'
//! jobs, so a pass's older read never undoes a newer change. Activities moved out of range are
//! changes, so the first part catches them. When what every event depends on changed since the
//! last pass (participant mode, types, category, start date, sync rules), every linked activity
//! is planned again; saving such a change signals [`SETTINGS_CHANGED`], so that pass starts at
//! once rather than at the next period. Each pass also queues a delta round of every synced
//! mailbox (`calendar.outlook_delta`), so Outlook edits reach the CRM without notifications too,
//! and has the mailboxes' Graph subscriptions checked.

use std::{collections::BTreeMap, time::Duration};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{
    ActivityKind, CalendarCtx,
    engine::{GraphConnector, SyncScope, enqueue},
};
use crate::{
    crm::{ActivityRef, MAX_PAGE, PageRequest, TimedFilter},
    jobs::{JobError, JobKind, Schedule, Signal},
    settings::Setting,
    store::{Job, now_ms},
};

/// The job kind of the scheduled reconcile.
pub const JOB_KIND: &str = "calendar.reconcile";

/// Something every event depends on changed (participant mode, types, category, start date):
/// the reconcile runs now.
pub const SETTINGS_CHANGED: Signal = Signal("calendar-settings-changed");

/// Changes this close to the watermark are fetched again: clocks and commit order drift.
const OVERLAP: Duration = Duration::from_secs(120);

/// How far back the first pass looks (later passes start at the last one's start).
const FIRST_LOOK_BACK: Duration = Duration::from_secs(24 * 3600);

/// How the calendar reconcile went (setting `calendar_reconcile`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct ReconcileState {
    /// Start of the last successful pass (Unix ms).
    pub watermark: Option<i64>,
    /// End of the last pass (Unix ms).
    pub last_run_at: Option<i64>,
    /// Activities the last pass synced.
    pub last_synced: u64,
    /// Error of the last pass, if it failed.
    pub last_error: Option<String>,
    /// The settings the last pass planned with ([`SyncScope::fingerprint`]).
    pub fingerprint: Option<String>,
}

impl Setting for ReconcileState {
    const KEY: &'static str = "calendar_reconcile";
}

/// The `calendar.reconcile` job kind.
pub struct ReconcileJob {
    state: CalendarCtx,
    graph: GraphConnector,
}

impl ReconcileJob {
    /// The kind, syncing with `state`.
    pub fn new(state: CalendarCtx) -> Self {
        Self {
            graph: GraphConnector::default(),
            state,
        }
    }
}

#[async_trait]
impl JobKind for ReconcileJob {
    fn name(&self) -> &'static str {
        JOB_KIND
    }

    fn schedule(&self) -> Schedule {
        match self.state.config.jobs.calendar_reconcile_secs {
            0 => Schedule::Off,
            secs => Schedule::Every(Duration::from_secs(secs)),
        }
    }

    fn woken_by(&self) -> &'static [Signal] {
        &[SETTINGS_CHANGED]
    }

    async fn run(&self, _job: &Job) -> Result<(), JobError> {
        let store = self.state.store.as_ref();
        let result = reconcile_once(&self.state, &self.graph).await;
        let mut status = ReconcileState::load(store).await?;
        status.last_run_at = Some(now_ms());
        match &result {
            Ok(pass) => {
                status.watermark = Some(pass.started);
                status.last_synced = pass.synced;
                status.last_error = None;
                if pass.fingerprint.is_some() {
                    status.fingerprint.clone_from(&pass.fingerprint);
                }
            }
            Err(e) => {
                tracing::warn!(error = ?e, "calendar reconcile failed");
                status.last_error = Some(format!("{e:?}"));
            }
        }
        status.save(store).await?;
        result.map(|_| ())
    }
}

/// What one pass did.
struct Pass {
    /// When it started (the next watermark).
    started: i64,
    /// Activities synced.
    synced: u64,
    /// The settings it planned with (`None` when sync is off).
    fingerprint: Option<String>,
}

/// One pass.
async fn reconcile_once(state: &CalendarCtx, connector: &GraphConnector) -> Result<Pass, JobError> {
    let started = now_ms();
    let store = state.store.as_ref();
    let Some(scope) = SyncScope::load(state).await? else {
        return Ok(Pass {
            started,
            synced: 0,
            fingerprint: None,
        });
    };
    // Checks the Office 365 app before queuing work that needs it.
    connector.get(state).await?;
    // Outlook → CRM: a delta round per synced mailbox, the safety net behind notifications.
    super::outlook_delta::queue_all(state).await?;
    // And their Graph subscriptions are checked (created, renewed) where notifications can come.
    state.jobs.signal(super::notifications::SUBSCRIPTIONS_DUE);
    // A period shorter than the overlap would read the same changes again on every pass.
    let period = Duration::from_secs(state.config.jobs.calendar_reconcile_secs.max(1));
    let overlap = i64::try_from(OVERLAP.min(period).as_millis()).unwrap_or(0);
    let look_back = i64::try_from(FIRST_LOOK_BACK.as_millis()).unwrap_or(0);
    let last = ReconcileState::load(store).await?;
    let fingerprint = scope.fingerprint();
    if last
        .fingerprint
        .as_ref()
        .is_some_and(|seen| *seen != fingerprint)
    {
        let mut synced = 0;
        for key in store.calendar_linked_keys().await? {
            if let Some(r) = ActivityRef::parse_key(&key) {
                enqueue(store, &state.jobs, r.kind, r.id).await?;
                synced += 1;
            }
        }
        return Ok(Pass {
            started: last.watermark.unwrap_or(started),
            synced,
            fingerprint: Some(fingerprint),
        });
    }
    let since_ms = match last.watermark {
        Some(mark) => mark - overlap,
        None => started - look_back,
    };
    let since = DateTime::<Utc>::from_timestamp_millis(since_ms);
    let mut linked: BTreeMap<ActivityKind, Vec<i64>> = BTreeMap::new();
    for key in store.calendar_linked_keys().await? {
        if let Some(r) = ActivityRef::parse_key(&key) {
            linked.entry(r.kind).or_default().push(r.id);
        }
    }
    for ids in linked.values_mut() {
        ids.sort_unstable();
    }
    let mut synced = 0;
    let kinds: Vec<ActivityKind> = scope.kinds().collect();
    for kind in kinds {
        let linked_ids = linked.remove(&kind).unwrap_or_default();
        // Changed since the last pass.
        let mut page = PageRequest::first(since);
        loop {
            let found = scope
                .crm()
                .list_timed_activities(kind, &TimedFilter::default(), page)
                .await?;
            let count = found.items.len() as u64;
            for activity in &found.items {
                if scope.involves(activity) || linked_ids.binary_search(&activity.id).is_ok() {
                    enqueue(store, &state.jobs, kind, activity.id).await?;
                    synced += 1;
                }
            }
            if count < MAX_PAGE {
                break;
            }
            page = page.next();
        }
        synced += remove_gone(state, &scope, kind, &linked_ids).await?;
    }
    // Links of types no longer synced: each sync removes their events.
    for (kind, ids) in linked {
        for id in ids {
            enqueue(store, &state.jobs, kind, id).await?;
            synced += 1;
        }
    }
    Ok(Pass {
        started,
        synced,
        fingerprint: Some(fingerprint),
    })
}

/// Queues a sync of the linked activities of `kind` the CRM no longer lists (ids only, from the
/// smallest linked id on); the number queued.
async fn remove_gone(
    state: &CalendarCtx,
    scope: &SyncScope,
    kind: ActivityKind,
    linked_ids: &[i64],
) -> Result<u64, JobError> {
    let Some(&min_id) = linked_ids.first() else {
        return Ok(0);
    };
    let filter = TimedFilter {
        min_id: Some(min_id),
        ..TimedFilter::default()
    };
    let mut in_crm: Vec<i64> = Vec::new();
    let mut page = PageRequest::first(None);
    loop {
        let found = scope
            .crm()
            .list_timed_activity_ids(kind, &filter, page)
            .await?;
        let count = found.items.len() as u64;
        in_crm.extend(found.items);
        if count < MAX_PAGE {
            break;
        }
        page = page.next();
    }
    in_crm.sort_unstable();
    let mut synced = 0;
    for id in linked_ids {
        if in_crm.binary_search(id).is_err() {
            enqueue(state.store.as_ref(), &state.jobs, kind, *id).await?;
            synced += 1;
        }
    }
    Ok(synced)
}
