//! The CRM webhook: generating our unguessable webhook id, registering it in the CRM with a fresh
//! secret token, removing it, a new token, and its status. Shared by `/api/admin/webhook*` and
//! the Webhook page.
//!
//! A new token for a webhook registered through the API re-registers it in the CRM at once, so
//! the CRM's deliveries never start failing with 401.

use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

use super::audit;
use crate::{
    api_responses::{AdminOnly, Conflict, Unavailable, Upstream},
    crm::{CrmError, WEBHOOK_EVENTS},
    error::{AppError, AppJson},
    identity::session::{AdminSession, RequireAdmin, random_token},
    service_errors::CrmSetupError,
    settings::{Setting, SettingsError, WebhookSettings},
    state::AppState,
    store::now_ms,
};

/// Why registering or a new token must wait.
const GENERATE_FIRST: &str = "generate the webhook id first";

/// Description given to the webhook in the CRM.
pub const WEBHOOK_DESCRIPTION: &str = "CRM Bridge";

/// The full URL the CRM posts to for webhook id `id`.
pub fn webhook_url(state: &AppState, id: &str) -> String {
    let base = state.config.server.public_base(state.config.tls.enabled());
    crate::crm::webhook::url(&base, id)
}

/// The stored webhook settings.
pub async fn load(state: &AppState) -> Result<WebhookSettings, SettingsError> {
    WebhookSettings::load(state.store.as_ref()).await
}

/// Removes the webhook registered in the CRM, if any (a webhook already gone counts as removed).
async fn unregister_in_crm(
    state: &AppState,
    hook: &mut WebhookSettings,
) -> Result<(), CrmSetupError> {
    if let Some(id) = hook.crm_webhook_id.clone() {
        let crm = state
            .crm
            .admin(state.store.as_ref(), &state.master_key)
            .await?;
        match crm.delete_webhook(&id).await {
            Ok(()) | Err(CrmError::NotFound) => {}
            Err(e) => return Err(e.into()),
        }
        hook.crm_webhook_id = None;
        hook.registered_at = None;
    }
    Ok(())
}

/// Registers `hook` in the CRM with a fresh token (replacing an earlier registration).
async fn register_in_crm(
    state: &AppState,
    hook: &mut WebhookSettings,
) -> Result<(), CrmSetupError> {
    if hook.webhook_id.is_empty() {
        return Err(CrmSetupError::NotReady(GENERATE_FIRST));
    }
    unregister_in_crm(state, hook).await?;
    let crm = state
        .crm
        .admin(state.store.as_ref(), &state.master_key)
        .await?;
    let token = random_token();
    let url = webhook_url(state, &hook.webhook_id);
    let id = crm.create_webhook(&url, &token, &WEBHOOK_EVENTS).await?;
    hook.set_secret_token(&state.master_key, &token);
    hook.crm_webhook_id = Some(id);
    hook.registered_at = Some(now_ms());
    hook.save(state.store.as_ref()).await?;
    state.store.clear_webhook_rejections().await?;
    Ok(())
}

/// A new webhook id (the old registration is removed from the CRM first).
pub async fn generate_id(
    state: &AppState,
    by: &AdminSession,
) -> Result<WebhookSettings, CrmSetupError> {
    let mut hook = load(state).await?;
    unregister_in_crm(state, &mut hook).await?;
    // 256 random bits, URL-safe.
    hook.webhook_id = random_token();
    hook.secret_token_enc = None;
    hook.save(state.store.as_ref()).await?;
    audit(state, by, "webhook.generate", "settings:webhook", "").await?;
    Ok(hook)
}

/// Registers (or re-registers) the webhook in the CRM with a fresh token and the three record
/// events.
pub async fn register(
    state: &AppState,
    by: &AdminSession,
) -> Result<WebhookSettings, CrmSetupError> {
    let mut hook = load(state).await?;
    register_in_crm(state, &mut hook).await?;
    audit(state, by, "webhook.create", "settings:webhook", "").await?;
    Ok(hook)
}

/// Removes the webhook from the CRM (our webhook id stays).
pub async fn unregister(
    state: &AppState,
    by: &AdminSession,
) -> Result<WebhookSettings, CrmSetupError> {
    let mut hook = load(state).await?;
    unregister_in_crm(state, &mut hook).await?;
    hook.save(state.store.as_ref()).await?;
    audit(state, by, "webhook.delete", "settings:webhook", "").await?;
    Ok(hook)
}

/// The outcome of asking for a new token.
#[derive(Debug, Serialize, ToSchema)]
pub struct NewToken {
    /// The webhook was registered through the API and has been registered again with the new
    /// token: nothing to do by hand.
    pub reregistered: bool,
    /// For a webhook registered by hand: the new token, shown once, to paste into the CRM.
    pub token: Option<String>,
}

/// A new secret token. A webhook registered through the API is re-registered with it at once;
/// otherwise the token is returned once for registering by hand.
pub async fn new_secret_token(
    state: &AppState,
    by: &AdminSession,
) -> Result<NewToken, CrmSetupError> {
    let mut hook = load(state).await?;
    if hook.webhook_id.is_empty() {
        return Err(CrmSetupError::NotReady(GENERATE_FIRST));
    }
    let result = if hook.crm_webhook_id.is_some() {
        register_in_crm(state, &mut hook).await?;
        NewToken {
            reregistered: true,
            token: None,
        }
    } else {
        let token = random_token();
        hook.set_secret_token(&state.master_key, &token);
        hook.save(state.store.as_ref()).await?;
        NewToken {
            reregistered: false,
            token: Some(token),
        }
    };
    audit(
        state,
        by,
        "webhook.manual_token",
        "settings:webhook",
        if result.reregistered {
            "re-registered in the CRM"
        } else {
            "for registering by hand"
        },
    )
    .await?;
    Ok(result)
}

/// The webhook as the admin sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookStatus {
    /// Our webhook id (empty until generated).
    pub webhook_id: String,
    /// The URL the CRM posts to, once an id exists.
    pub url: Option<String>,
    /// Whether a secret token is stored.
    pub has_token: bool,
    /// Whether the webhook was registered in the CRM through the API.
    pub registered: bool,
    /// When it was registered (Unix ms).
    pub registered_at: Option<i64>,
    /// Event figures, including deliveries refused for a wrong token.
    pub events: crate::store::EventStats,
}

/// The status of the webhook.
pub async fn webhook_status(state: &AppState) -> Result<WebhookStatus, CrmSetupError> {
    let hook = load(state).await?;
    let midnight = chrono::Utc::now()
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .map_or(0, |t| t.and_utc().timestamp_millis());
    Ok(WebhookStatus {
        url: (!hook.webhook_id.is_empty()).then(|| webhook_url(state, &hook.webhook_id)),
        has_token: hook.secret_token_enc.is_some(),
        registered: hook.crm_webhook_id.is_some(),
        registered_at: hook.registered_at,
        webhook_id: hook.webhook_id,
        events: state.store.event_stats(midnight).await?,
    })
}

/// The webhook's id, URL, registration and event figures.
#[utoipa::path(
    get,
    path = "/api/admin/webhook",
    tag = "admin",
    responses(
        (status = 200, body = WebhookStatus),
        AdminOnly
    )
)]
pub async fn status(
    State(state): State<AppState>,
    RequireAdmin(_session): RequireAdmin,
) -> Result<AppJson<WebhookStatus>, AppError> {
    Ok(AppJson(webhook_status(&state).await?))
}

/// Generates a new webhook id (a registration in the CRM is removed first).
#[utoipa::path(
    post,
    path = "/api/admin/webhook/generate",
    tag = "admin",
    responses(
        (status = 200, body = WebhookStatus),
        AdminOnly,
        Upstream,
        Unavailable
    )
)]
pub async fn generate(
    State(state): State<AppState>,
    RequireAdmin(session): RequireAdmin,
) -> Result<AppJson<WebhookStatus>, AppError> {
    generate_id(&state, &session).await?;
    Ok(AppJson(webhook_status(&state).await?))
}

/// Creates the webhook in the CRM (or re-creates it) with a fresh secret token.
#[utoipa::path(
    post,
    path = "/api/admin/webhook/registration",
    tag = "admin",
    responses(
        (status = 200, body = WebhookStatus),
        AdminOnly,
        Conflict,
        Upstream,
        Unavailable
    )
)]
pub async fn register_handler(
    State(state): State<AppState>,
    RequireAdmin(session): RequireAdmin,
) -> Result<AppJson<WebhookStatus>, AppError> {
    register(&state, &session).await?;
    Ok(AppJson(webhook_status(&state).await?))
}

/// Removes the webhook from the CRM (our webhook id stays).
#[utoipa::path(
    delete,
    path = "/api/admin/webhook/registration",
    tag = "admin",
    responses(
        (status = 200, body = WebhookStatus),
        AdminOnly,
        Upstream
    )
)]
pub async fn unregister_handler(
    State(state): State<AppState>,
    RequireAdmin(session): RequireAdmin,
) -> Result<AppJson<WebhookStatus>, AppError> {
    unregister(&state, &session).await?;
    Ok(AppJson(webhook_status(&state).await?))
}

/// A new secret token: a webhook registered through the API is re-registered with it; otherwise
/// the token is answered once, for registering the webhook by hand.
#[utoipa::path(
    post,
    path = "/api/admin/webhook/token",
    tag = "admin",
    responses(
        (status = 200, body = NewToken),
        AdminOnly,
        Conflict,
        Upstream
    )
)]
pub async fn new_token(
    State(state): State<AppState>,
    RequireAdmin(session): RequireAdmin,
) -> Result<AppJson<NewToken>, AppError> {
    Ok(AppJson(new_secret_token(&state, &session).await?))
}
