//! Settings pages: Company (IČO/DIČ validation), CRM connection (+ Test), Sync parameters and
//! Office 365 (+ Test via client credentials, manifest link, deployment steps).

use std::time::Duration;

use axum::{
    Form,
    extract::{Query, State},
    response::{IntoResponse, Redirect, Response},
};
use maud::{Markup, html};
use secrecy::SecretString;
use serde::Deserialize;

use super::{AdminPage, Ctx, FieldErrors, Flash, Input, field, flash};
use crate::{
    addin::manifest,
    admin::{
        company::{self, CompanyInput},
        crm_connection::{self, CrmConnectionInput, TypedConnection},
        office365::Office365Input,
        sync::{self, SyncInput},
    },
    crm::ConnectionReport,
    error::AppError,
    i18n::Tr,
    identity::office365::{Office365Settings, app_id_uri},
    secrets::mask,
    settings::{
        CompanySettings, CrmConnectionSettings, ParticipantSyncMode, Setting, SyncSettings,
    },
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

// ----- Sync parameters -----

fn sync_body(ctx: &Ctx, mode: ParticipantSyncMode, top: Markup) -> Markup {
    let tr = &ctx.tr;
    let options = [
        (
            ParticipantSyncMode::None,
            "none",
            tkey!("sync-mode-none"),
            tkey!("sync-mode-none-help"),
        ),
        (
            ParticipantSyncMode::MeetingsOnly,
            "meetings_only",
            tkey!("sync-mode-meetings"),
            tkey!("sync-mode-meetings-help"),
        ),
        (
            ParticipantSyncMode::AllActivities,
            "all_activities",
            tkey!("sync-mode-all"),
            tkey!("sync-mode-all-help"),
        ),
    ];
    html! {
        (top)
        form.card method="post" action="/admin/sync" {
            (ctx.csrf())
            fieldset {
                legend { (tr.t("sync-mode-legend")) }
                @for (value, name, label, help) in options {
                    div.radio {
                        input type="radio" id=(format!("mode-{name}")) name="participant_mode" value=(name)
                            checked[value == mode] aria-describedby=(format!("mode-{name}-help"));
                        label for=(format!("mode-{name}")) { (tr.t(label)) }
                        p.hint id=(format!("mode-{name}-help")) { (tr.t(help)) }
                    }
                }
            }
            button.primary type="submit" { (tr.t("save-settings")) }
        }
    }
}

/// `GET /admin/sync`.
pub async fn sync_page(
    State(state): State<AppState>,
    AdminPage { ctx, .. }: AdminPage,
    query: Query<Flash>,
) -> Response {
    match SyncSettings::load(state.store.as_ref()).await {
        Ok(s) => ctx.ok(
            tkey!("sync-title"),
            "/admin/sync",
            sync_body(&ctx, s.participant_mode, flash(&ctx.tr, &query)),
        ),
        Err(e) => internal(&ctx, tkey!("sync-title"), "/admin/sync", e),
    }
}

/// The sync form (the JSON body's field plus the CSRF token).
#[derive(Debug, Deserialize)]
pub struct SyncForm {
    participant_mode: String,
}

/// `POST /admin/sync`.
pub async fn sync_save(
    State(state): State<AppState>,
    AdminPage { ctx, session }: AdminPage,
    Form(form): Form<SyncForm>,
) -> Response {
    let form = SyncInput {
        participant_mode: form.participant_mode,
    };
    if let Err(problems) = sync::parse(&form) {
        let texts = problems.texts(&ctx.tr);
        let top = html! { @for text in texts.values() { p.notice.error role="alert" { (text) } } };
        return ctx.rejected_form(
            tkey!("sync-title"),
            "/admin/sync",
            sync_body(&ctx, ParticipantSyncMode::default(), top),
        );
    }
    match sync::save(&state, &session, &form).await {
        Ok(_) => Redirect::to("/admin/sync?ok=saved").into_response(),
        Err(e) => internal(&ctx, tkey!("sync-title"), "/admin/sync", e),
    }
}

// ----- Office 365 -----

/// The Office 365 form.
#[derive(Debug, Default, Deserialize)]
pub struct Office365Form {
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    tenant_id: String,
    #[serde(default)]
    client_secret: String,
}

fn office365_body(
    ctx: &Ctx,
    state: &AppState,
    form: &Office365Form,
    masked: Option<String>,
    errors: &FieldErrors,
    top: Markup,
) -> Markup {
    let tr = &ctx.tr;
    let base = state.config.server.public_base(state.config.tls.enabled());
    let secret_hint = match &masked {
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
            div.actions {
                button.primary type="submit" { (tr.t("save-settings")) }
                button type="submit" formaction="/admin/office365/test" { (tr.t("o365-test")) }
            }
        }
        (entra_values(tr, &base, &form.client_id))
        section.card {
            h2 { (tr.t("o365-deploy-heading")) }
            @if manifest::refusal(&base).is_some() {
                p.notice.error role="alert" { (tr.ta("o365-manifest-needs-https", &[("url", base.as_str().into())])) }
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

async fn stored_o365(state: &AppState) -> Result<(Office365Settings, Option<String>), AppError> {
    let saved = Office365Settings::load(state).await?;
    let masked = saved.client_secret(&state.master_key)?.as_ref().map(mask);
    Ok((saved, masked))
}

/// `GET /admin/office365`.
pub async fn office365_page(
    State(state): State<AppState>,
    AdminPage { ctx, .. }: AdminPage,
    query: Query<Flash>,
) -> Response {
    let (saved, masked) = match stored_o365(&state).await {
        Ok(v) => v,
        Err(e) => return internal(&ctx, tkey!("o365-title"), "/admin/office365", e),
    };
    let form = Office365Form {
        client_id: saved.client_id,
        tenant_id: saved.tenant_id,
        client_secret: String::new(),
    };
    let body = office365_body(
        &ctx,
        &state,
        &form,
        masked,
        &FieldErrors::new(),
        flash(&ctx.tr, &query),
    );
    ctx.ok(tkey!("o365-title"), "/admin/office365", body)
}

fn validate_o365(tr: &Tr, form: &mut Office365Form) -> FieldErrors {
    form.client_id = form.client_id.trim().to_lowercase();
    form.tenant_id = form.tenant_id.trim().to_lowercase();
    form.client_secret = form.client_secret.trim().to_owned();
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
        let masked = stored_o365(&state).await.ok().and_then(|(_, m)| m);
        let top = ctx.form_has_errors();
        return ctx.rejected_form(
            tkey!("o365-title"),
            "/admin/office365",
            office365_body(&ctx, &state, &form, masked, &errors, top),
        );
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

/// The credentials a test uses: what was typed, else what is stored.
struct TestCredentials {
    client_id: String,
    tenant_id: String,
    secret: Option<SecretString>,
}

/// Asks the configured authority for a client-credentials token; the outcome in words.
async fn client_credentials_test(
    state: &AppState,
    tr: &Tr,
    credentials: &TestCredentials,
) -> Result<String, String> {
    let Some(secret) = &credentials.secret else {
        return Err(tr.t("error-internal"));
    };
    let authority = state.config.entra.authority.trim_end_matches('/');
    let url = format!("{authority}/{}/oauth2/v2.0/token", credentials.tenant_id);
    let base = state.config.server.public_base(state.config.tls.enabled());
    let scope = format!("{}/.default", app_id_uri(&base, &credentials.client_id));
    let client =
        crate::http_client::build(Duration::from_secs(15)).map_err(|_| tr.t("error-internal"))?;
    use secrecy::ExposeSecret;
    let form_body = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "client_credentials")
        .append_pair("client_id", &credentials.client_id)
        .append_pair("client_secret", secret.expose_secret())
        .append_pair("scope", &scope)
        .finish();
    let response = client
        .post(&url)
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body(form_body)
        .send()
        .await
        .map_err(|e| {
            tr.ta(
                "o365-test-unreachable",
                &[
                    ("authority", authority.into()),
                    ("detail", e.without_url().to_string().into()),
                ],
            )
        })?;
    let status = response.status();
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    if status.is_success() && body["access_token"].is_string() {
        let minutes = body["expires_in"].as_i64().unwrap_or(0) / 60;
        Ok(tr.ta("o365-test-ok", &[("minutes", minutes.into())]))
    } else {
        let code = body["error"].as_str().unwrap_or("").to_owned();
        let description = body["error_description"]
            .as_str()
            .unwrap_or("")
            .chars()
            .take(300)
            .collect::<String>();
        let key = match code.as_str() {
            "invalid_client" => tkey!("o365-test-bad-secret"),
            "invalid_request" | "invalid_tenant" => tkey!("o365-test-bad-tenant"),
            _ => tkey!("o365-test-refused"),
        };
        Err(tr.ta(
            key,
            &[
                ("detail", description.into()),
                ("status", i64::from(status.as_u16()).into()),
            ],
        ))
    }
}

/// `POST /admin/office365/test`: tests the typed values (an empty field falls back to the stored
/// value), saying what is missing before asking Microsoft.
pub async fn office365_test(
    State(state): State<AppState>,
    AdminPage { ctx, .. }: AdminPage,
    Form(mut form): Form<Office365Form>,
) -> Response {
    let (saved, masked) = match stored_o365(&state).await {
        Ok(v) => v,
        Err(e) => return internal(&ctx, tkey!("o365-title"), "/admin/office365", e),
    };
    let tr = &ctx.tr;
    let mut errors = validate_o365(tr, &mut form);
    for (name, stored) in [
        ("client_id", &saved.client_id),
        ("tenant_id", &saved.tenant_id),
    ] {
        // A stored value stands in for an empty field; a malformed typed value does not.
        if !stored.is_empty() && errors.get(name) == Some(&tr.t("error-required")) {
            errors.remove(name);
        }
    }
    let secret = if form.client_secret.is_empty() {
        match saved.client_secret(&state.master_key) {
            Ok(stored) => stored,
            Err(e) => return internal(&ctx, tkey!("o365-title"), "/admin/office365", e),
        }
    } else {
        Some(SecretString::from(form.client_secret.clone()))
    };
    if secret.is_none() {
        errors.insert("client_secret".into(), tr.t("o365-test-no-secret"));
    }
    let top = o365_test_outcome(&state, tr, &form, &saved, secret, &errors).await;
    ctx.ok(
        tkey!("o365-title"),
        "/admin/office365",
        office365_body(&ctx, &state, &form, masked, &errors, top),
    )
}

/// The test's outcome as a notice: the token request's result, or which fields are missing.
async fn o365_test_outcome(
    state: &AppState,
    tr: &Tr,
    form: &Office365Form,
    saved: &Office365Settings,
    secret: Option<SecretString>,
    errors: &FieldErrors,
) -> Markup {
    let typed_or = |typed: &str, stored: &str| match typed {
        "" => stored.to_owned(),
        typed => typed.to_owned(),
    };
    if errors.is_empty() {
        let credentials = TestCredentials {
            client_id: typed_or(&form.client_id, &saved.client_id),
            tenant_id: typed_or(&form.tenant_id, &saved.tenant_id),
            secret,
        };
        return match client_credentials_test(state, tr, &credentials).await {
            Ok(text) => {
                html! { div.notice.ok role="status" { strong { (tr.t("o365-test-success")) } p { (text) } } }
            }
            Err(text) => {
                html! { div.notice.error role="alert" { strong { (tr.t("o365-test-failed")) } p { (text) } } }
            }
        };
    }
    let missing: Vec<String> = errors
        .keys()
        .map(|name| match name.as_str() {
            "client_id" => tr.t("o365-client-id"),
            "tenant_id" => tr.t("o365-tenant-id"),
            _ => tr.t("o365-client-secret"),
        })
        .collect();
    html! {
        div.notice.error role="alert" {
            strong { (tr.t("o365-test-not-run")) }
            p { (tr.ta("o365-test-missing", &[("fields", missing.join(", ").into())])) }
        }
    }
}
