//! The item model: one cached CRM record (firm, person, project, business case) and its kind,
//! the one record-kind enum of the server (`crm::RecordKind` names the same enum).
//! A leaf module, so the store and the item cache can both speak of items without depending on
//! each other.

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

impl std::fmt::Display for ItemKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
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
