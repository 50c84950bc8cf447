//! The item cache: our copy of the CRM's companies, persons, projects and business cases,
//! searchable in microseconds for the add-in's pickers and suggestions.
//!
//! The database holds the durable copy (`store::items`); [`index::ItemIndex`] holds the
//! in-memory search structure rebuilt from it, with a small overlay for live changes.

pub mod access;
pub mod api;
pub mod cache;
pub mod events;
pub mod fold;
pub mod import;
pub mod index;
pub mod reconcile;
pub mod sync;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What kind of CRM record an item is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ItemKind {
    /// A firm (Raynet `company`).
    Company,
    /// A contact person (Raynet `person`).
    Person,
    /// A project (Raynet `project`).
    Project,
    /// A business case / deal (Raynet `businessCase`).
    BusinessCase,
}

impl ItemKind {
    /// All kinds, in import order (companies first, so persons can show their firm).
    pub const ALL: [ItemKind; 4] = [
        ItemKind::Company,
        ItemKind::Person,
        ItemKind::Project,
        ItemKind::BusinessCase,
    ];

    /// Small stable number used in the database.
    pub fn code(self) -> i16 {
        match self {
            ItemKind::Company => 0,
            ItemKind::Person => 1,
            ItemKind::Project => 2,
            ItemKind::BusinessCase => 3,
        }
    }

    /// The kind for a stored number.
    pub fn from_code(code: i16) -> Option<Self> {
        Self::ALL.get(usize::try_from(code).ok()?).copied()
    }

    /// The name used in URLs and JSON (`company`, `person`, `project`, `business_case`).
    pub fn as_str(self) -> &'static str {
        match self {
            ItemKind::Company => "company",
            ItemKind::Person => "person",
            ItemKind::Project => "project",
            ItemKind::BusinessCase => "business_case",
        }
    }

    /// Parses [`Self::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// One cached CRM record, in the form the pickers need.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    /// Kind of record.
    pub kind: ItemKind,
    /// The CRM's id.
    pub id: i64,
    /// Display name (firm name, person's full name, project/case name).
    pub name: String,
    /// Second line: IČO of a firm, the firm of a person, the code of a project/case.
    pub subtitle: String,
    /// E-mail addresses, normalised to lower case.
    pub emails: Vec<String>,
    /// The firm this record belongs to (persons, projects, business cases).
    pub company_id: Option<i64>,
    /// Open projects/cases; valid (not invalidated) firms and persons.
    pub open: bool,
    /// When the CRM last changed it (Unix ms), if known.
    pub updated_at: Option<i64>,
    /// The CRM's security level; `None` is visible to every employee.
    pub security_level: Option<i64>,
}

impl From<crate::crm::RecordKind> for ItemKind {
    fn from(kind: crate::crm::RecordKind) -> Self {
        use crate::crm::RecordKind;
        match kind {
            RecordKind::Company => ItemKind::Company,
            RecordKind::Person => ItemKind::Person,
            RecordKind::Project => ItemKind::Project,
            RecordKind::BusinessCase => ItemKind::BusinessCase,
        }
    }
}

impl From<ItemKind> for crate::crm::RecordKind {
    fn from(kind: ItemKind) -> Self {
        use crate::crm::RecordKind;
        match kind {
            ItemKind::Company => RecordKind::Company,
            ItemKind::Person => RecordKind::Person,
            ItemKind::Project => RecordKind::Project,
            ItemKind::BusinessCase => RecordKind::BusinessCase,
        }
    }
}

impl From<crate::crm::CrmRecord> for Item {
    fn from(r: crate::crm::CrmRecord) -> Self {
        let subtitle = match r.kind {
            crate::crm::RecordKind::Company => r.reg_number.or(r.subtitle),
            crate::crm::RecordKind::Person => r.company_name.or(r.subtitle),
            _ => r.subtitle,
        };
        Item {
            kind: r.kind.into(),
            id: r.id,
            name: r.name,
            subtitle: subtitle.unwrap_or_default(),
            emails: r
                .emails
                .into_iter()
                .map(|e| fold::normalize_email(&e))
                .collect(),
            company_id: r.company_id,
            open: r.open,
            updated_at: r.updated_at.map(|t| t.timestamp_millis()),
            security_level: r.security_level,
        }
    }
}

/// Routes of the item cache other than the add-in's (`api`): the webhook receiver and the
/// admin's import, webhook and sweep endpoints.
pub fn router() -> utoipa_axum::router::OpenApiRouter<crate::state::AppState> {
    use utoipa_axum::routes;
    utoipa_axum::router::OpenApiRouter::new()
        .routes(routes!(events::receive))
        .routes(routes!(events::stats))
        .routes(routes!(import::start, import::list))
        .routes(routes!(import::get_one))
        .routes(routes!(import::events))
        .routes(routes!(reconcile::sweep_now))
}
