//! `AppState`: everything the server holds, built once at start-up (no global statics), and
//! the substates (`FromRef`) that services and handlers take instead of the whole state.

use std::sync::Arc;

use axum::extract::FromRef;

use crate::{
    caches::Caches,
    config::Config,
    crm::CrmHub,
    identity::{IdentityCtx, entra::EntraValidator},
    items::{ItemsCtx, cache::ItemCache},
    metrics::Metrics,
    secrets::MasterKey,
    store::Store,
};

/// Shared state of the server, cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// Effective configuration.
    pub config: Arc<Config>,
    /// Persistence.
    pub store: Arc<dyn Store>,
    /// Prometheus registry and HTTP instruments.
    pub metrics: Arc<Metrics>,
    /// The key that encrypts secrets at rest.
    pub master_key: Arc<MasterKey>,
    /// Validator of add-in access tokens (with its key and token caches).
    pub entra: Arc<EntraValidator>,
    /// CRM clients built from the stored connection.
    pub crm: Arc<CrmHub>,
    /// Employees and settings as the add-in's hot path reads them.
    pub caches: Arc<Caches>,
    /// The searchable copy of the CRM's firms, persons, projects and business cases.
    pub items: Arc<ItemCache>,
    /// This process's id among several instances (shared: the state is cloned per request).
    pub instance_id: Arc<str>,
    /// Wakes the background job workers (the one wake-up of background work).
    pub jobs: Arc<crate::jobs::JobQueue>,
    /// Runs password checks, a bounded number at a time.
    pub passwords: Arc<crate::identity::password::Verifier>,
}

impl AppState {
    /// Builds the state from a configuration, a connected, migrated store and the master key.
    pub fn new(
        config: Config,
        store: Arc<dyn Store>,
        master_key: MasterKey,
    ) -> anyhow::Result<Self> {
        let entra = Arc::new(EntraValidator::new(config.entra.clone()));
        let crm = Arc::new(CrmHub::new(&config.crm)?);
        let passwords = Arc::new(crate::identity::password::Verifier::new(
            config.admin.max_concurrent_password_checks,
        ));
        let snapshot = config
            .server
            .data_dir
            .join(crate::items::snapshot::FILE_NAME);
        Ok(Self {
            config: Arc::new(config),
            store,
            metrics: Arc::new(Metrics::new()),
            master_key: Arc::new(master_key),
            entra,
            crm,
            caches: Arc::new(Caches::default()),
            items: Arc::new(ItemCache::with_snapshot(snapshot)),
            instance_id: uuid::Uuid::new_v4().to_string().into(),
            jobs: Arc::new(crate::jobs::JobQueue::new()),
            passwords,
        })
    }
}

impl FromRef<AppState> for IdentityCtx {
    fn from_ref(state: &AppState) -> Self {
        Self {
            config: state.config.clone(),
            store: state.store.clone(),
            master_key: state.master_key.clone(),
            entra: state.entra.clone(),
            passwords: state.passwords.clone(),
            caches: state.caches.clone(),
        }
    }
}

impl FromRef<AppState> for ItemsCtx {
    fn from_ref(state: &AppState) -> Self {
        Self {
            config: state.config.clone(),
            store: state.store.clone(),
            items: state.items.clone(),
            crm: state.crm.clone(),
            master_key: state.master_key.clone(),
            jobs: state.jobs.clone(),
            instance_id: state.instance_id.clone(),
        }
    }
}

impl FromRef<AppState> for crate::calendar::CalendarCtx {
    fn from_ref(state: &AppState) -> Self {
        Self {
            config: state.config.clone(),
            store: state.store.clone(),
            crm: state.crm.clone(),
            master_key: state.master_key.clone(),
            jobs: state.jobs.clone(),
            identity: IdentityCtx::from_ref(state),
        }
    }
}

impl AppState {
    /// What calendar sync needs.
    pub fn calendar_ctx(&self) -> crate::calendar::CalendarCtx {
        crate::calendar::CalendarCtx::from_ref(self)
    }

    /// What the identity services need.
    pub fn identity(&self) -> IdentityCtx {
        IdentityCtx::from_ref(self)
    }

    /// What the item services need.
    pub fn items_ctx(&self) -> ItemsCtx {
        ItemsCtx::from_ref(self)
    }
}
