//! Planning the Outlook → CRM direction, without I/O: from what a synced event shows in Outlook
//! now (or that it is gone), what both sides last agreed it shows, the CRM activity as it is
//! and the sync rules, to the steps that carry the change over and the rule that decided them.
//! The dry-run preview reuses [`decide`] as it is.
//!
//! - Outlook showing what both sides agreed is no change: our own writes coming back through
//!   the delta, or changes Outlook does not show (no echo).
//! - A change only the CRM made is the CRM → Outlook direction's to carry.
//! - When both sides changed, the conflict policy decides; `hold` keeps the item for the admin.
//! - Private events follow `private_events`: never sent, or only their times.
//! - An item updated from Outlook more often than `flap_limit_per_hour` is quarantined (held).
//! - Deletes follow the type's delete permission and the delete mode towards the CRM.

use serde::{Deserialize, Serialize};

use super::{
    ActivityKind, ConflictPolicy, DeleteMode, Direction, Operation, PrivatePolicy, SyncRules,
};
use crate::graph::EventDraft;

/// What an event shows that the CRM has too: subject, times and place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shown {
    /// Subject (the activity's title).
    pub subject: String,
    /// Start.
    pub start: jiff::Timestamp,
    /// End.
    pub end: jiff::Timestamp,
    /// Place (`None` when empty).
    pub location: Option<String>,
}

impl Shown {
    /// What a draft we write shows.
    pub fn of_draft(draft: &EventDraft) -> Self {
        Self {
            subject: draft.subject.clone(),
            start: draft.start,
            end: draft.end,
            location: normalized(draft.location.as_deref()),
        }
    }

    /// The stored form (times as Unix ms).
    pub fn to_json(&self) -> String {
        serde_json::to_string(&StoredShown {
            subject: self.subject.clone(),
            start_ms: self.start.as_millisecond(),
            end_ms: self.end.as_millisecond(),
            location: self.location.clone(),
        })
        .unwrap_or_default()
    }

    /// Reads the stored form (`None` when it is not one).
    pub fn from_json(text: &str) -> Option<Self> {
        let stored: StoredShown = serde_json::from_str(text).ok()?;
        Some(Self {
            subject: stored.subject,
            start: jiff::Timestamp::from_millisecond(stored.start_ms).ok()?,
            end: jiff::Timestamp::from_millisecond(stored.end_ms).ok()?,
            location: stored.location,
        })
    }
}

/// [`Shown`] as stored.
#[derive(Serialize, Deserialize)]
struct StoredShown {
    subject: String,
    start_ms: i64,
    end_ms: i64,
    location: Option<String>,
}

/// A place as both sides compare it: trimmed, empty is none.
pub fn normalized(location: Option<&str>) -> Option<String> {
    location
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
}

/// What a delta round says about a linked event.
#[derive(Debug, Clone, PartialEq)]
pub enum OutlookChange {
    /// The event as Outlook shows it now.
    Changed {
        /// What it shows.
        shown: Shown,
        /// Sensitivity `private` (or `confidential`).
        private: bool,
        /// Called off (`isCancelled`).
        cancelled: bool,
        /// `lastModifiedDateTime`.
        modified_at: Option<jiff::Timestamp>,
    },
    /// The event is gone from the calendar.
    Removed,
}

/// The CRM activity as it is now.
#[derive(Debug, Clone, PartialEq)]
pub struct CrmSide {
    /// Type.
    pub kind: ActivityKind,
    /// What the event made of it shows.
    pub shown: Option<Shown>,
    /// When it last changed in the CRM.
    pub changed_at: Option<jiff::Timestamp>,
}

/// One step of carrying an Outlook change to the CRM.
#[derive(Debug, Clone, PartialEq)]
pub enum InboundStep {
    /// Write these fields to the CRM activity (`None`: leave as is).
    UpdateCrm {
        /// New title.
        title: Option<String>,
        /// New start and end.
        times: Option<(jiff::Timestamp, jiff::Timestamp)>,
        /// New place (`Some(None)`: clear it).
        location: Option<Option<String>>,
    },
    /// Delete the CRM activity.
    DeleteCrm,
    /// Mark the CRM activity cancelled.
    CancelCrm,
    /// Drop the link; both items stay.
    Unlink,
    /// Write the CRM's version over the Outlook event.
    RewriteOutlook,
    /// Remember this as what both sides agree the event shows.
    Agree(Shown),
    /// Keep the item for the admin.
    Hold {
        /// Why (a stable code).
        reason: &'static str,
    },
}

/// The steps and the rule that decided them (a stable code for the trace and the preview).
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// What to do, in order (empty: nothing).
    pub steps: Vec<InboundStep>,
    /// Why.
    pub rule: &'static str,
}

impl Decision {
    fn none(rule: &'static str) -> Self {
        Self {
            steps: Vec::new(),
            rule,
        }
    }

    fn with(rule: &'static str, steps: Vec<InboundStep>) -> Self {
        Self { steps, rule }
    }
}

/// Everything one decision reads.
#[derive(Debug, Clone, Copy)]
pub struct InboundInput<'a> {
    /// What the delta said.
    pub change: &'a OutlookChange,
    /// What both sides last agreed (`None`: unknown; the CRM's version is taken as agreed,
    /// since the CRM → Outlook direction wrote it).
    pub agreed: Option<&'a Shown>,
    /// The CRM activity (`None`: the CRM no longer has it).
    pub crm: Option<&'a CrmSide>,
    /// The activity type (from the link's key).
    pub kind: ActivityKind,
    /// The rules.
    pub rules: &'a SyncRules,
    /// Inbound changes applied to this item in the last hour.
    pub applied_last_hour: u32,
    /// The run's mass-delete guard tripped.
    pub mass_delete: bool,
}

/// Decides what an Outlook change of a linked event does to the CRM.
pub fn decide(input: &InboundInput<'_>) -> Decision {
    let rules = input.rules;
    let Some(crm) = input.crm else {
        return Decision::none("gone_in_crm");
    };
    let (shown, private, cancelled, modified_at) = match input.change {
        OutlookChange::Removed => return decide_delete(input),
        OutlookChange::Changed {
            shown,
            private,
            cancelled,
            modified_at,
        } => (shown, *private, *cancelled, *modified_at),
    };
    if cancelled {
        return decide_delete(input);
    }
    let Some(crm_shown) = crm.shown.as_ref() else {
        return Decision::none("no_time_in_crm");
    };
    let agreed = input.agreed.unwrap_or(crm_shown);
    // Private events reach the CRM as busy time at most: compare and carry only the times.
    let (outlook_view, agreed_view, crm_view) = if private {
        match rules.private_events {
            PrivatePolicy::Never => return Decision::none("private_event"),
            PrivatePolicy::BusyOnly => (
                times_only(shown, agreed),
                times_only(agreed, agreed),
                times_only(crm_shown, agreed),
            ),
        }
    } else {
        (shown.clone(), agreed.clone(), crm_shown.clone())
    };
    if outlook_view == agreed_view {
        return Decision::none("no_outlook_change");
    }
    if outlook_view == crm_view {
        return Decision::with("already_equal", vec![InboundStep::Agree(outlook_view)]);
    }
    if !rules.allows(input.kind, Direction::OutlookToCrm, Operation::Update) {
        return Decision::none("rule_forbids_update");
    }
    let crm_changed = crm_view != agreed_view;
    let outlook_wins = if crm_changed {
        match rules.conflict {
            ConflictPolicy::CrmWins => false,
            ConflictPolicy::OutlookWins => true,
            ConflictPolicy::NewestWins => match (modified_at, crm.changed_at) {
                (Some(outlook), Some(crm)) => outlook > crm,
                _ => false,
            },
            ConflictPolicy::Hold => {
                return Decision::with(
                    "conflict_hold",
                    vec![InboundStep::Hold { reason: "conflict" }],
                );
            }
        }
    } else {
        true
    };
    if !outlook_wins {
        return Decision::with("conflict_crm_wins", vec![InboundStep::RewriteOutlook]);
    }
    if input.applied_last_hour >= rules.flap_limit_per_hour {
        return Decision::with("flapping", vec![InboundStep::Hold { reason: "flapping" }]);
    }
    let rule = match (crm_changed, rules.conflict) {
        (false, _) => "outlook_changed",
        (true, ConflictPolicy::NewestWins) => "conflict_newest_wins",
        (true, _) => "conflict_outlook_wins",
    };
    let update = InboundStep::UpdateCrm {
        title: (!private && outlook_view.subject != crm_view.subject)
            .then(|| outlook_view.subject.clone()),
        times: (outlook_view.start != crm_view.start || outlook_view.end != crm_view.end)
            .then_some((outlook_view.start, outlook_view.end)),
        location: (!private && outlook_view.location != crm_view.location)
            .then(|| outlook_view.location.clone()),
    };
    Decision::with(rule, vec![update, InboundStep::Agree(outlook_view)])
}

/// The event's times with the rest taken from `rest` (for busy-only private events).
fn times_only(times: &Shown, rest: &Shown) -> Shown {
    Shown {
        subject: rest.subject.clone(),
        start: times.start,
        end: times.end,
        location: rest.location.clone(),
    }
}

fn decide_delete(input: &InboundInput<'_>) -> Decision {
    let rules = input.rules;
    if let OutlookChange::Changed { private: true, .. } = input.change
        && rules.private_events == PrivatePolicy::Never
    {
        return Decision::none("private_event");
    }
    if !rules.allows(input.kind, Direction::OutlookToCrm, Operation::Delete) {
        return Decision::none("rule_forbids_delete");
    }
    if input.mass_delete {
        return Decision::with(
            "mass_delete_guard",
            vec![InboundStep::Hold {
                reason: "mass_delete",
            }],
        );
    }
    match rules.delete_mode(Direction::OutlookToCrm) {
        DeleteMode::Delete => Decision::with("delete_mode_delete", vec![InboundStep::DeleteCrm]),
        DeleteMode::Cancel => Decision::with("delete_mode_cancel", vec![InboundStep::CancelCrm]),
        DeleteMode::Unlink => Decision::with("delete_mode_unlink", vec![InboundStep::Unlink]),
    }
}

/// Fewest deletes in one run that the mass-delete guard looks at: deleting one or two of a
/// handful of synced items is an ordinary day, not a mass delete.
pub const MASS_DELETE_MIN: usize = 3;

/// Whether a run that deletes `deletes` of an employee's `linked` synced items must stop and
/// ask the admin.
pub fn mass_delete(deletes: usize, linked: usize, rules: &SyncRules) -> bool {
    deletes >= MASS_DELETE_MIN
        && deletes.saturating_mul(100)
            > linked.saturating_mul(usize::from(rules.mass_delete_percent))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::rules::{Allowed, TypeRules};

    fn at(hour: i8) -> jiff::Timestamp {
        jiff::civil::date(2026, 9, 1)
            .at(hour, 0, 0, 0)
            .to_zoned(jiff::tz::TimeZone::UTC)
            .unwrap()
            .timestamp()
    }

    fn shown(subject: &str, hour: i8) -> Shown {
        Shown {
            subject: subject.into(),
            start: at(hour),
            end: at(hour + 1),
            location: None,
        }
    }

    fn changed(s: Shown) -> OutlookChange {
        OutlookChange::Changed {
            shown: s,
            private: false,
            cancelled: false,
            modified_at: Some(at(20)),
        }
    }

    fn crm(s: Shown) -> CrmSide {
        CrmSide {
            kind: ActivityKind::Meeting,
            shown: Some(s),
            changed_at: Some(at(19)),
        }
    }

    fn run(
        change: &OutlookChange,
        agreed: &Shown,
        crm_side: &CrmSide,
        rules: &SyncRules,
    ) -> Decision {
        decide(&InboundInput {
            change,
            agreed: Some(agreed),
            crm: Some(crm_side),
            kind: ActivityKind::Meeting,
            rules,
            applied_last_hour: 0,
            mass_delete: false,
        })
    }

    #[test]
    fn an_event_showing_what_both_sides_agreed_is_no_change_so_our_own_writes_do_not_echo() {
        let base = shown("Demo", 9);
        let d = run(
            &changed(base.clone()),
            &base,
            &crm(base.clone()),
            &SyncRules::default(),
        );
        assert_eq!(d, Decision::none("no_outlook_change"));
    }

    #[test]
    fn a_rescheduled_event_moves_the_activity_and_only_its_times_are_written() {
        let base = shown("Demo", 9);
        let d = run(
            &changed(shown("Demo", 11)),
            &base,
            &crm(base.clone()),
            &SyncRules::default(),
        );
        assert_eq!(d.rule, "outlook_changed");
        assert_eq!(
            d.steps[0],
            InboundStep::UpdateCrm {
                title: None,
                times: Some((at(11), at(12))),
                location: None
            }
        );
        assert_eq!(d.steps[1], InboundStep::Agree(shown("Demo", 11)));
    }

    #[test]
    fn an_update_the_rules_forbid_for_the_type_changes_nothing() {
        let mut rules = SyncRules::default();
        rules.types.insert(
            ActivityKind::Meeting,
            TypeRules {
                outlook_to_crm: Allowed {
                    create: false,
                    update: false,
                    delete: false,
                },
                ..TypeRules::default()
            },
        );
        let base = shown("Demo", 9);
        let d = run(&changed(shown("New", 9)), &base, &crm(base.clone()), &rules);
        assert_eq!(d, Decision::none("rule_forbids_update"));
    }

    #[test]
    fn each_conflict_policy_decides_a_both_sides_edit_its_own_way() {
        let base = shown("Demo", 9);
        let outlook = changed(shown("Outlook title", 9));
        let crm_side = crm(shown("CRM title", 9));
        let mut rules = SyncRules::default();
        let cases = [
            (ConflictPolicy::CrmWins, "conflict_crm_wins"),
            (ConflictPolicy::OutlookWins, "conflict_outlook_wins"),
            (ConflictPolicy::NewestWins, "conflict_newest_wins"),
            (ConflictPolicy::Hold, "conflict_hold"),
        ];
        for (policy, rule) in cases {
            rules.conflict = policy;
            assert_eq!(
                run(&outlook, &base, &crm_side, &rules).rule,
                rule,
                "{policy:?}"
            );
        }
        // Newest wins picks the CRM when it changed last.
        rules.conflict = ConflictPolicy::NewestWins;
        let newer_crm = CrmSide {
            changed_at: Some(at(21)),
            ..crm_side
        };
        assert_eq!(
            run(&outlook, &base, &newer_crm, &rules).rule,
            "conflict_crm_wins"
        );
    }

    #[test]
    fn private_events_are_never_sent_or_only_their_times_by_policy() {
        let base = shown("Demo", 9);
        let private = OutlookChange::Changed {
            shown: shown("Doctor", 11),
            private: true,
            cancelled: false,
            modified_at: None,
        };
        let mut rules = SyncRules::default();
        assert_eq!(
            run(&private, &base, &crm(base.clone()), &rules).rule,
            "private_event"
        );
        rules.private_events = PrivatePolicy::BusyOnly;
        let d = run(&private, &base, &crm(base.clone()), &rules);
        assert_eq!(
            d.steps[0],
            InboundStep::UpdateCrm {
                title: None,
                times: Some((at(11), at(12))),
                location: None
            }
        );
    }

    #[test]
    fn a_delete_follows_the_delete_permission_and_mode() {
        let base = shown("Demo", 9);
        let mut rules = SyncRules::default();
        let removed = OutlookChange::Removed;
        assert_eq!(
            run(&removed, &base, &crm(base.clone()), &rules).rule,
            "rule_forbids_delete"
        );
        rules.types.insert(
            ActivityKind::Meeting,
            TypeRules {
                outlook_to_crm: Allowed {
                    create: false,
                    update: true,
                    delete: true,
                },
                ..TypeRules::default()
            },
        );
        for (mode, step) in [
            (DeleteMode::Delete, InboundStep::DeleteCrm),
            (DeleteMode::Cancel, InboundStep::CancelCrm),
            (DeleteMode::Unlink, InboundStep::Unlink),
        ] {
            rules.delete_to_crm = mode;
            assert_eq!(
                run(&removed, &base, &crm(base.clone()), &rules).steps,
                vec![step]
            );
        }
    }

    #[test]
    fn an_item_changed_too_often_is_quarantined_and_a_mass_delete_is_held() {
        let rules = SyncRules::default();
        let base = shown("Demo", 9);
        let d = decide(&InboundInput {
            change: &changed(shown("Again", 9)),
            agreed: Some(&base),
            crm: Some(&crm(base.clone())),
            kind: ActivityKind::Meeting,
            rules: &rules,
            applied_last_hour: rules.flap_limit_per_hour,
            mass_delete: false,
        });
        assert_eq!(d.steps, vec![InboundStep::Hold { reason: "flapping" }]);
        assert!(!mass_delete(2, 2, &rules));
        assert!(mass_delete(3, 10, &rules));
        assert!(!mass_delete(3, 100, &rules));
    }
}
