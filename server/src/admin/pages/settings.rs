//! Settings pages: Company (IČO/DIČ validation), CRM connection (+ Test), Sync parameters and
//! Office 365 (+ Test via client credentials, manifest link, deployment steps).

use std::time::Duration;

use axum::{
    Form,
    extract::{Query, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use maud::{Markup, html};
use secrecy::SecretString;
use serde::Deserialize;

use super::{Ctx, FieldErrors, Flash, Input, field, flash};
use crate::{
    addin::manifest,
    admin::{audit, office365::Office365Input},
    crm::{ConnectionReport, RaynetConnection, crm_error},
    error::{AppError, AppJson},
    i18n::Tr,
    identity::{
        office365::{Office365Settings, app_id_uri},
        session::RequireAdmin,
    },
    secrets::mask,
    settings::{
        CompanySettings, CrmConnectionSettings, ParticipantSyncMode, Setting, SyncSettings,
    },
    state::AppState,
};

macro_rules! admin_or_return {
    ($ctx:expr, $here:expr) => {
        match $ctx.admin($here) {
            Ok(s) => s,
            Err(r) => return *r,
        }
    };
}
pub(super) use admin_or_return;

/// Whether `ico` is 8 digits whose last digit is the modulo-11 check digit.
pub fn ico_is_valid(ico: &str) -> bool {
    let digits: Vec<u32> = ico.chars().filter_map(|c| c.to_digit(10)).collect();
    if digits.len() != 8 || ico.chars().count() != 8 {
        return false;
    }
    let sum: u32 = digits[..7]
        .iter()
        .zip((2..=8).rev())
        .map(|(d, w)| d * w)
        .sum();
    let check = (11 - sum % 11) % 10;
    digits[7] == check
}

/// Whether `dic` is `CZ` followed by 8 to 10 digits.
pub fn dic_is_valid(dic: &str) -> bool {
    dic.strip_prefix("CZ").is_some_and(|rest| {
        (8..=10).contains(&rest.len()) && rest.chars().all(|c| c.is_ascii_digit())
    })
}

fn internal(ctx: &Ctx, title: &str, active: &str, err: &AppError) -> Response {
    ctx.page(err.status(), title, active, ctx.error_notice(err))
}

// ----- Company -----

/// The company form.
#[derive(Debug, Default, Deserialize)]
pub struct CompanyForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    ico: String,
    #[serde(default)]
    dic: String,
}

fn company_body(ctx: &Ctx, form: &CompanyForm, errors: &FieldErrors, top: Markup) -> Markup {
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
    ctx: Ctx,
    query: Query<Flash>,
) -> Response {
    admin_or_return!(ctx, "/admin/company");
    let saved = match CompanySettings::load(state.store.as_ref()).await {
        Ok(s) => s,
        Err(e) => return internal(&ctx, tkey!("company-title"), "/admin/company", &e),
    };
    let form = CompanyForm {
        name: saved.name,
        ico: saved.ico,
        dic: saved.dic,
    };
    let body = company_body(&ctx, &form, &FieldErrors::new(), flash(&ctx.tr, &query));
    ctx.ok(tkey!("company-title"), "/admin/company", body)
}

/// `POST /admin/company`: validates and saves; errors next to the fields.
pub async fn company_save(
    State(state): State<AppState>,
    ctx: Ctx,
    Form(mut form): Form<CompanyForm>,
) -> Response {
    let session = admin_or_return!(ctx, "/admin/company");
    let tr = &ctx.tr;
    form.name = form.name.trim().to_owned();
    form.ico = form.ico.trim().to_owned();
    form.dic = form.dic.trim().to_uppercase().replace(' ', "");
    let mut errors = FieldErrors::new();
    if form.name.is_empty() {
        errors.insert("name".into(), tr.t("error-required"));
    } else if form.name.chars().count() > 200 {
        errors.insert("name".into(), tr.t("error-too-long"));
    }
    let ico_compact = form.ico.replace(' ', "");
    if !ico_compact.is_empty() && !ico_is_valid(&ico_compact) {
        let key = if ico_compact.len() == 8 && ico_compact.chars().all(|c| c.is_ascii_digit()) {
            tkey!("company-ico-checksum")
        } else {
            tkey!("company-ico-format")
        };
        errors.insert("ico".into(), tr.t(key));
    }
    if !form.dic.is_empty() && !dic_is_valid(&form.dic) {
        errors.insert("dic".into(), tr.t("company-dic-format"));
    }
    if !errors.is_empty() {
        let top = html! { p.notice.error role="alert" { (tr.t("form-has-errors")) } };
        return ctx.page(
            StatusCode::UNPROCESSABLE_ENTITY,
            tkey!("company-title"),
            "/admin/company",
            company_body(&ctx, &form, &errors, top),
        );
    }
    let settings = CompanySettings {
        name: form.name,
        ico: ico_compact,
        dic: form.dic,
    };
    let saved = async {
        settings.save(state.store.as_ref()).await?;
        audit(&state, &session, "company.update", "settings:company", "").await
    };
    match saved.await {
        Ok(()) => Redirect::to("/admin/company?ok=saved").into_response(),
        Err(e) => internal(&ctx, tkey!("company-title"), "/admin/company", &e),
    }
}

// ----- CRM connection -----

/// Known Raynet API hosts offered in the base URL list.
pub const KNOWN_CRM_HOSTS: [&str; 2] = [
    "https://app.raynet.cz/api/v2/",
    "https://eu.raynetcrm.com/api/v2/",
];

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
    form: &CrmForm,
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
                datalist id="crm-hosts" { @for h in KNOWN_CRM_HOSTS { option value=(h) {} } }
                p.hint id="f-base_url-hint" { (tr.t("crm-base-url-hint")) }
                @if let Some(e) = errors.get("base_url") { p.field-error role="alert" { (e) } }
            }
            (field(tr, "instance", tkey!("crm-instance"), &form.instance, Input::Text, Some(tr.t("crm-instance-hint")), errors))
            (field(tr, "user_email", tkey!("crm-user-email"), &form.user_email, Input::Email, Some(tr.t("crm-user-email-hint")), errors))
            (field(tr, "api_key", tkey!("crm-api-key"), "", Input::Secret, Some(key_hint), errors))
            div.actions {
                button.primary type="submit" { (tr.t("save-settings")) }
                button type="submit" formaction="/admin/crm/test" { (tr.t("crm-test")) }
            }
        }
    }
}

async fn stored_crm(state: &AppState) -> Result<(CrmConnectionSettings, Option<String>), AppError> {
    let saved = CrmConnectionSettings::load(state.store.as_ref()).await?;
    let masked = saved.api_key(&state.master_key)?.as_ref().map(mask);
    Ok((saved, masked))
}

/// `GET /admin/crm`.
pub async fn crm_page(State(state): State<AppState>, ctx: Ctx, query: Query<Flash>) -> Response {
    admin_or_return!(ctx, "/admin/crm");
    let (saved, masked) = match stored_crm(&state).await {
        Ok(v) => v,
        Err(e) => return internal(&ctx, tkey!("crm-title"), "/admin/crm", &e),
    };
    let form = CrmForm {
        base_url: if saved.base_url.is_empty() {
            KNOWN_CRM_HOSTS[0].to_owned()
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

fn validate_crm(tr: &Tr, form: &mut CrmForm, has_stored_key: bool) -> FieldErrors {
    form.base_url = form.base_url.trim().to_owned();
    form.instance = form.instance.trim().to_owned();
    form.user_email = form.user_email.trim().to_lowercase();
    form.api_key = form.api_key.trim().to_owned();
    let mut errors = FieldErrors::new();
    match url::Url::parse(&form.base_url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && form.base_url.len() <= 300 => {}
        _ => {
            errors.insert("base_url".into(), tr.t("error-url"));
        }
    }
    if form.instance.is_empty() {
        errors.insert("instance".into(), tr.t("error-required"));
    } else if form.instance.len() > 100
        || !form
            .instance
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
    {
        errors.insert("instance".into(), tr.t("crm-instance-format"));
    }
    if !plausible_email(&form.user_email) {
        errors.insert("user_email".into(), tr.t("error-email"));
    }
    if form.api_key.is_empty() && !has_stored_key {
        errors.insert("api_key".into(), tr.t("error-required"));
    } else if form.api_key.len() > 500 || form.api_key.chars().any(char::is_control) {
        errors.insert("api_key".into(), tr.t("error-api-key"));
    }
    errors
}

/// A loose e-mail check (something@domain.tld, no spaces).
pub fn plausible_email(s: &str) -> bool {
    match s.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !s.contains(char::is_whitespace)
                && s.len() <= 254
        }
        None => false,
    }
}

/// `POST /admin/crm`: saves the connection (an empty key keeps the stored one).
pub async fn crm_save(
    State(state): State<AppState>,
    ctx: Ctx,
    Form(mut form): Form<CrmForm>,
) -> Response {
    let session = admin_or_return!(ctx, "/admin/crm");
    let (mut saved, masked) = match stored_crm(&state).await {
        Ok(v) => v,
        Err(e) => return internal(&ctx, tkey!("crm-title"), "/admin/crm", &e),
    };
    let errors = validate_crm(&ctx.tr, &mut form, saved.api_key_enc.is_some());
    if !errors.is_empty() {
        let top = html! { p.notice.error role="alert" { (ctx.tr.t("form-has-errors")) } };
        return ctx.page(
            StatusCode::UNPROCESSABLE_ENTITY,
            tkey!("crm-title"),
            "/admin/crm",
            crm_body(&ctx, &form, masked, &errors, top),
        );
    }
    saved.base_url = form.base_url;
    saved.instance = form.instance;
    saved.user_email = form.user_email;
    let mut fields = "base_url,instance,user_email".to_owned();
    if !form.api_key.is_empty() {
        saved.set_api_key(&state.master_key, &form.api_key);
        fields.push_str(",api_key");
    }
    let result = async {
        saved.save(state.store.as_ref()).await?;
        audit(
            &state,
            &session,
            "crm.update",
            "settings:crm_connection",
            format!("fields: {fields}"),
        )
        .await
    };
    match result.await {
        Ok(()) => Redirect::to("/admin/crm?ok=saved").into_response(),
        Err(e) => internal(&ctx, tkey!("crm-title"), "/admin/crm", &e),
    }
}

/// A connection report in words.
pub fn describe(tr: &Tr, report: &ConnectionReport) -> Markup {
    html! {
        @for line in crate::crm::describe_connection(report, tr) { p { (line) } }
    }
}

/// `POST /admin/crm/test`: tests what is typed (the stored key when the field is empty).
pub async fn crm_test(
    State(state): State<AppState>,
    ctx: Ctx,
    Form(mut form): Form<CrmForm>,
) -> Response {
    admin_or_return!(ctx, "/admin/crm");
    let (saved, masked) = match stored_crm(&state).await {
        Ok(v) => v,
        Err(e) => return internal(&ctx, tkey!("crm-title"), "/admin/crm", &e),
    };
    let errors = validate_crm(&ctx.tr, &mut form, saved.api_key_enc.is_some());
    if !errors.is_empty() {
        let top = html! { p.notice.error role="alert" { (ctx.tr.t("form-has-errors")) } };
        return ctx.page(
            StatusCode::UNPROCESSABLE_ENTITY,
            tkey!("crm-title"),
            "/admin/crm",
            crm_body(&ctx, &form, masked, &errors, top),
        );
    }
    let key = if form.api_key.is_empty() {
        match saved.api_key(&state.master_key) {
            Ok(Some(k)) => k,
            Ok(None) => SecretString::from(String::new()),
            Err(e) => return internal(&ctx, tkey!("crm-title"), "/admin/crm", &e),
        }
    } else {
        SecretString::from(form.api_key.clone())
    };
    let connection = RaynetConnection {
        base_url: form.base_url.clone(),
        instance: form.instance.clone(),
        user_email: form.user_email.clone(),
        api_key: key,
    };
    let outcome = match state.crm.client_for(connection) {
        Ok(client) => client.test_connection().await.map_err(crm_error),
        Err(e) => Err(e),
    };
    let top = match outcome {
        Ok(report) => html! {
            div.notice.ok role="status" { strong { (ctx.tr.t("crm-test-success")) } (describe(&ctx.tr, &report)) }
        },
        Err(e) => html! {
            div.notice.error role="alert" { strong { (ctx.tr.t("crm-test-failed")) } p { (ctx.error_text(&e)) } }
        },
    };
    ctx.ok(
        tkey!("crm-title"),
        "/admin/crm",
        crm_body(&ctx, &form, masked, &FieldErrors::new(), top),
    )
}

// ----- Sync parameters -----

/// The sync form.
#[derive(Debug, Deserialize)]
pub struct SyncForm {
    participant_mode: String,
}

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
pub async fn sync_page(State(state): State<AppState>, ctx: Ctx, query: Query<Flash>) -> Response {
    admin_or_return!(ctx, "/admin/sync");
    match SyncSettings::load(state.store.as_ref()).await {
        Ok(s) => ctx.ok(
            tkey!("sync-title"),
            "/admin/sync",
            sync_body(&ctx, s.participant_mode, flash(&ctx.tr, &query)),
        ),
        Err(e) => internal(&ctx, tkey!("sync-title"), "/admin/sync", &e),
    }
}

/// `POST /admin/sync`.
pub async fn sync_save(
    State(state): State<AppState>,
    ctx: Ctx,
    Form(form): Form<SyncForm>,
) -> Response {
    let session = admin_or_return!(ctx, "/admin/sync");
    let mode = match form.participant_mode.as_str() {
        "none" => ParticipantSyncMode::None,
        "meetings_only" => ParticipantSyncMode::MeetingsOnly,
        "all_activities" => ParticipantSyncMode::AllActivities,
        _ => {
            let top = html! { p.notice.error role="alert" { (ctx.tr.t("sync-mode-unknown")) } };
            return ctx.page(
                StatusCode::UNPROCESSABLE_ENTITY,
                tkey!("sync-title"),
                "/admin/sync",
                sync_body(&ctx, ParticipantSyncMode::default(), top),
            );
        }
    };
    let result = async {
        SyncSettings {
            participant_mode: mode,
        }
        .save(state.store.as_ref())
        .await?;
        audit(
            &state,
            &session,
            "sync.update",
            "settings:sync",
            format!("participant_mode: {}", form.participant_mode),
        )
        .await
    };
    match result.await {
        Ok(()) => Redirect::to("/admin/sync?ok=saved").into_response(),
        Err(e) => internal(&ctx, tkey!("sync-title"), "/admin/sync", &e),
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
    ctx: Ctx,
    query: Query<Flash>,
) -> Response {
    admin_or_return!(ctx, "/admin/office365");
    let (saved, masked) = match stored_o365(&state).await {
        Ok(v) => v,
        Err(e) => return internal(&ctx, tkey!("o365-title"), "/admin/office365", &e),
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
    ctx: Ctx,
    Form(mut form): Form<Office365Form>,
) -> Response {
    let session = admin_or_return!(ctx, "/admin/office365");
    let errors = validate_o365(&ctx.tr, &mut form);
    if !errors.is_empty() {
        let masked = stored_o365(&state).await.ok().and_then(|(_, m)| m);
        let top = html! { p.notice.error role="alert" { (ctx.tr.t("form-has-errors")) } };
        return ctx.page(
            StatusCode::UNPROCESSABLE_ENTITY,
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
    match crate::admin::office365::put_settings(
        State(state.clone()),
        RequireAdmin(session),
        AppJson(input),
    )
    .await
    {
        Ok(_) => Redirect::to("/admin/office365?ok=saved").into_response(),
        Err(e) => internal(&ctx, tkey!("o365-title"), "/admin/office365", &e),
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
    ctx: Ctx,
    Form(mut form): Form<Office365Form>,
) -> Response {
    admin_or_return!(ctx, "/admin/office365");
    let (saved, masked) = match stored_o365(&state).await {
        Ok(v) => v,
        Err(e) => return internal(&ctx, tkey!("o365-title"), "/admin/office365", &e),
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
    let typed_or = |typed: &str, stored: &str| match typed {
        "" => stored.to_owned(),
        typed => typed.to_owned(),
    };
    let secret = if form.client_secret.is_empty() {
        match saved.client_secret(&state.master_key) {
            Ok(stored) => stored,
            Err(e) => return internal(&ctx, tkey!("o365-title"), "/admin/office365", &e),
        }
    } else {
        Some(SecretString::from(form.client_secret.clone()))
    };
    if secret.is_none() {
        errors.insert("client_secret".into(), tr.t("o365-test-no-secret"));
    }
    let top = if errors.is_empty() {
        let credentials = TestCredentials {
            client_id: typed_or(&form.client_id, &saved.client_id),
            tenant_id: typed_or(&form.tenant_id, &saved.tenant_id),
            secret,
        };
        match client_credentials_test(&state, tr, &credentials).await {
            Ok(text) => {
                html! { div.notice.ok role="status" { strong { (tr.t("o365-test-success")) } p { (text) } } }
            }
            Err(text) => {
                html! { div.notice.error role="alert" { strong { (tr.t("o365-test-failed")) } p { (text) } } }
            }
        }
    } else {
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
    };
    ctx.ok(
        tkey!("o365-title"),
        "/admin/office365",
        office365_body(&ctx, &state, &form, masked, &errors, top),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ico_check_digits_are_verified() {
        // 2560780 weighted: 2*8+5*7+6*6+0*5+7*4+8*3+0*2 = 139; 139 % 11 = 7; 11 - 7 = 4.
        assert!(ico_is_valid("25607804"));
        assert!(!ico_is_valid("25607805"));
        assert!(!ico_is_valid("2560780"));
        assert!(!ico_is_valid("2560780a"));
        assert!(!ico_is_valid("256078041"));
    }

    #[test]
    fn ico_remainders_zero_and_one_give_check_digits_one_and_zero() {
        // Weighted sum 0 → remainder 0 → check digit 1.
        assert!(ico_is_valid("00000001"));
        assert!(!ico_is_valid("00000000"));
        // 4 × 3 = 12 → remainder 1 → check digit 0.
        assert!(ico_is_valid("00000400"));
        assert!(!ico_is_valid("00000401"));
    }

    #[test]
    fn dic_is_cz_and_eight_to_ten_digits() {
        assert!(dic_is_valid("CZ25607804"));
        assert!(dic_is_valid("CZ7001011234"));
        assert!(!dic_is_valid("CZ1234567"));
        assert!(!dic_is_valid("CZ12345678901"));
        assert!(!dic_is_valid("SK25607804"));
        assert!(!dic_is_valid("CZ2560780A"));
    }
}
