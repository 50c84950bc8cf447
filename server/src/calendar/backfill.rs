//! The backfill: when an employee is opted in (or sync is turned on), the job kind
//! [`JOB_KIND`] pages through every activity of the synced types that the employee owns or takes
//! part in, from the sync start date on (theirs, or the global one), and queues a `calendar.sync`
//! job for each; then it queues the activities already in their calendar that the listing did not
//! bring (deleted in the CRM, moved out, a type no longer synced), so the calendar ends up as the
//! dry run (`preview`) said. It writes nothing to Graph itself: those jobs take turns with the
//! webhooks' jobs for the same activity (their serial key), so an older read never overwrites a
//! newer change. Each page's jobs are queued in the transaction that moves the stored cursor
//! (type, pass and offset) past the page, so a backfill interrupted by a crash resumes after the
//! last page it queued; a job queued twice is absorbed by the one still waiting, and syncing one
//! activity twice writes nothing twice.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{
    ActivityKind, CalendarCtx, crm_key,
    engine::{GraphConnector, SyncScope, enqueue, sync_job},
};
use crate::{
    crm::{ActivityRef, MAX_PAGE, PageRequest, TaskTime, TimedFilter},
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

/// Where a backfill has got to: the activities of `kind` (in this pass) before `offset` (in id
/// order) are queued, and so is every type (and pass) before it.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct BackfillCursor {
    /// The type being backfilled.
    pub kind: ActivityKind,
    /// Tasks take two passes, by their scheduled start and then by their deadline (for those
    /// planned only by it): `true` in the second.
    #[serde(default)]
    pub due: bool,
    /// How many of its activities (in this pass) are queued.
    pub offset: u64,
}

impl BackfillCursor {
    /// The pass it is in: the type, and whether by deadline.
    fn position(&self) -> (ActivityKind, bool) {
        (self.kind, self.due)
    }
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
        due: false,
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
            // One backfill per employee at a time; a second request while one waits is the same.
            serial_key: Some(format!("{JOB_KIND}:{employee_id}")),
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

/// The passes over one type: every type by its scheduled start; tasks also by their deadline.
pub(super) fn passes(kind: ActivityKind) -> &'static [bool] {
    if kind == ActivityKind::Task {
        &[false, true]
    } else {
        &[false]
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
    // Checks the Office 365 app before queuing work that needs it.
    connector.get(state).await?;
    let from = employee
        .start_from
        .or(scope.start_from())
        .and_then(|t| chrono::DateTime::from_timestamp_millis(t.as_millisecond()));
    let kinds: Vec<ActivityKind> = scope.kinds().collect();
    let mut listed = std::collections::HashSet::new();
    for kind in kinds {
        for &due in passes(kind) {
            let mut offset = match cursor {
                Some(c) if (kind, due) < c.position() => continue,
                Some(c) if (kind, due) == c.position() => c.offset,
                _ => 0,
            };
            let filter = TimedFilter {
                person_id: Some(employee.person_id),
                from,
                task_time: if due {
                    TaskTime::Due
                } else {
                    TaskTime::Scheduled
                },
                min_id: None,
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
                let mut jobs = Vec::with_capacity(page.items.len());
                for activity in &page.items {
                    // The deadline pass is for tasks without a scheduled start: one with a start
                    // is shown from it, which the first pass selected when it is in range.
                    if due && activity.from.is_some() {
                        continue;
                    }
                    listed.insert(crm_key(kind, activity.id));
                    jobs.push(sync_job(kind, activity.id)?);
                }
                offset += count;
                let text = serde_json::to_string(&BackfillCursor { kind, due, offset })
                    .map_err(|e| JobError::Fatal(e.to_string()))?;
                store
                    .queue_calendar_backfill_page(employee_id, &jobs, &text)
                    .await?;
                if !jobs.is_empty() {
                    state.jobs.wake();
                }
                if count < MAX_PAGE {
                    break;
                }
            }
        }
    }
    // What is in the calendar but was not listed (after a resume, some listed ones again).
    for link in store.calendar_links_of(employee_id).await? {
        if listed.contains(&link.activity_key) {
            continue;
        }
        if let Some(r) = ActivityRef::parse_key(&link.activity_key) {
            enqueue(store, &state.jobs, r.kind, r.id).await?;
        }
    }
    store.note_calendar_backfill(employee_id).await?;
    Ok(())
}
