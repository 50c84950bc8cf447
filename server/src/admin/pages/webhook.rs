//! The Webhook page: generate the unguessable webhook id, show the exact URL, create (or
//! recreate) and delete the webhook in the CRM with a fresh secret token, the registration status
//! and live event counters, and instructions for registering it by hand.

use axum::{
    extract::{Query, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use maud::{Markup, html};

use super::{AdminPage, Ctx, Flash, flash};
use crate::{
    admin::webhook::{self as domain, WEBHOOK_DESCRIPTION, webhook_url},
    crm::WEBHOOK_EVENTS,
    error::AppError,
    settings::WebhookSettings,
    state::AppState,
};

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
                button type="submit" class=(if url.is_none() { "primary" } else { "" })
                    data-confirm=[registered.then(|| tr.t("webhook-generate-warning"))] { (tr.t("webhook-generate")) }
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
                    button type="submit" data-confirm=[registered.then(|| tr.t("webhook-manual-token-confirm"))] { (tr.t("webhook-manual-token")) }
                }
            }
        }
    }
}

fn failed(
    ctx: &Ctx,
    state: &AppState,
    hook: &WebhookSettings,
    err: impl Into<AppError>,
) -> Response {
    let err = err.into();
    ctx.page(
        err.status(),
        tkey!("webhook-title"),
        "/admin/webhook",
        body(ctx, state, hook, ctx.error_notice(&err)),
    )
}

/// `GET /admin/webhook`.
pub async fn page(
    State(state): State<AppState>,
    AdminPage { ctx, .. }: AdminPage,
    query: Query<Flash>,
) -> Response {
    match domain::load(&state).await {
        Ok(hook) => ctx.ok(
            tkey!("webhook-title"),
            "/admin/webhook",
            body(&ctx, &state, &hook, flash(&ctx.tr, &query)),
        ),
        Err(e) => failed(&ctx, &state, &WebhookSettings::default(), e),
    }
}

/// `POST /admin/webhook/generate`: a new webhook id (the old registration is removed first).
pub async fn generate(
    State(state): State<AppState>,
    AdminPage { ctx, session }: AdminPage,
) -> Response {
    match domain::generate_id(&state, &session).await {
        Ok(_) => Redirect::to("/admin/webhook?ok=generated").into_response(),
        Err(e) => failed(
            &ctx,
            &state,
            &domain::load(&state).await.unwrap_or_default(),
            e,
        ),
    }
}

/// `POST /admin/webhook/create`: registers (or re-registers) the webhook in the CRM with a fresh
/// secret token and the three record events.
pub async fn create(
    State(state): State<AppState>,
    AdminPage { ctx, session }: AdminPage,
) -> Response {
    match domain::register(&state, &session).await {
        Ok(_) => Redirect::to("/admin/webhook?ok=registered").into_response(),
        Err(e) => failed(
            &ctx,
            &state,
            &domain::load(&state).await.unwrap_or_default(),
            e,
        ),
    }
}

/// `POST /admin/webhook/delete`: removes the webhook from the CRM (the id stays).
pub async fn delete(
    State(state): State<AppState>,
    AdminPage { ctx, session }: AdminPage,
) -> Response {
    match domain::unregister(&state, &session).await {
        Ok(_) => Redirect::to("/admin/webhook?ok=deleted").into_response(),
        Err(e) => failed(
            &ctx,
            &state,
            &domain::load(&state).await.unwrap_or_default(),
            e,
        ),
    }
}

/// `POST /admin/webhook/manual-token`: a fresh secret token. A webhook registered through the API
/// is re-registered with it at once; otherwise the token is shown once, for registering by hand.
pub async fn manual_token(
    State(state): State<AppState>,
    AdminPage { ctx, session }: AdminPage,
) -> Response {
    let result = domain::new_secret_token(&state, &session).await;
    let hook = domain::load(&state).await.unwrap_or_default();
    match result {
        Ok(domain::NewToken { token: None, .. }) => {
            Redirect::to("/admin/webhook?ok=reregistered").into_response()
        }
        Ok(domain::NewToken {
            token: Some(token), ..
        }) => {
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
        Err(e) => failed(&ctx, &state, &hook, e),
    }
}
