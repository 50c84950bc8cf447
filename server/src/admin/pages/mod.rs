//! The admin web UI: server-rendered pages under `/admin` (maud), every string from the Fluent
//! catalogs (`i18n`), every form posted with the session's CSRF token, small progressive
//! JavaScript (`web/admin/admin.js`) only where live updates need it. This module owns the
//! shared page furniture: the context extractor, the layout, form helpers and the assets.

pub mod account;
pub mod employees;
pub mod operations;
pub mod settings;
pub mod sync;
pub mod sync_preview;
pub mod sync_rules;
pub mod sync_trace;
pub mod webhook;

use std::collections::BTreeMap;

use axum::{
    Router,
    extract::{FromRequestParts, Query},
    http::{HeaderValue, StatusCode, header, request::Parts},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};
use maud::{DOCTYPE, Markup, PreEscaped, html};
use serde::Deserialize;

use crate::{
    error::AppError,
    i18n::{Lang, Tr, negotiate},
    identity::session::AdminSession,
    state::AppState,
};

/// Cookie remembering the language chosen before signing in.
pub const LANG_COOKIE: &str = "crm_bridge_lang";

const CSS: &str = include_str!("../../../../web/admin/admin.css");
const JS: &str = include_str!("../../../../web/admin/admin.js");

/// The admin UI routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin", get(|| async { Redirect::to("/admin/company") }))
        .route("/admin/", get(|| async { Redirect::to("/admin/company") }))
        .route("/admin/assets/admin.css", get(css))
        .route("/admin/assets/admin.js", get(js))
        .route(
            "/admin/login",
            get(account::login_page).post(account::login),
        )
        .route("/admin/logout", post(account::logout))
        .route("/admin/language", post(account::language))
        .route(
            "/admin/account",
            get(account::account_page).post(account::change_password),
        )
        .route(
            "/admin/company",
            get(settings::company_page).post(settings::company_save),
        )
        .route(
            "/admin/crm",
            get(settings::crm_page).post(settings::crm_save),
        )
        .route("/admin/crm/test", post(settings::crm_test))
        .route("/admin/sync", get(sync::sync_page).post(sync::sync_save))
        .route("/admin/sync/trace", get(sync_trace::trace_page))
        .route("/admin/sync/rules", post(sync_rules::rules_save))
        .route("/admin/sync/preview", get(sync_preview::preview_page))
        .route(
            "/admin/sync/employees/{id}/overrides",
            post(sync::set_overrides),
        )
        .route(
            "/admin/sync/employees/{id}/enabled",
            post(sync::set_enabled),
        )
        .route("/admin/sync/employees/{id}/run", post(sync::run_now))
        .route(
            "/admin/office365",
            get(settings::office365_page).post(settings::office365_save),
        )
        .route("/admin/office365/test", post(settings::office365_test))
        .route("/admin/webhook", get(webhook::page))
        .route("/admin/webhook/generate", post(webhook::generate))
        .route("/admin/webhook/create", post(webhook::create))
        .route("/admin/webhook/delete", post(webhook::delete))
        .route("/admin/webhook/manual-token", post(webhook::manual_token))
        .route("/admin/employees", get(employees::list_page))
        .route(
            "/admin/employees/new",
            get(employees::new_page).post(employees::create),
        )
        .route(
            "/admin/employees/{id}",
            get(employees::edit_page).post(employees::update),
        )
        .route("/admin/employees/{id}/test", post(employees::test_key))
        .route("/admin/employees/{id}/active", post(employees::set_active))
        .route("/admin/import", get(operations::import_page))
        .route("/admin/health", get(operations::health_page))
        .route("/admin/audit", get(operations::audit_page))
}

async fn css() -> Response {
    asset("text/css; charset=utf-8", CSS)
}

async fn js() -> Response {
    asset("text/javascript; charset=utf-8", JS)
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// What every page needs: the translator and the session, if any.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// Translator for the negotiated language.
    pub tr: Tr,
    /// The signed-in session.
    pub session: Option<AdminSession>,
}

impl<S: Send + Sync> FromRequestParts<S> for Ctx {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let session = parts.extensions.get::<AdminSession>().cloned();
        let cookie_lang = lang_cookie(&parts.headers);
        let saved = session
            .as_ref()
            .and_then(|s| s.employee.language.clone())
            .or(cookie_lang);
        let accept = parts
            .headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok());
        let lang = negotiate(saved.as_deref(), accept);
        Ok(Self {
            tr: Tr::new(lang),
            session,
        })
    }
}

/// A page only admins may see: the page context and the admin session. Anyone else gets the
/// sign-in page (coming back to the page afterwards) or a 403 page instead of the handler.
#[derive(Debug, Clone)]
pub struct AdminPage {
    /// The page context.
    pub ctx: Ctx,
    /// The admin's session.
    pub session: AdminSession,
}

/// The page a request belongs to (where sign-in leads back to): the first two path segments,
/// such as `/admin/crm` for `POST /admin/crm/test`; the new-employee form is its own page.
fn page_of(path: &str) -> &str {
    const NEW_EMPLOYEE: &str = "/admin/employees/new";
    if path == NEW_EMPLOYEE {
        return NEW_EMPLOYEE;
    }
    let end = path
        .match_indices('/')
        .nth(2)
        .map_or(path.len(), |(at, _)| at);
    &path[..end]
}

impl<S: Send + Sync> FromRequestParts<S> for AdminPage {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        let Ok(ctx) = Ctx::from_request_parts(parts, state).await;
        match ctx.admin(page_of(parts.uri.path())) {
            Ok(session) => Ok(Self { ctx, session }),
            Err(response) => Err(*response),
        }
    }
}

fn lang_cookie(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == LANG_COOKIE)
        .map(|(_, value)| value.trim().to_owned())
}

impl Ctx {
    /// The admin session, or the response to give instead: the sign-in page for nobody, a 403
    /// page for an employee without the admin role.
    pub fn admin(&self, here: &str) -> Result<AdminSession, Box<Response>> {
        match &self.session {
            None => Err(Box::new(to_login(here))),
            Some(s) if s.is_admin() => Ok(s.clone()),
            Some(_) => Err(Box::new(self.page(
                StatusCode::FORBIDDEN,
                tkey!("nav-forbidden"),
                "",
                html! { p.notice.error role="alert" { (self.tr.t("forbidden-admin-only")) } },
            ))),
        }
    }

    /// Any signed-in session, or the sign-in page.
    pub fn signed_in(&self, here: &str) -> Result<AdminSession, Box<Response>> {
        self.session.clone().ok_or_else(|| Box::new(to_login(here)))
    }

    /// The hidden CSRF field for forms.
    pub fn csrf(&self) -> Markup {
        let token = self
            .session
            .as_ref()
            .map(|s| s.csrf_token.as_str())
            .unwrap_or("");
        html! { input type="hidden" name="csrf_token" value=(token); }
    }

    /// A complete page with navigation.
    pub fn page(
        &self,
        status: StatusCode,
        title_key: &str,
        active: &str,
        body: Markup,
    ) -> Response {
        let tr = &self.tr;
        let title = tr.t(title_key);
        let is_admin = self.session.as_ref().is_some_and(AdminSession::is_admin);
        let nav: [(&str, &str); 10] = [
            ("/admin/company", tkey!("nav-company")),
            ("/admin/crm", tkey!("nav-crm")),
            ("/admin/webhook", tkey!("nav-webhook")),
            ("/admin/import", tkey!("nav-import")),
            ("/admin/office365", tkey!("nav-office365")),
            ("/admin/employees", tkey!("nav-employees")),
            ("/admin/sync", tkey!("nav-sync")),
            ("/admin/health", tkey!("nav-health")),
            ("/admin/audit", tkey!("nav-audit")),
            ("/admin/account", tkey!("nav-account")),
        ];
        let csrf = self
            .session
            .as_ref()
            .map(|s| s.csrf_token.clone())
            .unwrap_or_default();
        let markup = html! {
            (DOCTYPE)
            html lang=(tr.lang.tag()) {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    meta name="csrf-token" content=(csrf);
                    title { (title) " · " (tr.t("app-name")) }
                    link rel="icon" type="image/png" href="/assets/icon-32.png";
                    link rel="stylesheet" href="/admin/assets/admin.css";
                    script src="/admin/assets/admin.js" defer {}
                }
                body {
                    a.skip href="#main" { (tr.t("skip-to-content")) }
                    header.top {
                        span.brand { (tr.t("app-name")) }
                        form.lang method="post" action="/admin/language" {
                            (self.csrf())
                            input type="hidden" name="back" value=(active_or_login(active));
                            label for="lang-select" { (tr.t("language-label")) }
                            select id="lang-select" name="lang" data-autosubmit {
                                @for lang in Lang::ALL {
                                    option value=(lang.tag()) selected[lang == tr.lang] { (lang.native_name()) }
                                }
                            }
                            noscript { button type="submit" { (tr.t("language-switch")) } }
                        }
                        @if let Some(s) = &self.session {
                            form.signout method="post" action="/admin/logout" {
                                (self.csrf())
                                span.who { (s.actor()) }
                                button.link type="submit" { (tr.t("sign-out")) }
                            }
                        }
                    }
                    div.shell {
                        @if is_admin {
                            nav aria-label=(tr.t("nav-label")) {
                                ul {
                                    @for (href, key) in nav {
                                        li { a href=(href) aria-current=[(href == active).then_some("page")] { (tr.t(key)) } }
                                    }
                                }
                            }
                        }
                        main id="main" tabindex="-1" {
                            h1 { (title) }
                            (body)
                        }
                    }
                }
            }
        };
        let mut response = (status, markup).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert("referrer-policy", HeaderValue::from_static("same-origin"));
        headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
        response
    }

    /// A page answering 200.
    pub fn ok(&self, title_key: &str, active: &str, body: Markup) -> Response {
        self.page(StatusCode::OK, title_key, active, body)
    }

    /// The notice above a form whose fields have errors (the messages stand next to the fields).
    pub fn form_has_errors(&self) -> Markup {
        html! { p.notice.error role="alert" { (self.tr.t("form-has-errors")) } }
    }

    /// A form sent back with its errors: 422 with `body`, which shows the messages.
    pub fn rejected_form(&self, title_key: &str, active: &str, body: Markup) -> Response {
        self.page(StatusCode::UNPROCESSABLE_ENTITY, title_key, active, body)
    }

    /// The notice for an error from the domain layer, in words.
    pub fn error_notice(&self, err: &AppError) -> Markup {
        html! { p.notice.error role="alert" { (self.error_text(err)) } }
    }

    /// An error in words: the translated kind plus the server's explanation.
    pub fn error_text(&self, err: &AppError) -> String {
        let tr = &self.tr;
        match err {
            AppError::Internal(_) => tr.t("error-internal"),
            AppError::Upstream(m) => tr.ta("error-upstream", &[("detail", m.as_str().into())]),
            AppError::Unavailable(m) => {
                tr.ta("error-unavailable", &[("detail", m.as_str().into())])
            }
            AppError::TooManyRequests(m) => tr.ta("error-rate", &[("detail", m.as_str().into())]),
            AppError::RetryLater { message, .. } => {
                tr.ta("error-rate", &[("detail", message.as_str().into())])
            }
            other => other.to_string(),
        }
    }
}

fn active_or_login(active: &str) -> &str {
    if active.is_empty() {
        "/admin/login"
    } else {
        active
    }
}

/// `target` if it is a same-site relative path under `/admin` that is safe to redirect to: no
/// scheme or host (`//host`, `/\\host`), no control characters (a CR/LF would split the
/// `Location` header), and a valid URI path.
pub fn redirect_target(target: Option<&str>) -> Option<String> {
    let target = target?;
    let plain = !target.starts_with("//")
        && !target.contains('\\')
        && !target.chars().any(|c| c.is_control() || c.is_whitespace());
    let admin =
        target == "/admin" || target.starts_with("/admin/") || target.starts_with("/admin?");
    let parses = target.parse::<axum::http::uri::PathAndQuery>().is_ok()
        && HeaderValue::from_str(target).is_ok();
    (plain && admin && parses).then(|| target.to_owned())
}

fn to_login(here: &str) -> Response {
    let next: String = url::form_urlencoded::byte_serialize(here.as_bytes()).collect();
    Redirect::to(&format!("/admin/login?next={next}")).into_response()
}

/// The `?ok=…` flash after a redirect.
#[derive(Debug, Default, Deserialize)]
pub struct Flash {
    /// What succeeded: `saved`, `created`, …
    pub ok: Option<String>,
    /// The employee search text (employees list).
    pub q: Option<String>,
    /// Where to go after signing in.
    pub next: Option<String>,
    /// How many things the action concerned (`ok=queued`).
    pub count: Option<i64>,
}

/// Renders the success flash named by `?ok=`.
pub fn flash(tr: &Tr, flash: &Query<Flash>) -> Markup {
    let key = match flash.ok.as_deref() {
        Some("saved") => tkey!("flash-saved"),
        Some("created") => tkey!("flash-created"),
        Some("deleted") => tkey!("flash-deleted"),
        Some("generated") => tkey!("flash-generated"),
        Some("registered") => tkey!("flash-registered"),
        Some("reregistered") => tkey!("flash-reregistered"),
        Some("password") => tkey!("flash-password"),
        Some("queued") => {
            let count = flash.count.unwrap_or(0).max(0);
            let text = tr.ta("flash-sync-queued", &[("count", count.into())]);
            return html! { p.notice.ok role="status" { (text) } };
        }
        _ => return html! {},
    };
    html! { p.notice.ok role="status" { (tr.t(key)) } }
}

/// Field name → message, shown next to each field.
pub type FieldErrors = BTreeMap<String, String>;

/// Kinds of input for [`field`].
#[derive(Debug, Clone, Copy)]
pub enum Input {
    /// Plain text.
    Text,
    /// E-mail.
    Email,
    /// Write-only secret: never prefilled.
    Secret,
    /// URL.
    Url,
    /// A calendar date (`YYYY-MM-DD`).
    Date,
}

/// A labelled input with its hint and its error, keeping what the admin typed.
pub fn field(
    tr: &Tr,
    name: &str,
    label_key: &str,
    value: &str,
    kind: Input,
    hint: Option<String>,
    errors: &FieldErrors,
) -> Markup {
    let id = format!("f-{name}");
    let error = errors.get(name);
    let hint_id = format!("{id}-hint");
    let error_id = format!("{id}-error");
    let described: Vec<&str> = [
        hint.as_ref().map(|_| hint_id.as_str()),
        error.map(|_| error_id.as_str()),
    ]
    .into_iter()
    .flatten()
    .collect();
    let (input_type, autocomplete) = match kind {
        Input::Text => ("text", "off"),
        Input::Email => ("email", "off"),
        Input::Secret => ("password", "new-password"),
        Input::Url => ("url", "off"),
        Input::Date => ("date", "off"),
    };
    html! {
        div.field.invalid[error.is_some()] {
            label for=(id) { (tr.t(label_key)) }
            input id=(id) name=(name) type=(input_type) value=(value) autocomplete=(autocomplete)
                aria-invalid=[error.map(|_| "true")]
                aria-describedby=[(!described.is_empty()).then(|| described.join(" "))];
            @if let Some(hint) = &hint { p.hint id=(hint_id) { (hint) } }
            @if let Some(error) = error { p.field-error id=(error_id) role="alert" { (error) } }
        }
    }
}

/// A block of text with inline HTML from a trusted catalog message (only `<b>`/`<code>`).
pub fn trusted(text: String) -> PreEscaped<String> {
    PreEscaped(text)
}

#[cfg(test)]
mod tests {
    use super::redirect_target;

    #[test]
    fn a_request_belongs_to_the_page_its_form_is_on() {
        use super::page_of;
        assert_eq!(page_of("/admin/company"), "/admin/company");
        assert_eq!(page_of("/admin/crm/test"), "/admin/crm");
        assert_eq!(page_of("/admin/webhook/manual-token"), "/admin/webhook");
        assert_eq!(page_of("/admin/employees/new"), "/admin/employees/new");
        assert_eq!(page_of("/admin/employees/abc/active"), "/admin/employees");
        assert_eq!(page_of("/admin/employees"), "/admin/employees");
    }

    #[test]
    fn only_same_site_admin_paths_are_redirect_targets() {
        for good in ["/admin/crm", "/admin/employees?q=a%20b", "/admin"] {
            assert_eq!(redirect_target(Some(good)).as_deref(), Some(good));
        }
        for bad in [
            "/admin/x\r\nSet-Cookie: a=b",
            "/admin%0d%0a",
            "//evil.example.com/admin",
            "/\\evil.example.com",
            "https://evil.example.com/admin",
            "/administrator",
            "/admin/\u{7f}",
            "/admin/ space",
            "",
        ] {
            let decoded = bad.replace("%0d%0a", "\r\n");
            assert_eq!(redirect_target(Some(&decoded)), None, "{bad:?}");
        }
        assert_eq!(redirect_target(None), None);
    }
}
