//! Typed run-time settings the admin manages in the admin UI, each stored as one JSON document in
//! the `settings` table. Secret fields end in `_enc` and are sealed with the master key (see
//! `secrets`), so key rotation finds them.

use secrecy::SecretString;
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use utoipa::ToSchema;

use crate::{
    secrets::{MasterKey, SecretError, setting_aad},
    store::{Store, StoreError},
};

/// Why a setting could not be read, written or opened.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The stored document is not what this version reads.
    #[error("corrupt setting {key}: {reason}")]
    Corrupt {
        /// The setting's key.
        key: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A sealed field cannot be opened with the master key.
    #[error("a stored secret cannot be opened: {0}")]
    Secret(#[from] SecretError),
}

/// A settings document with a fixed key.
pub trait Setting: Serialize + DeserializeOwned + Default {
    /// Key in the `settings` table.
    const KEY: &'static str;

    /// Loads the document; the default when it was never saved.
    #[allow(async_fn_in_trait)]
    async fn load(store: &dyn Store) -> Result<Self, SettingsError> {
        match store.get_setting(Self::KEY).await? {
            None => Ok(Self::default()),
            Some(text) => serde_json::from_str(&text).map_err(|e| SettingsError::Corrupt {
                key: Self::KEY,
                reason: e.to_string(),
            }),
        }
    }

    /// Saves the document.
    #[allow(async_fn_in_trait)]
    async fn save(&self, store: &dyn Store) -> Result<(), SettingsError> {
        let text = serde_json::to_string(self).map_err(|e| SettingsError::Corrupt {
            key: Self::KEY,
            reason: e.to_string(),
        })?;
        store.put_setting(Self::KEY, &text).await?;
        Ok(())
    }
}

/// Seals `secret` for field `field` of setting `key`.
pub fn seal_field(master: &MasterKey, key: &str, field: &str, secret: &str) -> String {
    master.seal(&setting_aad(key, field), secret)
}

/// Opens a sealed field.
pub fn open_field(
    master: &MasterKey,
    key: &str,
    field: &str,
    sealed: &str,
) -> Result<SecretString, SettingsError> {
    Ok(master.open(&setting_aad(key, field), sealed)?)
}

/// The company that runs CRM Bridge (shown in the admin UI and the manifest).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(default)]
pub struct CompanySettings {
    /// Company name.
    pub name: String,
    /// IČO: 8 digits with a valid check digit.
    pub ico: String,
    /// DIČ: `CZ` + 8–10 digits.
    pub dic: String,
}

impl Setting for CompanySettings {
    const KEY: &'static str = "company";
}

/// How the CRM is reached with the admin's (integration) API key.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct CrmConnectionSettings {
    /// API base URL, e.g. `https://app.raynet.cz/api/v2/`.
    pub base_url: String,
    /// Instance name (first path segment of the CRM's web address).
    pub instance: String,
    /// Login e-mail of the CRM user the key belongs to.
    pub user_email: String,
    /// The API key, sealed.
    pub api_key_enc: Option<String>,
    /// The base URL the key was saved with, the only address it is ever sent to (`None` for a
    /// key stored before this was recorded: the key then belongs to `base_url`).
    pub api_key_base_url: Option<String>,
}

/// Whether two CRM base URLs name the same API (surrounding spaces and a trailing slash aside).
pub fn same_base_url(a: &str, b: &str) -> bool {
    a.trim().trim_end_matches('/') == b.trim().trim_end_matches('/')
}

impl Setting for CrmConnectionSettings {
    const KEY: &'static str = "crm_connection";
}

impl CrmConnectionSettings {
    /// Field name of the sealed API key.
    pub const API_KEY_FIELD: &'static str = "api_key_enc";

    /// Whether everything needed to call the CRM is present.
    pub fn is_complete(&self) -> bool {
        !self.base_url.trim().is_empty()
            && !self.instance.trim().is_empty()
            && !self.user_email.trim().is_empty()
            && self.api_key_enc.is_some()
    }

    /// Seals and stores the API key, bound to the current `base_url`.
    pub fn set_api_key(&mut self, master: &MasterKey, key: &str) {
        self.api_key_enc = Some(seal_field(master, Self::KEY, Self::API_KEY_FIELD, key));
        self.api_key_base_url = Some(self.base_url.clone());
    }

    /// The base URL the stored key belongs to.
    pub fn key_base_url(&self) -> &str {
        self.api_key_base_url.as_deref().unwrap_or(&self.base_url)
    }

    /// The decrypted API key (for showing it masked; to send it, see [`Self::api_key_for`]).
    pub fn api_key(&self, master: &MasterKey) -> Result<Option<SecretString>, SettingsError> {
        self.api_key_enc
            .as_deref()
            .map(|s| open_field(master, Self::KEY, Self::API_KEY_FIELD, s))
            .transpose()
    }

    /// The decrypted API key if it may be sent to `base_url`: only the address it was saved with.
    pub fn api_key_for(
        &self,
        master: &MasterKey,
        base_url: &str,
    ) -> Result<Option<SecretString>, SettingsError> {
        if same_base_url(self.key_base_url(), base_url) {
            self.api_key(master)
        } else {
            Ok(None)
        }
    }
}

/// The CRM webhook: our unguessable id in the URL and the secret the CRM sends back.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct WebhookSettings {
    /// Our webhook id: the last path segment of `/api/raynet-event/{id}` (128+ random bits).
    pub webhook_id: String,
    /// The `X-RAYNETCRM-Token` the CRM must send, sealed.
    pub secret_token_enc: Option<String>,
    /// The CRM's id of the registered webhook, once created through the API.
    pub crm_webhook_id: Option<String>,
    /// When the webhook was registered in the CRM (Unix ms).
    pub registered_at: Option<i64>,
}

impl Setting for WebhookSettings {
    const KEY: &'static str = "webhook";
}

impl WebhookSettings {
    /// Field name of the sealed token.
    pub const TOKEN_FIELD: &'static str = "secret_token_enc";

    /// Seals and stores the secret token.
    pub fn set_secret_token(&mut self, master: &MasterKey, token: &str) {
        self.secret_token_enc = Some(seal_field(master, Self::KEY, Self::TOKEN_FIELD, token));
    }

    /// The decrypted secret token.
    pub fn secret_token(&self, master: &MasterKey) -> Result<Option<SecretString>, SettingsError> {
        self.secret_token_enc
            .as_deref()
            .map(|s| open_field(master, Self::KEY, Self::TOKEN_FIELD, s))
            .transpose()
    }
}

/// Which Raynet activities synced to Outlook carry their participants as attendees, i.e. whom
/// Outlook e-mails invitations and updates. (What the add-in saves is not governed by it: the
/// persons a user picks are always written.)
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ParticipantSyncMode {
    /// No synced event carries attendees: Outlook e-mails nobody; each employee gets a copy.
    None,
    /// Raynet meetings carry their participants as attendees; other types none (default).
    #[default]
    MeetingsOnly,
    /// Every synced activity type carries its participants as attendees.
    AllActivities,
}

/// Sync parameters.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(default)]
pub struct SyncSettings {
    /// Participant sync mode.
    pub participant_mode: ParticipantSyncMode,
}

impl Setting for SyncSettings {
    const KEY: &'static str = "sync";
}
