//! The add-in's endpoints for saving e-mails and meetings (thin handlers: `input` parses,
//! `ledger` saves), status look-ups, re-link, unlink and "add as contact". Their request and
//! answer bodies are the wire crate's (`crm_bridge_wire`), shared with the task pane.

use axum::{
    extract::{Path, Query, State},
    http::StatusCode,
};
use crm_bridge_wire::{EmailInput, MeetingInput, PersonInput, Relink};
use serde::Deserialize;
use utoipa::IntoParams;

use super::{
    Content, Entry, SYNC_JOB, entry_of, input,
    input::check_links,
    ledger::{self, Saved, json, record_picks},
};
use crate::{
    api_responses::{BadRequest, Invalid, NotFound, Unauthorized, Upstream},
    error::{AppError, AppJson},
    identity::addin::AddinUser,
    items::index::ItemView,
    state::AppState,
    store::{LedgerKey, LoggedItem, LoggedItemChanges, NewJob, Role},
};

/// Saves an e-mail into the CRM (asynchronously): 202 with the new entry, 200 with the existing
/// one when this e-mail was saved before.
#[utoipa::path(
    post,
    path = "/api/addin/emails",
    tag = "addin",
    security(("bearer" = [])),
    request_body = EmailInput,
    responses(
        (status = 202, body = Entry),
        (status = 200, body = Entry),
        Unauthorized,
        Invalid
    )
)]
pub async fn log_email(
    State(state): State<AppState>,
    user: AddinUser,
    AppJson(input): AppJson<EmailInput>,
) -> Result<(StatusCode, AppJson<Entry>), AppError> {
    let draft = input::email_draft(&state, &user, input)?;
    Ok(answer(ledger::save(&state, &user, draft).await?))
}

/// Saves a meeting into the CRM (asynchronously); posting the same meeting again with changes
/// updates the same CRM activity.
#[utoipa::path(
    post,
    path = "/api/addin/meetings",
    tag = "addin",
    security(("bearer" = [])),
    request_body = MeetingInput,
    responses(
        (status = 202, body = Entry),
        (status = 200, body = Entry),
        Unauthorized,
        Invalid
    )
)]
pub async fn log_meeting(
    State(state): State<AppState>,
    user: AddinUser,
    AppJson(input): AppJson<MeetingInput>,
) -> Result<(StatusCode, AppJson<Entry>), AppError> {
    let draft = input::meeting_draft(&state, &user, input)?;
    Ok(answer(ledger::save(&state, &user, draft).await?))
}

/// 202 for an entry queued for the CRM, 200 for one that was already saved as it is.
fn answer(saved: Saved) -> (StatusCode, AppJson<Entry>) {
    match saved {
        Saved::Created(entry) | Saved::Requeued(entry) => (StatusCode::ACCEPTED, AppJson(entry)),
        Saved::Unchanged(entry) => (StatusCode::OK, AppJson(entry)),
    }
}

/// Which saved item to look up (exactly one).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LoggedQuery {
    /// An e-mail's Internet Message-ID.
    pub internet_message_id: Option<String>,
    /// A meeting's iCalUId.
    pub ical_uid: Option<String>,
    /// Outlook's item id.
    pub item_id: Option<String>,
}

/// The caller's entry for an e-mail or meeting: its status, CRM link and links; status
/// `not_logged` (200) when the caller has not saved it.
#[utoipa::path(
    get,
    path = "/api/addin/logged",
    tag = "addin",
    security(("bearer" = [])),
    params(LoggedQuery),
    responses(
        (status = 200, body = Entry),
        BadRequest
    )
)]
pub async fn find_logged(
    State(state): State<AppState>,
    user: AddinUser,
    Query(query): Query<LoggedQuery>,
) -> Result<AppJson<Entry>, AppError> {
    let (key, value) = match (&query.internet_message_id, &query.ical_uid, &query.item_id) {
        (Some(v), None, None) | (None, Some(v), None) => (LedgerKey::Source, v),
        (None, None, Some(v)) => (LedgerKey::ItemId, v),
        _ => {
            return Err(AppError::BadRequest(
                "give exactly one of internet_message_id, ical_uid, item_id".into(),
            ));
        }
    };
    let item = state
        .store
        .find_logged_item(&user.employee.id, key, value.trim())
        .await?;
    // Most items a sales person opens were never saved: a normal state, not an error.
    Ok(AppJson(
        item.as_ref()
            .map_or_else(Entry::not_logged, |item| entry_for(&state, &user, item)),
    ))
}

/// The caller's view of a ledger entry: links the CRM reports are dropped where the cache knows
/// the record is on a security level the caller may not open in the CRM.
pub(super) fn entry_for(state: &AppState, user: &AddinUser, item: &LoggedItem) -> Entry {
    let mut entry = entry_of(item);
    let levels = user.employee.crm_security_levels.as_deref();
    let index = state.items.index();
    entry.crm_links = entry.crm_links.map(|links| {
        links.retain_visible(|kind, id| index.get(kind, id).is_none_or(|v| v.visible_to(levels)))
    });
    entry
}

fn not_logged() -> AppError {
    AppError::NotFound("this item has not been saved to the CRM".into())
}

/// The entry `id` if the caller owns it (or is an admin); 404 otherwise, so others cannot
/// even learn that it exists.
async fn owned(state: &AppState, user: &AddinUser, id: &str) -> Result<LoggedItem, AppError> {
    let item = state.store.logged_item(id).await?.ok_or_else(not_logged)?;
    if item.employee_id != user.employee.id && user.employee.role != Role::Admin {
        return Err(not_logged());
    }
    Ok(item)
}

/// Re-links a saved item: the CRM activity gets the new links (asynchronously).
#[utoipa::path(
    put,
    path = "/api/addin/logged/{id}",
    tag = "addin",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Entry id")),
    request_body = Relink,
    responses((status = 202, body = Entry), NotFound)
)]
pub async fn relink(
    State(state): State<AppState>,
    user: AddinUser,
    Path(id): Path<String>,
    AppJson(input): AppJson<Relink>,
) -> Result<(StatusCode, AppJson<Entry>), AppError> {
    check_links(&input.links)?;
    let item = owned(&state, &user, &id).await?;
    let mut content: Content = serde_json::from_str(&item.content).unwrap_or_default();
    content.deleted = false;
    let changes = LoggedItemChanges {
        links: json(&input.links)?,
        unmatched: item.unmatched.clone(),
        content: json(&content)?,
        item_id: None,
    };
    let item = state
        .store
        .requeue_item(&item.id, changes, NewJob::for_entry(SYNC_JOB, ""))
        .await?;
    record_picks(&state, &user.employee.id, &input.links).await;
    state.jobs.wake();
    Ok((
        StatusCode::ACCEPTED,
        AppJson(entry_for(&state, &user, &item)),
    ))
}

/// Unlinks a saved item: its CRM activity is deleted (asynchronously; the entry shows
/// `unlinked` at once).
#[utoipa::path(
    delete,
    path = "/api/addin/logged/{id}",
    tag = "addin",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Entry id")),
    responses((status = 200, body = Entry), NotFound)
)]
pub async fn unlink(
    State(state): State<AppState>,
    user: AddinUser,
    Path(id): Path<String>,
) -> Result<AppJson<Entry>, AppError> {
    let item = owned(&state, &user, &id).await?;
    let mut content: Content = serde_json::from_str(&item.content).unwrap_or_default();
    content.deleted = true;
    let changes = LoggedItemChanges {
        links: item.links.clone(),
        unmatched: item.unmatched.clone(),
        content: json(&content)?,
        item_id: None,
    };
    let item = state
        .store
        .requeue_item(&item.id, changes, NewJob::for_entry(SYNC_JOB, ""))
        .await?;
    state.jobs.wake();
    Ok(AppJson(entry_for(&state, &user, &item)))
}

/// Creates a CRM contact person with the caller's CRM key ("add as contact"); the person is in
/// lookups and attendee matching at once.
#[utoipa::path(
    post,
    path = "/api/addin/persons",
    tag = "addin",
    security(("bearer" = [])),
    request_body = PersonInput,
    responses(
        (status = 201, body = ItemView),
        Invalid,
        Upstream
    )
)]
pub async fn create_person(
    State(state): State<AppState>,
    user: AddinUser,
    AppJson(input): AppJson<PersonInput>,
) -> Result<(StatusCode, AppJson<ItemView>), AppError> {
    let person = input::new_person(&input)?;
    let view =
        crate::items::contacts::add_person(&state.items_ctx(), &user.employee, person).await?;
    Ok((StatusCode::CREATED, AppJson(view)))
}
