//! The sync rules an admin sets (setting `calendar_rules`): per activity type and direction
//! which operations may flow, what happens when both sides changed since the last sync, how a
//! delete is carried out, and how private Outlook events are treated. Every sync decision in
//! either direction asks these rules; the defaults keep today's CRM → Outlook behaviour and let
//! Outlook edit synced events but never create or delete in the CRM on its own.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ActivityKind;
use crate::settings::Setting;

/// Which way a change flows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// A Raynet activity written to Outlook calendars.
    CrmToOutlook,
    /// An Outlook event written to a Raynet activity.
    OutlookToCrm,
}

/// What a change does to the other side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    /// A new item on the other side.
    Create,
    /// An existing linked item changes.
    Update,
    /// A linked item goes away (see [`DeleteMode`] for how).
    Delete,
}

/// What wins when both sides changed an item since the last sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConflictPolicy {
    /// The CRM's version is written to Outlook.
    #[default]
    CrmWins,
    /// Outlook's version is written to the CRM.
    OutlookWins,
    /// The version changed last wins.
    NewestWins,
    /// Nothing is written; the item waits in "needs attention" for the admin.
    Hold,
}

/// How a delete on one side is carried to the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeleteMode {
    /// The other side's item is deleted.
    Delete,
    /// The other side's item is called off (Outlook: the meeting is cancelled with a message;
    /// CRM: the activity is marked cancelled) and kept.
    Cancel,
    /// The link is dropped; both items stay as they are.
    Unlink,
}

/// How private Outlook events reach the CRM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PrivatePolicy {
    /// Never sent to the CRM.
    #[default]
    Never,
    /// Sent as busy time, without title, body, place or attendees.
    BusyOnly,
}

/// Which operations may flow for one activity type in one direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Allowed {
    /// New items may be created on the other side.
    pub create: bool,
    /// Changes may be written to the linked item.
    pub update: bool,
    /// Deletes may be carried over (as [`DeleteMode`] says).
    pub delete: bool,
}

impl Allowed {
    /// Whether `op` may flow.
    pub fn allows(self, op: Operation) -> bool {
        match op {
            Operation::Create => self.create,
            Operation::Update => self.update,
            Operation::Delete => self.delete,
        }
    }
}

/// The rules of one activity type, both directions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TypeRules {
    /// Raynet → Outlook.
    pub crm_to_outlook: Allowed,
    /// Outlook → Raynet.
    pub outlook_to_crm: Allowed,
}

impl Default for TypeRules {
    fn default() -> Self {
        Self {
            crm_to_outlook: Allowed {
                create: true,
                update: true,
                delete: true,
            },
            outlook_to_crm: Allowed {
                create: false,
                update: true,
                delete: false,
            },
        }
    }
}

/// Stored sync rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct SyncRules {
    /// Per activity type; a type not listed has [`TypeRules::default`].
    #[schema(value_type = BTreeMap<String, TypeRules>)]
    pub types: BTreeMap<ActivityKind, TypeRules>,
    /// Both sides changed since the last sync.
    pub conflict: ConflictPolicy,
    /// How a CRM delete reaches Outlook.
    pub delete_to_outlook: DeleteMode,
    /// How an Outlook delete reaches the CRM.
    pub delete_to_crm: DeleteMode,
    /// Private Outlook events.
    pub private_events: PrivatePolicy,
    /// New Outlook events carrying the sync category become CRM meetings (off by default).
    pub outlook_creates_meetings: bool,
    /// An item that flips between the two sides more often than this in an hour is held.
    pub flap_limit_per_hour: u32,
    /// A run that would delete more than this share (percent) of an employee's synced items
    /// stops and asks the admin.
    pub mass_delete_percent: u8,
}

impl Default for SyncRules {
    fn default() -> Self {
        Self {
            types: ActivityKind::ALL
                .into_iter()
                .map(|k| (k, TypeRules::default()))
                .collect(),
            conflict: ConflictPolicy::default(),
            delete_to_outlook: DeleteMode::Delete,
            delete_to_crm: DeleteMode::Cancel,
            private_events: PrivatePolicy::default(),
            outlook_creates_meetings: false,
            flap_limit_per_hour: 6,
            mass_delete_percent: 20,
        }
    }
}

impl Setting for SyncRules {
    const KEY: &'static str = "calendar_rules";
}

impl SyncRules {
    /// The rules of `kind` (the defaults when the admin never set them).
    pub fn of(&self, kind: ActivityKind) -> TypeRules {
        self.types.get(&kind).copied().unwrap_or_default()
    }

    /// Whether `op` on an activity of `kind` may flow in `direction`.
    pub fn allows(&self, kind: ActivityKind, direction: Direction, op: Operation) -> bool {
        let rules = self.of(kind);
        match direction {
            Direction::CrmToOutlook => rules.crm_to_outlook,
            Direction::OutlookToCrm => rules.outlook_to_crm,
        }
        .allows(op)
    }

    /// How a delete flowing in `direction` is carried out.
    pub fn delete_mode(&self, direction: Direction) -> DeleteMode {
        match direction {
            Direction::CrmToOutlook => self.delete_to_outlook,
            Direction::OutlookToCrm => self.delete_to_crm,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn by_default_the_crm_writes_everything_and_outlook_may_only_edit_synced_events() {
        let rules: SyncRules = serde_json::from_str("{}").unwrap();
        for kind in ActivityKind::ALL {
            for op in [Operation::Create, Operation::Update, Operation::Delete] {
                assert!(rules.allows(kind, Direction::CrmToOutlook, op));
            }
            assert!(rules.allows(kind, Direction::OutlookToCrm, Operation::Update));
            assert!(!rules.allows(kind, Direction::OutlookToCrm, Operation::Create));
            assert!(!rules.allows(kind, Direction::OutlookToCrm, Operation::Delete));
        }
        assert_eq!(rules.conflict, ConflictPolicy::CrmWins);
        assert!(!rules.outlook_creates_meetings);
    }

    #[test]
    fn a_type_the_admin_restricted_answers_for_itself_only() {
        let mut rules = SyncRules::default();
        rules.types.insert(
            ActivityKind::Task,
            TypeRules {
                crm_to_outlook: Allowed {
                    create: true,
                    update: false,
                    delete: false,
                },
                ..TypeRules::default()
            },
        );
        let text = serde_json::to_string(&rules).unwrap();
        let back: SyncRules = serde_json::from_str(&text).unwrap();
        assert!(!back.allows(
            ActivityKind::Task,
            Direction::CrmToOutlook,
            Operation::Update
        ));
        assert!(back.allows(
            ActivityKind::Meeting,
            Direction::CrmToOutlook,
            Operation::Update
        ));
    }
}
