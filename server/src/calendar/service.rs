//! The calendar-sync admin services that the JSON admin API and the Synchronisation page share:
//! saving the settings (a change every event depends on starts the reconcile at once) and
//! opting an employee in or out (both queue the backfills they call for), "sync now" for an
//! employee, backfills on demand (the CLI's `sync run`), the trace a page at a time, and the
//! Office 365 app test (a Graph app-only token and a calendar read).

use super::{
    CalendarCtx, CalendarSettings, backfill::queue_backfill, enqueue, reconcile::SETTINGS_CHANGED,
};
use crate::{
    crm::ActivityRef,
    graph::GraphError,
    identity::{office365::Office365Settings, session::AdminSession},
    settings::{Setting, SettingsError},
    store::{StoreError, TraceEntry},
};

/// Saves settings that passed [`CalendarSettings::validate`] (the category trimmed), queues a
/// backfill of every opted-in calendar when sync was turned on or shows more, starts the
/// reconcile at once when what every event depends on changed, and audits the change.
pub async fn save_settings(
    state: &CalendarCtx,
    by: &AdminSession,
    settings: &mut CalendarSettings,
) -> Result<(), SettingsError> {
    settings.category = settings.category.trim().to_owned();
    settings.start_date = settings
        .start_date
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(str::to_owned);
    let before = CalendarSettings::load(state.store.as_ref()).await?;
    settings.save(state.store.as_ref()).await?;
    // Turned on, or more to show (a type added, an earlier start): every opted-in calendar is
    // backfilled (what is already right costs no Graph call). Less to show, or another
    // category, is planned again by the reconcile, which starts now.
    let more = !before.enabled
        || !settings.activity_types.is_subset(&before.activity_types)
        || settings.start_instant() < before.start_instant();
    if settings.enabled && more {
        for employee in state.store.calendar_employees().await? {
            if employee.enabled {
                queue_backfill(state.store.as_ref(), &state.jobs, &employee.employee_id).await?;
            }
        }
    }
    if settings.enabled
        && (before.activity_types != settings.activity_types
            || before.category != settings.category
            || before.start_date != settings.start_date)
    {
        state.jobs.signal(SETTINGS_CHANGED);
    }
    let types: Vec<&str> = settings.activity_types.iter().map(|k| k.entity()).collect();
    by.audit(
        state.store.as_ref(),
        "calendar.update",
        "settings:calendar",
        format!(
            "enabled: {}, types: {}, category: {}, start_date: {}",
            settings.enabled,
            types.join(" "),
            settings.category,
            settings.start_date.as_deref().unwrap_or("-")
        ),
    )
    .await?;
    Ok(())
}

/// Opts employee `id` in or out (a new opt-in while sync is on queues their backfill) and audits
/// it; `false` when there is no such employee.
pub async fn set_employee_enabled(
    state: &CalendarCtx,
    by: &AdminSession,
    id: &str,
    enabled: bool,
) -> Result<bool, StoreError> {
    let store = state.store.as_ref();
    if store.employee(id).await?.is_none() {
        return Ok(false);
    }
    let was_enabled = store
        .calendar_employees()
        .await?
        .iter()
        .any(|e| e.employee_id == id && e.enabled);
    store.set_calendar_enabled(id, enabled).await?;
    if enabled && !was_enabled && calendar_on(store).await? {
        queue_backfill(store, &state.jobs, id).await?;
    }
    by.audit(
        store,
        "calendar.employee",
        &format!("employee:{id}"),
        format!("enabled: {enabled}"),
    )
    .await?;
    Ok(true)
}

/// Whether calendar sync is on (unreadable settings count as off).
async fn calendar_on(store: &dyn crate::store::Store) -> Result<bool, StoreError> {
    match CalendarSettings::load(store).await {
        Ok(settings) => Ok(settings.enabled),
        Err(SettingsError::Store(e)) => Err(e),
        Err(_) => Ok(false),
    }
}

/// Queues a backfill of the calendar of every opted-in employee (or of `employee` only, by id or
/// sign-in e-mail, when opted in) while calendar sync is on; how many were queued.
pub async fn queue_backfills(
    state: &CalendarCtx,
    employee: Option<&str>,
) -> Result<usize, StoreError> {
    let store = state.store.as_ref();
    if !calendar_on(store).await? {
        return Ok(0);
    }
    let opted_in: std::collections::BTreeSet<String> = store
        .calendar_employees()
        .await?
        .into_iter()
        .filter(|c| c.enabled)
        .map(|c| c.employee_id)
        .collect();
    let mut queued = 0;
    for e in store.list_employees().await? {
        let wanted = employee.is_none_or(|w| w == e.id || w.eq_ignore_ascii_case(&e.login_email));
        if wanted && opted_in.contains(&e.id) {
            queue_backfill(store, &state.jobs, &e.id).await?;
            queued += 1;
        }
    }
    Ok(queued)
}

/// Queues a sync of every activity that has an event in employee `id`'s calendar; how many were
/// queued, `None` when there is no such employee.
pub async fn sync_employee_now(state: &CalendarCtx, id: &str) -> Result<Option<usize>, StoreError> {
    let store = state.store.as_ref();
    if store.employee(id).await?.is_none() {
        return Ok(None);
    }
    let mut queued = 0;
    for link in store.calendar_links_of(id).await? {
        if let Some(activity) = ActivityRef::parse_key(&link.activity_key) {
            enqueue(store, &state.jobs, activity.kind, activity.id).await?;
            queued += 1;
        }
    }
    Ok(Some(queued))
}

/// The trace newest first, optionally of one employee and/or one activity: `limit` entries
/// (1 to 500) after skipping the `offset` newest; and whether older ones exist.
pub async fn trace_page(
    state: &CalendarCtx,
    employee_id: Option<&str>,
    activity_key: Option<&str>,
    offset: u64,
    limit: u64,
) -> Result<(Vec<TraceEntry>, bool), StoreError> {
    let limit = limit.clamp(1, 500);
    let offset = i64::try_from(offset).unwrap_or(i64::MAX);
    // One more than asked tells whether an older page exists.
    let fetch = i64::try_from(limit + 1).unwrap_or(i64::MAX);
    let mut entries = state
        .store
        .calendar_trace(employee_id, activity_key, offset, fetch)
        .await?;
    let more = entries.len() as u64 > limit;
    entries.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    Ok((entries, more))
}

/// What the Office 365 app test found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppTest {
    /// A Graph token was issued and, when a mailbox was named, its calendar was read.
    Passed {
        /// The mailbox whose calendar was read.
        mailbox: Option<String>,
    },
    /// The settings lack something the test needs (client id, tenant id or secret).
    Incomplete(String),
    /// Microsoft refused: wrong secret, tenant, no consent, unknown mailbox, …
    Failed(GraphError),
}

impl AppTest {
    /// A short stable code: `ok`, or the Graph error's code (`bad_credentials` when incomplete).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Passed { .. } => "ok",
            Self::Incomplete(_) => "bad_credentials",
            Self::Failed(e) => e.code(),
        }
    }
}

/// Obtains a Graph app-only token with the app `o365` (saved or as typed) and, when `mailbox` is
/// given, reads that mailbox's calendar; tells a wrong secret, missing admin consent
/// (`Calendars.ReadWrite`), an unknown mailbox and success apart.
pub async fn test_app(
    state: &CalendarCtx,
    o365: &Office365Settings,
    mailbox: Option<&str>,
) -> AppTest {
    let graph = match super::engine::graph_client(state, o365) {
        Ok(g) => g,
        Err(crate::jobs::JobError::Fatal(reason) | crate::jobs::JobError::Retry { reason, .. }) => {
            return AppTest::Incomplete(reason);
        }
    };
    let result = match (graph.check_credentials().await, mailbox) {
        (Err(e), _) => Err(e),
        (Ok(()), Some(mailbox)) => graph.check_mailbox(mailbox).await,
        (Ok(()), None) => Ok(()),
    };
    match result {
        Ok(()) => AppTest::Passed {
            mailbox: mailbox.map(str::to_owned),
        },
        Err(e) => AppTest::Failed(e),
    }
}
