//! `GET/PUT /api/admin/office365`: the Office 365 app registration (client id, tenant id, extra
//! tenants, client secret — the secret write-only and shown masked) and the Application ID URI
//! derived from them.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{
    api_responses::{AdminOnly, Invalid},
    error::{AppError, AppJson},
    identity::{
        office365::{Office365Settings, app_id_uri},
        session::{AdminSession, RequireAdmin},
    },
    secrets::mask,
    service_errors::{FieldProblems, SaveError},
    state::AppState,
};

/// The settings as shown (no secret).
#[derive(Debug, Serialize, ToSchema)]
pub struct Office365View {
    /// Application (client) id of our API.
    pub client_id: String,
    /// Home tenant id.
    pub tenant_id: String,
    /// Further allowed tenants.
    pub extra_tenants: Vec<String>,
    /// Application ID URI to set under *Expose an API* in Entra, `api://{host}/{client_id}`
    /// (derived from the public URL and the client id; empty without a client id).
    pub app_id_uri: String,
    /// Whether a client secret is stored.
    pub has_client_secret: bool,
    /// The secret masked, such as `••••abcd`.
    pub client_secret_masked: Option<String>,
}

/// A change; absent fields stay. An empty `client_secret` removes the secret.
#[derive(Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Office365Input {
    /// Application (client) id (a GUID).
    pub client_id: Option<String>,
    /// Tenant id (a GUID).
    pub tenant_id: Option<String>,
    /// Further allowed tenant ids (GUIDs).
    pub extra_tenants: Option<Vec<String>>,
    /// Application ID URI as entered in Entra, checked against the derived one (it is not
    /// stored: the manifest and the pane's scope always use the derived value).
    pub app_id_uri: Option<String>,
    /// Client secret (write-only).
    pub client_secret: Option<String>,
}

fn public_base(state: &AppState) -> String {
    state.config.server.public_base(state.config.tls.enabled())
}

fn view(state: &AppState, s: &Office365Settings) -> Result<Office365View, SaveError> {
    let secret = s.client_secret(&state.master_key)?;
    Ok(Office365View {
        client_id: s.client_id.clone(),
        tenant_id: s.tenant_id.clone(),
        extra_tenants: s.extra_tenants.clone(),
        app_id_uri: s.app_id_uri(&public_base(state)).unwrap_or_default(),
        has_client_secret: secret.is_some(),
        client_secret_masked: secret.as_ref().map(mask),
    })
}

fn is_guid(s: &str) -> bool {
    uuid::Uuid::try_parse(s.trim()).is_ok()
}

/// The Office 365 settings.
#[utoipa::path(
    get,
    path = "/api/admin/office365",
    tag = "admin",
    responses(
        (status = 200, body = Office365View),
        AdminOnly
    )
)]
pub async fn get_settings(
    State(state): State<AppState>,
    RequireAdmin(_session): RequireAdmin,
) -> Result<AppJson<Office365View>, AppError> {
    let settings = Office365Settings::load(&state).await?;
    Ok(AppJson(view(&state, &settings)?))
}

/// Changes the Office 365 settings.
#[utoipa::path(
    put,
    path = "/api/admin/office365",
    tag = "admin",
    request_body = Office365Input,
    responses(
        (status = 200, body = Office365View),
        AdminOnly,
        Invalid
    )
)]
pub async fn put_settings(
    State(state): State<AppState>,
    RequireAdmin(session): RequireAdmin,
    AppJson(input): AppJson<Office365Input>,
) -> Result<AppJson<Office365View>, AppError> {
    Ok(AppJson(apply(&state, &session, input).await?))
}

/// Validates and applies a change (shared with the Office 365 page), auditing it.
pub async fn apply(
    state: &AppState,
    session: &AdminSession,
    input: Office365Input,
) -> Result<Office365View, SaveError> {
    let mut fields = FieldProblems::default();
    for (name, value) in [
        ("client_id", &input.client_id),
        ("tenant_id", &input.tenant_id),
    ] {
        if let Some(v) = value.as_deref().filter(|v| !v.trim().is_empty())
            && !is_guid(v)
        {
            fields.add(name, "must be a GUID");
        }
    }
    if let Some(extra) = &input.extra_tenants
        && (extra.len() > 100 || !extra.iter().all(|t| is_guid(t)))
    {
        fields.add("extra_tenants", "must be up to 100 GUIDs");
    }
    let mut settings = Office365Settings::load(state).await?;
    if let Some(uri) = input
        .app_id_uri
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty())
    {
        let client_id = input.client_id.as_deref().unwrap_or(&settings.client_id);
        let expected = app_id_uri(&public_base(state), client_id);
        if client_id.trim().is_empty() || !uri.trim_end_matches('/').eq_ignore_ascii_case(&expected)
        {
            fields.add(
                "app_id_uri",
                format!(
                    "must be {expected}: Office's getAccessToken accepts only api://<this server's \
                     host>/<client id>, and the add-in's manifest and sign-in use that value"
                ),
            );
        }
    }
    if input
        .client_secret
        .as_deref()
        .is_some_and(|s| s.len() > 500)
    {
        fields.add("client_secret", "is too long");
    }
    fields.check()?;
    let mut changed = Vec::new();
    if let Some(v) = input.client_id {
        settings.client_id = v.trim().to_lowercase();
        changed.push("client_id");
    }
    if let Some(v) = input.tenant_id {
        settings.tenant_id = v.trim().to_lowercase();
        changed.push("tenant_id");
    }
    if let Some(v) = input.extra_tenants {
        settings.extra_tenants = v.iter().map(|t| t.trim().to_lowercase()).collect();
        changed.push("extra_tenants");
    }
    if let Some(secret) = input.client_secret {
        let secret = secret.trim();
        settings.set_client_secret(&state.master_key, (!secret.is_empty()).then_some(secret));
        changed.push("client_secret");
    }
    settings.save(state).await?;
    session
        .audit(
            state.store.as_ref(),
            "office365.update",
            "settings:office365",
            format!("fields: {}", changed.join(",")),
        )
        .await?;
    view(state, &settings)
}
