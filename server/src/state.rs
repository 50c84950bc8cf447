//! `AppState`: everything handlers reach, built once at start-up. No global statics.

use std::sync::Arc;

use crate::{config::Config, metrics::Metrics, store::Store};

/// Shared state of the server, cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// Effective configuration.
    pub config: Arc<Config>,
    /// Persistence.
    pub store: Arc<dyn Store>,
    /// Prometheus registry and HTTP instruments.
    pub metrics: Arc<Metrics>,
}

impl AppState {
    /// Builds the state from a configuration and a connected, migrated store.
    pub fn new(config: Config, store: Arc<dyn Store>) -> Self {
        Self {
            config: Arc::new(config),
            store,
            metrics: Arc::new(Metrics::new()),
        }
    }
}
