//! Builds CRM clients from what the admin stored: the admin's (integration) client for imports
//! and webhooks, and each employee's own client for writing activities. All clients of the
//! instance share one connection limit and quota view. Failures are [`ConnectError`]s; the HTTP
//! edge maps them (`error.rs`).

use std::sync::{Arc, RwLock};

use super::{Connection, Crm, CrmError, Limits, connect, is_known_base_url};
use crate::{
    config::CrmConfig,
    secrets::{MasterKey, SecretError, employee_crm_key_aad},
    settings::{CrmConnectionSettings, Setting, SettingsError, same_base_url},
    store::{Employee, Store},
};

/// Why no CRM client could be built.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The admin has not configured the CRM connection.
    #[error("the CRM connection is not configured; an admin sets it on the CRM connection page")]
    NotConfigured,
    /// The stored key was saved for another CRM address.
    #[error(
        "the CRM address changed since the API key was saved; an admin enters the key again on \
         the CRM connection page"
    )]
    KeyForOtherAddress,
    /// The employee has no CRM key of their own.
    #[error("this employee has no CRM API key; ask your CRM Bridge admin to add it")]
    NoEmployeeKey,
    /// The employee's key was saved for another CRM address.
    #[error(
        "the CRM address changed since this employee's CRM API key was saved; ask your CRM \
         Bridge admin to enter the key again"
    )]
    EmployeeKeyForOtherAddress,
    /// The address is not one of the CRM's own and other hosts are not allowed.
    #[error("must be an https:// address of Raynet (such as https://app.raynet.cz/api/v2/)")]
    BaseUrlNotAllowed,
    /// The connection's values cannot make a client.
    #[error("{0}")]
    Invalid(String),
    /// The stored settings could not be read.
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// A stored key cannot be opened.
    #[error("a stored CRM key cannot be opened: {0}")]
    Secret(#[from] SecretError),
}

/// Source of CRM clients, shared through the server's state.
pub struct CrmHub {
    http: reqwest::Client,
    config: CrmConfig,
    limits: Limits,
    admin: RwLock<Option<(CrmConnectionSettings, Arc<dyn Crm>)>>,
}

impl CrmHub {
    /// A hub with one outbound HTTP client.
    pub fn new(config: &CrmConfig) -> anyhow::Result<Self> {
        Ok(Self {
            http: crate::http_client::for_crm(config)?,
            config: config.clone(),
            limits: Limits::new(config.max_connections),
            admin: RwLock::new(None),
        })
    }

    /// Refuses a base URL that is not the CRM's own over HTTPS, unless the configuration allows
    /// others.
    pub fn check_base_url(&self, base_url: &str) -> Result<(), ConnectError> {
        if self.config.allow_other_hosts || is_known_base_url(base_url) {
            Ok(())
        } else {
            Err(ConnectError::BaseUrlNotAllowed)
        }
    }

    fn build(&self, connection: Connection) -> Result<Arc<dyn Crm>, ConnectError> {
        self.check_base_url(&connection.base_url)?;
        connect(self.http.clone(), connection, &self.config, &self.limits).map_err(|e| match e {
            CrmError::Invalid(m) => ConnectError::Invalid(m),
            other => ConnectError::Invalid(other.to_string()),
        })
    }

    /// A client for an explicit connection (the admin UI's "Test connection" before saving).
    pub fn client_for(&self, connection: Connection) -> Result<Arc<dyn Crm>, ConnectError> {
        self.build(connection)
    }

    /// The admin's client from the stored connection.
    pub async fn admin(
        &self,
        store: &dyn Store,
        master: &MasterKey,
    ) -> Result<Arc<dyn Crm>, ConnectError> {
        let settings = CrmConnectionSettings::load(store).await?;
        if let Ok(cached) = self.admin.read()
            && let Some((seen, client)) = cached.as_ref()
            && *seen == settings
        {
            return Ok(client.clone());
        }
        let connection = connection_of(&settings, master)?;
        let client = self.build(connection)?;
        if let Ok(mut cached) = self.admin.write() {
            *cached = Some((settings, client.clone()));
        }
        Ok(client)
    }

    /// The employee's own client (activities are written with the employee's key, so the CRM
    /// shows the right owner).
    pub async fn for_employee(
        &self,
        store: &dyn Store,
        master: &MasterKey,
        employee: &Employee,
    ) -> Result<Arc<dyn Crm>, ConnectError> {
        let settings = CrmConnectionSettings::load(store).await?;
        let Some(sealed) = employee.crm_api_key_enc.as_deref() else {
            return Err(ConnectError::NoEmployeeKey);
        };
        if settings.base_url.is_empty() || settings.instance.is_empty() {
            return Err(ConnectError::NotConfigured);
        }
        if !employee
            .crm_key_base_url
            .as_deref()
            .is_some_and(|saved_for| same_base_url(saved_for, &settings.base_url))
        {
            return Err(ConnectError::EmployeeKeyForOtherAddress);
        }
        let key = master.open(&employee_crm_key_aad(&employee.id), sealed)?;
        let user = if employee.crm_user_email.is_empty() {
            employee.login_email.clone()
        } else {
            employee.crm_user_email.clone()
        };
        self.build(Connection {
            base_url: settings.base_url,
            instance: settings.instance,
            user_email: user,
            api_key: key,
        })
    }
}

fn connection_of(
    settings: &CrmConnectionSettings,
    master: &MasterKey,
) -> Result<Connection, ConnectError> {
    if !settings.is_complete() {
        return Err(ConnectError::NotConfigured);
    }
    let api_key = settings
        .api_key_for(master, &settings.base_url)?
        .ok_or(ConnectError::KeyForOtherAddress)?;
    Ok(Connection {
        base_url: settings.base_url.clone(),
        instance: settings.instance.clone(),
        user_email: settings.user_email.clone(),
        api_key,
    })
}
