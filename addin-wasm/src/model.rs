//! The server's JSON shapes the pane reads and writes (see the API contracts): CRM items,
//! suggestions, links and the ledger entry of a saved e-mail or meeting.

use serde::{Deserialize, Deserializer, Serialize};

/// What kind of CRM record an item is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A firm.
    Company,
    /// A contact person.
    Person,
    /// A project.
    Project,
    /// A business case.
    BusinessCase,
}

impl Kind {
    /// The name used in URLs and element ids.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Company => "company",
            Kind::Person => "person",
            Kind::Project => "project",
            Kind::BusinessCase => "business_case",
        }
    }

    /// The kind named `name` (see [`Kind::as_str`]).
    pub fn parse(name: &str) -> Option<Self> {
        [
            Kind::Company,
            Kind::Person,
            Kind::Project,
            Kind::BusinessCase,
        ]
        .into_iter()
        .find(|k| k.as_str() == name)
    }

    /// Whether lookups of this kind are narrowed to the chosen firm.
    pub fn filtered_by_firm(self) -> bool {
        !matches!(self, Kind::Company)
    }
}

/// A CRM record as the pickers show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {
    /// Its kind.
    pub kind: Kind,
    /// Its CRM id.
    pub id: i64,
    /// Display name.
    pub name: String,
    /// Second line (IČO, the firm of a person, …).
    #[serde(default, deserialize_with = "null_as_default")]
    pub subtitle: String,
    /// E-mail, for persons.
    #[serde(default)]
    pub email: Option<String>,
    /// The firm it belongs to.
    #[serde(default)]
    pub company_id: Option<i64>,
    /// Whether a project / business case is still open.
    #[serde(default)]
    pub open: bool,
}

/// `{"items": [...]}` from lookup.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Items {
    /// The items.
    #[serde(default)]
    pub items: Vec<Item>,
}

/// The answer of `suggest` for the addresses on an item.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Suggestions {
    /// Persons with one of the addresses.
    pub persons: Vec<Item>,
    /// Their firms, and firms by e-mail domain.
    pub companies: Vec<Item>,
    /// Those firms' projects.
    pub projects: Vec<Item>,
    /// Those firms' business cases.
    pub business_cases: Vec<Item>,
    /// Addresses no CRM person has.
    pub unmatched: Vec<String>,
}

/// The CRM records an activity is linked to.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Links {
    /// The firm.
    pub company_id: Option<i64>,
    /// The contacts.
    pub person_ids: Vec<i64>,
    /// The project.
    pub project_id: Option<i64>,
    /// The business case.
    pub business_case_id: Option<i64>,
}

/// A ledger entry: an e-mail or meeting the employee saved to the CRM.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Entry {
    /// Its id (used in `/api/addin/logged/{id}`).
    #[serde(deserialize_with = "string_or_number")]
    pub id: String,
    /// `email` or `meeting`.
    pub kind: String,
    /// `queued`, `saved`, `failed`, `unlinked` or `deleted_in_crm`.
    pub status: String,
    /// The CRM activity, once saved.
    pub crm_activity_id: Option<i64>,
    /// Link to the activity in the CRM.
    pub crm_link: Option<String>,
    /// Why saving failed.
    pub error: Option<String>,
    /// Its links.
    pub links: Links,
    /// Addresses that match no CRM person.
    pub unmatched: Vec<String>,
    /// The colleague who saved this e-mail or meeting first (the activity is shared).
    pub saved_by: Option<String>,
    /// The links the activity has in the CRM, when they were changed there.
    pub crm_links: Option<Links>,
}

fn null_as_default<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(Option::<String>::deserialize(d)?.unwrap_or_default())
}

fn string_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) => s,
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_accept_numeric_or_text_ids_and_missing_fields() {
        let e: Entry = serde_json::from_str(r#"{"id":42,"status":"saved"}"#).unwrap();
        assert_eq!(e.id, "42");
        let e: Entry = serde_json::from_str(r#"{"id":"a-b","status":"queued"}"#).unwrap();
        assert_eq!(e.id, "a-b");
        assert_eq!(e.links, Links::default());
    }

    #[test]
    fn items_with_a_null_subtitle_parse_and_kinds_round_trip_through_their_names() {
        let i: Item =
            serde_json::from_str(r#"{"kind":"business_case","id":1,"name":"X","subtitle":null}"#)
                .unwrap();
        assert_eq!(i.subtitle, "");
        for k in [
            Kind::Company,
            Kind::Person,
            Kind::Project,
            Kind::BusinessCase,
        ] {
            assert_eq!(Kind::parse(k.as_str()), Some(k));
        }
        assert_eq!(Kind::parse("nope"), None);
    }
}
