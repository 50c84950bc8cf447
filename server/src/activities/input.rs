//! Turning what the add-in posts into a ledger [`Draft`] (or a new contact person): bounds on every field, link ids,
//! times in the sender's zone, the attendees matched to CRM persons, and the activity's
//! description (header lines, attachments, the body cut to the CRM's size).

use std::collections::BTreeSet;

use super::{
    Content, Links, MAX_DESCRIPTION_CHARS,
    handlers::{EmailInput, Mailbox, MeetingInput, PersonInput},
    ledger::Draft,
    times, truncate_body,
};
use crate::{
    crm::NewPerson, email::EmailAddress, error::AppError, identity::addin::AddinUser,
    items::ItemKind, state::AppState,
};

/// Longest subject, address list, id and attachment list we accept.
const MAX_SUBJECT: usize = 2_000;
const MAX_ID: usize = 1_000;
const MAX_ADDRESSES: usize = 500;
const MAX_ATTACHMENTS: usize = 200;

/// The contact person to create from the add-in's form, or why it is refused (422).
pub fn new_person(input: &PersonInput) -> Result<NewPerson, AppError> {
    let first = input.first_name.trim().to_owned();
    let last = input.last_name.trim().to_owned();
    let email = input.email.trim().to_lowercase();
    if last.is_empty() {
        return Err(AppError::invalid_field("last_name", "required"));
    }
    too_long("first_name", &first, 200)?;
    too_long("last_name", &last, 200)?;
    too_long("email", &email, 320)?;
    if !EmailAddress::is_valid(&email) {
        return Err(AppError::invalid_field("email", "not an e-mail address"));
    }
    if input.company_id.is_some_and(|id| id <= 0) {
        return Err(AppError::invalid_field(
            "company_id",
            "CRM ids are positive numbers",
        ));
    }
    Ok(NewPerson {
        first_name: (!first.is_empty()).then_some(first),
        last_name: last,
        email: Some(email),
        company_id: input.company_id,
        owner_id: None,
    })
}

/// The draft of an e-mail's entry, or why the post is refused (422).
pub fn email_draft(
    state: &AppState,
    user: &AddinUser,
    input: EmailInput,
) -> Result<Draft, AppError> {
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
    let (matched, unmatched) = match_attendees(state, user, everyone.iter().copied());
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
    Ok(Draft {
        kind: "email",
        source_key: key,
        item_id: input.item_id,
        links: input.links,
        unmatched,
        content,
    })
}

/// The draft of a meeting's entry, or why the post is refused (422).
pub fn meeting_draft(
    state: &AppState,
    user: &AddinUser,
    input: MeetingInput,
) -> Result<Draft, AppError> {
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
    let (matched, unmatched) = match_attendees(state, user, everyone.iter().copied());
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
    Ok(Draft {
        kind: "meeting",
        source_key: key,
        item_id: input.item_id,
        links: input.links,
        unmatched,
        content,
    })
}

fn non_empty_title(subject: &str) -> String {
    let subject = subject.trim();
    if subject.is_empty() {
        "(no subject)".to_owned()
    } else {
        subject.to_owned()
    }
}

pub(super) fn too_long(field: &str, value: &str, max: usize) -> Result<(), AppError> {
    if value.chars().count() > max {
        return Err(AppError::invalid_field(
            field,
            format!("longer than {max} characters"),
        ));
    }
    Ok(())
}

pub(super) fn check_links(links: &Links) -> Result<(), AppError> {
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
