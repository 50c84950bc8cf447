//! The ledger's save path: one store call writes a new entry with its `activity.sync` job, or
//! returns the existing one unchanged, or stores the new content and queues it again; the
//! employee's picks are remembered for ranking lookups.

use axum::http::StatusCode;

use super::{Content, Entry, Links, SYNC_JOB, handlers::entry_for};
use crate::{
    error::{AppError, AppJson},
    identity::addin::AddinUser,
    items::ItemKind,
    state::AppState,
    store::{LoggedItemChanges, NewJob, NewLoggedItem},
};

pub(super) fn json<T: serde::Serialize>(value: &T) -> Result<String, AppError> {
    serde_json::to_string(value).map_err(|e| AppError::Internal(e.into()))
}

/// An entry as the add-in's input became it, before it is stored.
pub struct Draft {
    pub kind: &'static str,
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

/// Writes a new entry, or for an existing one: returns it unchanged (200) when nothing changed
/// and it is not unlinked, else stores the new content and queues it again (202).
pub async fn save(
    state: &AppState,
    user: &AddinUser,
    draft: Draft,
) -> Result<(StatusCode, AppJson<Entry>), AppError> {
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
        kind: kind.to_owned(),
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
        return Ok((StatusCode::ACCEPTED, AppJson(entry_for(state, user, &item))));
    }
    let stored: Content = serde_json::from_str(&item.content).unwrap_or_default();
    // E-mails do not change once sent: a repeat post returns the entry. Meetings change. An
    // activity deleted in the CRM is saved again.
    let unchanged = item.crm_deleted_at.is_none()
        && if kind == "email" {
            !stored.deleted
        } else {
            item.content == new_content && item.links == changes.links && item.status != "failed"
        };
    if unchanged {
        return Ok((StatusCode::OK, AppJson(entry_for(state, user, &item))));
    }
    let item = state
        .store
        .requeue_item(&item.id, changes, NewJob::for_entry(SYNC_JOB, ""))
        .await?;
    state.jobs.wake();
    Ok((StatusCode::ACCEPTED, AppJson(entry_for(state, user, &item))))
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
