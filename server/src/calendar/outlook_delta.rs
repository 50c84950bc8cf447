//! Outlook → CRM for synced events: the job kind [`JOB_KIND`] (one per employee) runs a Graph
//! delta round of the employee's mailbox from the stored delta link, matches what changed to
//! our links by event id, lets [`super::inbound::decide`] decide each change under the sync
//! rules, carries the decision out in the CRM (or holds the item for the admin), traces it as
//! `outlook_to_crm`, and stores the new delta link only when every change was handled, so a
//! failed run replays the same changes. A delta link Graph no longer knows (410) starts a full
//! resync: the whole window is listed again and matched to the links, so nothing is duplicated;
//! a linked event such a full listing leaves out counts as deleted.

use std::{collections::HashMap, sync::Arc};

use async_trait::async_trait;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use super::{
    ActivityKind, CalendarCtx, CalendarSettings, SyncRules,
    engine::{GraphConnector, SyncScope, adopt_outlook_version, rewrite_outlook},
    inbound::{
        CrmSide, Decision, InboundInput, InboundStep, OutlookChange, Shown, decide, mass_delete,
        normalized,
    },
    plan::shown_span,
};
use crate::{
    crm::{ActivityRef, ActivityStatus, CrmError, TimedActivity, TimedUpdate},
    graph::{DeltaChange, DeltaFrom, GraphClient, GraphError, GraphEvent},
    jobs::{JobError, JobKind, JobQueue},
    settings::Setting,
    store::{CalendarLink, Job, NewHeld, NewJob, Store, StoreError, TraceEntry, now_ms},
};

/// The job kind that carries one employee's Outlook changes to the CRM.
pub const JOB_KIND: &str = "calendar.outlook_delta";

/// How far back a first delta round looks when no sync start date is set.
const DEFAULT_LOOK_BACK: jiff::SignedDuration = jiff::SignedDuration::from_hours(24 * 30);
/// How far ahead a delta round looks.
const LOOK_AHEAD: jiff::SignedDuration = jiff::SignedDuration::from_hours(24 * 400);
/// The window the flap quarantine counts inbound changes in (ms).
const FLAP_WINDOW_MS: i64 = 3_600_000;

/// The job's payload.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DeltaRequest {
    /// Our employee id.
    pub employee_id: String,
}

/// Queues a delta round of `employee_id`'s mailbox and wakes the workers.
pub async fn queue_outlook_delta(
    store: &dyn Store,
    jobs: &JobQueue,
    employee_id: &str,
) -> Result<(), StoreError> {
    let payload = serde_json::to_string(&DeltaRequest {
        employee_id: employee_id.to_owned(),
    })
    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    store
        .enqueue_job(NewJob {
            kind: JOB_KIND.to_owned(),
            payload,
            entry_id: None,
            serial_key: None,
        })
        .await?;
    jobs.wake();
    Ok(())
}

/// The `calendar.outlook_delta` job kind.
pub struct OutlookDeltaJob {
    state: CalendarCtx,
    graph: GraphConnector,
    /// One round per employee at a time in this process: two notifications in a row must not
    /// apply the same changes twice.
    running: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl OutlookDeltaJob {
    /// The kind, syncing with `state`.
    pub fn new(state: CalendarCtx) -> Self {
        Self {
            state,
            graph: GraphConnector::default(),
            running: Mutex::new(HashMap::new()),
        }
    }
}

#[async_trait]
impl JobKind for OutlookDeltaJob {
    fn name(&self) -> &'static str {
        JOB_KIND
    }

    async fn run(&self, job: &Job) -> Result<(), JobError> {
        let request: DeltaRequest = serde_json::from_str(&job.payload)
            .map_err(|e| JobError::Fatal(format!("bad Outlook delta payload: {e}")))?;
        let graph = self.graph.get(&self.state).await?;
        let lock = self
            .running
            .lock()
            .entry(request.employee_id.clone())
            .or_default()
            .clone();
        let result = {
            let _turn = lock.lock().await;
            run_delta(&self.state, &graph, &request.employee_id).await
        };
        drop(lock);
        let mut running = self.running.lock();
        if running
            .get(&request.employee_id)
            .is_some_and(|l| Arc::strong_count(l) == 1)
        {
            running.remove(&request.employee_id);
        }
        result.map(|_| ())
    }
}

/// What one round did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeltaSummary {
    /// Changes Graph listed.
    pub listed: usize,
    /// Changes that concerned a linked event.
    pub linked: usize,
    /// The stored delta link was unknown to Graph and the round started over.
    pub resynced: bool,
}

/// Queues a delta round for every employee whose calendar is synced (the safety net the
/// scheduled reconcile runs).
pub async fn queue_all(state: &CalendarCtx) -> Result<usize, StoreError> {
    let store = state.store.as_ref();
    let mut queued = 0;
    for cal in store.calendar_employees().await? {
        if cal.enabled {
            queue_outlook_delta(store, &state.jobs, &cal.employee_id).await?;
            queued += 1;
        }
    }
    Ok(queued)
}

/// One delta round of `employee_id`'s mailbox, its changes carried to the CRM.
pub async fn run_delta(
    state: &CalendarCtx,
    graph: &GraphClient,
    employee_id: &str,
) -> Result<DeltaSummary, JobError> {
    let store = state.store.as_ref();
    let Some(scope) = SyncScope::load(state).await? else {
        return Ok(DeltaSummary::default());
    };
    let Some(employee) = scope.employee(employee_id).cloned() else {
        return Ok(DeltaSummary::default());
    };
    let settings = CalendarSettings::load(store).await?;
    let rules = SyncRules::load(store).await?;
    let mut summary = DeltaSummary::default();
    let stored = store.calendar_delta_link(employee_id).await?;
    let window = || {
        let now = jiff::Timestamp::now();
        DeltaFrom::Window {
            start: settings
                .start_instant()
                .unwrap_or_else(|| now.checked_sub(DEFAULT_LOOK_BACK).unwrap_or(now)),
            end: now.checked_add(LOOK_AHEAD).unwrap_or(now),
        }
    };
    let started = now_ms();
    let from = stored.clone().map_or_else(window, DeltaFrom::Link);
    // A round over the whole window lists every event there is; deletions are not listed.
    let mut full = stored.is_none();
    let round = match graph.delta(&employee.mailbox, &from).await {
        Ok(round) => round,
        Err(GraphError::ResyncRequired) if stored.is_some() => {
            summary.resynced = true;
            full = true;
            store
                .save_calendar_delta_link(employee_id, &employee.mailbox, None)
                .await?;
            graph
                .delta(&employee.mailbox, &window())
                .await
                .map_err(graph_failure)?
        }
        Err(e) => {
            store
                .note_calendar_sync(employee_id, Some(&e.to_string()))
                .await?;
            return Err(graph_failure(e));
        }
    };
    summary.listed = round.changes.len();
    let links = store.calendar_links_of(employee_id).await?;
    let by_event: HashMap<&str, &CalendarLink> = links
        .iter()
        .filter_map(|l| l.event_id.as_deref().map(|id| (id, l)))
        .collect();
    // The last word on each event counts (Graph may list one twice across pages).
    let mut latest: Vec<(&CalendarLink, OutlookChange, Option<&GraphEvent>)> = Vec::new();
    for change in &round.changes {
        let (id, outlook, event) = match change {
            DeltaChange::Changed(event) => match outlook_change(event) {
                Some(c) => (event.id.as_str(), c, Some(event)),
                None => continue,
            },
            DeltaChange::Removed { id } => (id.as_str(), OutlookChange::Removed, None),
        };
        let Some(link) = by_event.get(id).copied() else {
            continue;
        };
        latest.retain(|(l, _, _)| l.activity_key != link.activity_key);
        latest.push((link, outlook, event));
    }
    if full {
        // What a full listing leaves out is gone (or moved out of the window), as an
        // incremental round would have said with `@removed`. Links written during the round
        // may name events the listing could not see yet.
        let listed: std::collections::HashSet<&str> = round
            .changes
            .iter()
            .map(|c| match c {
                DeltaChange::Changed(e) => e.id.as_str(),
                DeltaChange::Removed { id } => id.as_str(),
            })
            .collect();
        for link in &links {
            if let Some(id) = link.event_id.as_deref()
                && !listed.contains(id)
                && link.updated_at < started
            {
                latest.push((link, OutlookChange::Removed, None));
            }
        }
    }
    summary.linked = latest.len();
    let deletes = latest
        .iter()
        .filter(|(_, c, _)| {
            matches!(
                c,
                OutlookChange::Removed
                    | OutlookChange::Changed {
                        cancelled: true,
                        ..
                    }
            )
        })
        .count();
    let guard = mass_delete(deletes, links.len(), &rules);
    for (link, change, event) in latest {
        apply(state, &scope, &rules, link, &change, event, guard).await?;
    }
    store
        .save_calendar_delta_link(employee_id, &employee.mailbox, Some(&round.delta_link))
        .await?;
    store.note_calendar_sync(employee_id, None).await?;
    Ok(summary)
}

fn graph_failure(e: GraphError) -> JobError {
    if e.is_transient() {
        JobError::retry(e.to_string())
    } else {
        JobError::Fatal(e.to_string())
    }
}

/// What a delta entry says, in the planner's terms (`None`: an event without usable times).
fn outlook_change(event: &GraphEvent) -> Option<OutlookChange> {
    let raw = &event.raw;
    let (start, end) = (event.start?, event.end?);
    let sensitivity = raw["sensitivity"].as_str().unwrap_or("normal");
    Some(OutlookChange::Changed {
        shown: Shown {
            subject: raw["subject"].as_str().unwrap_or_default().to_owned(),
            start,
            end,
            location: normalized(raw["location"]["displayName"].as_str()),
        },
        private: matches!(sensitivity, "private" | "confidential"),
        cancelled: raw["isCancelled"].as_bool() == Some(true),
        modified_at: raw["lastModifiedDateTime"]
            .as_str()
            .and_then(|t| t.parse::<jiff::Timestamp>().ok()),
    })
}

fn timestamp(t: Option<chrono::DateTime<chrono::Utc>>) -> Option<jiff::Timestamp> {
    t.and_then(|t| jiff::Timestamp::from_millisecond(t.timestamp_millis()).ok())
}

fn chrono_of(t: jiff::Timestamp) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::from_timestamp_millis(t.as_millisecond())
}

/// What the event made of a CRM activity shows.
fn crm_side(a: &TimedActivity) -> CrmSide {
    let span = shown_span(
        a.kind,
        timestamp(a.from),
        timestamp(a.till),
        timestamp(a.deadline),
    );
    CrmSide {
        kind: a.kind,
        shown: span.map(|(start, end)| Shown {
            subject: a.title.clone(),
            start,
            end,
            location: normalized(a.place.as_deref()),
        }),
        changed_at: timestamp(a.changed_at),
    }
}

/// Decides one linked event's change and carries the decision out.
async fn apply(
    state: &CalendarCtx,
    scope: &SyncScope,
    rules: &SyncRules,
    link: &CalendarLink,
    change: &OutlookChange,
    event: Option<&GraphEvent>,
    mass_delete: bool,
) -> Result<(), JobError> {
    let store = state.store.as_ref();
    let Some(activity) = ActivityRef::parse_key(&link.activity_key) else {
        return Ok(());
    };
    let kind: ActivityKind = activity.kind;
    let read = match scope.crm().get_timed_activity(kind, activity.id).await {
        Ok(a) => Some(a),
        Err(CrmError::NotFound) => None,
        Err(e) => return Err(e.into()),
    };
    let crm = read.as_ref().map(crm_side);
    let mut inbound = store
        .inbound_state(&link.activity_key, &link.employee_id)
        .await?
        .unwrap_or_default();
    let agreed = inbound.agreed.as_deref().and_then(Shown::from_json);
    let now = now_ms();
    let mut applied: Vec<i64> = serde_json::from_str(&inbound.applied_at).unwrap_or_default();
    applied.retain(|t| now - t < FLAP_WINDOW_MS);
    let decision = decide(&InboundInput {
        change,
        agreed: agreed.as_ref(),
        crm: crm.as_ref(),
        kind,
        rules,
        applied_last_hour: u32::try_from(applied.len()).unwrap_or(u32::MAX),
        mass_delete,
    });
    let request_id = event.and_then(|e| e.request_id.clone());
    if decision.steps.is_empty() {
        trace(state, link, "skip", &decision, request_id, None).await?;
        return Ok(());
    }
    let mut action = "skip";
    for step in &decision.steps {
        match step {
            InboundStep::UpdateCrm {
                title,
                times,
                location,
            } => {
                let update = TimedUpdate {
                    title: title.clone(),
                    from: times.and_then(|(s, _)| chrono_of(s)),
                    till: times.and_then(|(_, e)| chrono_of(e)),
                    place: location.clone(),
                    status: None,
                };
                // Record first what the event will show once the CRM has the edit, so the CRM's
                // change notification finds nothing to write back to this mailbox.
                if let Some(before) = &read {
                    let mut after = before.clone();
                    if let Some(t) = &update.title {
                        after.title.clone_from(t);
                    }
                    if update.from.is_some() {
                        after.from = update.from;
                        after.till = update.till;
                    }
                    if let Some(p) = &update.place {
                        after.place.clone_from(p);
                    }
                    adopt_outlook_version(state, scope, &after, &link.employee_id).await?;
                }
                match scope
                    .crm()
                    .update_timed_activity(kind, activity.id, &update)
                    .await
                {
                    Ok(()) | Err(CrmError::NotFound) => {}
                    Err(e) => return Err(e.into()),
                }
                applied.push(now);
                action = "update";
            }
            InboundStep::DeleteCrm => {
                // The event is gone already: the link goes first so the CRM's notification
                // writes nothing to this mailbox.
                store
                    .delete_calendar_link(&link.activity_key, &link.employee_id)
                    .await?;
                match scope.crm().delete_timed_activity(kind, activity.id).await {
                    Ok(()) | Err(CrmError::NotFound) => {}
                    Err(e) => return Err(e.into()),
                }
                action = "delete";
            }
            InboundStep::CancelCrm => {
                store
                    .delete_calendar_link(&link.activity_key, &link.employee_id)
                    .await?;
                let update = TimedUpdate {
                    status: Some(ActivityStatus::Cancelled),
                    ..TimedUpdate::default()
                };
                match scope
                    .crm()
                    .update_timed_activity(kind, activity.id, &update)
                    .await
                {
                    Ok(()) | Err(CrmError::NotFound) => {}
                    Err(e) => return Err(e.into()),
                }
                action = "cancel";
            }
            InboundStep::Unlink => {
                inbound.unlinked = true;
                store
                    .save_inbound_state(&link.activity_key, &link.employee_id, &inbound)
                    .await?;
                store
                    .delete_calendar_link(&link.activity_key, &link.employee_id)
                    .await?;
                action = "unlink";
            }
            InboundStep::RewriteOutlook => {
                rewrite_outlook(state, kind, activity.id, &link.employee_id).await?;
                action = "rewrite_outlook";
            }
            InboundStep::Agree(shown) => {
                inbound.agreed = Some(shown.to_json());
                inbound.unlinked = false;
            }
            InboundStep::Hold { reason } => {
                let outlook_version = match change {
                    OutlookChange::Changed { shown, .. } => Some(shown.to_json()),
                    OutlookChange::Removed => Some("null".to_owned()),
                };
                store
                    .hold_calendar_item(&NewHeld {
                        employee_id: link.employee_id.clone(),
                        activity_key: link.activity_key.clone(),
                        reason: (*reason).to_owned(),
                        crm_version: crm
                            .as_ref()
                            .and_then(|c| c.shown.as_ref())
                            .map(Shown::to_json),
                        outlook_version,
                    })
                    .await?;
                action = "hold";
            }
        }
    }
    if !inbound.unlinked {
        inbound.applied_at = serde_json::to_string(&applied).unwrap_or_else(|_| "[]".into());
        store
            .save_inbound_state(&link.activity_key, &link.employee_id, &inbound)
            .await?;
    }
    trace(state, link, action, &decision, request_id, None).await?;
    Ok(())
}

async fn trace(
    state: &CalendarCtx,
    link: &CalendarLink,
    action: &str,
    decision: &Decision,
    request_id: Option<String>,
    error: Option<&str>,
) -> Result<(), StoreError> {
    state
        .store
        .add_calendar_trace(&TraceEntry {
            at: now_ms(),
            activity_key: link.activity_key.clone(),
            employee_id: link.employee_id.clone(),
            mailbox: link.mailbox.clone(),
            action: action.to_owned(),
            reason: decision.rule.to_owned(),
            request_id,
            error: error.map(str::to_owned),
            direction: "outlook_to_crm".to_owned(),
        })
        .await
}
