//! The Employees pages: list with search; create, edit, deactivate; the CRM API key is
//! write-only (masked) with a Test per employee; whether the employee has signed in from Outlook.
//! Changes go through the employees API handlers, so the rules live in one place.

use axum::{
    Form,
    extract::{Path, Query, State},
    response::{IntoResponse, Redirect, Response},
};
use maud::{Markup, html};
use serde::Deserialize;

use super::{AdminPage, Ctx, FieldErrors, Flash, Input, field, flash, settings::describe};
use crate::{
    admin::employees::{self as api, EmployeeInput, EmployeeView},
    email::EmailAddress,
    error::AppError,
    identity::password,
    state::AppState,
    store::Role,
};

const HERE: &str = "/admin/employees";

/// `GET /admin/employees?q=`.
pub async fn list_page(
    State(state): State<AppState>,
    AdminPage { ctx, .. }: AdminPage,
    query: Query<Flash>,
) -> Response {
    let q = query.q.clone().unwrap_or_default();
    let employees = match api::search(&state, Some(&q)).await.map_err(AppError::from) {
        Ok(list) => list,
        Err(e) => {
            return ctx.page(
                e.status(),
                tkey!("employees-title"),
                HERE,
                ctx.error_notice(&e),
            );
        }
    };
    let body = list_body(&ctx, &query, &q, &employees);
    ctx.ok(tkey!("employees-title"), HERE, body)
}

fn list_body(ctx: &Ctx, query: &Query<Flash>, q: &str, employees: &[EmployeeView]) -> Markup {
    let tr = &ctx.tr;
    html! {
        (flash(tr, query))
        div.toolbar {
            form.search method="get" action="/admin/employees" role="search" {
                label for="q" { (tr.t("employees-search")) }
                input #q type="search" name="q" value=(q);
                button type="submit" { (tr.t("search-submit")) }
            }
            a.button.primary href="/admin/employees/new" { (tr.t("employees-add")) }
        }
        @if employees.is_empty() {
            p { (tr.t("employees-none")) }
        } @else {
            div.table-wrap {
                table.employees {
                    caption.sr-only { (tr.t("employees-title")) }
                    thead { tr {
                        th scope="col" { (tr.t("employee-identifier")) }
                        th scope="col" { (tr.t("employee-login-email")) }
                        th scope="col" { (tr.t("employee-o365-email")) }
                        th scope="col" { (tr.t("employee-crm-user")) }
                        th scope="col" { (tr.t("employee-role")) }
                        th scope="col" { (tr.t("employee-crm-key")) }
                        th scope="col" { (tr.t("employee-outlook")) }
                        th scope="col" { (tr.t("employee-status")) }
                    } }
                    tbody {
                        @for e in employees {
                            tr.inactive[!e.active] {
                                td { a href=(format!("/admin/employees/{}", e.id)) { (e.identifier) } }
                                td.address { (e.login_email) }
                                td.address { (e.o365_email) }
                                td.address { (e.crm_user_email) }
                                td { (role_label(ctx, e.role)) }
                                td { (e.crm_api_key_masked.clone().unwrap_or_else(|| tr.t("employee-no-key"))) }
                                td { (if e.outlook_bound { tr.t("employee-outlook-yes") } else { tr.t("employee-outlook-no") }) }
                                td.state { (if e.active { tr.t("employee-active") } else { tr.t("employee-inactive") }) }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn role_label(ctx: &Ctx, role: Role) -> String {
    match role {
        Role::Admin => ctx.tr.t("role-admin"),
        Role::Employee => ctx.tr.t("role-employee"),
    }
}

/// The employee form.
#[derive(Debug, Default, Deserialize)]
pub struct EmployeeForm {
    #[serde(default)]
    identifier: String,
    #[serde(default)]
    login_email: String,
    #[serde(default)]
    crm_user_email: String,
    #[serde(default)]
    crm_api_key: String,
    #[serde(default)]
    o365_email: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    password: String,
}

impl EmployeeForm {
    fn from_view(v: &EmployeeView) -> Self {
        Self {
            identifier: v.identifier.clone(),
            login_email: v.login_email.clone(),
            crm_user_email: v.crm_user_email.clone(),
            crm_api_key: String::new(),
            o365_email: v.o365_email.clone(),
            role: v.role.as_str().to_owned(),
            password: String::new(),
        }
    }
}

fn form_body(
    ctx: &Ctx,
    existing: Option<&EmployeeView>,
    form: &EmployeeForm,
    errors: &FieldErrors,
    top: Markup,
) -> Markup {
    let tr = &ctx.tr;
    let action = match existing {
        Some(e) => format!("/admin/employees/{}", e.id),
        None => "/admin/employees/new".to_owned(),
    };
    let key_hint = match existing.and_then(|e| e.crm_api_key_masked.clone()) {
        Some(m) => tr.ta("crm-api-key-stored", &[("masked", m.into())]),
        None => tr.t("employee-crm-key-hint"),
    };
    html! {
        (top)
        @if let Some(e) = existing {
            dl.facts.card {
                dt { (tr.t("employee-outlook")) }
                dd #outlook-status {
                    @if e.outlook_bound { (tr.t("employee-outlook-yes")) } @else { (tr.t("employee-outlook-no")) }
                }
                dt { (tr.t("employee-status")) }
                dd { (if e.active { tr.t("employee-active") } else { tr.t("employee-inactive") }) }
            }
        }
        form.card method="post" action=(action) novalidate {
            (ctx.csrf())
            (field(tr, "identifier", tkey!("employee-identifier"), &form.identifier, Input::Text, Some(tr.t("employee-identifier-hint")), errors))
            (field(tr, "login_email", tkey!("employee-login-email"), &form.login_email, Input::Email, Some(tr.t("employee-login-email-hint")), errors))
            (field(tr, "crm_user_email", tkey!("employee-crm-user"), &form.crm_user_email, Input::Email, None, errors))
            (field(tr, "crm_api_key", tkey!("employee-crm-key"), "", Input::Secret, Some(key_hint), errors))
            (field(tr, "o365_email", tkey!("employee-o365-email"), &form.o365_email, Input::Email, Some(tr.t("employee-o365-email-hint")), errors))
            div.field {
                label for="f-role" { (tr.t("employee-role")) }
                select #f-role name="role" {
                    option value="employee" selected[form.role != "admin"] { (tr.t("role-employee")) }
                    option value="admin" selected[form.role == "admin"] { (tr.t("role-admin")) }
                }
            }
            (field(tr, "password", tkey!("employee-password"), "", Input::Secret,
                Some(tr.ta("account-new-password-hint", &[("min", (password::MIN_LENGTH as i64).into())])), errors))
            button.primary type="submit" { (tr.t("save-settings")) }
        }
        @if let Some(e) = existing {
            div.actions {
                form method="post" action=(format!("/admin/employees/{}/test", e.id)) {
                    (ctx.csrf())
                    button type="submit" disabled[!e.has_crm_api_key] { (tr.t("employee-test-key")) }
                }
                form method="post" action=(format!("/admin/employees/{}/active", e.id)) {
                    (ctx.csrf())
                    input type="hidden" name="active" value=(if e.active { "false" } else { "true" });
                    @if e.active {
                        button.danger type="submit" data-confirm=(tr.t("employee-deactivate-confirm")) { (tr.t("employee-deactivate")) }
                    } @else {
                        button type="submit" { (tr.t("employee-activate")) }
                    }
                }
            }
        }
    }
}

fn validate(ctx: &Ctx, form: &mut EmployeeForm) -> FieldErrors {
    let tr = &ctx.tr;
    form.identifier = form.identifier.trim().to_owned();
    for v in [
        &mut form.login_email,
        &mut form.crm_user_email,
        &mut form.o365_email,
    ] {
        *v = v.trim().to_lowercase();
    }
    form.crm_api_key = form.crm_api_key.trim().to_owned();
    let mut errors = FieldErrors::new();
    if form.identifier.is_empty() {
        errors.insert("identifier".into(), tr.t("error-required"));
    } else if form.identifier.chars().count() > 200 {
        errors.insert("identifier".into(), tr.t("error-too-long"));
    }
    for (name, value) in [
        ("login_email", &form.login_email),
        ("crm_user_email", &form.crm_user_email),
        ("o365_email", &form.o365_email),
    ] {
        if !value.is_empty() && !EmailAddress::is_valid(value) {
            errors.insert(name.into(), tr.t("error-email"));
        }
    }
    if form.crm_api_key.len() > 500 || form.crm_api_key.chars().any(char::is_control) {
        errors.insert("crm_api_key".into(), tr.t("error-api-key"));
    }
    if !form.password.is_empty() && form.password.chars().count() < password::MIN_LENGTH {
        errors.insert(
            "password".into(),
            tr.ta(
                "account-new-password-hint",
                &[("min", (password::MIN_LENGTH as i64).into())],
            ),
        );
    }
    if !matches!(form.role.as_str(), "admin" | "employee" | "") {
        errors.insert("role".into(), tr.t("error-required"));
    }
    errors
}

fn input_of(form: &EmployeeForm) -> EmployeeInput {
    EmployeeInput {
        identifier: Some(form.identifier.clone()),
        login_email: Some(form.login_email.clone()),
        crm_user_email: Some(form.crm_user_email.clone()),
        crm_api_key: (!form.crm_api_key.is_empty()).then(|| form.crm_api_key.clone()),
        o365_email: Some(form.o365_email.clone()),
        role: Some(if form.role == "admin" {
            Role::Admin
        } else {
            Role::Employee
        }),
        active: None,
        password: (!form.password.is_empty()).then(|| form.password.clone()),
        language: None,
    }
}

/// Moves the API's field errors next to the fields; other errors become the top notice.
fn absorb(ctx: &Ctx, err: impl Into<AppError>, errors: &mut FieldErrors) -> Markup {
    match err.into() {
        AppError::Invalid { fields, .. } => {
            errors.extend(fields);
            ctx.form_has_errors()
        }
        AppError::Conflict(_) => {
            html! { p.notice.error role="alert" { (ctx.tr.t("employee-conflict")) } }
        }
        other => ctx.error_notice(&other),
    }
}

/// `GET /admin/employees/new`.
pub async fn new_page(AdminPage { ctx, .. }: AdminPage) -> Response {
    let form = EmployeeForm::default();
    ctx.ok(
        tkey!("employee-new-title"),
        HERE,
        form_body(&ctx, None, &form, &FieldErrors::new(), html! {}),
    )
}

/// `POST /admin/employees/new`.
pub async fn create(
    State(state): State<AppState>,
    AdminPage { ctx, session }: AdminPage,
    Form(mut form): Form<EmployeeForm>,
) -> Response {
    let mut errors = validate(&ctx, &mut form);
    let top = if errors.is_empty() {
        match api::add(&state, &session, &input_of(&form)).await {
            Ok(created) => {
                return Redirect::to(&format!("/admin/employees/{}?ok=created", created.id))
                    .into_response();
            }
            Err(e) => absorb(&ctx, e, &mut errors),
        }
    } else {
        ctx.form_has_errors()
    };
    ctx.rejected_form(
        tkey!("employee-new-title"),
        HERE,
        form_body(&ctx, None, &form, &errors, top),
    )
}

async fn one(state: &AppState, ctx: &Ctx, id: &str) -> Result<EmployeeView, Response> {
    let Some(session) = ctx.session.as_ref() else {
        return Err(super::to_login(HERE));
    };
    match api::find(state, session, id).await.map_err(AppError::from) {
        Ok(view) => Ok(view),
        Err(e) => Err(ctx.page(
            e.status(),
            tkey!("employee-edit-title"),
            HERE,
            ctx.error_notice(&e),
        )),
    }
}

/// `GET /admin/employees/{id}`.
pub async fn edit_page(
    State(state): State<AppState>,
    AdminPage { ctx, .. }: AdminPage,
    Path(id): Path<String>,
    query: Query<Flash>,
) -> Response {
    let view = match one(&state, &ctx, &id).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let form = EmployeeForm::from_view(&view);
    ctx.ok(
        tkey!("employee-edit-title"),
        HERE,
        form_body(
            &ctx,
            Some(&view),
            &form,
            &FieldErrors::new(),
            flash(&ctx.tr, &query),
        ),
    )
}

/// `POST /admin/employees/{id}`.
pub async fn update(
    State(state): State<AppState>,
    AdminPage { ctx, session }: AdminPage,
    Path(id): Path<String>,
    Form(mut form): Form<EmployeeForm>,
) -> Response {
    let view = match one(&state, &ctx, &id).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let mut errors = validate(&ctx, &mut form);
    let top = if errors.is_empty() {
        match api::change(&state, &session, &id, &input_of(&form)).await {
            Ok(_) => {
                return Redirect::to(&format!("/admin/employees/{id}?ok=saved")).into_response();
            }
            Err(e) => absorb(&ctx, e, &mut errors),
        }
    } else {
        ctx.form_has_errors()
    };
    ctx.rejected_form(
        tkey!("employee-edit-title"),
        HERE,
        form_body(&ctx, Some(&view), &form, &errors, top),
    )
}

/// `POST /admin/employees/{id}/test`: tests the employee's own CRM key; the outcome in words.
pub async fn test_key(
    State(state): State<AppState>,
    AdminPage { ctx, .. }: AdminPage,
    Path(id): Path<String>,
) -> Response {
    let view = match one(&state, &ctx, &id).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let outcome = async {
        let employee = state
            .store
            .employee(&id)
            .await?
            .ok_or_else(|| AppError::NotFound("no such employee".into()))?;
        let crm = state
            .crm
            .for_employee(state.store.as_ref(), &state.master_key, &employee)
            .await?;
        crm.test_connection().await.map_err(AppError::from)
    };
    let top = match outcome.await {
        Ok(report) => html! {
            div.notice.ok role="status" #key-test { strong { (ctx.tr.t("crm-test-success")) } (describe(&ctx.tr, &report)) }
        },
        Err(e) => html! {
            div.notice.error role="alert" #key-test { strong { (ctx.tr.t("crm-test-failed")) } p { (ctx.error_text(&e)) } }
        },
    };
    let form = EmployeeForm::from_view(&view);
    ctx.ok(
        tkey!("employee-edit-title"),
        HERE,
        form_body(&ctx, Some(&view), &form, &FieldErrors::new(), top),
    )
}

/// The activate/deactivate form.
#[derive(Debug, Deserialize)]
pub struct ActiveForm {
    active: bool,
}

/// `POST /admin/employees/{id}/active`.
pub async fn set_active(
    State(state): State<AppState>,
    AdminPage { ctx, session }: AdminPage,
    Path(id): Path<String>,
    Form(form): Form<ActiveForm>,
) -> Response {
    let input = EmployeeInput {
        active: Some(form.active),
        ..EmployeeInput::default()
    };
    match api::change(&state, &session, &id, &input)
        .await
        .map_err(AppError::from)
    {
        Ok(_) => Redirect::to(&format!("/admin/employees/{id}?ok=saved")).into_response(),
        Err(e) => {
            let view = match one(&state, &ctx, &id).await {
                Ok(v) => v,
                Err(r) => return r,
            };
            let form = EmployeeForm::from_view(&view);
            ctx.page(
                e.status(),
                tkey!("employee-edit-title"),
                HERE,
                form_body(
                    &ctx,
                    Some(&view),
                    &form,
                    &FieldErrors::new(),
                    ctx.error_notice(&e),
                ),
            )
        }
    }
}
