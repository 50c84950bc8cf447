//! Carries out the plan for one CRM activity: reads it from the CRM, plans the writes, writes
//! through the Graph connector, stores the links and records every decision in the trace. Runs
//! as the job kind [`JOB_KIND`] of the durable queue, so retries, backoff and leases across
//! instances come from the queue.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use async_trait::async_trait;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use super::{
    Activity, ActivityKind, CalendarCtx, CalendarSettings, ExistingLink, Participant, PlanSettings,
    Step, SyncEmployee, SyncRules, Write, crm_key,
    inbound::Shown,
    plan,
    plan::{decided_by, plan_with_rules, shown_span},
    settings::start_of_day,
};
use crate::{
    crm::{self, ActivityRef, ActivityStatus, Crm, CrmError, TimedActivity},
    graph::{EventDraft, GraphClient, GraphConnection, GraphError, GraphEvent, GraphLimits},
    identity::office365::Office365Settings,
    jobs::{JobError, JobKind, JobQueue},
    model::ItemKind,
    settings::{Setting, SyncSettings},
    store::{CalendarLink, Job, NewJob, Store, StoreError, TraceEntry, WrittenEvent, now_ms},
};

/// The job kind that syncs one activity.
pub const JOB_KIND: &str = "calendar.sync";

/// The job's payload.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SyncRequest {
    /// Activity type.
    pub kind: ActivityKind,
    /// CRM id.
    pub id: i64,
}

/// The job that syncs one activity. The activity's jobs share a serial key, so they run one
/// after the other on every instance together: the later one reads the activity after the
/// earlier one wrote, and a stale read cannot undo a newer change. A sync still waiting absorbs
/// a new one (it reads the activity after this change anyway).
pub fn sync_job(kind: ActivityKind, id: i64) -> Result<NewJob, StoreError> {
    let payload = serde_json::to_string(&SyncRequest { kind, id })
        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(NewJob {
        kind: JOB_KIND.to_owned(),
        payload,
        entry_id: None,
        serial_key: Some(format!("{JOB_KIND}:{}", crm_key(kind, id))),
    })
}

/// Queues a sync of one activity ([`sync_job`]) and wakes the workers.
pub async fn enqueue(
    store: &dyn Store,
    jobs: &JobQueue,
    kind: ActivityKind,
    id: i64,
) -> Result<(), StoreError> {
    store.enqueue_job(sync_job(kind, id)?).await?;
    jobs.wake();
    Ok(())
}

/// The Graph connector for the stored Office 365 app, built once and built again only when the
/// app's settings change. Each calendar job kind keeps one.
#[derive(Default)]
pub struct GraphConnector {
    built: Mutex<Option<(String, Arc<GraphClient>)>>,
}

impl GraphConnector {
    /// The connector for the Office 365 app stored now.
    pub async fn get(&self, state: &CalendarCtx) -> Result<Arc<GraphClient>, JobError> {
        let o365 = Office365Settings::load(&state.identity)
            .await
            .map_err(|e| JobError::retry(e.to_string()))?;
        let fingerprint = format!(
            "{}|{}|{}",
            o365.client_id,
            o365.tenant_id,
            o365.client_secret_enc.as_deref().unwrap_or_default()
        );
        if let Some((seen, client)) = self.built.lock().as_ref()
            && *seen == fingerprint
        {
            return Ok(client.clone());
        }
        let client = Arc::new(graph_client(state, &o365)?);
        *self.built.lock() = Some((fingerprint, client.clone()));
        Ok(client)
    }
}

/// The `calendar.sync` job kind.
pub struct CalendarJob {
    state: CalendarCtx,
    graph: GraphConnector,
}

#[async_trait]
impl JobKind for CalendarJob {
    fn name(&self) -> &'static str {
        JOB_KIND
    }

    async fn run(&self, job: &Job) -> Result<(), JobError> {
        let request: SyncRequest = serde_json::from_str(&job.payload)
            .map_err(|e| JobError::Fatal(format!("bad calendar job payload: {e}")))?;
        let graph = self.graph.get(&self.state).await?;
        sync_activity(&self.state, &graph, request.kind, request.id).await
    }
}

impl CalendarJob {
    /// The kind, syncing with `state`.
    pub fn new(state: CalendarCtx) -> Self {
        Self {
            state,
            graph: GraphConnector::default(),
        }
    }
}

/// A Graph connector for the Office 365 app `o365` (the configured authority and Graph URL).
pub fn graph_client(
    state: &CalendarCtx,
    o365: &Office365Settings,
) -> Result<GraphClient, JobError> {
    let secret = o365
        .client_secret(&state.master_key)
        .map_err(|e| JobError::Fatal(e.to_string()))?
        .ok_or_else(|| JobError::Fatal("the Office 365 app has no client secret".into()))?;
    if o365.client_id.trim().is_empty() || o365.tenant_id.trim().is_empty() {
        return Err(JobError::Fatal(
            "the Office 365 app has no client id or tenant id".into(),
        ));
    }
    let http = crate::http_client::build(Duration::from_secs(30))
        .map_err(|e| JobError::Fatal(format!("no HTTP client: {e}")))?;
    let authority = state.config.entra.authority.trim_end_matches('/');
    Ok(GraphClient::new(
        http,
        GraphConnection {
            graph_url: state.config.entra.graph_url.clone(),
            token_url: format!("{authority}/{}/oauth2/v2.0/token", o365.tenant_id.trim()),
            client_id: o365.client_id.trim().to_owned(),
            client_secret: secret,
        },
        GraphLimits::default(),
    ))
}

fn timestamp(t: Option<chrono::DateTime<chrono::Utc>>) -> Option<jiff::Timestamp> {
    t.and_then(|t| jiff::Timestamp::from_millisecond(t.timestamp_millis()).ok())
}

/// The planner's view of a CRM activity; participants' addresses from the item cache.
async fn activity_of(state: &CalendarCtx, a: &TimedActivity) -> Result<Activity, StoreError> {
    let keys: Vec<(ItemKind, i64)> = a
        .participants
        .iter()
        .filter_map(|p| p.person_id)
        .map(|id| (ItemKind::Person, id))
        .collect();
    let persons = state.store.items_by_keys(&keys).await?;
    let participants = a
        .participants
        .iter()
        .map(|p| {
            let known = p
                .person_id
                .and_then(|id| persons.iter().find(|i| i.id == id));
            Participant {
                person_id: p.person_id,
                name: p
                    .name
                    .clone()
                    .or_else(|| known.map(|i| i.name.clone()))
                    .unwrap_or_default(),
                email: p
                    .email
                    .clone()
                    .or_else(|| known.and_then(|i| i.emails.first().cloned())),
            }
        })
        .collect();
    let span = shown_span(
        a.kind,
        timestamp(a.from),
        timestamp(a.till),
        timestamp(a.deadline),
    );
    Ok(Activity {
        kind: a.kind,
        id: a.id,
        title: a.title.clone(),
        description: a.description.clone().unwrap_or_default(),
        start: span.map(|(start, _)| start),
        end: span.map(|(_, end)| end),
        location: a.place.clone(),
        owner_person_id: a.owner_id,
        participants,
        deleted: false,
        cancelled: a.status == Some(ActivityStatus::Cancelled),
    })
}

/// The planner's view of a stored link.
fn existing_link(l: &CalendarLink) -> ExistingLink {
    ExistingLink {
        employee_id: l.employee_id.clone(),
        mailbox: l.mailbox.clone(),
        event_id: l.event_id.clone(),
        content_hash: l.content_hash.clone(),
        transaction_id: l.transaction_id.clone(),
        has_attendees: l.has_attendees,
    }
}

/// An activity the CRM no longer has.
fn gone(kind: ActivityKind, id: i64) -> Activity {
    Activity {
        kind,
        id,
        title: String::new(),
        description: String::new(),
        start: None,
        end: None,
        location: None,
        owner_person_id: None,
        participants: Vec::new(),
        deleted: true,
        cancelled: false,
    }
}

/// The employees whose calendars may be synced (opted in, by the admin's choice or default,
/// or named in `also`), with their CRM person ids (asked of the CRM with the employee's own key
/// the first time) and their own start dates.
async fn sync_employees(
    state: &CalendarCtx,
    rules: &SyncRules,
    also: Option<&str>,
) -> Result<Vec<SyncEmployee>, JobError> {
    let store = state.store.as_ref();
    let states = store.calendar_employees().await?;
    let mut out = Vec::new();
    for employee in store.list_employees().await? {
        let cal = states.iter().find(|s| s.employee_id == employee.id);
        let opted_in = cal.map_or(rules.opt_in_by_default, |c| {
            c.opted_in(rules.opt_in_by_default)
        });
        let named = also.is_some_and(|a| a == employee.id);
        if !(opted_in || named) || !employee.active || employee.o365_email.trim().is_empty() {
            continue;
        }
        let person_id = match cal.and_then(|c| c.person_id) {
            Some(id) => id,
            None => {
                let Ok(crm) = state
                    .crm
                    .for_employee(store, &state.master_key, &employee)
                    .await
                else {
                    store
                        .note_calendar_sync(&employee.id, Some("no CRM API key: person unknown"))
                        .await?;
                    continue;
                };
                match crm.test_connection().await {
                    Ok(report) => match report.identity.person_id {
                        Some(id) => {
                            store.set_calendar_person(&employee.id, id).await?;
                            id
                        }
                        None => continue,
                    },
                    Err(e) if e.is_transient() => return Err(e.into()),
                    Err(e) => {
                        store
                            .note_calendar_sync(&employee.id, Some(&e.to_string()))
                            .await?;
                        continue;
                    }
                }
            }
        };
        let name = if employee.identifier.is_empty() {
            employee.o365_email.clone()
        } else {
            employee.identifier.clone()
        };
        out.push(SyncEmployee {
            employee_id: employee.id.clone(),
            person_id,
            mailbox: employee.o365_email.trim().to_lowercase(),
            name,
            enabled: true,
            start_from: cal
                .and_then(|c| c.start_date.as_deref())
                .and_then(start_of_day),
        });
    }
    Ok(out)
}

/// What syncing any activity needs, read once per job run: the settings, the employees whose
/// calendars are synced and the CRM client.
pub struct SyncScope {
    settings: CalendarSettings,
    plan: PlanSettings,
    rules: SyncRules,
    employees: Vec<SyncEmployee>,
    crm: Arc<dyn Crm>,
}

impl SyncScope {
    /// Reads the scope; `None` when calendar sync is off.
    pub async fn load(state: &CalendarCtx) -> Result<Option<Self>, JobError> {
        let settings = CalendarSettings::load(state.store.as_ref()).await?;
        if !settings.enabled {
            return Ok(None);
        }
        Self::load_as_on(state, settings, None).await.map(Some)
    }

    /// Reads the scope as if sync were on (the dry run asks before it is), with employee
    /// `also` synced even when not opted in.
    pub async fn load_for_preview(
        state: &CalendarCtx,
        also: Option<&str>,
    ) -> Result<Self, JobError> {
        let settings = CalendarSettings::load(state.store.as_ref()).await?;
        Self::load_as_on(state, settings, also).await
    }

    async fn load_as_on(
        state: &CalendarCtx,
        settings: CalendarSettings,
        also: Option<&str>,
    ) -> Result<Self, JobError> {
        let store = state.store.as_ref();
        let mode = SyncSettings::load(store).await?.participant_mode;
        let rules = SyncRules::load(store).await?;
        let crm: Arc<dyn Crm> = state.crm.admin(store, &state.master_key).await?;
        let employees = sync_employees(state, &rules, also).await?;
        let plan = PlanSettings {
            enabled: true,
            participant_mode: mode,
            kinds: settings.activity_types.clone(),
            category: settings.category.clone(),
            start_from: settings.start_instant(),
        };
        Ok(Self {
            settings,
            plan,
            rules,
            employees,
            crm,
        })
    }

    /// The synced employees.
    pub fn employees(&self) -> &[SyncEmployee] {
        &self.employees
    }

    /// The CRM client.
    pub fn crm(&self) -> &Arc<dyn Crm> {
        &self.crm
    }

    /// The synced activity types.
    pub fn kinds(&self) -> impl Iterator<Item = ActivityKind> + '_ {
        self.settings.activity_types.iter().copied()
    }

    /// The sync start instant, if set.
    pub fn start_from(&self) -> Option<jiff::Timestamp> {
        self.plan.start_from
    }

    /// What every event depends on besides its activity (participant mode, types, category,
    /// start dates, the sync rules): when it changes, every linked activity is planned again.
    pub fn fingerprint(&self) -> String {
        let starts: Vec<(&str, Option<i64>)> = self
            .employees
            .iter()
            .map(|e| {
                (
                    e.employee_id.as_str(),
                    e.start_from.map(|t| t.as_millisecond()),
                )
            })
            .collect();
        format!(
            "{:?}|{:?}|{}|{:?}|{:?}|{}",
            self.plan.participant_mode,
            self.plan.kinds,
            self.plan.category,
            self.plan.start_from.map(|t| t.as_millisecond()),
            starts,
            serde_json::to_string(&self.rules).unwrap_or_default()
        )
    }

    /// Whether a synced employee owns `activity` or takes part in it.
    pub fn involves(&self, activity: &TimedActivity) -> bool {
        let synced = |person: Option<i64>| {
            person.is_some_and(|p| self.employees.iter().any(|e| e.person_id == p))
        };
        synced(activity.owner_id) || activity.participants.iter().any(|p| synced(p.person_id))
    }

    /// The synced employee with this id, if they are synced.
    pub fn employee(&self, employee_id: &str) -> Option<&SyncEmployee> {
        self.employees.iter().find(|e| e.employee_id == employee_id)
    }
}

/// Brings every mailbox in line with activity `kind`/`id`, read from the CRM.
pub async fn sync_activity(
    state: &CalendarCtx,
    graph: &GraphClient,
    kind: ActivityKind,
    id: i64,
) -> Result<(), JobError> {
    let key = crm_key(kind, id);
    let Some(scope) = SyncScope::load(state).await? else {
        trace(state, &key, "", "", "skip", "sync_disabled", None, None).await?;
        return Ok(());
    };
    let read = match scope.crm.get_timed_activity(kind, id).await {
        Ok(a) => Some(a),
        Err(CrmError::NotFound) => None,
        Err(e) => return Err(e.into()),
    };
    sync_read(state, graph, &scope, kind, id, read.as_ref()).await
}

/// Brings every mailbox in line with activity `kind`/`id` as already read from the CRM (`None`:
/// the CRM no longer has it).
async fn sync_read(
    state: &CalendarCtx,
    graph: &GraphClient,
    scope: &SyncScope,
    kind: ActivityKind,
    id: i64,
    read: Option<&TimedActivity>,
) -> Result<(), JobError> {
    let store = state.store.as_ref();
    let key = crm_key(kind, id);
    let writes = planned(state, scope, kind, id, read).await?;
    let mut transient: Option<GraphError> = None;
    let mut outcome: BTreeMap<String, Option<String>> = BTreeMap::new();
    for write in writes {
        match execute(state, graph, kind, &key, &write).await {
            Ok(()) => {
                outcome.entry(write.employee_id.clone()).or_insert(None);
            }
            Err(WriteError::Store(e)) => return Err(e.into()),
            Err(WriteError::Busy) => {
                return Err(JobError::retry("another worker is writing this event"));
            }
            Err(WriteError::Graph(e)) => {
                trace(
                    state,
                    &key,
                    &write.employee_id,
                    &write.mailbox,
                    "failed",
                    step_name(&write.step),
                    None,
                    Some(&e.to_string()),
                )
                .await?;
                outcome.insert(write.employee_id.clone(), Some(e.to_string()));
                if e.is_transient() {
                    transient = Some(e);
                }
            }
        }
    }
    for (employee, error) in outcome {
        if !employee.is_empty() {
            store
                .note_calendar_sync(&employee, error.as_deref())
                .await?;
        }
    }
    match transient {
        Some(e) => Err(JobError::retry(e.to_string())),
        None => Ok(()),
    }
}

/// The writes that bring every mailbox in line with activity `kind`/`id` as read (`None`: the
/// CRM no longer has it) under the scope's settings and rules, in the order they are carried
/// out; nothing is written (the dry run shows these).
pub async fn planned(
    state: &CalendarCtx,
    scope: &SyncScope,
    kind: ActivityKind,
    id: i64,
    read: Option<&TimedActivity>,
) -> Result<Vec<Write>, JobError> {
    let key = crm_key(kind, id);
    let (activity, ext_ids) = match read {
        Some(a) => (activity_of(state, a).await?, a.ext_ids.clone()),
        None => (gone(kind, id), Vec::new()),
    };
    let links = state.store.calendar_links(&key).await?;
    let existing: Vec<ExistingLink> = links.iter().map(existing_link).collect();
    // Only meetings are saved from Outlook by the add-in.
    let from_outlook = kind == ActivityKind::Meeting
        && saved_from_outlook(state, crm::ActivityKind::Meeting, id, &ext_ids).await?;
    let link = scope.crm.timed_activity_link(kind, id);
    // Employees whose link was dropped on purpose (an Outlook delete in delete mode "unlink")
    // keep their copy as it is: the CRM must not bring the event back.
    let unlinked = state.store.calendar_unlinked(&key).await?;
    let employees: Vec<SyncEmployee> = scope
        .employees
        .iter()
        .filter(|e| !unlinked.contains(&e.employee_id))
        .cloned()
        .collect();
    // The rules as saved now: a backfill or reconcile pass that started under older rules
    // obeys a change the admin made meanwhile from the next activity on.
    let rules = SyncRules::load(state.store.as_ref()).await?;
    let mut writes = plan_with_rules(
        &activity,
        &employees,
        &scope.plan,
        &rules,
        &existing,
        from_outlook,
        &link,
        crm::DISPLAY_NAME,
    );
    // Removals first: a link moving to another mailbox is deleted before it is written anew.
    writes.sort_by_key(|w| !removes(&w.step));
    Ok(writes)
}

/// Whether `step` takes the event out of the link (delete, cancel, unlink).
fn removes(step: &Step) -> bool {
    matches!(
        step,
        Step::Delete { .. } | Step::Cancel { .. } | Step::Unlink { .. }
    )
}

/// Whether the add-in saved this activity from an Outlook item: the ledger links it, or (before
/// the ledger learnt the activity's id) one of its external ids is a ledger entry of ours.
async fn saved_from_outlook(
    state: &CalendarCtx,
    kind: crm::ActivityKind,
    id: i64,
    ext_ids: &[String],
) -> Result<bool, StoreError> {
    let store = state.store.as_ref();
    if !store
        .items_for_activity(kind.as_str(), id)
        .await?
        .is_empty()
    {
        return Ok(true);
    }
    for ext in ext_ids {
        if uuid::Uuid::parse_str(ext).is_ok() && store.logged_item(ext).await?.is_some() {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The trace's name of `step`'s action.
pub fn step_name(step: &Step) -> &'static str {
    match step {
        Step::Create { .. } => "create",
        Step::Update { .. } => "update",
        Step::Delete { .. } => "delete",
        Step::Cancel { .. } => "cancel",
        Step::Unlink { .. } => "unlink",
        Step::Skip { .. } => "skip",
    }
}

enum WriteError {
    Graph(GraphError),
    Store(StoreError),
    /// Another worker holds the create of this event.
    Busy,
}

impl From<GraphError> for WriteError {
    fn from(e: GraphError) -> Self {
        Self::Graph(e)
    }
}

impl From<StoreError> for WriteError {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

#[allow(clippy::too_many_arguments)]
async fn trace(
    state: &CalendarCtx,
    key: &str,
    employee_id: &str,
    mailbox: &str,
    action: &str,
    reason: &str,
    request_id: Option<String>,
    error: Option<&str>,
) -> Result<(), StoreError> {
    state
        .store
        .add_calendar_trace(&TraceEntry {
            at: now_ms(),
            activity_key: key.to_owned(),
            employee_id: employee_id.to_owned(),
            mailbox: mailbox.to_owned(),
            action: action.to_owned(),
            reason: reason.to_owned(),
            request_id,
            error: error.map(str::to_owned),
            direction: "crm_to_outlook".to_owned(),
        })
        .await
}

async fn record(
    state: &CalendarCtx,
    key: &str,
    write: &Write,
    event: &GraphEvent,
    transaction_id: &str,
    draft: &EventDraft,
    hash: &str,
) -> Result<(), StoreError> {
    state
        .store
        .record_calendar_write(&WrittenEvent {
            activity_key: key.to_owned(),
            employee_id: write.employee_id.clone(),
            mailbox: write.mailbox.clone(),
            event_id: event.id.clone(),
            ical_uid: event.ical_uid.clone(),
            transaction_id: transaction_id.to_owned(),
            content_hash: hash.to_owned(),
            has_attendees: !draft.attendees.is_empty(),
        })
        .await?;
    // What the event shows now is what both sides agree on: when it comes back through the
    // Outlook delta, it is our own write, not an Outlook change.
    state
        .store
        .save_inbound_agreed(key, &write.employee_id, &Shown::of_draft(draft).to_json())
        .await
}

/// After the CRM took over an Outlook edit of `employee_id`'s event: records, without a Graph
/// call, that the event already shows what the CRM → Outlook plan now gives for that mailbox
/// (`read` is the activity as the CRM has it after the edit), so the CRM's change notification
/// does not write the same edit back. Other mailboxes' copies are left to the usual sync.
pub async fn adopt_outlook_version(
    state: &CalendarCtx,
    scope: &SyncScope,
    read: &TimedActivity,
    employee_id: &str,
) -> Result<(), JobError> {
    let store = state.store.as_ref();
    let key = crm_key(read.kind, read.id);
    let activity = activity_of(state, read).await?;
    let links = store.calendar_links(&key).await?;
    let Some(link) = links.iter().find(|l| l.employee_id == employee_id) else {
        return Ok(());
    };
    let (Some(event_id), Some(ical_uid)) = (&link.event_id, &link.ical_uid) else {
        return Ok(());
    };
    let existing: Vec<ExistingLink> = links.iter().map(existing_link).collect();
    let crm_link = scope.crm.timed_activity_link(read.kind, read.id);
    let writes = plan(
        &activity,
        &scope.employees,
        &scope.plan,
        &existing,
        false,
        &crm_link,
        crm::DISPLAY_NAME,
    );
    for write in writes.iter().filter(|w| w.employee_id == employee_id) {
        if let Step::Update { draft, hash, .. } = &write.step {
            store
                .record_calendar_write(&WrittenEvent {
                    activity_key: key.clone(),
                    employee_id: employee_id.to_owned(),
                    mailbox: link.mailbox.clone(),
                    event_id: event_id.clone(),
                    ical_uid: ical_uid.clone(),
                    transaction_id: link.transaction_id.clone(),
                    content_hash: hash.clone(),
                    has_attendees: !draft.attendees.is_empty(),
                })
                .await?;
        }
    }
    Ok(())
}

/// Makes the next sync of `key` write the CRM's version over `employee_id`'s event (it forgets
/// the content hash) and queues that sync.
pub async fn rewrite_outlook(
    state: &CalendarCtx,
    kind: ActivityKind,
    id: i64,
    employee_id: &str,
) -> Result<(), JobError> {
    let store = state.store.as_ref();
    let key = crm_key(kind, id);
    let links = store.calendar_links(&key).await?;
    if let Some(link) = links.iter().find(|l| l.employee_id == employee_id)
        && let Some(event_id) = &link.event_id
    {
        store
            .record_calendar_write(&WrittenEvent {
                activity_key: key.clone(),
                employee_id: employee_id.to_owned(),
                mailbox: link.mailbox.clone(),
                event_id: event_id.clone(),
                ical_uid: link.ical_uid.clone().unwrap_or_default(),
                transaction_id: link.transaction_id.clone(),
                content_hash: String::new(),
                has_attendees: link.has_attendees,
            })
            .await?;
    }
    enqueue(store, &state.jobs, kind, id).await?;
    Ok(())
}

/// Creates the event. A fresh create first claims the link (so a crash is resumed with a search);
/// when another worker claimed it first, this one joins that create (same transaction id, so
/// Graph returns the one event) instead of making a second.
#[allow(clippy::too_many_arguments)]
async fn create(
    state: &CalendarCtx,
    graph: &GraphClient,
    key: &str,
    write: &Write,
    draft: &EventDraft,
    hash: &str,
    transaction_id: &str,
    fresh: bool,
) -> Result<(), WriteError> {
    let mut transaction_id = transaction_id.to_owned();
    if fresh
        && !state
            .store
            .begin_calendar_create(key, &write.employee_id, &write.mailbox, &transaction_id)
            .await?
    {
        let links = state.store.calendar_links(key).await?;
        let Some(link) = links
            .into_iter()
            .find(|l| l.employee_id == write.employee_id)
        else {
            return Err(WriteError::Busy);
        };
        transaction_id = link.transaction_id;
        let existing = match link.event_id {
            Some(id) => Some(id),
            None => graph
                .find_by_crm_id(&write.mailbox, key)
                .await?
                .into_iter()
                .next()
                .map(|e| e.id),
        };
        if let Some(id) = existing {
            let event = graph.update_event(&write.mailbox, &id, draft).await?;
            record(state, key, write, &event, &transaction_id, draft, hash).await?;
            trace(
                state,
                key,
                &write.employee_id,
                &write.mailbox,
                "update",
                "joined_concurrent_create",
                event.request_id.clone(),
                None,
            )
            .await?;
            return Ok(());
        }
    }
    let transaction_id = transaction_id.as_str();
    let event = graph
        .create_event(&write.mailbox, draft, key, transaction_id)
        .await?;
    record(state, key, write, &event, transaction_id, draft, hash).await?;
    trace(
        state,
        key,
        &write.employee_id,
        &write.mailbox,
        "create",
        "",
        event.request_id.clone(),
        None,
    )
    .await?;
    Ok(())
}

async fn execute(
    state: &CalendarCtx,
    graph: &GraphClient,
    kind: ActivityKind,
    key: &str,
    write: &Write,
) -> Result<(), WriteError> {
    let mailbox = write.mailbox.as_str();
    let employee = write.employee_id.as_str();
    let rule = decided_by(kind, &write.step);
    match &write.step {
        Step::Skip { .. } => {
            trace(state, key, employee, mailbox, "skip", &rule, None, None).await?;
        }
        Step::Cancel { event_id, message } => {
            let mut request_id = None;
            for id in event_ids(graph, mailbox, key, event_id.as_ref()).await? {
                match graph.cancel_event(mailbox, &id, message).await {
                    Ok(r) => request_id = r,
                    Err(GraphError::Gone) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            state.store.delete_calendar_link(key, employee).await?;
            trace(
                state, key, employee, mailbox, "cancel", &rule, request_id, None,
            )
            .await?;
        }
        Step::Unlink { .. } => {
            state.store.delete_calendar_link(key, employee).await?;
            trace(state, key, employee, mailbox, "unlink", &rule, None, None).await?;
        }
        Step::Create {
            draft,
            hash,
            transaction_id: None,
        } => {
            let tx = uuid::Uuid::new_v4().to_string();
            create(state, graph, key, write, draft, hash, &tx, true).await?;
        }
        Step::Create {
            draft,
            hash,
            transaction_id: Some(tx),
        } => {
            // An earlier create may have reached Graph before we could record it.
            let found = graph.find_by_crm_id(mailbox, key).await?;
            match found.into_iter().next() {
                Some(event) => {
                    let event = graph.update_event(mailbox, &event.id, draft).await?;
                    record(state, key, write, &event, tx, draft, hash).await?;
                    trace(
                        state,
                        key,
                        employee,
                        mailbox,
                        "adopt",
                        "interrupted_create",
                        event.request_id.clone(),
                        None,
                    )
                    .await?;
                }
                None => create(state, graph, key, write, draft, hash, tx, false).await?,
            }
        }
        Step::Update {
            event_id,
            draft,
            hash,
        } => match graph.update_event(mailbox, event_id, draft).await {
            Ok(event) => {
                let link = state.store.calendar_links(key).await?;
                let tx = link
                    .iter()
                    .find(|l| l.employee_id == employee)
                    .map(|l| l.transaction_id.clone())
                    .unwrap_or_default();
                record(state, key, write, &event, &tx, draft, hash).await?;
                trace(
                    state,
                    key,
                    employee,
                    mailbox,
                    "update",
                    "",
                    event.request_id.clone(),
                    None,
                )
                .await?;
            }
            Err(GraphError::Gone) => {
                // Deleted in Outlook: the CRM still has it, so it comes back.
                state.store.delete_calendar_link(key, employee).await?;
                let tx = uuid::Uuid::new_v4().to_string();
                create(state, graph, key, write, draft, hash, &tx, true).await?;
            }
            Err(e) => return Err(e.into()),
        },
        Step::Delete { event_id, .. } => {
            let mut request_id = None;
            for id in event_ids(graph, mailbox, key, event_id.as_ref()).await? {
                match graph.delete_event(mailbox, &id).await {
                    Ok(r) => request_id = r,
                    Err(GraphError::Gone) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            state.store.delete_calendar_link(key, employee).await?;
            trace(
                state, key, employee, mailbox, "delete", &rule, request_id, None,
            )
            .await?;
        }
    }
    Ok(())
}

/// The events of a link: its event id, or (a create was interrupted) those stamped with `key`.
async fn event_ids(
    graph: &GraphClient,
    mailbox: &str,
    key: &str,
    event_id: Option<&String>,
) -> Result<Vec<String>, GraphError> {
    Ok(match event_id {
        Some(id) => vec![id.clone()],
        None => graph
            .find_by_crm_id(mailbox, key)
            .await?
            .into_iter()
            .map(|e| e.id)
            .collect(),
    })
}

/// A CRM webhook named `entity_name`/`id`: queues a sync when it is an activity type that is
/// synced. Failures are logged only (the webhook is stored; the reconcile repairs).
pub async fn on_crm_change(store: &dyn Store, jobs: &JobQueue, entity_name: &str, id: i64) {
    let Some(kind) = ActivityKind::from_entity(entity_name) else {
        return;
    };
    let settings = match CalendarSettings::load(store).await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the calendar settings");
            return;
        }
    };
    if !settings.enabled || !settings.activity_types.contains(&kind) {
        return;
    }
    if let Err(e) = enqueue(store, jobs, kind, id).await {
        tracing::warn!(error = %e, activity = id, "cannot queue a calendar sync");
    }
}

/// Syncs now every activity that has an event in a calendar (or in `employee`'s, by id or
/// sign-in e-mail); the number of activities synced.
pub async fn run_now(state: &CalendarCtx, employee: Option<&str>) -> Result<usize, JobError> {
    let store = state.store.as_ref();
    let mut keys = std::collections::BTreeSet::new();
    for e in store.list_employees().await? {
        let wanted = employee.is_none_or(|w| w == e.id || w.eq_ignore_ascii_case(&e.login_email));
        if wanted {
            for link in store.calendar_links_of(&e.id).await? {
                keys.insert(link.activity_key);
            }
        }
    }
    if keys.is_empty() {
        return Ok(0);
    }
    let graph = GraphConnector::default().get(state).await?;
    let mut count = 0;
    for key in keys {
        let Some(activity) = ActivityRef::parse_key(&key) else {
            continue;
        };
        sync_activity(state, &graph, activity.kind, activity.id).await?;
        count += 1;
    }
    Ok(count)
}
