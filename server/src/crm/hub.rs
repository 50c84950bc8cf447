//! Builds CRM clients from what the admin stored: the admin's (integration) client for imports
//! and webhooks, and each employee's own client for writing activities. All clients of the
//! instance share one connection limit and quota view.

use std::sync::{Arc, RwLock};

use super::{Crm, CrmError, RaynetClient, RaynetConnection, raynet::RaynetLimits};
use crate::{
    config::CrmConfig,
    error::AppError,
    secrets::{MasterKey, employee_crm_key_aad},
    settings::{CrmConnectionSettings, Setting, same_base_url},
    store::{Employee, Store},
};

/// Source of CRM clients, shared through `AppState`.
pub struct CrmHub {
    http: reqwest::Client,
    config: CrmConfig,
    limits: RaynetLimits,
    admin: RwLock<Option<(CrmConnectionSettings, Arc<dyn Crm>)>>,
}

impl CrmHub {
    /// A hub with one outbound HTTP client.
    pub fn new(config: &CrmConfig) -> anyhow::Result<Self> {
        Ok(Self {
            http: crate::http_client::for_crm(config)?,
            config: config.clone(),
            limits: RaynetLimits::new(config.max_connections),
            admin: RwLock::new(None),
        })
    }

    /// Refuses a base URL that is not Raynet's over HTTPS, unless the configuration allows others.
    pub fn check_base_url(&self, base_url: &str) -> Result<(), AppError> {
        if self.config.allow_other_hosts || super::raynet::is_raynet_base_url(base_url) {
            Ok(())
        } else {
            Err(AppError::invalid_field(
                "base_url",
                "must be an https:// address of Raynet (such as https://app.raynet.cz/api/v2/)",
            ))
        }
    }

    fn build(&self, connection: RaynetConnection) -> Result<Arc<dyn Crm>, AppError> {
        self.check_base_url(&connection.base_url)?;
        let client = RaynetClient::with_limits(
            self.http.clone(),
            connection,
            &self.config,
            self.limits.clone(),
        )
        .map_err(|e| AppError::invalid_field("crm", e.to_string()))?;
        Ok(Arc::new(client))
    }

    /// A client for an explicit connection (the admin UI's "Test connection" before saving).
    pub fn client_for(&self, connection: RaynetConnection) -> Result<Arc<dyn Crm>, AppError> {
        self.build(connection)
    }

    /// The admin's client from the stored connection; 503 when it is not configured.
    pub async fn admin(
        &self,
        store: &dyn Store,
        master: &MasterKey,
    ) -> Result<Arc<dyn Crm>, AppError> {
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
    /// shows the right owner); 409 when the employee has no CRM key.
    pub async fn for_employee(
        &self,
        store: &dyn Store,
        master: &MasterKey,
        employee: &Employee,
    ) -> Result<Arc<dyn Crm>, AppError> {
        let settings = CrmConnectionSettings::load(store).await?;
        let Some(sealed) = employee.crm_api_key_enc.as_deref() else {
            return Err(AppError::Conflict(
                "this employee has no CRM API key; ask your CRM Bridge admin to add it".into(),
            ));
        };
        if settings.base_url.is_empty() || settings.instance.is_empty() {
            return Err(not_configured());
        }
        if !employee
            .crm_key_base_url
            .as_deref()
            .is_some_and(|saved_for| same_base_url(saved_for, &settings.base_url))
        {
            return Err(AppError::Conflict(
                "the CRM address changed since this employee's CRM API key was saved; \
                 ask your CRM Bridge admin to enter the key again"
                    .into(),
            ));
        }
        let key = master
            .open(&employee_crm_key_aad(&employee.id), sealed)
            .map_err(|e| AppError::Internal(e.into()))?;
        let user = if employee.crm_user_email.is_empty() {
            employee.login_email.clone()
        } else {
            employee.crm_user_email.clone()
        };
        self.build(RaynetConnection {
            base_url: settings.base_url,
            instance: settings.instance,
            user_email: user,
            api_key: key,
        })
    }
}

fn not_configured() -> AppError {
    AppError::Unavailable(
        "the CRM connection is not configured; an admin sets it on the CRM connection page".into(),
    )
}

fn connection_of(
    settings: &CrmConnectionSettings,
    master: &MasterKey,
) -> Result<RaynetConnection, AppError> {
    if !settings.is_complete() {
        return Err(not_configured());
    }
    let api_key = settings
        .api_key_for(master, &settings.base_url)?
        .ok_or_else(|| {
            AppError::Unavailable(
                "the CRM address changed since the API key was saved; an admin enters the key \
                 again on the CRM connection page"
                    .into(),
            )
        })?;
    Ok(RaynetConnection {
        base_url: settings.base_url.clone(),
        instance: settings.instance.clone(),
        user_email: settings.user_email.clone(),
        api_key,
    })
}

/// Maps a CRM error to what the caller of our API should see.
pub fn crm_error(err: CrmError) -> AppError {
    match err {
        CrmError::BadCredentials => {
            AppError::Upstream("the CRM rejected the API key or user e-mail".into())
        }
        CrmError::UnknownInstance => {
            AppError::Upstream("the CRM has no instance of this name".into())
        }
        CrmError::Blocked => AppError::Upstream(CrmError::Blocked.to_string()),
        CrmError::AccessDenied(m) => AppError::Upstream(format!("the CRM denied access: {m}")),
        CrmError::NotFound => AppError::NotFound("the CRM has no such record".into()),
        CrmError::RateLimited { until } => AppError::TooManyRequests(match until {
            Some(t) => format!(
                "the CRM's request limit is reached until {}",
                t.format("%H:%M UTC")
            ),
            None => "the CRM's request limit is reached; try again later".into(),
        }),
        CrmError::Invalid(m) => AppError::invalid_field("crm", m),
        other => AppError::Upstream(format!("the CRM failed: {other}")),
    }
}
