//! The `activity.sync` job: makes the CRM activity match its ledger entry with the employee's
//! own CRM key. It looks the activity up by our entry id (`extId`) before creating one, so an
//! attempt that was cut off after the CRM created the activity never makes a second one.
//!
//! One e-mail or meeting is one CRM activity across colleagues: when a colleague saved the same
//! internetMessageId / iCalUId first, the entry joins that activity and the employee is added as
//! a participant, instead of creating a second activity.

use std::{collections::HashMap, sync::Mutex};

use async_trait::async_trait;

use super::{Content, EntryStatus, Links};
use crate::{
    crm::{
        ActivityKind, ActivityLinks, ActivityStatus, ActivityUpdate, Crm, CrmError, NewActivity,
        ParticipantSpec,
    },
    jobs::{JobError, JobKind},
    state::AppState,
    store::{Employee, Job, LoggedItem},
};

/// Runs `activity.sync` jobs; remembers each employee's CRM person id (the activity owner).
pub struct SyncActivity {
    state: AppState,
    owners: Mutex<HashMap<String, i64>>,
}

fn kind_of(item: &LoggedItem) -> Result<ActivityKind, JobError> {
    ActivityKind::parse(&item.kind)
        .ok_or_else(|| JobError::Fatal(format!("unknown entry kind {:?}", item.kind)))
}

impl SyncActivity {
    /// The kind, writing activities with `state`.
    pub fn new(state: AppState) -> Self {
        Self {
            state,
            owners: Mutex::new(HashMap::new()),
        }
    }

    async fn owner(&self, crm: &dyn Crm, employee: &Employee) -> Result<i64, JobError> {
        if let Ok(owners) = self.owners.lock()
            && let Some(id) = owners.get(&employee.id)
        {
            return Ok(*id);
        }
        let report = crm.test_connection().await?;
        let id = report.identity.person_id.ok_or_else(|| {
            JobError::Fatal(format!(
                "the CRM did not say which person the API key of {} belongs to",
                report.identity.username
            ))
        })?;
        if let Ok(mut owners) = self.owners.lock() {
            owners.insert(employee.id.clone(), id);
        }
        Ok(id)
    }
}

/// The participants to write besides the owner: the persons the user picked, always (their
/// explicit choice; the participant sync mode governs only what calendar sync puts on Outlook
/// events), and for a meeting also its attendees that are CRM persons.
fn participants(
    kind: ActivityKind,
    links: &Links,
    content: &Content,
    owner: i64,
) -> Vec<ParticipantSpec> {
    let matched: &[i64] = if kind == ActivityKind::Meeting {
        &content.matched_person_ids
    } else {
        &[]
    };
    let mut ids: Vec<i64> = Vec::new();
    for id in links.person_ids.iter().chain(matched) {
        if *id != owner && !ids.contains(id) {
            ids.push(*id);
        }
    }
    ids.into_iter()
        .map(|id| ParticipantSpec {
            person_id: Some(id),
            company_id: None,
        })
        .collect()
}

/// The entry this one joins: the oldest live entry of another employee for the same e-mail or
/// meeting, if it is older than `item`.
async fn first_saver(state: &AppState, item: &LoggedItem) -> Result<Option<LoggedItem>, JobError> {
    let entries = state
        .store
        .items_for_source(&item.kind, &item.source_key)
        .await?;
    let first = entries.into_iter().find(|e| {
        matches!(
            EntryStatus::parse(&e.status),
            Some(EntryStatus::Queued | EntryStatus::Saved)
        ) && e.crm_deleted_at.is_none()
            && !serde_json::from_str::<Content>(&e.content).is_ok_and(|c| c.deleted)
    });
    Ok(first.filter(|f| f.id != item.id && f.employee_id != item.employee_id))
}

/// Adds `person` as a participant of the colleague's activity `id`, keeping everyone else.
async fn join_activity(
    crm: &dyn Crm,
    kind: ActivityKind,
    id: i64,
    person: i64,
) -> Result<(), CrmError> {
    let activity = crm.get_activity(kind, id).await?;
    if activity.owner_id == Some(person)
        || activity
            .participants
            .iter()
            .any(|p| p.person_id == Some(person))
    {
        return Ok(());
    }
    let mut people: Vec<ParticipantSpec> = activity
        .participants
        .iter()
        .filter(|p| !p.owner)
        .map(|p| ParticipantSpec {
            person_id: p.person_id,
            company_id: p.company_id,
        })
        .collect();
    people.push(ParticipantSpec {
        person_id: Some(person),
        company_id: None,
    });
    let update = ActivityUpdate {
        participants: Some(people),
        ..ActivityUpdate::default()
    };
    crm.update_activity(kind, id, &update).await
}

#[async_trait]
impl JobKind for SyncActivity {
    fn name(&self) -> &'static str {
        super::SYNC_JOB
    }

    async fn run(&self, job: &Job) -> Result<(), JobError> {
        let state = &self.state;
        let store = state.store.as_ref();
        let entry_id = job
            .entry_id
            .as_deref()
            .ok_or_else(|| JobError::Fatal("the job names no ledger entry".into()))?;
        let Some(item) = store.logged_item(entry_id).await? else {
            return Ok(());
        };
        let kind = kind_of(&item)?;
        let content: Content = serde_json::from_str(&item.content)
            .map_err(|e| JobError::Fatal(format!("the stored entry is unreadable: {e}")))?;
        let links: Links = serde_json::from_str(&item.links)
            .map_err(|e| JobError::Fatal(format!("the stored links are unreadable: {e}")))?;
        let employee = store
            .employee(&item.employee_id)
            .await?
            .ok_or_else(|| JobError::Fatal("the employee no longer exists".into()))?;
        let crm = state
            .crm
            .for_employee(store, &state.master_key, &employee)
            .await?;
        let existing = match item.crm_activity_id {
            Some(id) => Some(id),
            None => crm
                .find_activity_by_ext_id(kind, &item.id)
                .await?
                .map(|a| a.id),
        };

        if content.deleted {
            let shared = match existing {
                Some(id) => store
                    .items_for_activity(&item.kind, id)
                    .await?
                    .iter()
                    .any(|other| {
                        other.id != item.id
                            && EntryStatus::parse(&other.status) == Some(EntryStatus::Saved)
                    }),
                None => false,
            };
            // A colleague's entry still uses the activity: only this entry lets go of it.
            if let Some(id) = existing.filter(|_| !shared) {
                match crm.delete_activity(kind, id).await {
                    Ok(()) | Err(CrmError::NotFound) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            store.mark_item_unlinked(&item.id).await?;
            return Ok(());
        }

        let owner = self.owner(crm.as_ref(), &employee).await?;
        // An entry that joined a colleague's activity never rewrites it (that would drop the
        // colleague's links and participants); it only makes sure the employee takes part.
        if let (Some(activity), Some(saved_by)) = (existing, item.saved_by.as_deref()) {
            match join_activity(crm.as_ref(), kind, activity, owner).await {
                Ok(()) => {
                    let link = crm.activity_link(kind, activity);
                    store
                        .mark_item_saved(&item.id, item.revision, activity, &link, Some(saved_by))
                        .await?;
                    return Ok(());
                }
                Err(CrmError::NotFound) => {}
                Err(e) => return Err(e.into()),
            }
        }
        if existing.is_none()
            && let Some(first) = first_saver(state, &item).await?
        {
            let Some(activity) = first.crm_activity_id else {
                return Err(JobError::retry(
                    "a colleague is saving the same item; waiting for their activity",
                ));
            };
            match join_activity(crm.as_ref(), kind, activity, owner).await {
                Ok(()) => {
                    let saved_by = store
                        .employee(&first.employee_id)
                        .await?
                        .map(|e| e.identifier)
                        .unwrap_or_default();
                    let link = crm.activity_link(kind, activity);
                    store
                        .mark_item_saved(&item.id, item.revision, activity, &link, Some(&saved_by))
                        .await?;
                    return Ok(());
                }
                // Deleted in the CRM meanwhile: this entry gets its own activity below.
                Err(CrmError::NotFound) => {}
                Err(e) => return Err(e.into()),
            }
        }
        let crm_links = ActivityLinks {
            company_id: links.company_id,
            person_id: links.person_ids.first().copied(),
            business_case_id: links.business_case_id,
            project_id: links.project_id,
        };
        let participants = participants(kind, &links, &content, owner);
        let status = Some(ActivityStatus::Completed);
        let mut id = None;
        if let Some(current) = existing {
            // An update cannot change the activity's contact person; the CRM takes the picked
            // persons as participants instead, so a re-link always writes them.
            let update = ActivityUpdate {
                title: Some(content.title.clone()),
                from: content.from,
                till: content.till,
                description: Some(content.description.clone()),
                place: content.place.clone(),
                links: Some(crm_links.clone()),
                participants: Some(participants.clone()),
                status,
            };
            match crm.update_activity(kind, current, &update).await {
                Ok(()) => id = Some(current),
                // Deleted in the CRM meanwhile: create it again.
                Err(CrmError::NotFound) => {}
                Err(e) => return Err(e.into()),
            }
        }
        let id = match id {
            Some(id) => id,
            None => {
                crm.create_activity(&NewActivity {
                    kind,
                    ext_id: Some(item.id.clone()),
                    owner_id: owner,
                    title: content.title.clone(),
                    from: content.from,
                    till: content.till,
                    description: content.description.clone(),
                    place: content.place.clone(),
                    links: crm_links,
                    participants,
                    status,
                })
                .await?
            }
        };
        let link = crm.activity_link(kind, id);
        store
            .mark_item_saved(&item.id, item.revision, id, &link, None)
            .await?;
        Ok(())
    }

    async fn retrying(&self, job: &Job, reason: &str) {
        if let Some(entry) = &job.entry_id
            && let Err(e) = self.state.store.note_item_retry(entry, reason).await
        {
            tracing::warn!(entry = %entry, error = %e, "cannot note a retry on a ledger entry");
        }
    }

    async fn failed(&self, job: &Job, reason: &str) {
        if let Some(entry) = &job.entry_id
            && let Err(e) = self.state.store.mark_item_failed(entry, reason).await
        {
            tracing::warn!(entry = %entry, error = %e, "cannot mark a ledger entry failed");
        }
    }
}
