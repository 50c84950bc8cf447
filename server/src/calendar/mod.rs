//! Calendar sync CRM → Outlook: Raynet activities of the enabled types appear in the Outlook
//! calendars of the employees who own them or take part. `plan` decides (pure functions);
//! `engine` carries the plan out through the Graph connector as a job of the durable queue and
//! records every decision; `settings` holds what the admin chose; `admin` is the JSON API.

pub mod admin;
pub mod engine;
pub mod plan;
pub mod settings;

pub use engine::{CalendarJob, JOB_KIND, SyncRequest, enqueue, sync_activity};
pub use plan::{
    Activity, ActivityKind, ExistingLink, Participant, PlanSettings, Step, SyncEmployee, Write,
    carries_attendees, content_hash, crm_key, plan,
};
pub use settings::CalendarSettings;

use std::sync::Arc;

/// The job handlers of calendar sync, to register with the queue.
pub fn job_handlers() -> crate::jobs::Handlers {
    let mut handlers = crate::jobs::Handlers::new();
    handlers.insert(
        JOB_KIND,
        Arc::new(CalendarJob::default()) as Arc<dyn crate::jobs::JobHandler>,
    );
    handlers
}
