//! The backfill: when an employee is opted in (or sync is turned on), the job kind
//! [`JOB_KIND`] pages through every activity of the synced types that the employee owns or takes
//! part in, from the sync start date on (theirs, or the global one), and syncs each; then it
//! syncs the activities already in their calendar that the listing did not bring (deleted in the
//! CRM, moved out, a type no longer synced), so the calendar ends up as the dry run
//! (`preview`) said. Where it has got to (type and offset) is stored after every activity, so a
//! backfill interrupted by a crash resumes there; syncing one activity twice writes nothing
//! twice (content hash, transaction id, extended-property search).

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{
    ActivityKind, CalendarCtx, crm_key,
    engine::{GraphConnector, SyncScope, sync_activity, sync_read},
};
use crate::{
    crm::{ActivityRef, MAX_PAGE, PageRequest, TimedFilter},
    jobs::{JobError, JobKind, JobQueue},
    store::{Job, NewJob, Store, StoreError},
};

/// The job kind that backfills one employee's calendar.
pub const JOB_KIND: &str = "calendar.backfill";

/// The job's payload.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct BackfillRequest {
    /// Our employee id.
    pub employee_id: String,
}

/// Where a backfill has got to: the activities of `kind` before `offset` (in id order) are done,
/// and so is every type before `kind`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct BackfillCursor {
    /// The type being backfilled.
    pub kind: ActivityKind,
    /// How many of its activities are done.
    pub offset: u64,
}

/// Starts a backfill of `employee_id`'s calendar from the beginning (the cursor is set at once,
/// so the admin sees it under way) and wakes the workers.
pub async fn queue_backfill(
    store: &dyn Store,
    jobs: &JobQueue,
    employee_id: &str,
) -> Result<(), StoreError> {
    queue_backfill_in(store, employee_id).await?;
    jobs.wake();
    Ok(())
}

/// Starts a backfill of `employee_id`'s calendar from the beginning, without waking anyone
/// (for a server that is not running yet).
pub async fn queue_backfill_in(store: &dyn Store, employee_id: &str) -> Result<(), StoreError> {
    let start = serde_json::to_string(&BackfillCursor {
        kind: ActivityKind::ALL[0],
        offset: 0,
    })
    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    store
        .save_calendar_backfill_cursor(employee_id, Some(&start))
        .await?;
    let payload = serde_json::to_string(&BackfillRequest {
        employee_id: employee_id.to_owned(),
    })
    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    store
        .enqueue_job(NewJob {
            kind: JOB_KIND.to_owned(),
            payload,
            entry_id: None,
        })
        .await?;
    Ok(())
}

/// The `calendar.backfill` job kind.
pub struct BackfillJob {
    state: CalendarCtx,
    graph: GraphConnector,
}

impl BackfillJob {
    /// The kind, syncing with `state`.
    pub fn new(state: CalendarCtx) -> Self {
        Self {
            graph: GraphConnector::default(),
            state,
        }
    }
}

#[async_trait]
impl JobKind for BackfillJob {
    fn name(&self) -> &'static str {
        JOB_KIND
    }

    async fn run(&self, job: &Job) -> Result<(), JobError> {
        let request: BackfillRequest = serde_json::from_str(&job.payload)
            .map_err(|e| JobError::Fatal(format!("bad backfill payload: {e}")))?;
        backfill(&self.state, &self.graph, &request.employee_id).await
    }
}

async fn backfill(
    state: &CalendarCtx,
    connector: &GraphConnector,
    employee_id: &str,
) -> Result<(), JobError> {
    let store = state.store.as_ref();
    // Sync off, or the employee opted out (or cannot be synced) meanwhile: nothing to do.
    let scope = SyncScope::load(state).await?;
    let Some((scope, employee)) = scope.and_then(|s| {
        let employee = s.employee(employee_id).cloned()?;
        Some((s, employee))
    }) else {
        store
            .save_calendar_backfill_cursor(employee_id, None)
            .await?;
        return Ok(());
    };
    let cursor: Option<BackfillCursor> = store
        .calendar_employees()
        .await?
        .into_iter()
        .find(|e| e.employee_id == employee_id)
        .and_then(|e| e.backfill_cursor)
        .and_then(|text| serde_json::from_str(&text).ok());
    let graph = connector.get(state).await?;
    let from = employee
        .start_from
        .or(scope.start_from())
        .and_then(|t| chrono::DateTime::from_timestamp_millis(t.as_millisecond()));
    let filter = TimedFilter {
        person_id: Some(employee.person_id),
        from,
        min_id: None,
    };
    let kinds: Vec<ActivityKind> = scope.kinds().collect();
    let mut listed = std::collections::HashSet::new();
    for kind in kinds {
        let mut offset = match cursor {
            Some(c) if kind < c.kind => continue,
            Some(c) if kind == c.kind => c.offset,
            _ => 0,
        };
        loop {
            let page = scope
                .crm()
                .list_timed_activities(
                    kind,
                    &filter,
                    PageRequest {
                        offset,
                        limit: MAX_PAGE,
                        changed_since: None,
                    },
                )
                .await?;
            let count = page.items.len() as u64;
            for activity in &page.items {
                listed.insert(crm_key(kind, activity.id));
                sync_read(state, &graph, &scope, kind, activity.id, Some(activity)).await?;
                offset += 1;
                let text = serde_json::to_string(&BackfillCursor { kind, offset })
                    .map_err(|e| JobError::Fatal(e.to_string()))?;
                store
                    .save_calendar_backfill_cursor(employee_id, Some(&text))
                    .await?;
            }
            if count < MAX_PAGE {
                break;
            }
        }
    }
    // What is in the calendar but was not listed (after a resume, some listed ones again).
    for link in store.calendar_links_of(employee_id).await? {
        if listed.contains(&link.activity_key) {
            continue;
        }
        if let Some(r) = ActivityRef::parse_key(&link.activity_key) {
            sync_activity(state, &graph, r.kind, r.id).await?;
        }
    }
    store.note_calendar_backfill(employee_id).await?;
    Ok(())
}
