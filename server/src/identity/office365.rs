//! The Office 365 app settings the admin enters (client id, tenant id, client secret, extra
//! tenants), stored as setting `office365`; they decide which tokens the add-in may use.

use axum::extract::FromRef;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use super::{IdentityCtx, entra::Trust};
use crate::{
    secrets::{MasterKey, setting_aad},
    settings::SettingsError,
};

/// Settings key.
pub const KEY: &str = "office365";
const SECRET_FIELD: &str = "client_secret_enc";

/// Stored form of the Office 365 settings (the secret sealed by the master key).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Office365Settings {
    /// Application (client) id of our API's app registration.
    pub client_id: String,
    /// Home tenant id.
    pub tenant_id: String,
    /// Further tenants whose users may use the add-in.
    pub extra_tenants: Vec<String>,
    /// The client secret, sealed (see `secrets`).
    pub client_secret_enc: Option<String>,
}

impl Office365Settings {
    /// Loads the settings (defaults when never saved) from the in-memory copy.
    pub async fn load<S>(state: &S) -> Result<Self, SettingsError>
    where
        IdentityCtx: FromRef<S>,
    {
        let state = &IdentityCtx::from_ref(state);
        match state.caches.setting(state.store.as_ref(), KEY).await? {
            None => Ok(Self::default()),
            Some(text) => serde_json::from_str(&text).map_err(|e| SettingsError::Corrupt {
                key: KEY,
                reason: e.to_string(),
            }),
        }
    }

    /// Saves the settings and forgets tokens validated under the old ones.
    pub async fn save<S>(&self, state: &S) -> Result<(), SettingsError>
    where
        IdentityCtx: FromRef<S>,
    {
        let state = &IdentityCtx::from_ref(state);
        let text = serde_json::to_string(self).map_err(|e| SettingsError::Corrupt {
            key: KEY,
            reason: e.to_string(),
        })?;
        state.store.put_setting(KEY, &text).await?;
        // This instance reads its own write at once (say, the admin's Test right after a save);
        // the announcement reaches the caches later on PostgreSQL.
        state.caches.forget(&crate::store::Changed::Settings);
        state.entra.forget_tokens();
        Ok(())
    }

    /// Seals and stores `secret` (or removes it for `None`).
    pub fn set_client_secret(&mut self, key: &MasterKey, secret: Option<&str>) {
        self.client_secret_enc = secret.map(|s| key.seal(&setting_aad(KEY, SECRET_FIELD), s));
    }

    /// The decrypted client secret.
    pub fn client_secret(&self, key: &MasterKey) -> Result<Option<SecretString>, SettingsError> {
        Ok(self
            .client_secret_enc
            .as_deref()
            .map(|enc| key.open(&setting_aad(KEY, SECRET_FIELD), enc))
            .transpose()?)
    }

    /// Our API's Application ID URI for this server (see [`app_id_uri`]); `None` until the
    /// client id is set.
    pub fn app_id_uri(&self, public_base: &str) -> Option<String> {
        let client_id = self.client_id.trim();
        (!client_id.is_empty()).then(|| app_id_uri(public_base, client_id))
    }

    /// The tenants and audiences tokens must match: the client id (v2 tokens) and the
    /// Application ID URI (v1 tokens).
    pub fn trust(&self, public_base: &str) -> Trust {
        let mut tenants: Vec<String> = std::iter::once(&self.tenant_id)
            .chain(&self.extra_tenants)
            .map(|t| t.trim().to_lowercase())
            .filter(|t| !t.is_empty())
            .collect();
        tenants.dedup();
        let mut audiences = Vec::new();
        let client_id = self.client_id.trim();
        if !client_id.is_empty() {
            audiences.push(client_id.to_owned());
            audiences.push(app_id_uri(public_base, client_id));
        }
        Trust { tenants, audiences }
    }
}

/// The one Application ID URI of our API, `api://{host[:port]}/{client_id}` for the public URL
/// `public_base`. Office's `getAccessToken` requires exactly this form (its domain must be the
/// add-in's, and it must end with the client id); MSAL under Nested App Authentication accepts
/// any App ID URI, so the manifest's `WebApplicationInfo` resource and the pane's scope
/// (`{uri}/access_as_user`) are both derived from it and cannot disagree.
pub fn app_id_uri(public_base: &str, client_id: &str) -> String {
    let authority = url::Url::parse(public_base)
        .ok()
        .and_then(|u| {
            let host = u.host_str()?.to_ascii_lowercase();
            Some(match u.port() {
                Some(port) => format!("{host}:{port}"),
                None => host,
            })
        })
        .unwrap_or_else(|| "localhost".to_owned());
    format!("api://{authority}/{}", client_id.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_app_id_uri_is_the_public_host_and_port_and_the_client_id() {
        let id = "5661fed9-f33d-4e95-b6cf-624a34a2f51d";
        assert_eq!(
            app_id_uri("https://CRM.example.cz/", id),
            format!("api://crm.example.cz/{id}")
        );
        assert_eq!(
            app_id_uri("https://localhost:3000", id),
            format!("api://localhost:3000/{id}")
        );
        assert_eq!(
            app_id_uri("https://crm.example.cz:443", id),
            format!("api://crm.example.cz/{id}"),
            "the scheme's default port is not part of the domain"
        );
    }
}
