//! Planning, without I/O: from a CRM activity, the employees and the settings to the calendar
//! writes that make every mailbox right. The rules (issue #13):
//!
//! - activities of the enabled types that carry a time, from the sync start date on, appear in
//!   the calendar of every enabled employee who owns them or takes part;
//! - whether the event carries the participants as attendees follows the participant mode
//!   (`none`: never; `meetings_only`: meetings; `all`: every type);
//! - with attendees, only the owner's mailbox is written (Exchange delivers the invitation to the
//!   colleagues); without, each participating employee gets their own copy; either way no
//!   employee gets one activity twice;
//! - activities the add-in saved from an Outlook meeting are never written back;
//! - a write whose content hash equals the stored one is skipped;
//! - an employee's own start date, when set, replaces the global one for their calendar;
//! - the admin's sync rules (issue #14, [`plan_with_rules`]) then decide whether each create,
//!   update and delete may flow, and how a delete is carried out (delete, cancel, unlink); a
//!   write the rules stop becomes a skip naming the rule.

use std::collections::{BTreeMap, BTreeSet};

use sha2::{Digest, Sha256};

use super::rules::{DeleteMode, Direction, Operation, SyncRules};
use crate::{
    crm::ActivityRef,
    graph::{Attendee, EventDraft},
    settings::ParticipantSyncMode,
};

/// The activity types calendar sync knows (the CRM's, see [`crate::crm::TimedActivityKind`]).
pub use crate::crm::TimedActivityKind as ActivityKind;

/// A participant of an activity, resolved to an address where one is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Participant {
    /// CRM person id.
    pub person_id: Option<i64>,
    /// Display name.
    pub name: String,
    /// E-mail address, when known.
    pub email: Option<String>,
}

/// A CRM activity as the planner needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct Activity {
    /// Type.
    pub kind: ActivityKind,
    /// CRM id.
    pub id: i64,
    /// Title.
    pub title: String,
    /// Description (plain text or HTML from the CRM).
    pub description: String,
    /// Scheduled start.
    pub start: Option<jiff::Timestamp>,
    /// Scheduled end.
    pub end: Option<jiff::Timestamp>,
    /// Place.
    pub location: Option<String>,
    /// The owner's CRM person id.
    pub owner_person_id: Option<i64>,
    /// Participants (the owner may be among them).
    pub participants: Vec<Participant>,
    /// Deleted in the CRM.
    pub deleted: bool,
    /// Called off in the CRM.
    pub cancelled: bool,
}

impl Activity {
    /// Our id for it, stamped on events (see [`ActivityRef::to_key`]).
    pub fn crm_key(&self) -> String {
        crm_key(self.kind, self.id)
    }
}

/// The key of CRM activity `kind`/`id`, stamped on events (see [`ActivityRef::to_key`]).
pub fn crm_key(kind: ActivityKind, id: i64) -> String {
    ActivityRef::new(kind, id).to_key()
}

/// An employee whose calendar may be synced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncEmployee {
    /// Our employee id.
    pub employee_id: String,
    /// Their CRM person id.
    pub person_id: i64,
    /// Their Office 365 mailbox.
    pub mailbox: String,
    /// Display name.
    pub name: String,
    /// Opted in (and active).
    pub enabled: bool,
    /// The employee's own sync start (overrides [`PlanSettings::start_from`]).
    pub start_from: Option<jiff::Timestamp>,
}

impl SyncEmployee {
    /// Whether an activity starting at `start` is too early for this employee's calendar.
    fn before_start(&self, settings: &PlanSettings, start: jiff::Timestamp) -> bool {
        self.start_from
            .or(settings.start_from)
            .is_some_and(|from| start < from)
    }
}

/// The calendar-sync settings the planner needs.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanSettings {
    /// Sync on at all.
    pub enabled: bool,
    /// Participant mode.
    pub participant_mode: ParticipantSyncMode,
    /// Types that are synced.
    pub kinds: BTreeSet<ActivityKind>,
    /// Category stamped on events.
    pub category: String,
    /// Activities starting before this are not synced.
    pub start_from: Option<jiff::Timestamp>,
}

/// What we stored about an event we wrote for one employee.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExistingLink {
    /// Employee.
    pub employee_id: String,
    /// Mailbox it was written to.
    pub mailbox: String,
    /// Graph event id; `None` while a create is in flight (or was interrupted).
    pub event_id: Option<String>,
    /// Content hash of what was written.
    pub content_hash: String,
    /// The transaction id of the create.
    pub transaction_id: String,
    /// Whether it carries attendees (a delete then sends cancellations).
    pub has_attendees: bool,
}

/// One planned step for one employee's mailbox.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Create the event. `resume` means a create may already have reached Graph: search by the
    /// CRM id first, and reuse `transaction_id`.
    Create {
        /// The event.
        draft: EventDraft,
        /// Its content hash.
        hash: String,
        /// The transaction id of an interrupted create, to reuse.
        transaction_id: Option<String>,
    },
    /// Overwrite the event.
    Update {
        /// Graph id.
        event_id: String,
        /// The event.
        draft: EventDraft,
        /// Its content hash.
        hash: String,
    },
    /// Remove the event (for a meeting with attendees, Exchange sends cancellations).
    Delete {
        /// Graph id; `None` when a create was interrupted (search by the CRM id).
        event_id: Option<String>,
        /// Whether it carries attendees.
        has_attendees: bool,
    },
    /// Cancel the meeting with `message` (the delete mode `cancel`): the attendees get the
    /// message, the event leaves the calendars and the link is dropped.
    Cancel {
        /// Graph id; `None` when a create was interrupted (search by the CRM id).
        event_id: Option<String>,
        /// The message to the attendees.
        message: String,
    },
    /// Drop the link and leave the event as it is (the delete mode `unlink`).
    Unlink {
        /// Graph id, if known.
        event_id: Option<String>,
    },
    /// Nothing to write.
    Skip {
        /// Why (a stable code for the trace).
        reason: &'static str,
    },
}

/// One employee's planned step.
#[derive(Debug, Clone, PartialEq)]
pub struct Write {
    /// Employee.
    pub employee_id: String,
    /// Mailbox.
    pub mailbox: String,
    /// What to do.
    pub step: Step,
}

/// Why an activity is not shown at all (a stable code), or `None` when it is.
fn excluded(
    activity: &Activity,
    settings: &PlanSettings,
    from_outlook: bool,
) -> Option<&'static str> {
    if !settings.enabled {
        return Some("sync_disabled");
    }
    if activity.deleted {
        return Some("deleted_in_crm");
    }
    if from_outlook {
        return Some("saved_from_outlook");
    }
    if activity.cancelled {
        return Some("cancelled_in_crm");
    }
    if !settings.kinds.contains(&activity.kind) {
        return Some("type_not_synced");
    }
    if activity.start.is_none() || activity.end.is_none() {
        return Some("no_time");
    }
    // The start date is per employee (see `desired`).
    None
}

/// How long an activity with a start and no end is shown. Raynet lets calls, letters and tasks
/// be planned with a start only, and Outlook needs an end: a call is short (15 minutes), a letter
/// or a task is a block of work (30 minutes), a meeting or an event without an end gets Outlook's
/// own default length (an hour).
pub fn default_length(kind: ActivityKind) -> jiff::SignedDuration {
    let minutes = match kind {
        ActivityKind::PhoneCall => 15,
        ActivityKind::Task | ActivityKind::Letter => 30,
        ActivityKind::Meeting | ActivityKind::Event => 60,
    };
    jiff::SignedDuration::from_mins(minutes)
}

/// When an activity is shown: its scheduled span (an end before the start is taken as the
/// start); a start without an end lasts [`default_length`]; a task planned only by its deadline
/// is the block of [`default_length`] that ends when it is due. Raynet has no all-day flag, so
/// no synced event is all-day. `None` when the activity carries no time.
pub fn shown_span(
    kind: ActivityKind,
    from: Option<jiff::Timestamp>,
    till: Option<jiff::Timestamp>,
    deadline: Option<jiff::Timestamp>,
) -> Option<(jiff::Timestamp, jiff::Timestamp)> {
    let length = default_length(kind);
    match (from, till, deadline) {
        (Some(from), Some(till), _) => Some((from, till.max(from))),
        (Some(from), None, _) => from.checked_add(length).ok().map(|end| (from, end)),
        (None, _, Some(due)) if kind == ActivityKind::Task => {
            due.checked_sub(length).ok().map(|start| (start, due))
        }
        _ => None,
    }
}

/// Whether events of `kind` carry the participants as attendees under `mode`.
pub fn carries_attendees(mode: ParticipantSyncMode, kind: ActivityKind) -> bool {
    match mode {
        ParticipantSyncMode::None => false,
        ParticipantSyncMode::MeetingsOnly => kind == ActivityKind::Meeting,
        ParticipantSyncMode::AllActivities => true,
    }
}

/// The HTML body: the description (escaped) and the link to the activity in the CRM.
fn body_html(activity: &Activity, crm_link: &str, link_label: &str) -> String {
    let description = html_escape(&activity.description).replace('\n', "<br>");
    format!(
        "<p>{description}</p><p><a href=\"{}\">{}</a></p>",
        html_escape(crm_link),
        html_escape(link_label)
    )
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The content hash of a draft: equal drafts, equal hashes.
pub fn content_hash(draft: &EventDraft) -> String {
    let json = draft.to_json().to_string();
    let digest = Sha256::digest(json.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The mailboxes an activity should appear in (employee id → (mailbox, draft)).
pub fn desired(
    activity: &Activity,
    employees: &[SyncEmployee],
    settings: &PlanSettings,
    crm_link: &str,
    link_label: &str,
) -> BTreeMap<String, (String, EventDraft)> {
    let mut out = BTreeMap::new();
    let (Some(start), Some(end)) = (activity.start, activity.end) else {
        return out;
    };
    let by_person: BTreeMap<i64, &SyncEmployee> = employees
        .iter()
        .filter(|e| e.enabled && !e.before_start(settings, start))
        .map(|e| (e.person_id, e))
        .collect();
    let owner = activity
        .owner_person_id
        .and_then(|p| by_person.get(&p).copied());
    // Everyone taking part: the owner first, then participants, each once.
    let mut involved: Vec<&SyncEmployee> = owner.into_iter().collect();
    for p in &activity.participants {
        if let Some(e) = p.person_id.and_then(|id| by_person.get(&id).copied())
            && !involved.iter().any(|i| i.employee_id == e.employee_id)
        {
            involved.push(e);
        }
    }
    let draft = |attendees: Vec<Attendee>| EventDraft {
        subject: activity.title.clone(),
        body_html: body_html(activity, crm_link, link_label),
        start,
        end: end.max(start),
        location: activity.location.clone().filter(|l| !l.trim().is_empty()),
        attendees,
        categories: vec![settings.category.clone()],
    };
    let with_attendees = carries_attendees(settings.participant_mode, activity.kind);
    match (with_attendees, owner) {
        (true, Some(owner)) => {
            let mut attendees: Vec<Attendee> = Vec::new();
            for p in &activity.participants {
                let employee = p.person_id.and_then(|id| by_person.get(&id).copied());
                if employee.is_some_and(|e| e.employee_id == owner.employee_id)
                    || p.person_id == activity.owner_person_id
                {
                    continue;
                }
                let address = employee
                    .map(|e| e.mailbox.clone())
                    .or_else(|| p.email.clone())
                    .filter(|a| a.contains('@'));
                if let Some(address) = address {
                    let address = address.to_lowercase();
                    if address != owner.mailbox.to_lowercase()
                        && !attendees.iter().any(|a| a.address == address)
                    {
                        attendees.push(Attendee {
                            address,
                            name: p.name.clone(),
                        });
                    }
                }
            }
            attendees.sort();
            out.insert(
                owner.employee_id.clone(),
                (owner.mailbox.clone(), draft(attendees)),
            );
        }
        // Without attendees (or with no synced owner to send them): a copy for each.
        _ => {
            for e in involved {
                out.insert(
                    e.employee_id.clone(),
                    (e.mailbox.clone(), draft(Vec::new())),
                );
            }
        }
    }
    out
}

/// Every write that makes the mailboxes right for `activity`, given what we wrote before.
pub fn plan(
    activity: &Activity,
    employees: &[SyncEmployee],
    settings: &PlanSettings,
    existing: &[ExistingLink],
    from_outlook: bool,
    crm_link: &str,
    link_label: &str,
) -> Vec<Write> {
    let reason = excluded(activity, settings, from_outlook);
    let wanted = if reason.is_some() {
        BTreeMap::new()
    } else {
        desired(activity, employees, settings, crm_link, link_label)
    };
    let mut writes = Vec::new();
    for (employee_id, (mailbox, draft)) in &wanted {
        let hash = content_hash(draft);
        let link = existing.iter().find(|l| &l.employee_id == employee_id);
        let step = match link {
            // The mailbox changed: the old event goes (below), a new one comes.
            Some(l) if l.mailbox.to_lowercase() != mailbox.to_lowercase() => Step::Create {
                draft: draft.clone(),
                hash,
                transaction_id: None,
            },
            Some(l) => match &l.event_id {
                None => Step::Create {
                    draft: draft.clone(),
                    hash,
                    transaction_id: Some(l.transaction_id.clone()),
                },
                Some(_) if l.content_hash == hash => Step::Skip {
                    reason: "unchanged",
                },
                Some(id) => Step::Update {
                    event_id: id.clone(),
                    draft: draft.clone(),
                    hash,
                },
            },
            None => Step::Create {
                draft: draft.clone(),
                hash,
                transaction_id: None,
            },
        };
        writes.push(Write {
            employee_id: employee_id.clone(),
            mailbox: mailbox.clone(),
            step,
        });
    }
    for link in existing {
        let kept = wanted
            .get(&link.employee_id)
            .is_some_and(|(m, _)| m.to_lowercase() == link.mailbox.to_lowercase());
        if !kept {
            writes.push(Write {
                employee_id: link.employee_id.clone(),
                mailbox: link.mailbox.clone(),
                step: Step::Delete {
                    event_id: link.event_id.clone(),
                    has_attendees: link.has_attendees,
                },
            });
        }
    }
    // Too early for the global start date, or for the own start date of every synced employee.
    let too_early = activity.start.is_some_and(|start| {
        let synced: Vec<&SyncEmployee> = employees.iter().filter(|e| e.enabled).collect();
        settings.start_from.is_some_and(|from| start < from)
            || (!synced.is_empty() && synced.iter().all(|e| e.before_start(settings, start)))
    });
    let reason = reason.or(too_early.then_some("before_start_date"));
    if writes.is_empty()
        && let Some(reason) = reason
    {
        writes.push(Write {
            employee_id: String::new(),
            mailbox: String::new(),
            step: Step::Skip { reason },
        });
    }
    writes
}

/// The skip reason of a CRM → Outlook create the rules do not allow.
pub const RULE_CREATE_OFF: &str = "rule_create_off";
/// The skip reason of a CRM → Outlook update the rules do not allow.
pub const RULE_UPDATE_OFF: &str = "rule_update_off";
/// The skip reason of a CRM → Outlook delete the rules do not allow.
pub const RULE_DELETE_OFF: &str = "rule_delete_off";

/// [`plan`], then the admin's `rules` for CRM → Outlook: a create, update or delete of
/// `activity`'s type that is not allowed becomes a skip naming the rule (the event is left as it
/// is), and an allowed delete is carried out in the delete mode (delete, cancel with
/// `rules.cancel_message`, or unlink). An event moving to another mailbox of the same employee
/// (a create there and a delete here) counts as one update.
#[allow(clippy::too_many_arguments)]
pub fn plan_with_rules(
    activity: &Activity,
    employees: &[SyncEmployee],
    settings: &PlanSettings,
    rules: &SyncRules,
    existing: &[ExistingLink],
    from_outlook: bool,
    crm_link: &str,
    link_label: &str,
) -> Vec<Write> {
    let writes = plan(
        activity,
        employees,
        settings,
        existing,
        from_outlook,
        crm_link,
        link_label,
    );
    let moved = |employee: &str| {
        let has = |create: bool| {
            writes.iter().any(|w| {
                w.employee_id == employee
                    && if create {
                        matches!(w.step, Step::Create { .. })
                    } else {
                        matches!(w.step, Step::Delete { .. })
                    }
            })
        };
        has(true) && has(false)
    };
    let allows = |op| rules.allows(activity.kind, Direction::CrmToOutlook, op);
    let governed: Vec<(Write, bool)> = writes
        .iter()
        .map(|w| (w.clone(), moved(&w.employee_id)))
        .collect();
    governed
        .into_iter()
        .map(|(write, moved)| {
            let step = match write.step {
                step @ (Step::Create { .. } | Step::Delete { .. }) if moved => {
                    if allows(Operation::Update) {
                        step
                    } else {
                        Step::Skip {
                            reason: RULE_UPDATE_OFF,
                        }
                    }
                }
                step @ Step::Create { .. } => {
                    if allows(Operation::Create) {
                        step
                    } else {
                        Step::Skip {
                            reason: RULE_CREATE_OFF,
                        }
                    }
                }
                step @ Step::Update { .. } => {
                    if allows(Operation::Update) {
                        step
                    } else {
                        Step::Skip {
                            reason: RULE_UPDATE_OFF,
                        }
                    }
                }
                Step::Delete { .. } if !allows(Operation::Delete) => Step::Skip {
                    reason: RULE_DELETE_OFF,
                },
                Step::Delete {
                    event_id,
                    has_attendees,
                } => match rules.delete_mode(Direction::CrmToOutlook) {
                    DeleteMode::Delete => Step::Delete {
                        event_id,
                        has_attendees,
                    },
                    DeleteMode::Cancel => Step::Cancel {
                        event_id,
                        message: rules.cancel_message.clone(),
                    },
                    DeleteMode::Unlink => Step::Unlink { event_id },
                },
                step => step,
            };
            Write { step, ..write }
        })
        .collect()
}

/// The rule that decided `step` for an activity of `kind` CRM → Outlook, in words stable
/// enough for the trace and the preview (`meeting.crm_to_outlook.create`,
/// `delete_to_outlook=cancel`, or the skip reason).
pub fn decided_by(kind: ActivityKind, step: &Step) -> String {
    let allowed = |op: &str| format!("{}.crm_to_outlook.{op}", kind.entity());
    match step {
        Step::Create { .. } => allowed("create"),
        Step::Update { .. } => allowed("update"),
        Step::Delete { .. } => format!("{} delete_to_outlook=delete", allowed("delete")),
        Step::Cancel { .. } => format!("{} delete_to_outlook=cancel", allowed("delete")),
        Step::Unlink { .. } => format!("{} delete_to_outlook=unlink", allowed("delete")),
        Step::Skip { reason } if *reason == RULE_CREATE_OFF => {
            format!("{}=off", allowed("create"))
        }
        Step::Skip { reason } if *reason == RULE_UPDATE_OFF => {
            format!("{}=off", allowed("update"))
        }
        Step::Skip { reason } if *reason == RULE_DELETE_OFF => {
            format!("{}=off", allowed("delete"))
        }
        Step::Skip { reason } => (*reason).to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> jiff::Timestamp {
        let civil: jiff::civil::DateTime = text.parse().unwrap();
        civil
            .to_zoned(jiff::tz::TimeZone::get("Europe/Prague").unwrap())
            .unwrap()
            .timestamp()
    }

    fn employee(n: i64) -> SyncEmployee {
        SyncEmployee {
            employee_id: format!("e{n}"),
            person_id: n,
            mailbox: format!("user{n}@firm.cz"),
            name: format!("User {n}"),
            enabled: true,
            start_from: None,
        }
    }

    fn person(id: i64, email: Option<&str>) -> Participant {
        Participant {
            person_id: Some(id),
            name: format!("Person {id}"),
            email: email.map(str::to_owned),
        }
    }

    /// A meeting owned by person 1 with employees 2 and 3 and customer 100.
    fn meeting() -> Activity {
        Activity {
            kind: ActivityKind::Meeting,
            id: 81,
            title: "Demo".into(),
            description: "Agenda <b>".into(),
            start: Some(at("2026-09-01T09:00")),
            end: Some(at("2026-09-01T10:00")),
            location: Some("Kavárna".into()),
            owner_person_id: Some(1),
            participants: vec![
                person(1, None),
                person(2, None),
                person(3, None),
                person(100, Some("Jan@Acme.cz")),
            ],
            deleted: false,
            cancelled: false,
        }
    }

    fn settings(mode: ParticipantSyncMode) -> PlanSettings {
        PlanSettings {
            enabled: true,
            participant_mode: mode,
            kinds: ActivityKind::ALL.into_iter().collect(),
            category: "Raynet".into(),
            start_from: Some(at("2026-01-01T00:00")),
        }
    }

    fn employees() -> Vec<SyncEmployee> {
        vec![employee(1), employee(2), employee(3)]
    }

    fn run(
        activity: &Activity,
        mode: ParticipantSyncMode,
        existing: &[ExistingLink],
    ) -> Vec<Write> {
        plan(
            activity,
            &employees(),
            &settings(mode),
            existing,
            false,
            "https://crm.example/records?kind=meeting&id=81",
            "Open in the CRM",
        )
    }

    /// Links as if `writes` had been carried out.
    fn links_after(writes: &[Write]) -> Vec<ExistingLink> {
        writes
            .iter()
            .filter_map(|w| match &w.step {
                Step::Create { draft, hash, .. } | Step::Update { draft, hash, .. } => {
                    Some(ExistingLink {
                        employee_id: w.employee_id.clone(),
                        mailbox: w.mailbox.clone(),
                        event_id: Some(format!("ev-{}", w.employee_id)),
                        content_hash: hash.clone(),
                        transaction_id: format!("tx-{}", w.employee_id),
                        has_attendees: !draft.attendees.is_empty(),
                    })
                }
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_meeting_in_the_default_mode_goes_only_to_the_owner_with_everyone_else_as_attendees() {
        let writes = run(&meeting(), ParticipantSyncMode::MeetingsOnly, &[]);
        assert_eq!(writes.len(), 1, "{writes:?}");
        assert_eq!(writes[0].mailbox, "user1@firm.cz");
        let Step::Create { draft, .. } = &writes[0].step else {
            panic!("{writes:?}")
        };
        let addresses: Vec<&str> = draft.attendees.iter().map(|a| a.address.as_str()).collect();
        assert_eq!(addresses, ["jan@acme.cz", "user2@firm.cz", "user3@firm.cz"]);
        assert_eq!(draft.categories, ["Raynet"]);
        assert!(draft.body_html.contains("Agenda &lt;b&gt;"));
        assert!(draft.body_html.contains("kind=meeting&amp;id=81"));
    }

    #[test]
    fn in_mode_none_each_participating_employee_gets_a_copy_without_attendees() {
        let writes = run(&meeting(), ParticipantSyncMode::None, &[]);
        let mailboxes: Vec<&str> = writes.iter().map(|w| w.mailbox.as_str()).collect();
        assert_eq!(
            mailboxes,
            ["user1@firm.cz", "user2@firm.cz", "user3@firm.cz"]
        );
        for w in &writes {
            let Step::Create { draft, .. } = &w.step else {
                panic!("{w:?}")
            };
            assert!(draft.attendees.is_empty());
        }
    }

    #[test]
    fn a_task_in_the_default_mode_carries_no_attendees_and_in_mode_all_it_does() {
        let mut task = meeting();
        task.kind = ActivityKind::Task;
        let writes = run(&task, ParticipantSyncMode::MeetingsOnly, &[]);
        assert_eq!(writes.len(), 3);
        let writes = run(&task, ParticipantSyncMode::AllActivities, &[]);
        assert_eq!(writes.len(), 1);
        let Step::Create { draft, .. } = &writes[0].step else {
            panic!()
        };
        assert_eq!(draft.attendees.len(), 3);
    }

    #[test]
    fn an_employee_listed_twice_or_as_owner_and_participant_gets_one_event() {
        let mut m = meeting();
        m.participants.push(person(2, None));
        let writes = run(&m, ParticipantSyncMode::None, &[]);
        let mut mailboxes: Vec<&str> = writes.iter().map(|w| w.mailbox.as_str()).collect();
        mailboxes.dedup();
        assert_eq!(mailboxes.len(), writes.len());
        assert_eq!(writes.len(), 3);
    }

    #[test]
    fn planning_again_after_the_writes_skips_everything_and_a_change_updates() {
        let first = run(&meeting(), ParticipantSyncMode::None, &[]);
        let links = links_after(&first);
        let again = run(&meeting(), ParticipantSyncMode::None, &links);
        assert!(
            again.iter().all(|w| w.step
                == Step::Skip {
                    reason: "unchanged"
                }),
            "{again:?}"
        );
        let mut moved = meeting();
        moved.start = Some(at("2026-09-02T09:00"));
        moved.end = Some(at("2026-09-02T10:00"));
        let writes = run(&moved, ParticipantSyncMode::None, &links);
        assert!(writes.iter().all(|w| matches!(w.step, Step::Update { .. })));
    }

    #[test]
    fn deleting_in_the_crm_or_moving_before_the_start_date_removes_every_copy() {
        let links = links_after(&run(&meeting(), ParticipantSyncMode::None, &[]));
        let mut deleted = meeting();
        deleted.deleted = true;
        let writes = run(&deleted, ParticipantSyncMode::None, &links);
        assert_eq!(writes.len(), 3);
        assert!(writes.iter().all(|w| matches!(w.step, Step::Delete { .. })));
        let mut early = meeting();
        early.start = Some(at("2025-12-01T09:00"));
        early.end = Some(at("2025-12-01T10:00"));
        let writes = run(&early, ParticipantSyncMode::None, &links);
        assert!(writes.iter().all(|w| matches!(w.step, Step::Delete { .. })));
        // Nothing stored and nothing wanted: one skip with the reason, for the trace.
        assert_eq!(
            run(&early, ParticipantSyncMode::None, &[]),
            vec![Write {
                employee_id: String::new(),
                mailbox: String::new(),
                step: Step::Skip {
                    reason: "before_start_date"
                }
            }]
        );
    }

    #[test]
    fn switching_from_none_to_meetings_only_removes_the_colleagues_copies() {
        let links = links_after(&run(&meeting(), ParticipantSyncMode::None, &[]));
        let writes = run(&meeting(), ParticipantSyncMode::MeetingsOnly, &links);
        let owner = writes.iter().find(|w| w.employee_id == "e1").unwrap();
        assert!(matches!(owner.step, Step::Update { .. }));
        let deleted: Vec<&str> = writes
            .iter()
            .filter(|w| matches!(w.step, Step::Delete { .. }))
            .map(|w| w.employee_id.as_str())
            .collect();
        assert_eq!(deleted, ["e2", "e3"]);
    }

    #[test]
    fn an_interrupted_create_is_resumed_with_its_transaction_id() {
        let links = vec![ExistingLink {
            employee_id: "e1".into(),
            mailbox: "user1@firm.cz".into(),
            event_id: None,
            content_hash: String::new(),
            transaction_id: "tx-kept".into(),
            has_attendees: true,
        }];
        let writes = run(&meeting(), ParticipantSyncMode::MeetingsOnly, &links);
        assert!(matches!(
            &writes[0].step,
            Step::Create { transaction_id: Some(t), .. } if t == "tx-kept"
        ));
    }

    #[test]
    fn a_call_with_a_start_only_lasts_a_quarter_of_an_hour_and_a_task_ends_at_its_deadline() {
        let start = at("2026-09-01T09:00");
        assert_eq!(
            shown_span(ActivityKind::PhoneCall, Some(start), None, None),
            Some((start, at("2026-09-01T09:15")))
        );
        assert_eq!(
            shown_span(ActivityKind::Task, None, None, Some(start)),
            Some((at("2026-09-01T08:30"), start))
        );
        assert_eq!(
            shown_span(ActivityKind::Letter, None, None, Some(start)),
            None
        );
        assert_eq!(
            shown_span(
                ActivityKind::Meeting,
                Some(start),
                Some(at("2026-09-01T08:00")),
                None
            ),
            Some((start, start))
        );
    }

    #[test]
    fn a_cancelled_activity_leaves_every_calendar() {
        let links = links_after(&run(&meeting(), ParticipantSyncMode::None, &[]));
        let mut cancelled = meeting();
        cancelled.cancelled = true;
        let writes = run(&cancelled, ParticipantSyncMode::None, &links);
        assert_eq!(writes.len(), 3);
        assert!(writes.iter().all(|w| matches!(w.step, Step::Delete { .. })));
    }

    #[test]
    fn a_meeting_saved_from_outlook_is_never_written_back() {
        let writes = plan(
            &meeting(),
            &employees(),
            &settings(ParticipantSyncMode::MeetingsOnly),
            &[],
            true,
            "",
            "",
        );
        assert_eq!(
            writes,
            vec![Write {
                employee_id: String::new(),
                mailbox: String::new(),
                step: Step::Skip {
                    reason: "saved_from_outlook"
                }
            }]
        );
    }

    #[test]
    fn disabled_employees_and_types_get_nothing() {
        let mut staff = employees();
        staff[1].enabled = false;
        let writes = plan(
            &meeting(),
            &staff,
            &settings(ParticipantSyncMode::None),
            &[],
            false,
            "",
            "",
        );
        assert_eq!(writes.len(), 2);
        let mut s = settings(ParticipantSyncMode::None);
        s.kinds.remove(&ActivityKind::Meeting);
        let writes = plan(&meeting(), &employees(), &s, &[], false, "", "");
        assert!(matches!(
            writes[0].step,
            Step::Skip {
                reason: "type_not_synced"
            }
        ));
    }

    #[test]
    fn the_owner_not_synced_with_attendees_falls_back_to_copies_without_attendees() {
        let mut m = meeting();
        m.owner_person_id = Some(50);
        let writes = run(&m, ParticipantSyncMode::MeetingsOnly, &[]);
        assert_eq!(writes.len(), 3);
        assert!(
            writes.iter().all(
                |w| matches!(&w.step, Step::Create { draft, .. } if draft.attendees.is_empty())
            )
        );
    }

    fn with_rules(
        activity: &Activity,
        rules: &SyncRules,
        existing: &[ExistingLink],
        staff: &[SyncEmployee],
    ) -> Vec<Write> {
        plan_with_rules(
            activity,
            staff,
            &settings(ParticipantSyncMode::None),
            rules,
            existing,
            false,
            "",
            "",
        )
    }

    fn restricted(create: bool, update: bool, delete: bool, mode: DeleteMode) -> SyncRules {
        let mut rules = SyncRules {
            delete_to_outlook: mode,
            ..SyncRules::default()
        };
        rules.types.insert(
            ActivityKind::Meeting,
            crate::calendar::rules::TypeRules {
                crm_to_outlook: crate::calendar::rules::Allowed {
                    create,
                    update,
                    delete,
                },
                ..Default::default()
            },
        );
        rules
    }

    #[test]
    fn a_type_whose_create_update_or_delete_is_off_gets_a_skip_naming_the_rule() {
        let off = restricted(false, false, false, DeleteMode::Delete);
        let writes = with_rules(&meeting(), &off, &[], &employees());
        assert!(writes.iter().all(|w| w.step
            == Step::Skip {
                reason: RULE_CREATE_OFF
            }));
        assert_eq!(
            decided_by(ActivityKind::Meeting, &writes[0].step),
            "meeting.crm_to_outlook.create=off"
        );
        let links = links_after(&run(&meeting(), ParticipantSyncMode::None, &[]));
        let mut moved = meeting();
        moved.start = Some(at("2026-09-02T09:00"));
        moved.end = Some(at("2026-09-02T10:00"));
        let writes = with_rules(&moved, &off, &links, &employees());
        assert!(writes.iter().all(|w| w.step
            == Step::Skip {
                reason: RULE_UPDATE_OFF
            }));
        let mut deleted = meeting();
        deleted.deleted = true;
        let writes = with_rules(&deleted, &off, &links, &employees());
        assert_eq!(writes.len(), 3);
        assert!(writes.iter().all(|w| w.step
            == Step::Skip {
                reason: RULE_DELETE_OFF
            }));
        // Another type keeps the defaults.
        let mut task = meeting();
        task.kind = ActivityKind::Task;
        let writes = with_rules(&task, &off, &[], &employees());
        assert!(writes.iter().all(|w| matches!(w.step, Step::Create { .. })));
    }

    #[test]
    fn a_delete_is_carried_out_in_the_delete_mode() {
        let links = links_after(&run(&meeting(), ParticipantSyncMode::None, &[]));
        let mut deleted = meeting();
        deleted.deleted = true;
        let cancel = restricted(true, true, true, DeleteMode::Cancel);
        let writes = with_rules(&deleted, &cancel, &links, &employees());
        assert!(writes.iter().all(|w| matches!(&w.step,
            Step::Cancel { message, event_id: Some(_) } if *message == cancel.cancel_message)));
        let unlink = restricted(true, true, true, DeleteMode::Unlink);
        let writes = with_rules(&deleted, &unlink, &links, &employees());
        assert!(
            writes
                .iter()
                .all(|w| matches!(&w.step, Step::Unlink { event_id: Some(_) }))
        );
    }

    #[test]
    fn an_employees_own_start_date_replaces_the_global_one_for_their_calendar() {
        let mut staff = employees();
        staff[0].start_from = Some(at("2025-01-01T00:00"));
        staff[1].start_from = Some(at("2027-01-01T00:00"));
        let mut early = meeting();
        early.start = Some(at("2025-12-01T09:00"));
        early.end = Some(at("2025-12-01T10:00"));
        let writes = with_rules(&early, &SyncRules::default(), &[], &staff);
        let mailboxes: Vec<&str> = writes.iter().map(|w| w.mailbox.as_str()).collect();
        assert_eq!(mailboxes, ["user1@firm.cz"]);
        let writes = with_rules(&meeting(), &SyncRules::default(), &[], &staff);
        let mailboxes: Vec<&str> = writes.iter().map(|w| w.mailbox.as_str()).collect();
        assert_eq!(mailboxes, ["user1@firm.cz", "user3@firm.cz"]);
    }
}
