//! The calendar-sync admin services that the JSON admin API and the Synchronisation page share:
//! saving the settings and the sync rules (a change every event depends on starts the reconcile
//! at once), opting an employee in or out and their overrides (each queues the backfills it
//! calls for), "sync now" for an employee, backfills on demand (the CLI's `sync run`), the trace
//! a page at a time, and the Office 365 app test (a Graph app-only token and a calendar read).

use super::{
    CalendarCtx, CalendarSettings, SyncRules, backfill::queue_backfill, enqueue,
    reconcile::SETTINGS_CHANGED,
};
use crate::{
    crm::ActivityRef,
    graph::GraphError,
    identity::{office365::Office365Settings, session::AdminSession},
    service_errors::{FieldProblems, SaveError},
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
        let rules = SyncRules::load(state.store.as_ref()).await?;
        for employee in opted_in(state.store.as_ref(), &rules).await? {
            queue_backfill(state.store.as_ref(), &state.jobs, &employee).await?;
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

/// Saves sync rules that pass [`SyncRules::problems`] (every type written out), audits the
/// change with the rules before and after, and queues a backfill of every opted-in calendar
/// when sync is on and the rules now let more through (a create allowed again, opt-in by
/// default). Every other change reaches the events at the next reconcile, which plans every
/// linked activity again when the rules differ from those it last planned with.
pub async fn save_rules(
    state: &CalendarCtx,
    by: &AdminSession,
    rules: SyncRules,
) -> Result<SyncRules, SaveError> {
    let rules = rules.complete();
    let problems = FieldProblems(rules.problems());
    problems.check()?;
    let store = state.store.as_ref();
    let before = SyncRules::load(store).await?.complete();
    rules.save(store).await?;
    let on = calendar_on(store).await?;
    if rules.shows_more_than(&before) && on {
        for employee in opted_in(store, &rules).await? {
            queue_backfill(store, &state.jobs, &employee).await?;
        }
    }
    if on && rules != before {
        state.jobs.signal(SETTINGS_CHANGED);
    }
    let json = |r: &SyncRules| serde_json::to_string(r).unwrap_or_default();
    by.audit(
        store,
        "calendar.rules",
        "settings:calendar_rules",
        format!("before: {} after: {}", json(&before), json(&rules)),
    )
    .await?;
    Ok(rules)
}

/// The ids of the employees opted in under `rules` (by the admin's choice or the default).
async fn opted_in(
    store: &dyn crate::store::Store,
    rules: &SyncRules,
) -> Result<Vec<String>, StoreError> {
    let states = store.calendar_employees().await?;
    Ok(store
        .list_employees()
        .await?
        .into_iter()
        .filter(|e| {
            states
                .iter()
                .find(|s| s.employee_id == e.id)
                .map_or(rules.opt_in_by_default, |s| {
                    s.opted_in(rules.opt_in_by_default)
                })
        })
        .map(|e| e.id)
        .collect())
}

/// An employee's overrides of the admin's defaults.
#[derive(
    Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(deny_unknown_fields)]
pub struct EmployeeOverrides {
    /// Opted in (`true`) or out (`false`); `null`: the admin's default (`opt_in_by_default` of
    /// the sync rules).
    pub opt_in: Option<bool>,
    /// The employee's own sync start date (`YYYY-MM-DD`); `null`: the global one.
    pub start_date: Option<String>,
}

impl EmployeeOverrides {
    /// The overrides trimmed (an empty date is none), or what is wrong by field.
    pub fn checked(mut self) -> Result<Self, FieldProblems> {
        self.start_date = self
            .start_date
            .as_deref()
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .map(str::to_owned);
        let mut problems = FieldProblems::default();
        if let Some(d) = &self.start_date
            && d.parse::<jiff::civil::Date>().is_err()
        {
            problems.add("start_date", "must be a date YYYY-MM-DD");
        }
        problems.check().map(|()| self)
    }
}

/// Sets employee `id`'s overrides (checked with [`EmployeeOverrides::checked`]), queues their
/// backfill when sync is on and they may now see more (newly opted in, an earlier start), and
/// audits the change; `Ok(false)` when there is no such employee.
pub async fn set_employee_overrides(
    state: &CalendarCtx,
    by: &AdminSession,
    id: &str,
    overrides: EmployeeOverrides,
) -> Result<bool, SaveError> {
    let overrides = overrides.checked()?;
    let store = state.store.as_ref();
    if store.employee(id).await?.is_none() {
        return Ok(false);
    }
    let rules = SyncRules::load(store).await?;
    let before = store
        .calendar_employees()
        .await?
        .into_iter()
        .find(|e| e.employee_id == id);
    let was_in = before.as_ref().map_or(rules.opt_in_by_default, |e| {
        e.opted_in(rules.opt_in_by_default)
    });
    let is_in = overrides.opt_in.unwrap_or(rules.opt_in_by_default);
    let start = |d: Option<&str>| d.and_then(super::settings::start_of_day);
    let old_start = before.as_ref().and_then(|e| start(e.start_date.as_deref()));
    let new_start = start(overrides.start_date.as_deref());
    let earlier = match (new_start, old_start) {
        (None, _) => old_start.is_some(),
        (Some(new), Some(old)) => new < old,
        (Some(_), None) => true,
    };
    store
        .set_calendar_overrides(id, overrides.opt_in, overrides.start_date.as_deref())
        .await?;
    if is_in && (!was_in || earlier) && calendar_on(store).await? {
        queue_backfill(store, &state.jobs, id).await?;
    }
    let opt_in = overrides
        .opt_in
        .map_or_else(|| "default".to_owned(), |b| b.to_string());
    by.audit(
        store,
        "calendar.employee",
        &format!("employee:{id}"),
        format!(
            "before: opt_in {}, start_date {}; after: opt_in {opt_in}, start_date {}",
            before
                .as_ref()
                .filter(|e| e.opt_in_set)
                .map_or_else(|| "default".to_owned(), |e| e.enabled.to_string()),
            before
                .as_ref()
                .and_then(|e| e.start_date.clone())
                .unwrap_or_else(|| "-".into()),
            overrides.start_date.as_deref().unwrap_or("-")
        ),
    )
    .await?;
    Ok(true)
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
    let by_default = SyncRules::load(store)
        .await
        .is_ok_and(|r| r.opt_in_by_default);
    let was_enabled = store
        .calendar_employees()
        .await?
        .iter()
        .find(|e| e.employee_id == id)
        .map_or(by_default, |e| e.opted_in(by_default));
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
