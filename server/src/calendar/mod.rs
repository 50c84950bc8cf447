//! Calendar sync between the CRM and Outlook: CRM activities of the enabled types appear in the
//! Outlook calendars of the employees who own them or take part, and Outlook edits of those
//! events flow back as the rules allow (`inbound` decides, `outlook_delta` finds the changes by
//! Graph delta rounds and carries them out; `notifications` keeps Graph subscriptions and
//! receives their notifications). `plan` decides (pure functions);
//! `engine` carries the plan out through the Graph connector as a job of the durable queue and
//! records every decision; `backfill` fills an employee's calendar when they are opted in;
//! `reconcile` repairs what lost webhooks missed; `settings` holds what the admin chose;
//! `rules` says what may flow which way; `preview` is the dry run ("what would the next sync
//! do"); `service` holds the admin operations the JSON API (`admin`) and the Synchronisation
//! page share.

pub mod admin;
pub mod backfill;
pub mod engine;
pub mod inbound;
pub mod notifications;
pub mod outlook_delta;
pub mod plan;
pub mod preview;
pub mod reconcile;
pub mod rules;
pub mod service;
pub mod settings;

pub use backfill::{BackfillJob, queue_backfill, queue_backfill_in};
pub use engine::{CalendarJob, JOB_KIND, SyncRequest, SyncScope, enqueue, sync_activity};
pub use notifications::SubscriptionsJob;
pub use outlook_delta::{OutlookDeltaJob, queue_outlook_delta};
pub use plan::{
    Activity, ActivityKind, ExistingLink, Participant, PlanSettings, Step, SyncEmployee, Write,
    carries_attendees, content_hash, crm_key, plan, plan_with_rules,
};
pub use reconcile::ReconcileJob;
pub use rules::{ConflictPolicy, DeleteMode, Direction, Operation, PrivatePolicy, SyncRules};
pub use settings::CalendarSettings;

use std::sync::Arc;

use crate::{
    config::Config, crm::CrmHub, identity::IdentityCtx, jobs::JobQueue, secrets::MasterKey,
    store::Store,
};

/// What calendar sync needs of the server (a substate of the application state).
#[derive(Clone)]
pub struct CalendarCtx {
    /// Effective configuration.
    pub config: Arc<Config>,
    /// Persistence.
    pub store: Arc<dyn Store>,
    /// CRM clients built from the stored connection.
    pub crm: Arc<CrmHub>,
    /// The key that opens stored secrets.
    pub master_key: Arc<MasterKey>,
    /// Wakes the background work.
    pub jobs: Arc<JobQueue>,
    /// The Office 365 settings live with identity.
    pub identity: IdentityCtx,
}
