//! The item cache: our copy of the CRM's companies, persons, projects and business cases,
//! searchable in microseconds for the add-in's pickers and suggestions.
//!
//! The database holds the durable copy (`store::items`); [`index::ItemIndex`] holds the
//! in-memory search structure rebuilt from it, with a small overlay for live changes.

pub mod access;
pub mod api;
pub mod cache;
pub mod events;
pub mod fold;
pub mod import;
pub mod index;
pub mod reconcile;
pub mod snapshot;
pub mod sync;

pub use crate::model::{Item, ItemKind};

impl From<crate::crm::RecordKind> for ItemKind {
    fn from(kind: crate::crm::RecordKind) -> Self {
        use crate::crm::RecordKind;
        match kind {
            RecordKind::Company => ItemKind::Company,
            RecordKind::Person => ItemKind::Person,
            RecordKind::Project => ItemKind::Project,
            RecordKind::BusinessCase => ItemKind::BusinessCase,
        }
    }
}

impl From<ItemKind> for crate::crm::RecordKind {
    fn from(kind: ItemKind) -> Self {
        use crate::crm::RecordKind;
        match kind {
            ItemKind::Company => RecordKind::Company,
            ItemKind::Person => RecordKind::Person,
            ItemKind::Project => RecordKind::Project,
            ItemKind::BusinessCase => RecordKind::BusinessCase,
        }
    }
}

impl From<crate::crm::CrmRecord> for Item {
    fn from(r: crate::crm::CrmRecord) -> Self {
        let subtitle = match r.kind {
            crate::crm::RecordKind::Company => r.reg_number.or(r.subtitle),
            crate::crm::RecordKind::Person => r.company_name.or(r.subtitle),
            _ => r.subtitle,
        };
        Item {
            kind: r.kind.into(),
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
pub fn router() -> utoipa_axum::router::OpenApiRouter<crate::state::AppState> {
    use utoipa_axum::routes;
    utoipa_axum::router::OpenApiRouter::new()
        .routes(routes!(events::receive))
        .routes(routes!(events::stats))
        .routes(routes!(import::start, import::list))
        .routes(routes!(import::get_one))
        .routes(routes!(import::events))
        .routes(routes!(reconcile::sweep_now))
}
