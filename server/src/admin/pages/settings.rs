//! Settings pages: Company (IČO/DIČ validation), CRM connection (+ Test) and Office 365 (+ Test
//! of the Graph app-only token and a mailbox's calendar, manifest link, deployment steps). The
//! Synchronisation page is `sync`.

use axum::{
    Form,
    extract::{Query, State},
    response::{IntoResponse, Redirect, Response},
};
use maud::{Markup, html};
use serde::Deserialize;

use super::{AdminPage, Ctx, FieldErrors, Flash, Input, field, flash};
use crate::{
    addin::manifest,
    admin::{
        company::{self, CompanyInput},
        crm_connection::{self, CrmConnectionInput, TypedConnection},
        office365::Office365Input,
    },
    calendar::service::{self, AppTest},
    crm::ConnectionReport,
    email::EmailAddress,
    error::AppError,
    graph::GraphError,
    i18n::{Arg, Tr},
    identity::office365::{Office365Settings, app_id_uri},
    secrets::mask,
    settings::{CompanySettings, CrmConnectionSettings, Setting},
    state::AppState,
};

fn internal(ctx: &Ctx, title: &str, active: &str, err: impl Into<AppError>) -> Response {
    let err = err.into();
    ctx.page(err.status(), title, active, ctx.error_notice(&err))
}

// ----- Company -----

fn company_body(ctx: &Ctx, form: &CompanyInput, errors: &FieldErrors, top: Markup) -> Markup {
    let tr = &ctx.tr;
    html! {
        (top)
        form.card method="post" action="/admin/company" novalidate {
            (ctx.csrf())
            (field(tr, "name", tkey!("company-name"), &form.name, Input::Text, None, errors))
            (field(tr, "ico", tkey!("company-ico"), &form.ico, Input::Text, Some(tr.t("company-ico-hint")), errors))
            (field(tr, "dic", tkey!("company-dic"), &form.dic, Input::Text, Some(tr.t("company-dic-hint")), errors))
            button.primary type="submit" { (tr.t("save-settings")) }
        }
    }
}

/// `GET /admin/company`.
pub async fn company_page(
    State(state): State<AppState>,
    AdminPage { ctx, .. }: AdminPage,
    query: Query<Flash>,
) -> Response {
    let saved = match CompanySettings::load(state.store.as_ref()).await {
        Ok(s) => s,
        Err(e) => return internal(&ctx, tkey!("company-title"), "/admin/company", e),
    };
    let form = CompanyInput {
        name: saved.name,
        ico: saved.ico,
        dic: saved.dic,
    };
    let body = company_body(&ctx, &form, &FieldErrors::new(), flash(&ctx.tr, &query));
    ctx.ok(tkey!("company-title"), "/admin/company", body)
}

/// The company form (the JSON body's fields plus the CSRF token).
#[derive(Debug, Default, Deserialize)]
pub struct CompanyForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    ico: String,
    #[serde(default)]
    dic: String,
}

/// `POST /admin/company`: validates and saves; errors next to the fields.
pub async fn company_save(
    State(state): State<AppState>,
    AdminPage { ctx, session }: AdminPage,
    Form(form): Form<CompanyForm>,
) -> Response {
    let form = CompanyInput {
        name: form.name,
        ico: form.ico,
        dic: form.dic,
    };
    let settings = form.normalized();
    let problems = company::validate(&settings);
    if !problems.is_empty() {
        let top = ctx.form_has_errors();
        let shown = CompanyInput {
            name: settings.name,
            ico: settings.ico,
            dic: settings.dic,
        };
        return ctx.rejected_form(
            tkey!("company-title"),
            "/admin/company",
            company_body(&ctx, &shown, &problems.texts(&ctx.tr), top),
        );
    }
    match company::save(&state, &session, &settings).await {
        Ok(()) => Redirect::to("/admin/company?ok=saved").into_response(),
        Err(e) => internal(&ctx, tkey!("company-title"), "/admin/company", e),
    }
}

// ----- CRM connection -----

/// The CRM connection form (shared by Save and Test).
#[derive(Debug, Default, Deserialize)]
pub struct CrmForm {
    #[serde(default)]
    base_url: String,
    #[serde(default)]
    instance: String,
    #[serde(default)]
    user_email: String,
    #[serde(default)]
    api_key: String,
}

fn crm_body(
    ctx: &Ctx,
    form: &TypedConnection,
    masked: Option<String>,
    errors: &FieldErrors,
    top: Markup,
) -> Markup {
    let tr = &ctx.tr;
    let key_hint = match &masked {
        Some(m) => tr.ta("crm-api-key-stored", &[("masked", m.as_str().into())]),
        None => tr.t("crm-api-key-hint"),
    };
    html! {
        (top)
        form.card method="post" action="/admin/crm" novalidate {
            (ctx.csrf())
            div.field.invalid[errors.contains_key("base_url")] {
                label for="f-base_url" { (tr.t("crm-base-url")) }
                input id="f-base_url" name="base_url" type="url" list="crm-hosts" value=(form.base_url)
                    aria-describedby="f-base_url-hint" aria-invalid=[errors.get("base_url").map(|_| "true")];
                datalist id="crm-hosts" { @for h in crate::crm::known_base_urls() { option value=(h) {} } }
                p.hint id="f-base_url-hint" { (tr.t("crm-base-url-hint")) }
                @if let Some(e) = errors.get("base_url") { p.field-error role="alert" { (e) } }
            }
            (field(tr, "instance", tkey!("crm-instance"), &form.instance, Input::Text, Some(tr.t("crm-instance-hint")), errors))
            (field(tr, "user_email", tkey!("crm-user-email"), &form.user_email, Input::Email, Some(tr.t("crm-user-email-hint")), errors))
            // What the admin typed stays in the re-rendered form of the same request.
            (field(tr, "api_key", tkey!("crm-api-key"), &form.api_key, Input::Secret, Some(key_hint), errors))
            div.actions {
                button.primary type="submit" { (tr.t("save-settings")) }
                button type="submit" formaction="/admin/crm/test" { (tr.t("crm-test")) }
            }
        }
    }
}

async fn stored_crm(state: &AppState) -> Result<(CrmConnectionSettings, Option<String>), AppError> {
    let saved = CrmConnectionSettings::load(state.store.as_ref()).await?;
    let masked = crm_connection::view(state, &saved)?.api_key_masked;
    Ok((saved, masked))
}

/// `GET /admin/crm`.
pub async fn crm_page(
    State(state): State<AppState>,
    AdminPage { ctx, .. }: AdminPage,
    query: Query<Flash>,
) -> Response {
    let (saved, masked) = match stored_crm(&state).await {
        Ok(v) => v,
        Err(e) => return internal(&ctx, tkey!("crm-title"), "/admin/crm", e),
    };
    let form = TypedConnection {
        base_url: if saved.base_url.is_empty() {
            crate::crm::DEFAULT_BASE_URL.to_owned()
        } else {
            saved.base_url
        },
        instance: saved.instance,
        user_email: saved.user_email,
        api_key: String::new(),
    };
    let body = crm_body(
        &ctx,
        &form,
        masked,
        &FieldErrors::new(),
        flash(&ctx.tr, &query),
    );
    ctx.ok(tkey!("crm-title"), "/admin/crm", body)
}

/// The typed form over the stored connection, or the page showing what is wrong with it.
async fn checked_crm_form(
    state: &AppState,
    ctx: &Ctx,
    form: CrmForm,
) -> Result<(TypedConnection, Option<String>), Response> {
    let (saved, masked) = stored_crm(state)
        .await
        .map_err(|e| internal(ctx, tkey!("crm-title"), "/admin/crm", e))?;
    let typed = TypedConnection::merge(
        CrmConnectionInput {
            base_url: Some(form.base_url),
            instance: Some(form.instance),
            user_email: Some(form.user_email),
            api_key: Some(form.api_key),
        },
        &saved,
    );
    let problems = crm_connection::validate(state, &typed, &saved);
    if problems.is_empty() {
        return Ok((typed, masked));
    }
    let top = ctx.form_has_errors();
    Err(ctx.rejected_form(
        tkey!("crm-title"),
        "/admin/crm",
        crm_body(ctx, &typed, masked, &problems.texts(&ctx.tr), top),
    ))
}

/// `POST /admin/crm`: saves the connection (an empty key keeps the stored one while the address
/// stays the same).
pub async fn crm_save(
    State(state): State<AppState>,
    AdminPage { ctx, session }: AdminPage,
    Form(form): Form<CrmForm>,
) -> Response {
    let (typed, _) = match checked_crm_form(&state, &ctx, form).await {
        Ok(v) => v,
        Err(page) => return page,
    };
    match crm_connection::save(&state, &session, &typed).await {
        Ok(_) => Redirect::to("/admin/crm?ok=saved").into_response(),
        Err(e) => internal(&ctx, tkey!("crm-title"), "/admin/crm", e),
    }
}

/// A connection report in words.
pub fn describe(tr: &Tr, report: &ConnectionReport) -> Markup {
    html! {
        @for line in crate::crm::describe_connection(report, tr) { p { (line) } }
    }
}

/// Why a connection test failed, in words: unknown instance, bad key and a blocked address are
/// told apart.
fn test_failure_text(ctx: &Ctx, err: &AppError) -> String {
    let key = match err {
        AppError::Coded { code, .. } => match *code {
            "crm_unknown_instance" => Some(tkey!("crm-test-unknown-instance")),
            "crm_bad_credentials" => Some(tkey!("crm-test-bad-key")),
            "crm_blocked" => Some(tkey!("crm-test-blocked")),
            _ => None,
        },
        _ => None,
    };
    match key {
        Some(key) => ctx.tr.t(key),
        None => ctx.error_text(err),
    }
}

/// `POST /admin/crm/test`: tests what is typed (the stored key when the field is empty and the
/// address is the one the key was saved with).
pub async fn crm_test(
    State(state): State<AppState>,
    AdminPage { ctx, .. }: AdminPage,
    Form(form): Form<CrmForm>,
) -> Response {
    let (typed, masked) = match checked_crm_form(&state, &ctx, form).await {
        Ok(v) => v,
        Err(page) => return page,
    };
    let top = match crm_connection::test_connection(&state, &typed).await {
        Ok(report) => html! {
            div.notice.ok role="status" { strong { (ctx.tr.t("crm-test-success")) } (describe(&ctx.tr, &report)) }
        },
        Err(e) => html! {
            div.notice.error role="alert" { strong { (ctx.tr.t("crm-test-failed")) } p { (test_failure_text(&ctx, &e.into())) } }
        },
    };
    ctx.ok(
        tkey!("crm-title"),
        "/admin/crm",
        crm_body(&ctx, &typed, masked, &FieldErrors::new(), top),
    )
}

// ----- Office 365 -----

/// The Office 365 form (Save and Test); `mailbox` is only for the Test.
#[derive(Debug, Default, Deserialize)]
pub struct Office365Form {
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    tenant_id: String,
    #[serde(default)]
    client_secret: String,
    #[serde(default)]
    mailbox: String,
}

/// What the Office 365 page shows besides the form: the saved settings, the stored secret
/// masked, and the employees' mailboxes to test against.
struct StoredO365 {
    saved: Office365Settings,
    masked: Option<String>,
    mailboxes: Vec<String>,
}

fn office365_body(
    ctx: &Ctx,
    state: &AppState,
    form: &Office365Form,
    stored: &StoredO365,
    errors: &FieldErrors,
    top: Markup,
) -> Markup {
    let tr = &ctx.tr;
    let base = state.config.server.public_base(state.config.tls.enabled());
    let secret_hint = match &stored.masked {
        Some(m) => tr.ta("o365-secret-stored", &[("masked", m.as_str().into())]),
        None => tr.t("o365-secret-hint"),
    };
    html! {
        (top)
        form.card method="post" action="/admin/office365" novalidate {
            (ctx.csrf())
            (field(tr, "client_id", tkey!("o365-client-id"), &form.client_id, Input::Text, Some(tr.t("o365-guid-hint")), errors))
            (field(tr, "tenant_id", tkey!("o365-tenant-id"), &form.tenant_id, Input::Text, Some(tr.t("o365-guid-hint")), errors))
            (field(tr, "client_secret", tkey!("o365-client-secret"), "", Input::Secret, Some(secret_hint), errors))
            (mailbox_field(tr, form, &stored.mailboxes, errors))
            div.actions {
                button.primary type="submit" { (tr.t("save-settings")) }
                button #o365-test type="submit" formaction="/admin/office365/test" { (tr.t("o365-test")) }
            }
        }
        (entra_values(tr, &base, &form.client_id))
        (deploy_steps(tr, &base))
    }
}

/// The mailbox the Test reads: typed, or picked from the employees' mailboxes.
fn mailbox_field(
    tr: &Tr,
    form: &Office365Form,
    mailboxes: &[String],
    errors: &FieldErrors,
) -> Markup {
    html! {
        div.field.invalid[errors.contains_key("mailbox")] {
            label for="f-mailbox" { (tr.t("o365-test-mailbox")) }
            input id="f-mailbox" name="mailbox" type="email" list="o365-mailboxes" value=(form.mailbox)
                autocomplete="off" aria-describedby="f-mailbox-hint"
                aria-invalid=[errors.get("mailbox").map(|_| "true")];
            datalist id="o365-mailboxes" { @for m in mailboxes { option value=(m) {} } }
            p.hint id="f-mailbox-hint" { (tr.t("o365-test-mailbox-hint")) }
            @if let Some(e) = errors.get("mailbox") { p.field-error id="f-mailbox-error" role="alert" { (e) } }
        }
    }
}

fn deploy_steps(tr: &Tr, base: &str) -> Markup {
    html! {
        section.card {
            h2 { (tr.t("o365-deploy-heading")) }
            @if manifest::refusal(base).is_some() {
                p.notice.error role="alert" { (tr.ta("o365-manifest-needs-https", &[("url", base.into())])) }
            } @else {
                p { a href="/manifest.xml" download="manifest.xml" { (tr.t("o365-manifest-download")) } }
                p.hint { (tr.ta("o365-manifest-url", &[("url", format!("{base}/manifest.xml").into())])) }
            }
            ol {
                li { (tr.t("o365-deploy-step1")) }
                li { (tr.t("o365-deploy-step2")) }
                li { (tr.t("o365-deploy-step3")) }
                li { (tr.t("o365-deploy-step4")) }
            }
        }
    }
}

/// The values to paste into the Entra app registration, derived exactly as the server uses them.
fn entra_values(tr: &Tr, base: &str, client_id: &str) -> Markup {
    let client_id = match client_id.trim() {
        "" => "<client id>",
        id => id,
    };
    let uri = app_id_uri(base, client_id);
    let host = uri
        .trim_start_matches("api://")
        .rsplit_once('/')
        .map_or("", |(host, _)| host);
    let rows = [
        (tkey!("o365-entra-app-id-uri"), uri.clone()),
        (tkey!("o365-entra-scope"), format!("{uri}/access_as_user")),
        (
            tkey!("o365-entra-redirect"),
            format!("brk-multihub://{host}"),
        ),
    ];
    html! {
        section.card {
            h2 { (tr.t("o365-entra-heading")) }
            p { (tr.t("o365-entra-intro")) }
            dl.facts {
                @for (key, value) in rows {
                    dt { (tr.t(key)) }
                    dd { code { (value) } }
                }
            }
        }
    }
}

async fn stored_o365(state: &AppState) -> Result<StoredO365, AppError> {
    let saved = Office365Settings::load(state).await?;
    let masked = saved.client_secret(&state.master_key)?.as_ref().map(mask);
    let mut mailboxes: Vec<String> = state
        .store
        .list_employees()
        .await?
        .into_iter()
        .filter(|e| e.active && !e.o365_email.is_empty())
        .map(|e| e.o365_email)
        .collect();
    mailboxes.sort();
    mailboxes.dedup();
    Ok(StoredO365 {
        saved,
        masked,
        mailboxes,
    })
}

/// `GET /admin/office365`.
pub async fn office365_page(
    State(state): State<AppState>,
    AdminPage { ctx, .. }: AdminPage,
    query: Query<Flash>,
) -> Response {
    let stored = match stored_o365(&state).await {
        Ok(v) => v,
        Err(e) => return internal(&ctx, tkey!("o365-title"), "/admin/office365", e),
    };
    let form = Office365Form {
        client_id: stored.saved.client_id.clone(),
        tenant_id: stored.saved.tenant_id.clone(),
        ..Office365Form::default()
    };
    let top = flash(&ctx.tr, &query);
    let body = office365_body(&ctx, &state, &form, &stored, &FieldErrors::new(), top);
    ctx.ok(tkey!("o365-title"), "/admin/office365", body)
}

fn validate_o365(tr: &Tr, form: &mut Office365Form) -> FieldErrors {
    form.client_id = form.client_id.trim().to_lowercase();
    form.tenant_id = form.tenant_id.trim().to_lowercase();
    form.client_secret = form.client_secret.trim().to_owned();
    form.mailbox = form.mailbox.trim().to_lowercase();
    let mut errors = FieldErrors::new();
    for (name, value) in [
        ("client_id", &form.client_id),
        ("tenant_id", &form.tenant_id),
    ] {
        if value.is_empty() {
            errors.insert(name.into(), tr.t("error-required"));
        } else if uuid::Uuid::try_parse(value).is_err() {
            errors.insert(name.into(), tr.t("error-guid"));
        }
    }
    if form.client_secret.len() > 500 {
        errors.insert("client_secret".into(), tr.t("error-too-long"));
    }
    errors
}

/// `POST /admin/office365`: saves through the Office 365 API (an empty secret keeps the stored one).
pub async fn office365_save(
    State(state): State<AppState>,
    AdminPage { ctx, session }: AdminPage,
    Form(mut form): Form<Office365Form>,
) -> Response {
    let errors = validate_o365(&ctx.tr, &mut form);
    if !errors.is_empty() {
        return match stored_o365(&state).await {
            Ok(stored) => ctx.rejected_form(
                tkey!("o365-title"),
                "/admin/office365",
                office365_body(&ctx, &state, &form, &stored, &errors, ctx.form_has_errors()),
            ),
            Err(e) => internal(&ctx, tkey!("o365-title"), "/admin/office365", e),
        };
    }
    let input = Office365Input {
        client_id: Some(form.client_id.clone()),
        tenant_id: Some(form.tenant_id.clone()),
        client_secret: (!form.client_secret.is_empty()).then(|| form.client_secret.clone()),
        ..Office365Input::default()
    };
    match crate::admin::office365::apply(&state, &session, input).await {
        Ok(_) => Redirect::to("/admin/office365?ok=saved").into_response(),
        Err(e) => internal(&ctx, tkey!("o365-title"), "/admin/office365", e),
    }
}

/// The app to test: the typed values over the saved ones (an empty field uses the saved value;
/// a malformed typed value does not), and the problems that keep the test from running.
fn app_under_test(
    state: &AppState,
    tr: &Tr,
    form: &mut Office365Form,
    saved: &Office365Settings,
) -> (Office365Settings, FieldErrors) {
    let mut errors = validate_o365(tr, form);
    let mut app = saved.clone();
    for (name, typed, stored) in [
        ("client_id", &form.client_id, &mut app.client_id),
        ("tenant_id", &form.tenant_id, &mut app.tenant_id),
    ] {
        if typed.is_empty() && !stored.is_empty() {
            errors.remove(name);
        } else {
            typed.clone_into(stored);
        }
    }
    if !form.client_secret.is_empty() {
        app.set_client_secret(&state.master_key, Some(&form.client_secret));
    } else if app.client_secret_enc.is_none() {
        errors.insert("client_secret".into(), tr.t("o365-test-no-secret"));
    }
    if !form.mailbox.is_empty() && EmailAddress::parse(&form.mailbox).is_err() {
        errors.insert("mailbox".into(), tr.t("error-email"));
    }
    (app, errors)
}

/// `POST /admin/office365/test`: obtains a Graph app-only token with the typed values (an empty
/// field falls back to the stored value) and reads the chosen mailbox's calendar, saying what is
/// missing before asking Microsoft.
pub async fn office365_test(
    State(state): State<AppState>,
    AdminPage { ctx, .. }: AdminPage,
    Form(mut form): Form<Office365Form>,
) -> Response {
    let stored = match stored_o365(&state).await {
        Ok(v) => v,
        Err(e) => return internal(&ctx, tkey!("o365-title"), "/admin/office365", e),
    };
    let tr = &ctx.tr;
    let (app, errors) = app_under_test(&state, tr, &mut form, &stored.saved);
    let top = if errors.is_empty() {
        let mailbox = (!form.mailbox.is_empty()).then_some(form.mailbox.as_str());
        let outcome = service::test_app(&state.calendar_ctx(), &app, mailbox).await;
        o365_test_outcome(tr, &outcome)
    } else {
        o365_test_not_run(tr, &errors)
    };
    ctx.ok(
        tkey!("o365-title"),
        "/admin/office365",
        office365_body(&ctx, &state, &form, &stored, &errors, top),
    )
}

/// The test's outcome as a notice that tells a wrong secret or tenant, missing consent, an
/// unknown mailbox, an unreachable Microsoft and success apart.
fn o365_test_outcome(tr: &Tr, outcome: &AppTest) -> Markup {
    let (ok, heading, text) = match outcome {
        AppTest::Passed { mailbox: Some(m) } => (
            true,
            tkey!("o365-test-success"),
            tr.ta("o365-test-calendar-ok", &[("mailbox", m.as_str().into())]),
        ),
        AppTest::Passed { mailbox: None } => {
            (true, tkey!("o365-test-success"), tr.t("o365-test-token-ok"))
        }
        AppTest::Incomplete(reason) => (false, tkey!("o365-test-not-run"), reason.clone()),
        AppTest::Failed(e) => {
            let (heading, text) = graph_failure(tr, e);
            (false, heading, text)
        }
    };
    let (class, role) = if ok {
        ("notice ok", "status")
    } else {
        ("notice error", "alert")
    };
    html! {
        div class=(class) role=(role) #o365-test-outcome data-outcome=(outcome.code()) {
            strong { (tr.t(heading)) } p { (text) }
        }
    }
}

/// A Graph failure in words: the heading's key and the explanation.
fn graph_failure(tr: &Tr, e: &GraphError) -> (&'static str, String) {
    let detail = |d: &str| -> [(&str, Arg); 1] {
        [("detail", d.chars().take(300).collect::<String>().into())]
    };
    let failed = tkey!("o365-test-failed");
    match e {
        GraphError::BadCredentials(d) => (failed, tr.ta("o365-test-bad-secret", &detail(d))),
        GraphError::BadTenant(d) => (failed, tr.ta("o365-test-bad-tenant", &detail(d))),
        GraphError::NoConsent(d) => (
            tkey!("o365-test-no-consent-heading"),
            tr.ta("o365-test-no-consent", &detail(d)),
        ),
        GraphError::MailboxNotFound(m) => (
            tkey!("o365-test-mailbox-heading"),
            tr.ta(
                "o365-test-mailbox-not-found",
                &[("mailbox", m.as_str().into())],
            ),
        ),
        GraphError::Throttled(_) | GraphError::Unavailable(_) => (
            failed,
            tr.ta("o365-test-unavailable", &detail(&e.to_string())),
        ),
        GraphError::Gone | GraphError::ResyncRequired | GraphError::Rejected { .. } => {
            (failed, tr.ta("o365-test-refused", &detail(&e.to_string())))
        }
    }
}

/// Why the test did not run: the fields to fill in first.
fn o365_test_not_run(tr: &Tr, errors: &FieldErrors) -> Markup {
    let missing: Vec<String> = errors
        .keys()
        .map(|name| match name.as_str() {
            "client_id" => tr.t("o365-client-id"),
            "tenant_id" => tr.t("o365-tenant-id"),
            "mailbox" => tr.t("o365-test-mailbox"),
            _ => tr.t("o365-client-secret"),
        })
        .collect();
    html! {
        div.notice.error role="alert" #o365-test-outcome data-outcome="not_run" {
            strong { (tr.t("o365-test-not-run")) }
            p { (tr.ta("o365-test-missing", &[("fields", missing.join(", ").into())])) }
        }
    }
}
