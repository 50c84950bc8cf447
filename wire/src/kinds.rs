//! The closed sets of names the add-in API and the server speak in: the kind of a CRM record,
//! the kind of a saved activity, a ledger entry's status and a background job's status. Each is
//! an enum with its wire name (`as_str`) and the inverse (`parse`), so no status is compared as
//! a string literal anywhere else.

/// Declares a fieldless enum with its wire names, `ALL`, `as_str`, `parse` and the JSON codec.
macro_rules! named_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident { $( $(#[$vmeta:meta])* $variant:ident = $wire:literal ),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
        #[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
        pub enum $name {
            $( $(#[$vmeta])* #[cfg_attr(feature = "serde", serde(rename = $wire))] $variant ),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: [$name; [$($wire),+].len()] = [$($name::$variant),+];

            /// The name on the wire and in the database.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $wire),+
                }
            }

            /// The value named `name` (see `as_str`).
            pub fn parse(name: &str) -> Option<Self> {
                match name {
                    $($wire => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        impl core::fmt::Display for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl $crate::json::ToJson for $name {
            fn write_json(&self, out: &mut String) {
                self.as_str().write_json(out);
            }
        }

        impl $crate::json::FromJson for $name {
            fn from_json(value: &$crate::json::Value) -> Result<Self, $crate::json::Error> {
                value
                    .as_str()
                    .and_then($name::parse)
                    .ok_or($crate::json::Error(concat!("expected a ", stringify!($name))))
            }
        }
    };
}

named_enum! {
    /// What kind of CRM record an item is.
    pub enum ItemKind {
        /// A firm (the CRM's `company`).
        Company = "company",
        /// A contact person (the CRM's `person`).
        Person = "person",
        /// A project.
        Project = "project",
        /// A business case / deal.
        BusinessCase = "business_case",
    }
}

impl ItemKind {
    /// Small stable number used in the database.
    pub fn code(self) -> i16 {
        match self {
            ItemKind::Company => 0,
            ItemKind::Person => 1,
            ItemKind::Project => 2,
            ItemKind::BusinessCase => 3,
        }
    }

    /// The kind for a stored number (see [`ItemKind::code`]).
    pub fn from_code(code: i16) -> Option<Self> {
        Self::ALL.get(usize::try_from(code).ok()?).copied()
    }

    /// Whether the pane narrows lookups of this kind to the chosen firm.
    pub fn filtered_by_firm(self) -> bool {
        !matches!(self, ItemKind::Company)
    }
}

named_enum! {
    /// What an employee saved to the CRM: an e-mail or a meeting.
    pub enum ActivityKind {
        /// An e-mail.
        Email = "email",
        /// A meeting.
        Meeting = "meeting",
    }
}

named_enum! {
    /// Where a ledger entry stands, as the pane sees it.
    #[derive(Default)]
    pub enum EntryStatus {
        /// Waiting for (or between attempts of) the job that writes the CRM activity.
        Queued = "queued",
        /// The CRM activity is written.
        Saved = "saved",
        /// The CRM refused for good; `error` says why.
        Failed = "failed",
        /// The employee unlinked it; the CRM activity is (being) deleted.
        Unlinked = "unlinked",
        /// The activity was deleted in the CRM: saving again makes a new one.
        DeletedInCrm = "deleted_in_crm",
        /// The caller never saved the item (only in answers of `GET /api/addin/logged`).
        #[default]
        NotLogged = "not_logged",
    }
}

impl EntryStatus {
    /// Whether the entry stands for an activity in the CRM (saved or on its way): the pane
    /// offers "Unlink" and "Update links" instead of "Save".
    pub fn is_live(self) -> bool {
        matches!(
            self,
            EntryStatus::Queued | EntryStatus::Saved | EntryStatus::Failed
        )
    }
}

named_enum! {
    /// Where a background job (or an import run) stands.
    pub enum JobStatus {
        /// Waiting to run, or to be retried.
        Queued = "queued",
        /// Running now.
        Running = "running",
        /// Finished.
        Done = "done",
        /// Gave up; an admin may retry it.
        Failed = "failed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_parses_back_to_its_value_and_unknown_names_to_none() {
        for k in ItemKind::ALL {
            assert_eq!(ItemKind::parse(k.as_str()), Some(k));
            assert_eq!(ItemKind::from_code(k.code()), Some(k));
        }
        for k in ActivityKind::ALL {
            assert_eq!(ActivityKind::parse(k.as_str()), Some(k));
        }
        for s in EntryStatus::ALL {
            assert_eq!(EntryStatus::parse(s.as_str()), Some(s));
        }
        for s in JobStatus::ALL {
            assert_eq!(JobStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(ItemKind::parse("Company"), None);
        assert_eq!(EntryStatus::parse(""), None);
        assert_eq!(ItemKind::from_code(4), None);
        assert_eq!(ItemKind::from_code(-1), None);
    }

    #[test]
    fn only_queued_saved_and_failed_entries_stand_for_a_crm_activity() {
        let live: Vec<_> = EntryStatus::ALL
            .into_iter()
            .filter(|s| s.is_live())
            .collect();
        assert_eq!(
            live,
            [EntryStatus::Queued, EntryStatus::Saved, EntryStatus::Failed]
        );
    }
}
