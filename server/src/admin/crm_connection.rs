//! The CRM connection (base URL, instance, admin e-mail, write-only API key) and its test:
//! validation, saving and testing shared by `/api/admin/crm-connection` and the CRM page.
//!
//! A stored API key is only ever sent to the base URL it was saved with: a changed base URL
//! needs the key typed again, both to save and to test.

use axum::extract::State;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Problems, audit};
use crate::{
    api_responses::{AdminOnly, Invalid, Upstream},
    crm::{Connection, ConnectionReport, CrmError},
    error::{AppError, AppJson},
    identity::session::{AdminSession, RequireAdmin},
    secrets::mask,
    service_errors::{CrmSetupError, FieldProblems},
    settings::{CrmConnectionSettings, Setting, SettingsError, same_base_url},
    state::AppState,
};

/// The connection as shown: never the key, only whether one is stored and its masked form.
#[derive(Debug, Serialize, ToSchema)]
pub struct CrmConnectionView {
    /// API base URL.
    pub base_url: String,
    /// Instance name.
    pub instance: String,
    /// Login e-mail of the CRM user the key belongs to.
    pub user_email: String,
    /// Whether an API key is stored for this base URL.
    pub has_api_key: bool,
    /// The stored key masked, such as `••••abcd`.
    pub api_key_masked: Option<String>,
}

/// A change or a test: absent fields keep their stored value; an absent or empty `api_key`
/// keeps the stored key, which is only possible while `base_url` stays the one it was saved with.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CrmConnectionInput {
    /// API base URL: `https://` on a Raynet host such as `https://app.raynet.cz/api/v2/`.
    pub base_url: Option<String>,
    /// Instance name (letters, digits, `.`, `-`, `_`).
    pub instance: Option<String>,
    /// Login e-mail of the CRM user the key belongs to.
    pub user_email: Option<String>,
    /// The API key (write-only).
    pub api_key: Option<String>,
}

/// A connection as typed, trimmed, with absent fields taken from the stored one.
#[derive(Debug, Clone, Default)]
pub struct TypedConnection {
    /// API base URL.
    pub base_url: String,
    /// Instance name.
    pub instance: String,
    /// Admin e-mail (lower case).
    pub user_email: String,
    /// The typed key; empty keeps the stored one.
    pub api_key: String,
}

impl TypedConnection {
    /// `input` over `saved`.
    pub fn merge(input: CrmConnectionInput, saved: &CrmConnectionSettings) -> Self {
        Self {
            base_url: input
                .base_url
                .unwrap_or_else(|| saved.base_url.clone())
                .trim()
                .to_owned(),
            instance: input
                .instance
                .unwrap_or_else(|| saved.instance.clone())
                .trim()
                .to_owned(),
            user_email: input
                .user_email
                .unwrap_or_else(|| saved.user_email.clone())
                .trim()
                .to_lowercase(),
            api_key: input.api_key.unwrap_or_default().trim().to_owned(),
        }
    }
}

/// Whether the stored key may be used for `base_url`.
fn stored_key_usable(saved: &CrmConnectionSettings, base_url: &str) -> bool {
    saved.api_key_enc.is_some() && same_base_url(saved.key_base_url(), base_url)
}

/// What is wrong with `typed`, given the stored connection.
pub fn validate(
    state: &AppState,
    typed: &TypedConnection,
    saved: &CrmConnectionSettings,
) -> Problems {
    let mut problems = Problems::default();
    match url::Url::parse(&typed.base_url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && typed.base_url.len() <= 300 => {
            if state.crm.check_base_url(&typed.base_url).is_err() {
                problems.add("base_url", "crm-base-url-raynet");
            }
        }
        _ => problems.add("base_url", "error-url"),
    }
    if typed.instance.is_empty() {
        problems.add("instance", "error-required");
    } else if typed.instance.len() > 100
        || !typed
            .instance
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
    {
        problems.add("instance", "crm-instance-format");
    }
    if !crate::email::EmailAddress::is_valid(&typed.user_email) {
        problems.add("user_email", "error-email");
    }
    if typed.api_key.is_empty() {
        if saved.api_key_enc.is_none() {
            problems.add("api_key", "error-required");
        } else if !stored_key_usable(saved, &typed.base_url) {
            problems.add("api_key", "crm-api-key-again");
        }
    } else if typed.api_key.len() > 500 || typed.api_key.chars().any(char::is_control) {
        problems.add("api_key", "error-api-key");
    }
    problems
}

/// The stored connection as shown.
pub fn view(
    state: &AppState,
    saved: &CrmConnectionSettings,
) -> Result<CrmConnectionView, SettingsError> {
    let key = saved.api_key_for(&state.master_key, &saved.base_url)?;
    Ok(CrmConnectionView {
        base_url: saved.base_url.clone(),
        instance: saved.instance.clone(),
        user_email: saved.user_email.clone(),
        has_api_key: key.is_some(),
        api_key_masked: key.as_ref().map(mask),
    })
}

/// Validates and saves `typed` (an empty key keeps the stored one), auditing the change.
pub async fn save(
    state: &AppState,
    by: &AdminSession,
    typed: &TypedConnection,
) -> Result<CrmConnectionSettings, CrmSetupError> {
    let mut saved = CrmConnectionSettings::load(state.store.as_ref()).await?;
    validate(state, typed, &saved).check()?;
    saved.base_url = typed.base_url.clone();
    saved.instance = typed.instance.clone();
    saved.user_email = typed.user_email.clone();
    let mut fields = "base_url,instance,user_email".to_owned();
    if !typed.api_key.is_empty() {
        saved.set_api_key(&state.master_key, &typed.api_key);
        fields.push_str(",api_key");
    }
    saved.save(state.store.as_ref()).await?;
    audit(
        state,
        by,
        "crm.update",
        "settings:crm_connection",
        format!("fields: {fields}"),
    )
    .await?;
    Ok(saved)
}

/// Why a connection test failed, as a stable code the pages translate.
pub fn test_failure_code(err: &CrmError) -> &'static str {
    match err {
        CrmError::UnknownInstance => "crm_unknown_instance",
        CrmError::BadCredentials => "crm_bad_credentials",
        CrmError::Blocked => "crm_blocked",
        CrmError::AccessDenied(_) => "crm_access_denied",
        CrmError::RateLimited { .. } => "crm_rate_limited",
        _ => "crm_unreachable",
    }
}

/// Validates `typed` and tries it against the CRM (the typed key, or the stored key when the
/// base URL is the one it was saved with). Nothing is saved.
pub async fn test_connection(
    state: &AppState,
    typed: &TypedConnection,
) -> Result<ConnectionReport, CrmSetupError> {
    let saved = CrmConnectionSettings::load(state.store.as_ref()).await?;
    validate(state, typed, &saved).check()?;
    let api_key = if typed.api_key.is_empty() {
        saved
            .api_key_for(&state.master_key, &typed.base_url)?
            .ok_or_else(|| {
                let mut problems = FieldProblems::default();
                problems.add("api_key", "enter the API key again");
                problems
            })?
    } else {
        SecretString::from(typed.api_key.clone())
    };
    let client = state.crm.client_for(Connection {
        base_url: typed.base_url.clone(),
        instance: typed.instance.clone(),
        user_email: typed.user_email.clone(),
        api_key,
    })?;
    client
        .test_connection()
        .await
        .map_err(|source| CrmSetupError::TestFailed {
            code: test_failure_code(&source),
            source,
        })
}

/// The CRM connection.
#[utoipa::path(
    get,
    path = "/api/admin/crm-connection",
    tag = "admin",
    responses(
        (status = 200, body = CrmConnectionView),
        AdminOnly
    )
)]
pub async fn get_settings(
    State(state): State<AppState>,
    RequireAdmin(_session): RequireAdmin,
) -> Result<AppJson<CrmConnectionView>, AppError> {
    let saved = CrmConnectionSettings::load(state.store.as_ref()).await?;
    Ok(AppJson(view(&state, &saved)?))
}

/// Changes the CRM connection (validated like the CRM page; a new base URL needs the key).
#[utoipa::path(
    put,
    path = "/api/admin/crm-connection",
    tag = "admin",
    request_body = CrmConnectionInput,
    responses(
        (status = 200, body = CrmConnectionView),
        AdminOnly,
        Invalid
    )
)]
pub async fn put_settings(
    State(state): State<AppState>,
    RequireAdmin(session): RequireAdmin,
    AppJson(input): AppJson<CrmConnectionInput>,
) -> Result<AppJson<CrmConnectionView>, AppError> {
    let saved = CrmConnectionSettings::load(state.store.as_ref()).await?;
    let typed = TypedConnection::merge(input, &saved);
    let saved = save(&state, &session, &typed).await?;
    Ok(AppJson(view(&state, &saved)?))
}

/// The outcome of a successful test.
#[derive(Debug, Serialize, ToSchema)]
pub struct CrmTestResult {
    /// The CRM user the key belongs to.
    pub username: String,
    /// Their full name, if the CRM told.
    pub full_name: Option<String>,
    /// Their role, such as `ADMIN`.
    pub role: Option<String>,
    /// API requests left today.
    pub quota_remaining: Option<u64>,
    /// The daily request limit.
    pub quota_limit: Option<u64>,
}

/// Tests a connection without saving it: the body's fields over the stored ones. Failures answer
/// 502 with a code telling them apart: `crm_unknown_instance`, `crm_bad_credentials`,
/// `crm_blocked` (too many bad logins from this address), `crm_access_denied`,
/// `crm_rate_limited`, `crm_unreachable`.
#[utoipa::path(
    post,
    path = "/api/admin/crm-connection/test",
    tag = "admin",
    request_body = CrmConnectionInput,
    responses(
        (status = 200, body = CrmTestResult),
        AdminOnly,
        Invalid,
        Upstream
    )
)]
pub async fn test(
    State(state): State<AppState>,
    RequireAdmin(_session): RequireAdmin,
    AppJson(input): AppJson<CrmConnectionInput>,
) -> Result<AppJson<CrmTestResult>, AppError> {
    let saved = CrmConnectionSettings::load(state.store.as_ref()).await?;
    let typed = TypedConnection::merge(input, &saved);
    let report = test_connection(&state, &typed).await?;
    Ok(AppJson(CrmTestResult {
        username: report.identity.username,
        full_name: report.identity.full_name,
        role: report.identity.role,
        quota_remaining: report.quota.and_then(|q| q.remaining),
        quota_limit: report.quota.and_then(|q| q.limit),
    }))
}
