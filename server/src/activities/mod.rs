//! Saving e-mails and meetings into the CRM: the add-in endpoints (`/api/addin/emails`,
//! `/meetings`, `/logged`, `/persons`), the ledger entry view, and the `activity.sync` job that
//! writes the activity with the employee's own CRM key. The ledger and the queue are persisted
//! by `store::ledger` and `store::jobs`; the job runtime lives in `jobs`. `follow` keeps the ledger in
//! step with the CRM (activities deleted or re-linked there).

pub mod admin;
pub mod follow;
pub mod handlers;
pub mod input;
pub mod ledger;
pub mod times;
pub mod worker;

use chrono::{DateTime, Utc};
use crm_bridge_wire::ActivityKind;
pub use crm_bridge_wire::{Entry, EntryStatus, Links};
use serde::{Deserialize, Serialize};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{state::AppState, store::LoggedItem};

/// The job kind that brings the CRM activity in line with its ledger entry.
pub const SYNC_JOB: &str = "activity.sync";

/// The longest description we send, in characters. The CRM's specification sets no limit on
/// `description`; this keeps requests and the CRM's pages reasonable.
pub const MAX_DESCRIPTION_CHARS: usize = 60_000;

/// Appended where a body was cut short.
pub const TRUNCATION_MARKER: &str = "\n\n[… truncated by CRM Bridge; the full text is in Outlook]";

/// The add-in's endpoints and the admin's job endpoints.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(handlers::log_email))
        .routes(routes!(handlers::log_meeting))
        .routes(routes!(handlers::find_logged))
        .routes(routes!(handlers::relink, handlers::unlink))
        .routes(routes!(handlers::create_person))
        .routes(routes!(admin::list_jobs))
        .routes(routes!(admin::retry_job))
}

/// What the worker writes to the CRM, as stored in the ledger.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Content {
    /// Subject.
    pub title: String,
    /// Sent time (e-mails) or start (meetings).
    pub from: Option<DateTime<Utc>>,
    /// End (meetings).
    pub till: Option<DateTime<Utc>>,
    /// Body with the header lines, already truncated.
    pub description: String,
    /// Meeting place.
    pub place: Option<String>,
    /// CRM persons whose addresses appear among the sender, recipients or attendees.
    pub matched_person_ids: Vec<i64>,
    /// The employee unlinked it: the CRM activity is to be deleted.
    pub deleted: bool,
}

/// The view of a stored entry for the pane.
pub fn entry_of(item: &LoggedItem) -> Entry {
    let content: Content = serde_json::from_str(&item.content).unwrap_or_default();
    let status = if content.deleted {
        EntryStatus::Unlinked
    } else if item.crm_deleted_at.is_some() {
        EntryStatus::DeletedInCrm
    } else {
        // The store writes only the ledger's statuses; anything else would be a failed entry.
        EntryStatus::parse(&item.status).unwrap_or(EntryStatus::Failed)
    };
    let live = status.is_live();
    Entry {
        id: item.id.clone(),
        kind: ActivityKind::parse(&item.kind),
        crm_activity_id: item.crm_activity_id.filter(|_| live),
        crm_link: item.crm_link.clone().filter(|_| live),
        saved_by: item.saved_by.clone().filter(|_| live),
        crm_links: item
            .crm_links
            .as_deref()
            .and_then(|l| serde_json::from_str(l).ok())
            .filter(|_| live),
        status,
        error: item.error.clone(),
        links: serde_json::from_str(&item.links).unwrap_or_default(),
        unmatched: serde_json::from_str(&item.unmatched).unwrap_or_default(),
        updated_at: DateTime::from_timestamp_millis(item.updated_at)
            .unwrap_or_default()
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    }
}

/// `text` cut to at most `max` characters, ending with [`TRUNCATION_MARKER`] when cut.
pub fn truncate_body(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let keep = max.saturating_sub(TRUNCATION_MARKER.chars().count());
    let mut out: String = text.chars().take(keep).collect();
    out.push_str(TRUNCATION_MARKER);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::items::ItemKind;

    #[test]
    fn links_keep_only_the_records_the_predicate_lets_through() {
        let links = Links {
            company_id: Some(1),
            person_ids: vec![10, 11, 12],
            project_id: Some(20),
            business_case_id: Some(30),
        };
        let hidden = |kind: ItemKind, id: i64| {
            matches!((kind, id), (ItemKind::Company, 1) | (ItemKind::Person, 11))
        };
        let kept = links.retain_visible(|kind, id| !hidden(kind, id));
        assert_eq!(
            kept,
            Links {
                company_id: None,
                person_ids: vec![10, 12],
                project_id: Some(20),
                business_case_id: Some(30),
            }
        );
    }

    #[test]
    fn a_short_body_is_kept_as_it_is() {
        assert_eq!(truncate_body("Dobrý den", 100), "Dobrý den");
    }

    #[test]
    fn a_long_body_is_cut_at_the_limit_with_the_marker() {
        let body = "ž".repeat(500);
        let cut = truncate_body(&body, 200);
        assert_eq!(cut.chars().count(), 200);
        assert!(cut.ends_with(TRUNCATION_MARKER));
        assert!(cut.starts_with("žž"));
    }
}
