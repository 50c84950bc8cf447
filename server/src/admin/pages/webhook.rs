//! The Webhook page: generate the unguessable webhook id, show the exact URL, create (or
//! recreate) and delete the webhook in the CRM with a fresh secret token, the registration status
//! and live event counters, and instructions for registering it by hand.

use axum::{
    extract::{Query, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use maud::{Markup, html};

use super::{Ctx, Flash, flash, settings::admin_or_return};
use crate::{
    admin::audit,
    crm::{WEBHOOK_EVENTS, crm_error},
    error::AppError,
    identity::session::{AdminSession, random_token},
    settings::{Setting, WebhookSettings},
    state::AppState,
};

/// Description given to the webhook in the CRM.
pub const WEBHOOK_DESCRIPTION: &str = "CRM Bridge";

fn webhook_url(state: &AppState, id: &str) -> String {
    let base = state.config.server.public_base(state.config.tls.enabled());
    format!("{base}/api/raynet-event/{id}")
}

fn body(ctx: &Ctx, state: &AppState, hook: &WebhookSettings, top: Markup) -> Markup {
    let tr = &ctx.tr;
    let url = (!hook.webhook_id.is_empty()).then(|| webhook_url(state, &hook.webhook_id));
    let registered = hook.crm_webhook_id.is_some();
    html! {
        (top)
        (super::operations::js_strings(tr))
        section.card {
            h2 { (tr.t("webhook-url-heading")) }
            @match &url {
                Some(url) => {
                    p { code #webhook-url { (url) } " " button.link type="button" data-copy="#webhook-url" { (tr.t("copy-text")) } }
                }
                None => p { (tr.t("webhook-no-id")) },
            }
            form method="post" action="/admin/webhook/generate" {
                (ctx.csrf())
                button type="submit" class=(if url.is_none() { "primary" } else { "" }) { (tr.t("webhook-generate")) }
                @if registered { p.hint { (tr.t("webhook-generate-warning")) } }
            }
        }
        section.card {
            h2 { (tr.t("webhook-status-heading")) }
            dl.facts {
                dt { (tr.t("webhook-status")) }
                dd #webhook-registered {
                    @match (registered, hook.registered_at) {
                        (true, Some(at)) => (tr.ta("webhook-registered-at", &[("at", tr.datetime_ms(at).into())])),
                        (true, None) => (tr.t("webhook-registered")),
                        _ => (tr.t("webhook-not-registered")),
                    }
                }
                dt { (tr.t("webhook-last-event")) }
                dd data-webhook-last { "—" }
                dt { (tr.t("webhook-events-today")) }
                dd data-webhook-today { "—" }
            }
            @if url.is_some() {
                div.actions {
                    form method="post" action="/admin/webhook/create" {
                        (ctx.csrf())
                        button.primary type="submit" {
                            (if registered { tr.t("webhook-recreate") } else { tr.t("webhook-create") })
                        }
                    }
                    @if registered {
                        form method="post" action="/admin/webhook/delete" {
                            (ctx.csrf())
                            button.danger type="submit" data-confirm=(tr.t("webhook-delete-confirm")) { (tr.t("webhook-delete")) }
                        }
                    }
                }
            }
        }
        @if let Some(url) = &url {
            section.card {
                h2 { (tr.t("webhook-manual-heading")) }
                p { (tr.t("webhook-manual-intro")) }
                ol {
                    li { (tr.t("webhook-manual-step1")) }
                    li { (tr.t("webhook-manual-step2")) " " code { (url) } }
                    li { (tr.t("webhook-manual-step3")) " " code { (WEBHOOK_DESCRIPTION) } }
                    li { (tr.t("webhook-manual-step4")) " " @for (i, e) in WEBHOOK_EVENTS.iter().enumerate() { @if i > 0 { ", " } code { (e) } } }
                    li { (tr.t("webhook-manual-step5")) }
                }
                form method="post" action="/admin/webhook/manual-token" {
                    (ctx.csrf())
                    button type="submit" { (tr.t("webhook-manual-token")) }
                }
            }
        }
    }
}

async fn load(state: &AppState) -> Result<WebhookSettings, AppError> {
    WebhookSettings::load(state.store.as_ref()).await
}

fn failed(ctx: &Ctx, state: &AppState, hook: &WebhookSettings, err: &AppError) -> Response {
    ctx.page(
        err.status(),
        tkey!("webhook-title"),
        "/admin/webhook",
        body(ctx, state, hook, ctx.error_notice(err)),
    )
}

/// `GET /admin/webhook`.
pub async fn page(State(state): State<AppState>, ctx: Ctx, query: Query<Flash>) -> Response {
    admin_or_return!(ctx, "/admin/webhook");
    match load(&state).await {
        Ok(hook) => ctx.ok(
            tkey!("webhook-title"),
            "/admin/webhook",
            body(&ctx, &state, &hook, flash(&ctx.tr, &query)),
        ),
        Err(e) => failed(&ctx, &state, &WebhookSettings::default(), &e),
    }
}

/// Removes the webhook registered in the CRM, if any (a webhook already gone counts as removed).
async fn unregister(state: &AppState, hook: &mut WebhookSettings) -> Result<(), AppError> {
    if let Some(id) = hook.crm_webhook_id.clone() {
        let crm = state
            .crm
            .admin(state.store.as_ref(), &state.master_key)
            .await?;
        match crm.delete_webhook(&id).await {
            Ok(()) | Err(crate::crm::CrmError::NotFound) => {}
            Err(e) => return Err(crm_error(e)),
        }
        hook.crm_webhook_id = None;
        hook.registered_at = None;
    }
    Ok(())
}

async fn generate_inner(state: &AppState, session: &AdminSession) -> Result<(), AppError> {
    let mut hook = load(state).await?;
    unregister(state, &mut hook).await?;
    // 256 random bits, URL-safe.
    hook.webhook_id = random_token();
    hook.secret_token_enc = None;
    hook.save(state.store.as_ref()).await?;
    audit(state, session, "webhook.generate", "settings:webhook", "").await
}

/// `POST /admin/webhook/generate`: a new webhook id (the old registration is removed first).
pub async fn generate(State(state): State<AppState>, ctx: Ctx) -> Response {
    let session = admin_or_return!(ctx, "/admin/webhook");
    match generate_inner(&state, &session).await {
        Ok(()) => Redirect::to("/admin/webhook?ok=generated").into_response(),
        Err(e) => failed(&ctx, &state, &load(&state).await.unwrap_or_default(), &e),
    }
}

async fn create_inner(state: &AppState, session: &AdminSession) -> Result<(), AppError> {
    let mut hook = load(state).await?;
    if hook.webhook_id.is_empty() {
        return Err(AppError::Conflict("generate the webhook id first".into()));
    }
    unregister(state, &mut hook).await?;
    let crm = state
        .crm
        .admin(state.store.as_ref(), &state.master_key)
        .await?;
    let token = random_token();
    let url = webhook_url(state, &hook.webhook_id);
    let id = crm
        .create_webhook(&url, &token, &WEBHOOK_EVENTS)
        .await
        .map_err(crm_error)?;
    hook.set_secret_token(&state.master_key, &token);
    hook.crm_webhook_id = Some(id);
    hook.registered_at = Some(crate::store::now_ms());
    hook.save(state.store.as_ref()).await?;
    audit(state, session, "webhook.create", "settings:webhook", "").await
}

/// `POST /admin/webhook/create`: registers (or re-registers) the webhook in the CRM with a fresh
/// secret token and the three record events.
pub async fn create(State(state): State<AppState>, ctx: Ctx) -> Response {
    let session = admin_or_return!(ctx, "/admin/webhook");
    match create_inner(&state, &session).await {
        Ok(()) => Redirect::to("/admin/webhook?ok=registered").into_response(),
        Err(e) => failed(&ctx, &state, &load(&state).await.unwrap_or_default(), &e),
    }
}

/// `POST /admin/webhook/delete`: removes the webhook from the CRM (the id stays).
pub async fn delete(State(state): State<AppState>, ctx: Ctx) -> Response {
    let session = admin_or_return!(ctx, "/admin/webhook");
    let result = async {
        let mut hook = load(&state).await?;
        unregister(&state, &mut hook).await?;
        hook.save(state.store.as_ref()).await?;
        audit(&state, &session, "webhook.delete", "settings:webhook", "").await
    };
    match result.await {
        Ok(()) => Redirect::to("/admin/webhook?ok=deleted").into_response(),
        Err(e) => failed(&ctx, &state, &load(&state).await.unwrap_or_default(), &e),
    }
}

/// `POST /admin/webhook/manual-token`: a fresh secret token shown once, for registering by hand
/// (it replaces the token of a webhook created through the API, which then needs recreating).
pub async fn manual_token(State(state): State<AppState>, ctx: Ctx) -> Response {
    let session = admin_or_return!(ctx, "/admin/webhook");
    let result = async {
        let mut hook = load(&state).await?;
        if hook.webhook_id.is_empty() {
            return Err(AppError::Conflict("generate the webhook id first".into()));
        }
        let token = random_token();
        hook.set_secret_token(&state.master_key, &token);
        hook.save(state.store.as_ref()).await?;
        audit(
            &state,
            &session,
            "webhook.manual_token",
            "settings:webhook",
            "",
        )
        .await?;
        Ok((hook, token))
    };
    match result.await {
        Ok((hook, token)) => {
            let top = html! {
                div.notice.ok role="status" {
                    p { (ctx.tr.t("webhook-manual-token-shown")) }
                    p { code #manual-token { (token) } " " button.link type="button" data-copy="#manual-token" { (ctx.tr.t("copy-text")) } }
                }
            };
            ctx.page(
                StatusCode::OK,
                tkey!("webhook-title"),
                "/admin/webhook",
                body(&ctx, &state, &hook, top),
            )
        }
        Err(e) => failed(&ctx, &state, &load(&state).await.unwrap_or_default(), &e),
    }
}
