//! The request and answer bodies of the add-in API (`/api/addin/*`): lookup and suggestions,
//! picks, saving e-mails and meetings, the ledger entry, re-link and new contacts.
//! Field order is the order on the wire.

use crate::kinds::{ActivityKind, EntryStatus, ItemKind};

/// What a picker shows for one CRM record.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct ItemView {
    /// Kind of record.
    pub kind: ItemKind,
    /// The CRM's id.
    pub id: i64,
    /// Display name.
    pub name: String,
    /// Second line (IČO, firm, code).
    pub subtitle: String,
    /// First e-mail address, if any.
    pub email: Option<String>,
    /// The firm it belongs to.
    pub company_id: Option<i64>,
    /// Open / valid.
    pub open: bool,
    /// The CRM's security level: never sent, it only decides on the server who sees the item.
    #[cfg_attr(feature = "serde", serde(skip))]
    pub security_level: Option<i64>,
}

impl ItemView {
    /// Whether an employee who may see `levels` (`None`: every level) sees this item; items
    /// without a level are visible to all.
    pub fn visible_to(&self, levels: Option<&[i64]>) -> bool {
        match (levels, self.security_level) {
            (Some(levels), Some(level)) => levels.contains(&level),
            _ => true,
        }
    }
}

/// Items found by a lookup.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct LookupAnswer {
    /// Best first.
    pub items: Vec<ItemView>,
}

/// The addresses on an e-mail or meeting.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize))]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct SuggestRequest {
    /// From, to, cc, organizer, attendees (at most 100).
    pub addresses: Vec<String>,
}

/// What the CRM knows about those addresses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct Suggestions {
    /// Persons with one of the addresses.
    pub persons: Vec<ItemView>,
    /// Their firms, and firms whose e-mail domain matches (free-mail domains ignored).
    pub companies: Vec<ItemView>,
    /// Open projects of those firms.
    pub projects: Vec<ItemView>,
    /// Open business cases of those firms.
    pub business_cases: Vec<ItemView>,
    /// Addresses that match no CRM person.
    pub unmatched: Vec<String>,
}

/// A record the employee picked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize))]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct Pick {
    /// Kind of record.
    pub kind: ItemKind,
    /// The CRM's id.
    pub id: i64,
}

/// The CRM records an e-mail or meeting is linked to, as the pane picked them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default))]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct Links {
    /// The client firm.
    pub company_id: Option<i64>,
    /// Contact persons; the first is the activity's contact, the others become participants.
    pub person_ids: Vec<i64>,
    /// A project.
    pub project_id: Option<i64>,
    /// A business case.
    pub business_case_id: Option<i64>,
}

impl Links {
    /// These links without the records for which `visible(kind, id)` is false: what the CRM
    /// reports must not name a record the employee could not open there.
    pub fn retain_visible(self, visible: impl Fn(ItemKind, i64) -> bool) -> Self {
        let keep = |kind, id: Option<i64>| id.filter(|&id| visible(kind, id));
        Self {
            company_id: keep(ItemKind::Company, self.company_id),
            person_ids: self
                .person_ids
                .into_iter()
                .filter(|&id| visible(ItemKind::Person, id))
                .collect(),
            project_id: keep(ItemKind::Project, self.project_id),
            business_case_id: keep(ItemKind::BusinessCase, self.business_case_id),
        }
    }
}

/// A ledger entry as the pane sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct Entry {
    /// Entry id.
    pub id: String,
    /// `email` or `meeting`; the empty string for `not_logged`.
    #[cfg_attr(feature = "serde", serde(serialize_with = "kind_or_empty"))]
    #[cfg_attr(feature = "utoipa", schema(value_type = String))]
    pub kind: Option<ActivityKind>,
    /// Where it stands; `not_logged` (200) when the caller never saved the item, and then no
    /// other field is set.
    pub status: EntryStatus,
    /// The CRM activity, once saved.
    pub crm_activity_id: Option<i64>,
    /// Its address in the CRM.
    pub crm_link: Option<String>,
    /// Why saving failed.
    pub error: Option<String>,
    /// The picked links.
    pub links: Links,
    /// Addresses that match no CRM person.
    pub unmatched: Vec<String>,
    /// Last change (RFC 3339).
    pub updated_at: String,
    /// The colleague who saved this e-mail or meeting first: this entry shares their activity.
    pub saved_by: Option<String>,
    /// The links the activity has in the CRM, when they were changed there.
    pub crm_links: Option<Links>,
}

#[cfg(feature = "serde")]
fn kind_or_empty<S: serde::Serializer>(
    kind: &Option<ActivityKind>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(kind.map_or("", ActivityKind::as_str))
}

impl Entry {
    /// The answer for an item the caller never saved.
    pub fn not_logged() -> Self {
        Self::default()
    }
}

/// A mailbox: display name and address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default))]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct Mailbox {
    /// Display name.
    pub name: String,
    /// E-mail address.
    pub email: String,
}

/// An attachment's name and size (the file itself is not sent).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default))]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct Attachment {
    /// File name.
    pub name: String,
    /// Size in bytes.
    pub size: u64,
}

/// An e-mail to save.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize))]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct EmailInput {
    /// The message's Internet Message-ID (the ledger key).
    pub internet_message_id: String,
    /// Outlook's item id.
    #[cfg_attr(feature = "serde", serde(default))]
    pub item_id: Option<String>,
    /// Subject.
    #[cfg_attr(feature = "serde", serde(default))]
    pub subject: String,
    /// Sender.
    #[cfg_attr(feature = "serde", serde(default))]
    pub from: Mailbox,
    /// Recipients.
    #[cfg_attr(feature = "serde", serde(default))]
    pub to: Vec<Mailbox>,
    /// Copies.
    #[cfg_attr(feature = "serde", serde(default))]
    pub cc: Vec<Mailbox>,
    /// When it was sent (RFC 3339).
    pub sent_at: String,
    /// Body as plain text.
    #[cfg_attr(feature = "serde", serde(default))]
    pub body_text: String,
    /// Attachments' names and sizes.
    #[cfg_attr(feature = "serde", serde(default))]
    pub attachments: Vec<Attachment>,
    /// Picked links.
    #[cfg_attr(feature = "serde", serde(default))]
    pub links: Links,
}

/// A meeting to save.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize))]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct MeetingInput {
    /// The meeting's iCalUId (or, in compose mode, its item id): the ledger key.
    #[cfg_attr(feature = "serde", serde(default))]
    pub ical_uid: Option<String>,
    /// Outlook's item id.
    #[cfg_attr(feature = "serde", serde(default))]
    pub item_id: Option<String>,
    /// Subject.
    #[cfg_attr(feature = "serde", serde(default))]
    pub subject: String,
    /// Start: RFC 3339, or a wall-clock time in `time_zone`.
    pub start: String,
    /// End: RFC 3339, or a wall-clock time in `time_zone`.
    pub end: String,
    /// IANA (`Europe/Prague`) or Windows (`Central Europe Standard Time`) zone name.
    #[cfg_attr(feature = "serde", serde(default))]
    pub time_zone: Option<String>,
    /// Place.
    #[cfg_attr(feature = "serde", serde(default))]
    pub location: Option<String>,
    /// Organizer.
    #[cfg_attr(feature = "serde", serde(default))]
    pub organizer: Mailbox,
    /// Required attendees.
    #[cfg_attr(feature = "serde", serde(default))]
    pub required: Vec<Mailbox>,
    /// Optional attendees.
    #[cfg_attr(feature = "serde", serde(default))]
    pub optional: Vec<Mailbox>,
    /// Body as plain text.
    #[cfg_attr(feature = "serde", serde(default))]
    pub body_text: String,
    /// Picked links.
    #[cfg_attr(feature = "serde", serde(default))]
    pub links: Links,
}

/// New links for a saved item.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize))]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct Relink {
    /// The links to set.
    pub links: Links,
}

/// A contact person to create in the CRM.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default))]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct PersonInput {
    /// Given name.
    pub first_name: String,
    /// Family name (required).
    pub last_name: String,
    /// E-mail address (required).
    pub email: String,
    /// The firm the person works for.
    pub company_id: Option<i64>,
}
