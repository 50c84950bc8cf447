//! `AppState`: everything handlers reach, built once at start-up. No global statics.

use std::sync::Arc;

use crate::{
    caches::Caches, config::Config, crm::CrmHub, identity::entra::EntraValidator,
    items::cache::ItemCache, metrics::Metrics, secrets::MasterKey, store::Store,
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
    /// Wakes background workers when new work arrives.
    pub wake: Arc<Wake>,
    /// This process's id among several instances (shared: the state is cloned per request).
    pub instance_id: Arc<str>,
    /// Wakes the background job workers.
    pub jobs: Arc<crate::jobs::JobQueue>,
    /// Runs password checks, a bounded number at a time.
    pub passwords: Arc<crate::identity::password::Verifier>,
}

/// Wake-ups for background workers, so new work starts at once rather than at the next poll.
#[derive(Debug, Default)]
pub struct Wake {
    /// A CRM webhook was stored.
    pub events: tokio::sync::Notify,
    /// An import run was queued.
    pub import: tokio::sync::Notify,
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
            wake: Arc::new(Wake::default()),
            instance_id: uuid::Uuid::new_v4().to_string().into(),
            jobs: Arc::new(crate::jobs::JobQueue::new()),
            passwords,
        })
    }
}
