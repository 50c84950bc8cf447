//! The item model: one cached CRM record (firm, person, project, business case) and its kind,
//! the one record-kind enum of the server (`crm::RecordKind` names the same enum).
//! A leaf module, so the store and the item cache can both speak of items without depending on
//! each other.

use serde::{Deserialize, Serialize};

/// What kind of CRM record an item is: the wire crate's, shared with the task pane (it also
/// provides `Display` as the wire name).
pub use crm_bridge_wire::ItemKind;

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
