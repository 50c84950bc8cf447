//! The Synchronisation page (`/admin/sync`): calendar sync on or off, the participant sync mode
//! (the one place to set it), the synced activity types, the category and the start date; the
//! sync rules (`sync_rules`); the "Preview" launcher (`sync_preview`); and per employee the
//! opt-in, their overrides (opt-in or the default, own start date), the sync status and "sync
//! now". The trace is `sync_trace`.

use axum::{
    Form,
    extract::{Path, Query, State},
    response::{IntoResponse, Redirect, Response},
};
use maud::{Markup, html};
use serde::Deserialize;

use super::{
    AdminPage, Ctx, FieldErrors, Flash, Input, field, flash,
    sync_preview::launcher,
    sync_rules::{RulesForm, rules_form},
};
use crate::{
    admin::{
        Problems,
        sync::{self, SyncInput},
    },
    calendar::{
        ActivityKind, CalendarSettings, SyncRules,
        admin::{EmployeeStatus, employee_statuses},
        service::{self, EmployeeOverrides},
    },
    error::AppError,
    i18n::Tr,
    settings::{ParticipantSyncMode, Setting, SyncSettings},
    state::AppState,
};

const HERE: &str = "/admin/sync";
const TITLE: &str = tkey!("sync-title");

pub(super) fn failed(ctx: &Ctx, err: impl Into<AppError>) -> Response {
    let err = err.into();
    ctx.page(err.status(), TITLE, HERE, ctx.error_notice(&err))
}

/// The settings form as posted: unchecked boxes are absent.
#[derive(Debug, Default, Deserialize)]
pub struct SyncForm {
    #[serde(default)]
    enabled: Option<String>,
    #[serde(default)]
    participant_mode: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    start_date: String,
    #[serde(default)]
    type_meeting: Option<String>,
    #[serde(default)]
    type_event: Option<String>,
    #[serde(default)]
    type_task: Option<String>,
    #[serde(default, rename = "type_phoneCall")]
    type_phone_call: Option<String>,
    #[serde(default)]
    type_letter: Option<String>,
}

impl SyncForm {
    fn from_saved(calendar: &CalendarSettings, mode: ParticipantSyncMode) -> Self {
        let on = |kind| calendar.activity_types.contains(&kind).then(String::new);
        Self {
            enabled: calendar.enabled.then(String::new),
            participant_mode: mode_name(mode).to_owned(),
            category: calendar.category.clone(),
            start_date: calendar.start_date.clone().unwrap_or_default(),
            type_meeting: on(ActivityKind::Meeting),
            type_event: on(ActivityKind::Event),
            type_task: on(ActivityKind::Task),
            type_phone_call: on(ActivityKind::PhoneCall),
            type_letter: on(ActivityKind::Letter),
        }
    }

    fn checked(&self, kind: ActivityKind) -> bool {
        match kind {
            ActivityKind::Meeting => &self.type_meeting,
            ActivityKind::Event => &self.type_event,
            ActivityKind::Task => &self.type_task,
            ActivityKind::PhoneCall => &self.type_phone_call,
            ActivityKind::Letter => &self.type_letter,
        }
        .is_some()
    }

    /// The calendar settings typed, or the problems (field → message key).
    fn calendar(&self) -> Result<CalendarSettings, Problems> {
        let mut problems = Problems::default();
        let category = self.category.trim();
        if category.is_empty() {
            problems.add("category", tkey!("error-required"));
        } else if category.chars().count() > 255 {
            problems.add("category", tkey!("error-too-long"));
        }
        let date = self.start_date.trim();
        if !date.is_empty() && date.parse::<jiff::civil::Date>().is_err() {
            problems.add("start_date", tkey!("sync-start-date-invalid"));
        }
        let settings = CalendarSettings {
            enabled: self.enabled.is_some(),
            activity_types: ActivityKind::ALL
                .into_iter()
                .filter(|k| self.checked(*k))
                .collect(),
            category: category.to_owned(),
            start_date: (!date.is_empty()).then(|| date.to_owned()),
        };
        if settings.enabled && settings.activity_types.is_empty() {
            problems.add("activity_types", tkey!("sync-types-none"));
        }
        problems.is_empty().then_some(settings).ok_or(problems)
    }
}

fn mode_name(mode: ParticipantSyncMode) -> &'static str {
    match mode {
        ParticipantSyncMode::None => "none",
        ParticipantSyncMode::MeetingsOnly => "meetings_only",
        ParticipantSyncMode::AllActivities => "all_activities",
    }
}

/// Label keys of the activity types, in display order.
const TYPES: [(ActivityKind, &str); 5] = [
    (ActivityKind::Meeting, tkey!("sync-type-meeting")),
    (ActivityKind::Event, tkey!("sync-type-event")),
    (ActivityKind::Task, tkey!("sync-type-task")),
    (ActivityKind::PhoneCall, tkey!("sync-type-phone-call")),
    (ActivityKind::Letter, tkey!("sync-type-letter")),
];

/// The participant modes: stored name, label key, one-sentence explanation key.
const MODES: [(&str, &str, &str); 3] = [
    (
        "none",
        tkey!("sync-mode-none"),
        tkey!("sync-mode-none-help"),
    ),
    (
        "meetings_only",
        tkey!("sync-mode-meetings"),
        tkey!("sync-mode-meetings-help"),
    ),
    (
        "all_activities",
        tkey!("sync-mode-all"),
        tkey!("sync-mode-all-help"),
    ),
];

fn error_of(errors: &FieldErrors, name: &str) -> Markup {
    html! { @if let Some(e) = errors.get(name) { p.field-error id=(format!("f-{name}-error")) role="alert" { (e) } } }
}

fn settings_form(ctx: &Ctx, form: &SyncForm, errors: &FieldErrors) -> Markup {
    let tr = &ctx.tr;
    html! {
        form.card #sync-settings method="post" action=(HERE) novalidate {
            (ctx.csrf())
            h2 { (tr.t("sync-settings-heading")) }
            div.field.check {
                input type="checkbox" id="f-enabled" name="enabled" value="on" checked[form.enabled.is_some()] aria-describedby="f-enabled-hint";
                label for="f-enabled" { (tr.t("sync-enabled")) }
                p.hint id="f-enabled-hint" { (tr.t("sync-enabled-hint")) }
            }
            fieldset.invalid[errors.contains_key("activity_types")] {
                legend { (tr.t("sync-types-legend")) }
                @for (kind, label) in TYPES {
                    div.check {
                        input type="checkbox" id=(format!("f-type-{}", kind.entity())) name=(format!("type_{}", kind.entity()))
                            value="on" checked[form.checked(kind)];
                        label for=(format!("f-type-{}", kind.entity())) { (tr.t(label)) }
                    }
                }
                (error_of(errors, "activity_types"))
            }
            (field(tr, "category", tkey!("sync-category"), &form.category, Input::Text, Some(tr.t("sync-category-hint")), errors))
            (field(tr, "start_date", tkey!("sync-start-date"), &form.start_date, Input::Date, Some(tr.t("sync-start-date-hint")), errors))
            fieldset.invalid[errors.contains_key("participant_mode")] {
                legend { (tr.t("sync-mode-legend")) }
                @for (name, label, help) in MODES {
                    div.radio {
                        input type="radio" id=(format!("mode-{name}")) name="participant_mode" value=(name)
                            checked[form.participant_mode == name] aria-describedby=(format!("mode-{name}-help"));
                        label for=(format!("mode-{name}")) { (tr.t(label)) }
                        p.hint id=(format!("mode-{name}-help")) { (tr.t(help)) }
                    }
                }
                (error_of(errors, "participant_mode"))
            }
            button.primary type="submit" { (tr.t("save-settings")) }
        }
    }
}

fn when(tr: &Tr, ms: Option<i64>) -> String {
    ms.map_or_else(|| tr.t("sync-never"), |ms| tr.datetime_ms(ms))
}

fn employee_row(ctx: &Ctx, status: &EmployeeStatus, name: &str) -> Markup {
    let tr = &ctx.tr;
    let id = &status.employee_id;
    let trace = format!("/admin/sync/trace?employee={id}");
    html! {
        tr data-employee=(id) {
            td.address { (name) br; small { (status.mailbox) } }
            td.state {
                (tr.t(if status.enabled { tkey!("sync-on") } else { tkey!("sync-off") }))
                @if !status.opt_in_set { " " small { (tr.t("sync-by-default")) } }
                @if let Some(d) = &status.start_date { br; small { (tr.ta("sync-own-start", &[("date", d.clone().into())])) } }
            }
            td { (when(tr, status.last_sync_at)) }
            td { (tr.number(i64::try_from(status.items_in_sync).unwrap_or(i64::MAX))) }
            td { @if let Some(e) = &status.last_error { span.failure { (e) } } @else { "—" } }
            td.actions {
                form method="post" action=(format!("/admin/sync/employees/{id}/enabled")) {
                    (ctx.csrf())
                    input type="hidden" name="enabled" value=(if status.enabled { "false" } else { "true" });
                    button type="submit" { (tr.t(if status.enabled { tkey!("sync-opt-out") } else { tkey!("sync-opt-in") })) }
                }
                form method="post" action=(format!("/admin/sync/employees/{id}/run")) {
                    (ctx.csrf())
                    button type="submit" disabled[!status.enabled] { (tr.t("sync-run-now")) }
                }
                a href=(trace) { (tr.t("sync-trace-link")) }
                (overrides_form(ctx, status))
            }
        }
    }
}

/// The employee's overrides: opt-in (the admin's default, on, off) and own start date.
fn overrides_form(ctx: &Ctx, status: &EmployeeStatus) -> Markup {
    let tr = &ctx.tr;
    let id = &status.employee_id;
    let chosen = match (status.opt_in_set, status.enabled) {
        (false, _) => "default",
        (true, true) => "on",
        (true, false) => "off",
    };
    html! {
        details.overrides {
            summary { (tr.t("sync-overrides")) }
            form method="post" action=(format!("/admin/sync/employees/{id}/overrides")) {
                (ctx.csrf())
                label for=(format!("f-opt-in-{id}")) { (tr.t("sync-overrides-opt-in")) }
                select id=(format!("f-opt-in-{id}")) name="opt_in" {
                    option value="default" selected[chosen == "default"] { (tr.t("sync-overrides-default")) }
                    option value="on" selected[chosen == "on"] { (tr.t("sync-on")) }
                    option value="off" selected[chosen == "off"] { (tr.t("sync-off")) }
                }
                label for=(format!("f-start-{id}")) { (tr.t("sync-overrides-start")) }
                input type="date" id=(format!("f-start-{id}")) name="start_date"
                    value=(status.start_date.as_deref().unwrap_or(""));
                button type="submit" { (tr.t("sync-overrides-save")) }
            }
        }
    }
}

async fn employees_section(state: &AppState, ctx: &Ctx) -> Result<Markup, AppError> {
    let tr = &ctx.tr;
    let statuses = employee_statuses(&state.calendar_ctx()).await?;
    let employees = state.store.list_employees().await?;
    let name = |id: &str| {
        employees
            .iter()
            .find(|e| e.id == id)
            .map_or_else(String::new, |e| e.identifier.clone())
    };
    Ok(html! {
        section.card #sync-employees {
            h2 { (tr.t("sync-employees-heading")) }
            p.hint { (tr.t("sync-employees-intro")) }
            div.table-wrap { table.employees {
                thead { tr {
                    th scope="col" { (tr.t("sync-col-employee")) }
                    th scope="col" { (tr.t("sync-col-state")) }
                    th scope="col" { (tr.t("sync-col-last-sync")) }
                    th scope="col" { (tr.t("sync-col-items")) }
                    th scope="col" { (tr.t("sync-col-last-error")) }
                    th scope="col" { (tr.t("sync-col-actions")) }
                } }
                tbody { @for s in &statuses { (employee_row(ctx, s, &name(&s.employee_id))) } }
            } }
            p { a href="/admin/sync/trace" { (tr.t("sync-trace-all")) } }
        }
    })
}

/// The rules form as saved, or as posted with its problems.
struct RulesPart<'a> {
    form: &'a RulesForm,
    errors: &'a FieldErrors,
}

async fn page_body(
    state: &AppState,
    ctx: &Ctx,
    form: &SyncForm,
    errors: &FieldErrors,
    rules: Option<RulesPart<'_>>,
    top: Markup,
) -> Result<Markup, AppError> {
    let employees = employees_section(state, ctx).await?;
    let saved;
    let no_errors = FieldErrors::new();
    let rules = match rules {
        Some(r) => r,
        None => {
            saved = RulesForm::from_saved(&SyncRules::load(state.store.as_ref()).await?.complete());
            RulesPart {
                form: &saved,
                errors: &no_errors,
            }
        }
    };
    let names: Vec<(String, String)> = state
        .store
        .list_employees()
        .await?
        .into_iter()
        .map(|e| (e.id, e.identifier))
        .collect();
    Ok(html! {
        (top)
        (settings_form(ctx, form, errors))
        (rules_form(ctx, rules.form, rules.errors))
        (launcher(&ctx.tr, &names))
        (employees)
    })
}

/// The page again with the posted rules and their problems (nothing saved).
pub(super) async fn rejected_rules(
    state: &AppState,
    ctx: &Ctx,
    rules: &RulesForm,
    errors: &FieldErrors,
) -> Response {
    let store = state.store.as_ref();
    let saved = match (
        CalendarSettings::load(store).await,
        SyncSettings::load(store).await,
    ) {
        (Ok(calendar), Ok(sync)) => SyncForm::from_saved(&calendar, sync.participant_mode),
        (Err(e), _) | (_, Err(e)) => return failed(ctx, e),
    };
    let part = RulesPart {
        form: rules,
        errors,
    };
    let top = ctx.form_has_errors();
    match page_body(state, ctx, &saved, &FieldErrors::new(), Some(part), top).await {
        Ok(body) => ctx.rejected_form(TITLE, HERE, body),
        Err(e) => failed(ctx, e),
    }
}

/// `GET /admin/sync`.
pub async fn sync_page(
    State(state): State<AppState>,
    AdminPage { ctx, .. }: AdminPage,
    query: Query<Flash>,
) -> Response {
    let store = state.store.as_ref();
    let saved = match (
        CalendarSettings::load(store).await,
        SyncSettings::load(store).await,
    ) {
        (Ok(calendar), Ok(sync)) => SyncForm::from_saved(&calendar, sync.participant_mode),
        (Err(e), _) | (_, Err(e)) => return failed(&ctx, e),
    };
    let top = flash(&ctx.tr, &query);
    match page_body(&state, &ctx, &saved, &FieldErrors::new(), None, top).await {
        Ok(body) => ctx.ok(TITLE, HERE, body),
        Err(e) => failed(&ctx, e),
    }
}

/// `POST /admin/sync`: validates everything first; saves nothing unless all of it is right.
pub async fn sync_save(
    State(state): State<AppState>,
    AdminPage { ctx, session }: AdminPage,
    Form(form): Form<SyncForm>,
) -> Response {
    let mode = SyncInput {
        participant_mode: form.participant_mode.clone(),
    };
    let calendar = form.calendar();
    let mut problems = calendar.as_ref().err().cloned().unwrap_or_default();
    if let Err(p) = sync::parse(&mode) {
        problems.0.extend(p.0);
    }
    let mut calendar = match calendar {
        Ok(calendar) if problems.is_empty() => calendar,
        _ => {
            let top = ctx.form_has_errors();
            let errors = problems.texts(&ctx.tr);
            return match page_body(&state, &ctx, &form, &errors, None, top).await {
                Ok(body) => ctx.rejected_form(TITLE, HERE, body),
                Err(e) => failed(&ctx, e),
            };
        }
    };
    if let Err(e) = sync::save(&state, &session, &mode).await {
        return failed(&ctx, e);
    }
    match service::save_settings(&state.calendar_ctx(), &session, &mut calendar).await {
        Ok(()) => Redirect::to("/admin/sync?ok=saved").into_response(),
        Err(e) => failed(&ctx, e),
    }
}

/// The opt-in form.
#[derive(Debug, Deserialize)]
pub struct EnabledForm {
    enabled: String,
}

/// `POST /admin/sync/employees/{id}/enabled`: opts the employee in (`true`) or out.
pub async fn set_enabled(
    State(state): State<AppState>,
    AdminPage { ctx, session }: AdminPage,
    Path(id): Path<String>,
    Form(form): Form<EnabledForm>,
) -> Response {
    let enabled = match form.enabled.as_str() {
        "true" => true,
        "false" => false,
        _ => {
            return failed(
                &ctx,
                AppError::BadRequest("enabled must be true or false".into()),
            );
        }
    };
    match service::set_employee_enabled(&state.calendar_ctx(), &session, &id, enabled).await {
        Ok(true) => Redirect::to("/admin/sync?ok=saved#sync-employees").into_response(),
        Ok(false) => failed(&ctx, AppError::NotFound(ctx.tr.t("sync-no-such-employee"))),
        Err(e) => failed(&ctx, e),
    }
}

/// `POST /admin/sync/employees/{id}/run`: queues a sync of the employee's events now.
pub async fn run_now(
    State(state): State<AppState>,
    AdminPage { ctx, .. }: AdminPage,
    Path(id): Path<String>,
) -> Response {
    match service::sync_employee_now(&state.calendar_ctx(), &id).await {
        Ok(Some(count)) => Redirect::to(&format!(
            "/admin/sync?ok=queued&count={count}#sync-employees"
        ))
        .into_response(),
        Ok(None) => failed(&ctx, AppError::NotFound(ctx.tr.t("sync-no-such-employee"))),
        Err(e) => failed(&ctx, e),
    }
}

/// The overrides form.
#[derive(Debug, Deserialize)]
pub struct OverridesForm {
    /// `default`, `on` or `off`.
    opt_in: String,
    /// `YYYY-MM-DD` or empty.
    #[serde(default)]
    start_date: String,
}

/// `POST /admin/sync/employees/{id}/overrides`: the employee's opt-in (or the default) and own
/// start date.
pub async fn set_overrides(
    State(state): State<AppState>,
    AdminPage { ctx, session }: AdminPage,
    Path(id): Path<String>,
    Form(form): Form<OverridesForm>,
) -> Response {
    let opt_in = match form.opt_in.as_str() {
        "default" => None,
        "on" => Some(true),
        "off" => Some(false),
        _ => {
            return failed(
                &ctx,
                AppError::BadRequest("opt_in must be default, on or off".into()),
            );
        }
    };
    let overrides = EmployeeOverrides {
        opt_in,
        start_date: Some(form.start_date),
    };
    match service::set_employee_overrides(&state.calendar_ctx(), &session, &id, overrides).await {
        Ok(true) => Redirect::to("/admin/sync?ok=saved#sync-employees").into_response(),
        Ok(false) => failed(&ctx, AppError::NotFound(ctx.tr.t("sync-no-such-employee"))),
        Err(e) => failed(&ctx, e),
    }
}
