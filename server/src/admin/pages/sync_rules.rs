//! The sync rules on the Synchronisation page: the form (activity type × direction ×
//! create/update/delete, conflict policy, delete modes, private events, Outlook events that
//! become meetings, opt-in by default, the safety valves and the cancellation message), its
//! parsing and validation, and `POST /admin/sync/rules`.

use std::collections::BTreeMap;

use axum::{
    Form,
    extract::State,
    response::{IntoResponse, Redirect, Response},
};
use maud::{Markup, html};

use super::{AdminPage, Ctx, FieldErrors, Input, field};
use crate::{
    admin::Problems,
    calendar::{
        ActivityKind, ConflictPolicy, DeleteMode, Direction, Operation, PrivatePolicy, SyncRules,
        rules::{Allowed, MAX_CANCEL_MESSAGE, TypeRules},
        service,
    },
    i18n::Tr,
    state::AppState,
};

/// The rules form as posted: field name → value (unchecked boxes are absent).
#[derive(Debug, Default, Clone)]
pub struct RulesForm(pub BTreeMap<String, String>);

const DIRECTIONS: [(Direction, &str, &str); 2] = [
    (
        Direction::CrmToOutlook,
        "c2o",
        tkey!("sync-rules-crm-to-outlook"),
    ),
    (
        Direction::OutlookToCrm,
        "o2c",
        tkey!("sync-rules-outlook-to-crm"),
    ),
];

const OPERATIONS: [(Operation, &str, &str); 3] = [
    (Operation::Create, "create", tkey!("sync-rules-create")),
    (Operation::Update, "update", tkey!("sync-rules-update")),
    (Operation::Delete, "delete", tkey!("sync-rules-delete")),
];

/// Label keys of the activity types, in display order.
const TYPES: [(ActivityKind, &str); 5] = [
    (ActivityKind::Meeting, tkey!("sync-type-meeting")),
    (ActivityKind::Event, tkey!("sync-type-event")),
    (ActivityKind::Task, tkey!("sync-type-task")),
    (ActivityKind::PhoneCall, tkey!("sync-type-phone-call")),
    (ActivityKind::Letter, tkey!("sync-type-letter")),
];

const CONFLICTS: [(ConflictPolicy, &str, &str); 4] = [
    (
        ConflictPolicy::CrmWins,
        "crm_wins",
        tkey!("sync-rules-conflict-crm"),
    ),
    (
        ConflictPolicy::OutlookWins,
        "outlook_wins",
        tkey!("sync-rules-conflict-outlook"),
    ),
    (
        ConflictPolicy::NewestWins,
        "newest_wins",
        tkey!("sync-rules-conflict-newest"),
    ),
    (
        ConflictPolicy::Hold,
        "hold",
        tkey!("sync-rules-conflict-hold"),
    ),
];

const DELETE_MODES: [(DeleteMode, &str, &str); 3] = [
    (
        DeleteMode::Delete,
        "delete",
        tkey!("sync-rules-mode-delete"),
    ),
    (
        DeleteMode::Cancel,
        "cancel",
        tkey!("sync-rules-mode-cancel"),
    ),
    (
        DeleteMode::Unlink,
        "unlink",
        tkey!("sync-rules-mode-unlink"),
    ),
];

/// The delete modes towards Raynet (an activity is marked, not a meeting called off).
const DELETE_MODES_CRM: [(DeleteMode, &str, &str); 3] = [
    (
        DeleteMode::Delete,
        "delete",
        tkey!("sync-rules-mode-delete"),
    ),
    (
        DeleteMode::Cancel,
        "cancel",
        tkey!("sync-rules-mode-cancel-crm"),
    ),
    (
        DeleteMode::Unlink,
        "unlink",
        tkey!("sync-rules-mode-unlink"),
    ),
];

const PRIVATE: [(PrivatePolicy, &str, &str); 2] = [
    (
        PrivatePolicy::Never,
        "never",
        tkey!("sync-rules-private-never"),
    ),
    (
        PrivatePolicy::BusyOnly,
        "busy_only",
        tkey!("sync-rules-private-busy"),
    ),
];

/// The form field of one cell of the matrix (`r_meeting_c2o_create`).
fn cell(kind: ActivityKind, direction: &str, op: &str) -> String {
    format!("r_{}_{direction}_{op}", kind.entity())
}

fn name_of<T: PartialEq + Copy>(options: &[(T, &'static str, &str)], value: T) -> &'static str {
    options
        .iter()
        .find(|(v, _, _)| *v == value)
        .map_or("", |(_, name, _)| name)
}

fn value_of<T: Copy>(options: &[(T, &'static str, &str)], name: &str) -> Option<T> {
    options
        .iter()
        .find(|(_, n, _)| *n == name)
        .map(|(v, _, _)| *v)
}

impl RulesForm {
    /// The form showing `rules`.
    pub fn from_saved(rules: &SyncRules) -> Self {
        let mut out = BTreeMap::new();
        let mut on = |name: String, yes: bool| {
            if yes {
                out.insert(name, "on".to_owned());
            }
        };
        for (kind, _) in TYPES {
            for (direction, dir, _) in DIRECTIONS {
                for (op, op_name, _) in OPERATIONS {
                    on(cell(kind, dir, op_name), rules.allows(kind, direction, op));
                }
            }
        }
        on(
            "outlook_creates_meetings".into(),
            rules.outlook_creates_meetings,
        );
        on("opt_in_by_default".into(), rules.opt_in_by_default);
        out.insert(
            "conflict".into(),
            name_of(&CONFLICTS, rules.conflict).into(),
        );
        out.insert(
            "delete_to_outlook".into(),
            name_of(&DELETE_MODES, rules.delete_to_outlook).into(),
        );
        out.insert(
            "delete_to_crm".into(),
            name_of(&DELETE_MODES_CRM, rules.delete_to_crm).into(),
        );
        out.insert(
            "private_events".into(),
            name_of(&PRIVATE, rules.private_events).into(),
        );
        out.insert(
            "flap_limit_per_hour".into(),
            rules.flap_limit_per_hour.to_string(),
        );
        out.insert(
            "mass_delete_percent".into(),
            rules.mass_delete_percent.to_string(),
        );
        out.insert("cancel_message".into(), rules.cancel_message.clone());
        Self(out)
    }

    fn get(&self, name: &str) -> &str {
        self.0.get(name).map_or("", String::as_str)
    }

    fn on(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    /// The rules typed, or the problems (field → message key).
    pub fn rules(&self) -> Result<SyncRules, Problems> {
        let mut problems = Problems::default();
        let allowed = |kind, dir| Allowed {
            create: self.on(&cell(kind, dir, "create")),
            update: self.on(&cell(kind, dir, "update")),
            delete: self.on(&cell(kind, dir, "delete")),
        };
        let types = TYPES
            .iter()
            .map(|(kind, _)| {
                (
                    *kind,
                    TypeRules {
                        crm_to_outlook: allowed(*kind, "c2o"),
                        outlook_to_crm: allowed(*kind, "o2c"),
                    },
                )
            })
            .collect();
        let conflict = choice(
            &mut problems,
            "conflict",
            value_of(&CONFLICTS, self.get("conflict")),
            ConflictPolicy::default(),
        );
        let delete_to_outlook = choice(
            &mut problems,
            "delete_to_outlook",
            value_of(&DELETE_MODES, self.get("delete_to_outlook")),
            DeleteMode::Delete,
        );
        let delete_to_crm = choice(
            &mut problems,
            "delete_to_crm",
            value_of(&DELETE_MODES_CRM, self.get("delete_to_crm")),
            DeleteMode::Cancel,
        );
        let private_events = value_of(&PRIVATE, self.get("private_events"));
        let private_events = choice(
            &mut problems,
            "private_events",
            private_events,
            PrivatePolicy::default(),
        );
        let flap = self.get("flap_limit_per_hour").trim().parse::<u32>().ok();
        let flap = flap.filter(|n| (1..=1000).contains(n)).unwrap_or_else(|| {
            problems.add("flap_limit_per_hour", tkey!("sync-rules-flap-invalid"));
            0
        });
        let share = self.get("mass_delete_percent").trim().parse::<u8>().ok();
        let share = share.filter(|n| (1..=100).contains(n)).unwrap_or_else(|| {
            problems.add("mass_delete_percent", tkey!("sync-rules-share-invalid"));
            0
        });
        let message = self.get("cancel_message").trim();
        if message.chars().count() > MAX_CANCEL_MESSAGE {
            problems.add("cancel_message", tkey!("error-too-long"));
        }
        let rules = SyncRules {
            types,
            conflict,
            delete_to_outlook,
            delete_to_crm,
            private_events,
            outlook_creates_meetings: self.on("outlook_creates_meetings"),
            flap_limit_per_hour: flap,
            mass_delete_percent: share,
            opt_in_by_default: self.on("opt_in_by_default"),
            cancel_message: message.to_owned(),
        };
        problems.is_empty().then_some(rules).ok_or(problems)
    }
}

/// `found`, or `default` with the problem that nothing valid was chosen for `field`.
fn choice<T>(problems: &mut Problems, field: &'static str, found: Option<T>, default: T) -> T {
    found.unwrap_or_else(|| {
        problems.add(field, tkey!("sync-rules-choose"));
        default
    })
}

fn error_of(errors: &FieldErrors, name: &str) -> Markup {
    html! { @if let Some(e) = errors.get(name) { p.field-error id=(format!("f-{name}-error")) role="alert" { (e) } } }
}

fn radios<T>(
    tr: &Tr,
    form: &RulesForm,
    errors: &FieldErrors,
    name: &str,
    legend: &str,
    options: &[(T, &'static str, &str)],
) -> Markup {
    html! {
        fieldset.invalid[errors.contains_key(name)] {
            legend { (tr.t(legend)) }
            @for (_, value, label) in options {
                div.radio {
                    input type="radio" id=(format!("f-{name}-{value}")) name=(name) value=(value)
                        checked[form.get(name) == *value];
                    label for=(format!("f-{name}-{value}")) { (tr.t(label)) }
                }
            }
            (error_of(errors, name))
        }
    }
}

/// The rules form (posted to `/admin/sync/rules`).
pub fn rules_form(ctx: &Ctx, form: &RulesForm, errors: &FieldErrors) -> Markup {
    let tr = &ctx.tr;
    html! {
        form.card #sync-rules method="post" action="/admin/sync/rules" novalidate {
            (ctx.csrf())
            h2 { (tr.t("sync-rules-heading")) }
            p.hint { (tr.t("sync-rules-intro")) }
            div.table-wrap { table.rules {
                thead {
                    tr {
                        th scope="col" rowspan="2" { (tr.t("sync-rules-type")) }
                        @for (_, _, label) in DIRECTIONS { th scope="colgroup" colspan="3" { (tr.t(label)) } }
                    }
                    tr { @for _ in DIRECTIONS { @for (_, _, label) in OPERATIONS { th scope="col" { (tr.t(label)) } } } }
                }
                tbody { @for (kind, label) in TYPES {
                    tr {
                        th scope="row" { (tr.t(label)) }
                        @for (_, dir, dir_label) in DIRECTIONS { @for (_, op, op_label) in OPERATIONS {
                            @let name = cell(kind, dir, op);
                            td {
                                input type="checkbox" id=(format!("f-{name}")) name=(name) value="on" checked[form.on(&name)]
                                    aria-label=(format!("{} – {} – {}", tr.t(label), tr.t(dir_label), tr.t(op_label)));
                            }
                        } }
                    }
                } }
            } }
            (radios(tr, form, errors, "conflict", tkey!("sync-rules-conflict"), &CONFLICTS))
            (radios(tr, form, errors, "delete_to_outlook", tkey!("sync-rules-delete-to-outlook"), &DELETE_MODES))
            (field(tr, "cancel_message", tkey!("sync-rules-cancel-message"), form.get("cancel_message"), Input::Text, Some(tr.t("sync-rules-cancel-message-hint")), errors))
            (radios(tr, form, errors, "delete_to_crm", tkey!("sync-rules-delete-to-crm"), &DELETE_MODES_CRM))
            (radios(tr, form, errors, "private_events", tkey!("sync-rules-private"), &PRIVATE))
            div.field.check {
                input type="checkbox" id="f-outlook_creates_meetings" name="outlook_creates_meetings" value="on"
                    checked[form.on("outlook_creates_meetings")] aria-describedby="f-outlook_creates_meetings-hint";
                label for="f-outlook_creates_meetings" { (tr.t("sync-rules-outlook-meetings")) }
                p.hint id="f-outlook_creates_meetings-hint" { (tr.t("sync-rules-outlook-meetings-hint")) }
            }
            div.field.check {
                input type="checkbox" id="f-opt_in_by_default" name="opt_in_by_default" value="on"
                    checked[form.on("opt_in_by_default")] aria-describedby="f-opt_in_by_default-hint";
                label for="f-opt_in_by_default" { (tr.t("sync-rules-opt-in-default")) }
                p.hint id="f-opt_in_by_default-hint" { (tr.t("sync-rules-opt-in-default-hint")) }
            }
            (field(tr, "flap_limit_per_hour", tkey!("sync-rules-flap"), form.get("flap_limit_per_hour"), Input::Text, Some(tr.t("sync-rules-flap-hint")), errors))
            (field(tr, "mass_delete_percent", tkey!("sync-rules-share"), form.get("mass_delete_percent"), Input::Text, Some(tr.t("sync-rules-share-hint")), errors))
            button.primary type="submit" { (tr.t("sync-rules-save")) }
        }
    }
}

/// `POST /admin/sync/rules`: saves the rules when all of them are right (the next reconcile
/// plans every synced activity again under them); otherwise shows the page with the problems.
pub async fn rules_save(
    State(state): State<AppState>,
    AdminPage { ctx, session }: AdminPage,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let form = RulesForm(
        form.into_iter()
            .filter(|(k, _)| k != "csrf_token")
            .collect(),
    );
    match form.rules() {
        Ok(rules) => match service::save_rules(&state.calendar_ctx(), &session, rules).await {
            Ok(_) => Redirect::to("/admin/sync?ok=saved#sync-rules").into_response(),
            Err(e) => super::sync::failed(&ctx, e),
        },
        Err(problems) => {
            super::sync::rejected_rules(&state, &ctx, &form, &problems.texts(&ctx.tr)).await
        }
    }
}
