//! The dry run: "what would the next sync do" for one employee or everyone. It reads the same
//! activities a backfill would (those of the synced types the employee owns or takes part in,
//! from their start date on) and those already in their calendar, plans each under the current
//! settings and rules exactly as the engine does, and lists the planned actions with the rule
//! that decided each, writing nothing. It plans as if sync were on, so it can be asked before
//! sync is enabled. Actions carry their [`Direction`], so the Outlook → CRM direction can list
//! its own later.

use std::collections::BTreeMap;

use serde::Serialize;
use utoipa::ToSchema;

use super::{
    ActivityKind, CalendarCtx, CalendarSettings, Direction, Step, SyncEmployee,
    engine::{SyncScope, planned, step_name},
    plan::decided_by,
};
use crate::{
    crm::{ActivityRef, CrmError, MAX_PAGE, PageRequest, TaskTime, TimedActivity, TimedFilter},
    jobs::JobError,
    settings::Setting,
    store::now_ms,
};

/// One action the next sync would take.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct PlannedAction {
    /// Which way it flows (today always `crm_to_outlook`).
    pub direction: Direction,
    /// `create`, `update`, `delete`, `cancel`, `unlink` or `skip` (as the trace names them).
    pub action: String,
    /// The CRM activity's key (`raynet:meeting:81`).
    pub activity_key: String,
    /// The activity's title ('' when the CRM no longer has it).
    pub title: String,
    /// When the activity starts (RFC 3339), if it has a time.
    pub start: Option<String>,
    /// Employee whose calendar it concerns.
    pub employee_id: String,
    /// Their mailbox.
    pub mailbox: String,
    /// The rule that decided it (`meeting.crm_to_outlook.create`,
    /// `task.crm_to_outlook.update=off`, `meeting.crm_to_outlook.delete delete_to_outlook=cancel`),
    /// or the reason a write is skipped (`before_start_date`, …).
    pub rule: String,
}

impl PlannedAction {
    /// Whether it writes anything (a skip does not).
    pub fn writes(&self) -> bool {
        self.action != "skip"
    }
}

/// What the next sync would do.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Preview {
    /// When it was planned (Unix ms).
    pub planned_at: i64,
    /// Whether calendar sync is on (the preview plans as if it were).
    pub sync_enabled: bool,
    /// The employees whose calendars were planned.
    pub employees: Vec<String>,
    /// Every action except writes that would change nothing, by activity and employee.
    pub actions: Vec<PlannedAction>,
    /// How many actions of each kind (`create` → 3, …).
    pub counts: BTreeMap<String, usize>,
}

/// Why there is no preview.
#[derive(Debug, thiserror::Error)]
pub enum PreviewError {
    /// No such employee (or not one whose calendar can be synced: inactive, no mailbox, no CRM
    /// person).
    #[error("no such employee whose calendar can be synced: {0}")]
    UnknownEmployee(String),
    /// Reading the CRM or the store failed.
    #[error("{0}")]
    Failed(String),
}

impl From<JobError> for PreviewError {
    fn from(e: JobError) -> Self {
        match e {
            JobError::Retry { reason, .. } | JobError::Fatal(reason) => Self::Failed(reason),
        }
    }
}

impl From<crate::store::StoreError> for PreviewError {
    fn from(e: crate::store::StoreError) -> Self {
        Self::Failed(e.to_string())
    }
}

/// The preview for `employee` (id or sign-in e-mail; planned even when not opted in) or for
/// every opted-in employee.
pub async fn preview(state: &CalendarCtx, employee: Option<&str>) -> Result<Preview, PreviewError> {
    let store = state.store.as_ref();
    let wanted = match employee {
        Some(who) => {
            let found = store.list_employees().await?.into_iter().find(|e| {
                e.id == who || e.login_email.eq_ignore_ascii_case(who) || e.o365_email == who
            });
            Some(found.ok_or_else(|| PreviewError::UnknownEmployee(who.to_owned()))?)
        }
        None => None,
    };
    let scope = SyncScope::load_for_preview(state, wanted.as_ref().map(|e| e.id.as_str())).await?;
    let targets: Vec<SyncEmployee> = match &wanted {
        Some(e) => vec![
            scope
                .employee(&e.id)
                .cloned()
                .ok_or_else(|| PreviewError::UnknownEmployee(e.id.clone()))?,
        ],
        None => scope.employees().to_vec(),
    };
    let sync_enabled = CalendarSettings::load(store)
        .await
        .map_err(|e| PreviewError::Failed(e.to_string()))?
        .enabled;
    let mut actions = Vec::new();
    for ((kind, id), read) in candidates(state, &scope, &targets).await? {
        let key = super::crm_key(kind, id);
        let title = read.as_ref().map(|a| a.title.clone()).unwrap_or_default();
        let start = read
            .as_ref()
            .and_then(|a| a.from.or(a.deadline))
            .map(|t| t.to_rfc3339());
        for write in planned(state, &scope, kind, id, read.as_ref()).await? {
            let concerns = targets.iter().any(|t| t.employee_id == write.employee_id);
            if !concerns
                || matches!(
                    write.step,
                    Step::Skip {
                        reason: "unchanged"
                    }
                )
            {
                continue;
            }
            actions.push(PlannedAction {
                direction: Direction::CrmToOutlook,
                action: step_name(&write.step).to_owned(),
                activity_key: key.clone(),
                title: title.clone(),
                start: start.clone(),
                employee_id: write.employee_id.clone(),
                mailbox: write.mailbox.clone(),
                rule: decided_by(kind, &write.step),
            });
        }
    }
    let mut counts = BTreeMap::new();
    for a in &actions {
        *counts.entry(a.action.clone()).or_insert(0) += 1;
    }
    Ok(Preview {
        planned_at: now_ms(),
        sync_enabled,
        employees: targets.into_iter().map(|t| t.employee_id).collect(),
        actions,
        counts,
    })
}

/// The activities a sync of `targets`' calendars looks at, as read from the CRM (`None`: the
/// CRM no longer has it): those of the synced types each owns or takes part in from their start
/// date on, and those already in their calendars.
async fn candidates(
    state: &CalendarCtx,
    scope: &SyncScope,
    targets: &[SyncEmployee],
) -> Result<BTreeMap<(ActivityKind, i64), Option<TimedActivity>>, PreviewError> {
    let mut out = BTreeMap::new();
    let kinds: Vec<ActivityKind> = scope.kinds().collect();
    for employee in targets {
        let from = employee
            .start_from
            .or(scope.start_from())
            .and_then(|t| chrono::DateTime::from_timestamp_millis(t.as_millisecond()));
        for &kind in &kinds {
            // The backfill's passes: tasks also by their deadline, for those without a start.
            for &due in super::backfill::passes(kind) {
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
                let mut page = PageRequest::first(None);
                loop {
                    let found = scope
                        .crm()
                        .list_timed_activities(kind, &filter, page)
                        .await
                        .map_err(JobError::from)?;
                    let count = found.items.len() as u64;
                    for activity in found.items {
                        if due && activity.from.is_some() {
                            continue;
                        }
                        out.insert((kind, activity.id), Some(activity));
                    }
                    if count < MAX_PAGE {
                        break;
                    }
                    page = page.next();
                }
            }
        }
        for link in state.store.calendar_links_of(&employee.employee_id).await? {
            let Some(r) = ActivityRef::parse_key(&link.activity_key) else {
                continue;
            };
            if out.contains_key(&(r.kind, r.id)) {
                continue;
            }
            let read = match scope.crm().get_timed_activity(r.kind, r.id).await {
                Ok(a) => Some(a),
                Err(CrmError::NotFound) => None,
                Err(e) => return Err(JobError::from(e).into()),
            };
            out.insert((r.kind, r.id), read);
        }
    }
    Ok(out)
}
