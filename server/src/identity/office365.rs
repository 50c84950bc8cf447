//! The Office 365 app settings the admin enters (client id, tenant id, client secret, extra
//! tenants), stored as setting `office365`; they decide which tokens the add-in may use.

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use super::entra::Trust;
use crate::{
    error::AppError,
    secrets::{MasterKey, setting_aad},
    state::AppState,
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
    /// App ID URI of our API (empty: `api://{client_id}` is accepted).
    pub app_id_uri: String,
    /// The client secret, sealed (see `secrets`).
    pub client_secret_enc: Option<String>,
}

impl Office365Settings {
    /// Loads the settings (defaults when never saved) from the in-memory copy.
    pub async fn load(state: &AppState) -> Result<Self, AppError> {
        match state.caches.setting(state.store.as_ref(), KEY).await? {
            None => Ok(Self::default()),
            Some(text) => serde_json::from_str(&text)
                .map_err(|e| AppError::Internal(anyhow::anyhow!("corrupt office365 setting: {e}"))),
        }
    }

    /// Saves the settings and forgets tokens validated under the old ones.
    pub async fn save(&self, state: &AppState) -> Result<(), AppError> {
        let text = serde_json::to_string(self).map_err(|e| AppError::Internal(e.into()))?;
        state.store.put_setting(KEY, &text).await?;
        state.entra.forget_tokens();
        Ok(())
    }

    /// Seals and stores `secret` (or removes it for `None`).
    pub fn set_client_secret(&mut self, key: &MasterKey, secret: Option<&str>) {
        self.client_secret_enc = secret.map(|s| key.seal(&setting_aad(KEY, SECRET_FIELD), s));
    }

    /// The decrypted client secret.
    pub fn client_secret(&self, key: &MasterKey) -> Result<Option<SecretString>, AppError> {
        self.client_secret_enc
            .as_deref()
            .map(|enc| key.open(&setting_aad(KEY, SECRET_FIELD), enc))
            .transpose()
            .map_err(|e| AppError::Internal(e.into()))
    }

    /// The tenants and audiences tokens must match.
    pub fn trust(&self) -> Trust {
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
            audiences.push(format!("api://{client_id}"));
        }
        if !self.app_id_uri.trim().is_empty() {
            audiences.push(self.app_id_uri.trim().to_owned());
        }
        Trust { tenants, audiences }
    }
}
