//! The add-in's endpoints for saving e-mails and meetings: validation, attendee matching, the
//! ledger entry with its job, status look-ups, re-link, unlink and "add as contact".

use std::collections::BTreeSet;

use axum::{
    extract::{Path, Query, State},
    http::StatusCode,
};
use crm_bridge_wire::{
    ActivityKind, EmailInput, EntryStatus, Mailbox, MeetingInput, PersonInput, Relink,
};
use serde::Deserialize;
use utoipa::IntoParams;

use super::{
    Content, Entry, Links, MAX_DESCRIPTION_CHARS, SYNC_JOB, entry_of, times, truncate_body,
};
use crate::{
    crm::{NewPerson, crm_error},
    error::{AppError, AppJson},
    identity::addin::AddinUser,
    items::{Item, ItemKind, index::ItemView},
    state::AppState,
    store::{LedgerKey, LoggedItem, LoggedItemChanges, NewJob, NewLoggedItem, Role, now_ms},
};

/// Longest subject, address list, id and attachment list we accept.
const MAX_SUBJECT: usize = 2_000;
const MAX_ID: usize = 1_000;
const MAX_ADDRESSES: usize = 500;
const MAX_ATTACHMENTS: usize = 200;

fn too_long(field: &str, value: &str, max: usize) -> Result<(), AppError> {
    if value.chars().count() > max {
        return Err(AppError::invalid_field(
            field,
            format!("longer than {max} characters"),
        ));
    }
    Ok(())
}

fn check_links(links: &Links) -> Result<(), AppError> {
    let ids = links
        .company_id
        .iter()
        .chain(&links.person_ids)
        .chain(&links.project_id)
        .chain(&links.business_case_id);
    if ids.clone().any(|id| *id <= 0) {
        return Err(AppError::invalid_field(
            "links",
            "CRM ids are positive numbers",
        ));
    }
    if links.person_ids.len() > MAX_ADDRESSES {
        return Err(AppError::invalid_field("links", "too many persons"));
    }
    Ok(())
}

fn check_mailboxes<'a>(
    field: &str,
    boxes: impl IntoIterator<Item = &'a Mailbox>,
) -> Result<(), AppError> {
    let boxes: Vec<_> = boxes.into_iter().collect();
    if boxes.len() > MAX_ADDRESSES {
        return Err(AppError::invalid_field(field, "too many addresses"));
    }
    for b in boxes {
        too_long(field, &b.name, MAX_ID)?;
        too_long(field, &b.email, MAX_ID)?;
    }
    Ok(())
}

/// The addresses of `boxes` that are not the employee's own, lower case, deduplicated, split
/// into matched CRM person ids and unmatched addresses.
fn match_attendees<'a>(
    state: &AppState,
    user: &AddinUser,
    boxes: impl IntoIterator<Item = &'a Mailbox>,
) -> (Vec<i64>, Vec<String>) {
    let e = &user.employee;
    let own: BTreeSet<String> = [&e.o365_email, &e.login_email, &e.crm_user_email]
        .into_iter()
        .map(|e| e.trim().to_lowercase())
        .filter(|e| !e.is_empty())
        .collect();
    let mut seen = BTreeSet::new();
    let mut matched = Vec::new();
    let mut unmatched = Vec::new();
    for b in boxes {
        let address = b.email.trim().to_lowercase();
        if address.is_empty() || own.contains(&address) || !seen.insert(address.clone()) {
            continue;
        }
        let persons: Vec<i64> = state
            .items
            .index()
            .with_email(&address)
            .into_iter()
            .filter(|v| v.kind == ItemKind::Person)
            .map(|v| v.id)
            .collect();
        if persons.is_empty() {
            unmatched.push(address);
        } else {
            for id in persons {
                if !matched.contains(&id) {
                    matched.push(id);
                }
            }
        }
    }
    (matched, unmatched)
}

fn header_line(out: &mut String, label: &str, boxes: &[&Mailbox]) {
    let list: Vec<String> = boxes
        .iter()
        .filter(|b| !b.email.trim().is_empty() || !b.name.trim().is_empty())
        .map(|b| match (b.name.trim(), b.email.trim()) {
            ("", e) => e.to_owned(),
            (n, "") => n.to_owned(),
            (n, e) => format!("{n} <{e}>"),
        })
        .collect();
    if !list.is_empty() {
        out.push_str(&format!("{label}: {}\n", list.join(", ")));
    }
}

async fn record_picks(state: &AppState, employee: &str, links: &Links) {
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

fn json<T: serde::Serialize>(value: &T) -> Result<String, AppError> {
    serde_json::to_string(value).map_err(|e| AppError::Internal(e.into()))
}

/// Writes a new entry, or for an existing one: returns it unchanged (200) when nothing changed
/// and it is not unlinked, else stores the new content and queues it again (202).
/// An entry as a handler prepared it, before it is stored.
struct Draft {
    kind: ActivityKind,
    source_key: String,
    item_id: Option<String>,
    links: Links,
    unmatched: Vec<String>,
    content: Content,
}

async fn save(
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
        return Ok((StatusCode::ACCEPTED, AppJson(entry_for(state, user, &item))));
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
        return Ok((StatusCode::OK, AppJson(entry_for(state, user, &item))));
    }
    let item = state
        .store
        .requeue_item(&item.id, changes, NewJob::for_entry(SYNC_JOB, ""))
        .await?;
    state.jobs.wake();
    Ok((StatusCode::ACCEPTED, AppJson(entry_for(state, user, &item))))
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
    let key = input.internet_message_id.trim().to_owned();
    if key.is_empty() {
        return Err(AppError::invalid_field("internet_message_id", "required"));
    }
    too_long("internet_message_id", &key, MAX_ID)?;
    too_long(
        "item_id",
        input.item_id.as_deref().unwrap_or(""),
        MAX_ID * 4,
    )?;
    too_long("subject", &input.subject, MAX_SUBJECT)?;
    check_mailboxes("from", [&input.from])?;
    check_mailboxes("to", &input.to)?;
    check_mailboxes("cc", &input.cc)?;
    check_links(&input.links)?;
    if input.attachments.len() > MAX_ATTACHMENTS {
        return Err(AppError::invalid_field(
            "attachments",
            "too many attachments",
        ));
    }
    let sent =
        times::instant(&input.sent_at, None).map_err(|m| AppError::invalid_field("sent_at", m))?;
    let everyone: Vec<&Mailbox> = std::iter::once(&input.from)
        .chain(&input.to)
        .chain(&input.cc)
        .collect();
    let (matched, unmatched) = match_attendees(&state, &user, everyone.iter().copied());
    let mut description = String::new();
    header_line(&mut description, "From", &[&input.from]);
    header_line(&mut description, "To", &input.to.iter().collect::<Vec<_>>());
    header_line(&mut description, "Cc", &input.cc.iter().collect::<Vec<_>>());
    let attachments: Vec<String> = input
        .attachments
        .iter()
        .map(|a| format!("{} ({} B)", a.name.trim(), a.size))
        .collect();
    if !attachments.is_empty() {
        description.push_str(&format!("Attachments: {}\n", attachments.join(", ")));
    }
    if !description.is_empty() {
        description.push('\n');
    }
    description.push_str(&input.body_text);
    let content = Content {
        title: non_empty_title(&input.subject),
        from: Some(sent),
        till: Some(sent),
        description: truncate_body(&description, MAX_DESCRIPTION_CHARS),
        place: None,
        matched_person_ids: matched,
        deleted: false,
    };
    let draft = Draft {
        kind: ActivityKind::Email,
        source_key: key,
        item_id: input.item_id,
        links: input.links,
        unmatched,
        content,
    };
    save(&state, &user, draft).await
}

fn non_empty_title(subject: &str) -> String {
    let subject = subject.trim();
    if subject.is_empty() {
        "(no subject)".to_owned()
    } else {
        subject.to_owned()
    }
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
    let key = input
        .ical_uid
        .as_deref()
        .or(input.item_id.as_deref())
        .map(str::trim)
        .unwrap_or_default()
        .to_owned();
    if key.is_empty() {
        return Err(AppError::invalid_field(
            "ical_uid",
            "required (or item_id when composing)",
        ));
    }
    too_long("ical_uid", &key, MAX_ID * 4)?;
    too_long(
        "item_id",
        input.item_id.as_deref().unwrap_or(""),
        MAX_ID * 4,
    )?;
    too_long("subject", &input.subject, MAX_SUBJECT)?;
    too_long(
        "location",
        input.location.as_deref().unwrap_or(""),
        MAX_SUBJECT,
    )?;
    check_mailboxes("organizer", [&input.organizer])?;
    check_mailboxes("required", &input.required)?;
    check_mailboxes("optional", &input.optional)?;
    check_links(&input.links)?;
    let zone = match input
        .time_zone
        .as_deref()
        .map(str::trim)
        .filter(|z| !z.is_empty())
    {
        None => None,
        Some(name) => Some(times::zone(name).ok_or_else(|| {
            AppError::invalid_field("time_zone", format!("unknown time zone {name:?}"))
        })?),
    };
    let start = times::instant(&input.start, zone.as_ref())
        .map_err(|m| AppError::invalid_field("start", m))?;
    let end =
        times::instant(&input.end, zone.as_ref()).map_err(|m| AppError::invalid_field("end", m))?;
    if end < start {
        return Err(AppError::invalid_field("end", "is before start"));
    }
    let everyone: Vec<&Mailbox> = std::iter::once(&input.organizer)
        .chain(&input.required)
        .chain(&input.optional)
        .collect();
    let (matched, unmatched) = match_attendees(&state, &user, everyone.iter().copied());
    let mut description = String::new();
    header_line(&mut description, "Organizer", &[&input.organizer]);
    header_line(
        &mut description,
        "Required",
        &input.required.iter().collect::<Vec<_>>(),
    );
    header_line(
        &mut description,
        "Optional",
        &input.optional.iter().collect::<Vec<_>>(),
    );
    if !description.is_empty() {
        description.push('\n');
    }
    description.push_str(&input.body_text);
    let content = Content {
        title: non_empty_title(&input.subject),
        from: Some(start),
        till: Some(end),
        description: truncate_body(&description, MAX_DESCRIPTION_CHARS),
        place: input
            .location
            .map(|l| l.trim().to_owned())
            .filter(|l| !l.is_empty()),
        matched_person_ids: matched,
        deleted: false,
    };
    let draft = Draft {
        kind: ActivityKind::Meeting,
        source_key: key,
        item_id: input.item_id,
        links: input.links,
        unmatched,
        content,
    };
    save(&state, &user, draft).await
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
fn entry_for(state: &AppState, user: &AddinUser, item: &LoggedItem) -> Entry {
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
    let first = input.first_name.trim().to_owned();
    let last = input.last_name.trim().to_owned();
    let email = input.email.trim().to_lowercase();
    if last.is_empty() {
        return Err(AppError::invalid_field("last_name", "required"));
    }
    too_long("first_name", &first, 200)?;
    too_long("last_name", &last, 200)?;
    too_long("email", &email, 320)?;
    if email
        .split_once('@')
        .is_none_or(|(l, d)| l.is_empty() || !d.contains('.'))
    {
        return Err(AppError::invalid_field("email", "not an e-mail address"));
    }
    if input.company_id.is_some_and(|id| id <= 0) {
        return Err(AppError::invalid_field(
            "company_id",
            "CRM ids are positive numbers",
        ));
    }
    let crm = state
        .crm
        .for_employee(state.store.as_ref(), &state.master_key, &user.employee)
        .await?;
    let id = crm
        .create_person(&NewPerson {
            first_name: (!first.is_empty()).then(|| first.clone()),
            last_name: last.clone(),
            email: Some(email.clone()),
            company_id: input.company_id,
            owner_id: None,
        })
        .await
        .map_err(crm_error)?;
    let company_name = input
        .company_id
        .and_then(|c| state.items.index().get(ItemKind::Company, c))
        .map(|c| c.name)
        .unwrap_or_default();
    let name = if first.is_empty() {
        last
    } else {
        format!("{first} {last}")
    };
    let item = Item {
        kind: ItemKind::Person,
        id,
        name,
        subtitle: company_name,
        emails: vec![email],
        company_id: input.company_id,
        open: true,
        updated_at: Some(now_ms()),
        // The CRM's answer does not say; the record's webhook brings it.
        security_level: None,
    };
    state.items.upsert(state.store.as_ref(), vec![item]).await?;
    let view = state
        .items
        .index()
        .get(ItemKind::Person, id)
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("the new person is not in the cache")))?;
    Ok((StatusCode::CREATED, AppJson(view)))
}
