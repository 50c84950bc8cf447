//! The add-in's endpoints for saving e-mails and meetings (their request and answer types, and
//! thin handlers: `input` parses, `ledger` saves), status look-ups, re-link, unlink and "add
//! as contact".

use axum::{
    extract::{Path, Query, State},
    http::StatusCode,
};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::{
    Content, Entry, Links, SYNC_JOB, input,
    input::check_links,
    ledger::{self, json, record_picks},
};
use crate::{
    error::{AppError, AppJson},
    identity::addin::AddinUser,
    items::index::ItemView,
    state::AppState,
    store::{LedgerKey, LoggedItem, LoggedItemChanges, NewJob, Role},
};

/// A mailbox: display name and address.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(default)]
pub struct Mailbox {
    /// Display name.
    pub name: String,
    /// E-mail address.
    pub email: String,
}

/// An attachment's name and size (the file itself is not sent).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(default)]
pub struct Attachment {
    /// File name.
    pub name: String,
    /// Size in bytes.
    pub size: u64,
}

/// An e-mail to save.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct EmailInput {
    /// The message's Internet Message-ID (the ledger key).
    pub internet_message_id: String,
    /// Outlook's item id.
    #[serde(default)]
    pub item_id: Option<String>,
    /// Subject.
    #[serde(default)]
    pub subject: String,
    /// Sender.
    #[serde(default)]
    pub from: Mailbox,
    /// Recipients.
    #[serde(default)]
    pub to: Vec<Mailbox>,
    /// Copies.
    #[serde(default)]
    pub cc: Vec<Mailbox>,
    /// When it was sent (RFC 3339).
    pub sent_at: String,
    /// Body as plain text.
    #[serde(default)]
    pub body_text: String,
    /// Attachments' names and sizes.
    #[serde(default)]
    pub attachments: Vec<Attachment>,
    /// Picked links.
    #[serde(default)]
    pub links: Links,
}

/// A meeting to save.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct MeetingInput {
    /// The meeting's iCalUId (or, in compose mode, its item id): the ledger key.
    #[serde(default)]
    pub ical_uid: Option<String>,
    /// Outlook's item id.
    #[serde(default)]
    pub item_id: Option<String>,
    /// Subject.
    #[serde(default)]
    pub subject: String,
    /// Start: RFC 3339, or a wall-clock time in `time_zone`.
    pub start: String,
    /// End: RFC 3339, or a wall-clock time in `time_zone`.
    pub end: String,
    /// IANA (`Europe/Prague`) or Windows (`Central Europe Standard Time`) zone name.
    #[serde(default)]
    pub time_zone: Option<String>,
    /// Place.
    #[serde(default)]
    pub location: Option<String>,
    /// Organizer.
    #[serde(default)]
    pub organizer: Mailbox,
    /// Required attendees.
    #[serde(default)]
    pub required: Vec<Mailbox>,
    /// Optional attendees.
    #[serde(default)]
    pub optional: Vec<Mailbox>,
    /// Body as plain text.
    #[serde(default)]
    pub body_text: String,
    /// Picked links.
    #[serde(default)]
    pub links: Links,
}

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
        (status = 401, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody)
    )
)]
pub async fn log_email(
    State(state): State<AppState>,
    user: AddinUser,
    AppJson(input): AppJson<EmailInput>,
) -> Result<(StatusCode, AppJson<Entry>), AppError> {
    let draft = input::email_draft(&state, &user, input)?;
    ledger::save(&state, &user, draft).await
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
        (status = 401, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody)
    )
)]
pub async fn log_meeting(
    State(state): State<AppState>,
    user: AddinUser,
    AppJson(input): AppJson<MeetingInput>,
) -> Result<(StatusCode, AppJson<Entry>), AppError> {
    let draft = input::meeting_draft(&state, &user, input)?;
    ledger::save(&state, &user, draft).await
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
        (status = 400, body = crate::error::ErrorBody)
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
    let mut entry = Entry::of(item);
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

/// New links for a saved item.
#[derive(Debug, Deserialize, ToSchema)]
pub struct Relink {
    /// The links to set.
    pub links: Links,
}

/// Re-links a saved item: the CRM activity gets the new links (asynchronously).
#[utoipa::path(
    put,
    path = "/api/addin/logged/{id}",
    tag = "addin",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Entry id")),
    request_body = Relink,
    responses((status = 202, body = Entry), (status = 404, body = crate::error::ErrorBody))
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
    responses((status = 200, body = Entry), (status = 404, body = crate::error::ErrorBody))
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

/// A contact person to create in the CRM.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PersonInput {
    /// Given name.
    #[serde(default)]
    pub first_name: String,
    /// Family name (required).
    #[serde(default)]
    pub last_name: String,
    /// E-mail address (required).
    #[serde(default)]
    pub email: String,
    /// The firm the person works for.
    #[serde(default)]
    pub company_id: Option<i64>,
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
        (status = 422, body = crate::error::ErrorBody),
        (status = 502, body = crate::error::ErrorBody)
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
