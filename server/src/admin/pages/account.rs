//! Sign in, sign out, the language switch and the own-account page (password change).

use axum::{
    Form,
    extract::{Query, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
};
use maud::html;
use serde::Deserialize;

use super::{Ctx, FieldErrors, Flash, Input, LANG_COOKIE, field, flash};
use crate::{
    error::AppError,
    i18n::Lang,
    identity::{password, session},
    state::AppState,
    store::EmployeeChanges,
};

/// Where to go after signing in or switching the language: a same-site admin path (see
/// [`super::redirect_target`]), else the company page.
fn safe_next(next: Option<&str>) -> String {
    super::redirect_target(next).unwrap_or_else(|| "/admin/company".to_owned())
}

fn login_form(ctx: &Ctx, email: &str, next: &str, error: Option<String>) -> maud::Markup {
    let tr = &ctx.tr;
    html! {
        form.card method="post" action="/admin/login" {
            (ctx.csrf())
            input type="hidden" name="next" value=(next);
            @if let Some(e) = error { p.notice.error role="alert" { (e) } }
            (field(tr, "email", tkey!("login-email"), email, Input::Email, None, &FieldErrors::new()))
            div.field {
                label for="f-password" { (tr.t("login-password")) }
                input id="f-password" name="password" type="password" autocomplete="current-password" required;
            }
            button.primary type="submit" { (tr.t("sign-in")) }
        }
    }
}

/// `GET /admin/login`.
pub async fn login_page(ctx: Ctx, query: Query<Flash>) -> Response {
    let next = safe_next(query.next.as_deref());
    if ctx.session.is_some() {
        return Redirect::to(&next).into_response();
    }
    ctx.ok(tkey!("login-title"), "", login_form(&ctx, "", &next, None))
}

/// The sign-in form.
#[derive(Deserialize)]
pub struct LoginForm {
    email: String,
    password: String,
    #[serde(default)]
    next: Option<String>,
}

/// `POST /admin/login`: signs in and redirects, or shows the form again with the reason.
pub async fn login(
    State(state): State<AppState>,
    ctx: Ctx,
    extensions: axum::http::Extensions,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let next = safe_next(form.next.as_deref());
    let ip = session::client_ip(&state.identity(), &extensions, &headers);
    match session::sign_in(&state.identity(), &form.email, &form.password, ip, &headers).await {
        Ok(new) => {
            let mut response = Redirect::to(&next).into_response();
            for cookie in new.cookies(&state.identity()) {
                response.headers_mut().append(header::SET_COOKIE, cookie);
            }
            response
        }
        Err(err) => failed_login(&ctx, &form.email, &next, err.into()),
    }
}

/// The sign-in form again, saying why signing in failed (with `Retry-After` when throttled).
fn failed_login(ctx: &Ctx, email: &str, next: &str, err: AppError) -> Response {
    let (status, message) = match &err {
        AppError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, ctx.tr.t("login-wrong")),
        AppError::RetryLater {
            status: StatusCode::TOO_MANY_REQUESTS,
            ..
        } => (StatusCode::TOO_MANY_REQUESTS, ctx.tr.t("login-throttled")),
        other => (other.status(), ctx.error_text(other)),
    };
    let mut response = ctx.page(
        status,
        tkey!("login-title"),
        "",
        login_form(ctx, email, next, Some(message)),
    );
    if let AppError::RetryLater {
        retry_after_secs, ..
    } = err
    {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
    }
    response
}

/// `POST /admin/logout`.
pub async fn logout(State(state): State<AppState>, ctx: Ctx) -> Response {
    if let Some(s) = &ctx.session
        && let Err(e) = state.store.delete_session(s.session_hash()).await
    {
        return ctx.page(
            StatusCode::INTERNAL_SERVER_ERROR,
            tkey!("login-title"),
            "",
            ctx.error_notice(&e.into()),
        );
    }
    let mut response = Redirect::to("/admin/login").into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        session::clearing_cookie(&state.identity()),
    );
    response
}

/// The language switch.
#[derive(Deserialize)]
pub struct LanguageForm {
    lang: String,
    #[serde(default)]
    back: Option<String>,
}

/// `POST /admin/language`: saves the choice on the account (when signed in) and in a cookie.
pub async fn language(
    State(state): State<AppState>,
    ctx: Ctx,
    Form(form): Form<LanguageForm>,
) -> Response {
    let Some(lang) = Lang::from_tag(&form.lang) else {
        return ctx.rejected_form(
            tkey!("language-label"),
            "",
            html! { p.notice.error role="alert" { (ctx.tr.t("language-unknown")) } },
        );
    };
    if let Some(s) = &ctx.session {
        let changes = EmployeeChanges {
            language: Some(lang.tag().to_owned()),
            ..EmployeeChanges::default()
        };
        if let Err(e) = state.store.update_employee(&s.employee.id, changes).await {
            return ctx.page(
                StatusCode::INTERNAL_SERVER_ERROR,
                tkey!("language-label"),
                "",
                ctx.error_notice(&e.into()),
            );
        }
    }
    let back = safe_next(form.back.as_deref());
    let mut response = Redirect::to(&back).into_response();
    let cookie = format!(
        "{LANG_COOKIE}={}; Path=/admin; SameSite=Strict; Max-Age=31536000",
        lang.tag()
    );
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

fn account_body(ctx: &Ctx, errors: &FieldErrors, flash_markup: maud::Markup) -> maud::Markup {
    let tr = &ctx.tr;
    html! {
        (flash_markup)
        form.card method="post" action="/admin/account" {
            (ctx.csrf())
            h2 { (tr.t("account-password-heading")) }
            (field(tr, "current_password", tkey!("account-current-password"), "", Input::Secret, None, errors))
            (field(tr, "new_password", tkey!("account-new-password"), "", Input::Secret,
                Some(tr.ta("account-new-password-hint", &[("min", (password::MIN_LENGTH as i64).into())])), errors))
            button.primary type="submit" { (tr.t("account-change-password")) }
        }
    }
}

/// `GET /admin/account`.
pub async fn account_page(ctx: Ctx, query: Query<Flash>) -> Response {
    if let Err(r) = ctx.signed_in("/admin/account") {
        return *r;
    }
    let body = account_body(&ctx, &FieldErrors::new(), flash(&ctx.tr, &query));
    ctx.ok(tkey!("account-title"), "/admin/account", body)
}

/// The password change form.
#[derive(Deserialize)]
pub struct PasswordForm {
    current_password: String,
    new_password: String,
}

/// `POST /admin/account`: changes the own password (other sessions end).
pub async fn change_password(
    State(state): State<AppState>,
    ctx: Ctx,
    Form(form): Form<PasswordForm>,
) -> Response {
    let session = match ctx.signed_in("/admin/account") {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let mut errors = new_password_errors(&ctx, &form.new_password);
    if errors.is_empty() {
        let input = crate::admin::session::PasswordChange {
            current_password: form.current_password,
            new_password: form.new_password,
        };
        match crate::admin::session::set_own_password(&state, &session, input)
            .await
            .map_err(AppError::from)
        {
            Ok(()) => return Redirect::to("/admin/account?ok=password").into_response(),
            Err(AppError::Invalid { fields, .. }) => {
                password_field_errors(&ctx, fields, &mut errors)
            }
            Err(other) => {
                return ctx.page(
                    other.status(),
                    tkey!("account-title"),
                    "/admin/account",
                    ctx.error_notice(&other),
                );
            }
        }
    }
    ctx.rejected_form(
        tkey!("account-title"),
        "/admin/account",
        account_body(&ctx, &errors, html! {}),
    )
}

/// The page's own check of a new password, before the service sees it.
fn new_password_errors(ctx: &Ctx, new_password: &str) -> FieldErrors {
    let mut errors = FieldErrors::new();
    if new_password.chars().count() < password::MIN_LENGTH {
        errors.insert(
            "new_password".into(),
            ctx.tr.ta(
                tkey!("account-new-password-hint"),
                &[("min", (password::MIN_LENGTH as i64).into())],
            ),
        );
    }
    errors
}

/// Puts the service's field errors next to the fields; a wrong current password gets the
/// page's own wording.
fn password_field_errors(
    ctx: &Ctx,
    fields: std::collections::BTreeMap<String, String>,
    errors: &mut FieldErrors,
) {
    for (name, message) in fields {
        let text = if name == "current_password" {
            ctx.tr.t("account-current-wrong")
        } else {
            message
        };
        errors.insert(name, text);
    }
}
