//! The item cache: our copy of the CRM's companies, persons, projects and business cases,
//! searchable in microseconds for the add-in's pickers and suggestions.
//!
//! The database holds the durable copy (`store::items`); [`index::ItemIndex`] holds the
//! in-memory search structure rebuilt from it, with a small overlay for live changes.

pub mod access;
pub mod admin_api;
pub mod api;
pub mod cache;
pub mod contacts;
pub mod events;
pub mod fold;
pub mod import;
pub mod index;
pub mod receiver;
pub mod reconcile;
pub mod sync;

use std::sync::Arc;

use axum::extract::FromRef;

pub use crate::model::{Item, ItemKind};
use crate::{
    config::Config, crm::CrmHub, identity::IdentityCtx, jobs::JobQueue, secrets::MasterKey,
    store::Store,
};

/// What the item services need (a substate of the server's state).
#[derive(Clone)]
pub struct ItemsCtx {
    /// Effective configuration.
    pub config: Arc<Config>,
    /// Persistence.
    pub store: Arc<dyn Store>,
    /// The in-memory searchable copy.
    pub items: Arc<cache::ItemCache>,
    /// CRM clients built from the stored connection.
    pub crm: Arc<CrmHub>,
    /// The key that opens the stored CRM keys and webhook token.
    pub master_key: Arc<MasterKey>,
    /// Wakes the background work (a queued import, a stored webhook).
    pub jobs: Arc<JobQueue>,
    /// This process's id among several instances.
    pub instance_id: Arc<str>,
}

impl From<crate::crm::CrmRecord> for Item {
    fn from(r: crate::crm::CrmRecord) -> Self {
        let subtitle = match r.kind {
            crate::crm::RecordKind::Company => r.reg_number.or(r.subtitle),
            crate::crm::RecordKind::Person => r.company_name.or(r.subtitle),
            _ => r.subtitle,
        };
        Item {
            kind: r.kind,
            id: r.id,
            name: r.name,
            subtitle: subtitle.unwrap_or_default(),
            emails: r
                .emails
                .into_iter()
                .map(|e| fold::normalize_email(&e))
                .collect(),
            company_id: r.company_id,
            open: r.open,
            updated_at: r.updated_at.map(|t| t.timestamp_millis()),
            security_level: r.security_level,
        }
    }
}

/// Routes of the item cache other than the add-in's (`api`): the webhook receiver and the
/// admin's import, webhook and sweep endpoints.
pub fn router<S>() -> utoipa_axum::router::OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    ItemsCtx: FromRef<S>,
    IdentityCtx: FromRef<S>,
{
    use utoipa_axum::routes;
    utoipa_axum::router::OpenApiRouter::new()
        .routes(routes!(receiver::receive))
        .routes(routes!(receiver::stats))
        .routes(routes!(admin_api::start, admin_api::list))
        .routes(routes!(admin_api::get_one))
        .routes(routes!(admin_api::events))
        .routes(routes!(admin_api::sweep_now))
}
