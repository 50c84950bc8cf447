//! The one-time setup link for the first admin: printed at start while no active admin exists,
//! stored hashed, single use, valid 24 hours. `GET` shows the form (styled and translated like
//! every admin page), `POST` creates the admin.

use axum::{
    Form,
    extract::{Path, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::Response,
};
use maud::{Markup, html};
use serde::Deserialize;
use subtle::ConstantTimeEq;

use crate::{
    admin::pages::{Ctx, FieldErrors, Input, field, trusted},
    identity::{
        password,
        session::{hash_token, random_token},
    },
    state::AppState,
    store::{Employee, NewAudit, NewEmployee, now_ms},
};

/// How long a setup link is valid.
pub const VALID_MS: i64 = 24 * 3600 * 1000;

/// Creates a setup link when no active admin exists; returns its URL (to print once).
pub async fn issue_setup_link_if_needed(state: &AppState) -> anyhow::Result<Option<String>> {
    if state.store.count_active_admins().await? > 0 {
        return Ok(None);
    }
    let token = random_token();
    let now = now_ms();
    state
        .store
        .create_setup_token(&hash_token(&token), now, now + VALID_MS)
        .await?;
    let base = state.config.server.public_base(state.config.tls.enabled());
    Ok(Some(format!("{base}/admin/setup/{token}")))
}

/// Cookie holding the setup form's token (double submit: the form carries the same value).
pub const FORM_COOKIE: &str = "crm_bridge_setup";
/// Form field carrying the setup form's token.
pub const FORM_FIELD: &str = "setup_token";

/// The page furniture of the admin UI; `Ctx::page` sends `Referrer-Policy: same-origin`, so the
/// token in the URL never leaves the site while Chromium still sends the page's real `Origin`
/// (with `no-referrer` it sends `Origin: null`, which the origin check rightly refuses).
fn page(ctx: &Ctx, status: StatusCode, here: &str, body: Markup) -> Response {
    ctx.page(status, tkey!("setup-title"), here, body)
}

fn gone(ctx: &Ctx, here: &str) -> Response {
    page(
        ctx,
        StatusCode::NOT_FOUND,
        here,
        html! { p.notice.error role="alert" { (trusted(ctx.tr.t("setup-link-gone"))) } },
    )
}

fn internal(ctx: &Ctx, here: &str) -> Response {
    page(
        ctx,
        StatusCode::INTERNAL_SERVER_ERROR,
        here,
        html! { p.notice.error role="alert" { (ctx.tr.t("error-internal")) } },
    )
}

async fn usable(state: &AppState, token: &str) -> Result<bool, crate::store::StoreError> {
    if token.len() > 100 {
        return Ok(false);
    }
    let valid = state
        .store
        .setup_token_valid(&hash_token(token), now_ms())
        .await?;
    let admins = state.store.count_active_admins().await?;
    Ok(valid && admins == 0)
}

/// The form with a fresh form token (and `notice` above it), plus the cookie carrying the token.
fn form_page(
    state: &AppState,
    ctx: &Ctx,
    status: StatusCode,
    here: &str,
    email: &str,
    errors: &FieldErrors,
    notice: Option<String>,
) -> Response {
    let tr = &ctx.tr;
    let form_token = random_token();
    let min = i64::try_from(password::MIN_LENGTH).unwrap_or(i64::MAX);
    let notice = notice.or_else(|| (!errors.is_empty()).then(|| tr.t("form-has-errors")));
    let body = html! {
        @if let Some(notice) = notice { p.notice.error role="alert" { (notice) } }
        form.card method="post" action=(here) {
            input type="hidden" name=(FORM_FIELD) value=(form_token);
            p { (tr.t("setup-intro")) }
            (field(tr, "email", tkey!("login-email"), email, Input::Email, None, errors))
            (field(tr, "password", tkey!("login-password"), "", Input::Secret,
                Some(tr.ta("account-new-password-hint", &[("min", min.into())])), errors))
            div.actions { button.primary type="submit" { (tr.t("setup-create")) } }
        }
    };
    let mut response = page(ctx, status, here, body);
    let secure = if state.config.admin.secure_cookie {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{FORM_COOKIE}={form_token}; HttpOnly; SameSite=Strict; Path=/admin/setup/; Max-Age=86400{secure}"
    );
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

fn here(token: &str) -> String {
    let token: String = url::form_urlencoded::byte_serialize(token.as_bytes()).collect();
    format!("/admin/setup/{token}")
}

/// `GET /admin/setup/{token}`: the form, or 404 when the link cannot be used.
pub async fn form(State(state): State<AppState>, ctx: Ctx, Path(token): Path<String>) -> Response {
    let here = here(&token);
    match usable(&state, &token).await {
        Ok(true) => form_page(
            &state,
            &ctx,
            StatusCode::OK,
            &here,
            "",
            &FieldErrors::new(),
            None,
        ),
        Ok(false) => gone(&ctx, &here),
        Err(e) => {
            tracing::error!(error = %e, "setup link check failed");
            internal(&ctx, &here)
        }
    }
}

/// The setup form.
#[derive(Deserialize)]
pub struct SetupForm {
    /// Sign-in e-mail.
    pub email: String,
    /// Password.
    pub password: String,
    /// The form token, equal to the [`FORM_COOKIE`] cookie.
    #[serde(default)]
    pub setup_token: String,
}

fn form_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == FORM_COOKIE)
        .map(|(_, value)| value.trim())
}

/// `POST /admin/setup/{token}`: creates the first admin and uses up the link. The form token
/// must equal its cookie (a cross-site form can neither read nor set it); `admin_guard` has
/// already refused a foreign `Origin`.
pub async fn create_admin(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(token): Path<String>,
    headers: HeaderMap,
    Form(form): Form<SetupForm>,
) -> Response {
    let here = here(&token);
    match usable(&state, &token).await {
        Ok(true) => {}
        Ok(false) => return gone(&ctx, &here),
        Err(e) => {
            tracing::error!(error = %e, "setup link check failed");
            return internal(&ctx, &here);
        }
    }
    let email = form.email.trim().to_lowercase();
    let token_ok = !form.setup_token.is_empty()
        && form_cookie(&headers)
            .is_some_and(|c| bool::from(c.as_bytes().ct_eq(form.setup_token.as_bytes())));
    if !token_ok {
        let notice = ctx.tr.t("setup-form-expired");
        let (status, errors) = (StatusCode::FORBIDDEN, FieldErrors::new());
        return form_page(&state, &ctx, status, &here, &email, &errors, Some(notice));
    }
    let errors = form_errors(&ctx, &email, &form.password);
    if !errors.is_empty() {
        let status = StatusCode::UNPROCESSABLE_ENTITY;
        return form_page(&state, &ctx, status, &here, &email, &errors, None);
    }
    match first_admin(&state, &token, &email, form.password).await {
        Ok(admin) => done_page(&ctx, &here, &admin),
        Err(FirstAdminError::LinkUsed) => gone(&ctx, &here),
        Err(FirstAdminError::Failed) => internal(&ctx, &here),
    }
}

/// What is wrong with the typed e-mail and password, by field.
fn form_errors(ctx: &Ctx, email: &str, password_text: &str) -> FieldErrors {
    let mut errors = FieldErrors::new();
    if !crate::email::EmailAddress::is_valid(email) {
        errors.insert("email".into(), ctx.tr.t("error-email"));
    }
    if password_text.chars().count() < password::MIN_LENGTH {
        let min = i64::try_from(password::MIN_LENGTH).unwrap_or(i64::MAX);
        errors.insert(
            "password".into(),
            ctx.tr
                .ta("account-new-password-hint", &[("min", min.into())]),
        );
    }
    errors
}

/// Why the first admin was not created.
enum FirstAdminError {
    /// The link was used meanwhile.
    LinkUsed,
    /// Something failed (logged).
    Failed,
}

/// Uses up the setup link `token` and creates the first admin `email` with `password_text`.
async fn first_admin(
    state: &AppState,
    token: &str,
    email: &str,
    password_text: String,
) -> Result<Employee, FirstAdminError> {
    let hash = match tokio::task::spawn_blocking(move || password::hash(&password_text)).await {
        Ok(Ok(hash)) => hash,
        _ => return Err(FirstAdminError::Failed),
    };
    use_up_link(state, token).await?;
    let admin = state
        .store
        .create_employee(NewEmployee {
            identifier: email.to_owned(),
            login_email: email.to_owned(),
            password_hash: Some(hash),
            admin: true,
            o365_email: email.to_owned(),
            ..NewEmployee::default()
        })
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "cannot create the first admin");
            FirstAdminError::Failed
        })?;
    audit_first_admin(state, &admin).await;
    Ok(admin)
}

/// Marks the setup link `token` used; only one request can.
async fn use_up_link(state: &AppState, token: &str) -> Result<(), FirstAdminError> {
    match state
        .store
        .consume_setup_token(&hash_token(token), now_ms())
        .await
    {
        Ok(true) => Ok(()),
        Ok(false) => Err(FirstAdminError::LinkUsed),
        Err(e) => {
            tracing::error!(error = %e, "cannot use the setup token");
            Err(FirstAdminError::Failed)
        }
    }
}

/// Records the first admin's creation; the admin exists either way, so a failure is only logged.
async fn audit_first_admin(state: &AppState, admin: &Employee) {
    let written = state
        .store
        .add_audit(NewAudit {
            actor_id: None,
            actor: "setup-link".into(),
            action: "employee.create".into(),
            target: format!("employee:{}", admin.id),
            detail: "first admin".into(),
        })
        .await;
    if let Err(e) = written {
        tracing::warn!(error = %e, "cannot audit the first admin's creation");
    }
}

fn done_page(ctx: &Ctx, here: &str, admin: &Employee) -> Response {
    let tr = &ctx.tr;
    let done = tr.ta(
        "setup-done",
        &[("email", admin.login_email.as_str().into())],
    );
    page(
        ctx,
        StatusCode::CREATED,
        here,
        html! {
            p.notice.ok role="status" { (done) }
            p { a.button.primary href="/admin/login" { (tr.t("sign-in")) } }
        },
    )
}
