//! The ledger's save path: one store call writes a new entry with its `activity.sync` job, or
//! returns the existing one unchanged, or stores the new content and queues it again; the
//! employee's picks are remembered for ranking lookups.

use crm_bridge_wire::{ActivityKind, EntryStatus};

use super::{Content, Entry, Links, SYNC_JOB, handlers::entry_for};
use crate::{
    identity::addin::AddinUser,
    items::ItemKind,
    jobs::WorkError,
    state::AppState,
    store::{LoggedItemChanges, NewJob, NewLoggedItem},
};

/// `value` as the JSON text a ledger column holds.
pub(super) fn json<T: serde::Serialize>(value: &T) -> Result<String, WorkError> {
    serde_json::to_string(value).map_err(|e| WorkError::Broken(e.to_string()))
}

/// What saving did with the entry.
#[derive(Debug)]
pub enum Saved {
    /// A new entry, queued for the CRM.
    Created(Entry),
    /// The entry as it was: nothing changed.
    Unchanged(Entry),
    /// The entry with new content, queued for the CRM again.
    Requeued(Entry),
}

/// An entry as the add-in's input became it, before it is stored.
pub struct Draft {
    /// An e-mail or a meeting.
    pub kind: ActivityKind,
    /// The ledger key: the Internet Message-ID, the iCalUId or (composing) the item id.
    pub source_key: String,
    /// The Outlook item id.
    pub item_id: Option<String>,
    /// The picked links.
    pub links: Links,
    /// Addresses no CRM person has.
    pub unmatched: Vec<String>,
    /// What the activity will say.
    pub content: Content,
}

/// Writes a new entry, or for an existing one: returns it unchanged when nothing changed and it
/// is not unlinked, else stores the new content and queues it again.
pub async fn save(state: &AppState, user: &AddinUser, draft: Draft) -> Result<Saved, WorkError> {
    let Draft {
        kind,
        source_key,
        item_id,
        links,
        unmatched,
        content,
    } = draft;
    let employee = &user.employee.id;
    let new = NewLoggedItem {
        employee_id: employee.clone(),
        kind: kind.as_str().to_owned(),
        source_key,
        item_id: item_id.clone(),
        links: json(&links)?,
        unmatched: json(&unmatched)?,
        content: json(&content)?,
    };
    let (changes, new_content) = (
        LoggedItemChanges {
            links: new.links.clone(),
            unmatched: new.unmatched.clone(),
            content: new.content.clone(),
            item_id,
        },
        new.content.clone(),
    );
    let (item, created) = state
        .store
        .log_item(new, NewJob::for_entry(SYNC_JOB, ""))
        .await?;
    record_picks(state, employee, &links).await;
    if created {
        state.jobs.wake();
        return Ok(Saved::Created(entry_for(state, user, &item)));
    }
    let stored: Content = serde_json::from_str(&item.content).unwrap_or_default();
    // E-mails do not change once sent: a repeat post returns the entry. Meetings change. An
    // activity deleted in the CRM is saved again.
    let unchanged = item.crm_deleted_at.is_none()
        && match kind {
            ActivityKind::Email => !stored.deleted,
            ActivityKind::Meeting => {
                item.content == new_content
                    && item.links == changes.links
                    && EntryStatus::parse(&item.status) != Some(EntryStatus::Failed)
            }
        };
    if unchanged {
        return Ok(Saved::Unchanged(entry_for(state, user, &item)));
    }
    let item = state
        .store
        .requeue_item(&item.id, changes, NewJob::for_entry(SYNC_JOB, ""))
        .await?;
    state.jobs.wake();
    Ok(Saved::Requeued(entry_for(state, user, &item)))
}

pub(super) async fn record_picks(state: &AppState, employee: &str, links: &Links) {
    let picks = links
        .company_id
        .map(|id| (ItemKind::Company, id))
        .into_iter()
        .chain(links.person_ids.iter().map(|id| (ItemKind::Person, *id)))
        .chain(links.project_id.map(|id| (ItemKind::Project, id)))
        .chain(
            links
                .business_case_id
                .map(|id| (ItemKind::BusinessCase, id)),
        );
    for (kind, id) in picks {
        if let Err(e) = state
            .items
            .record_pick(state.store.as_ref(), employee, kind, id)
            .await
        {
            // Recent picks only rank lookups; saving the e-mail matters more.
            tracing::warn!(error = %e, "cannot record a pick");
        }
    }
}
