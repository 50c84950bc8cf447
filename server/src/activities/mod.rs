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
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{items::ItemKind, state::AppState, store::LoggedItem};

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

/// The CRM records an e-mail or meeting is linked to, as the pane picked them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct Links {
    /// The client firm.
    pub company_id: Option<i64>,
    /// Contact persons; the first is the activity's contact, the others become participants.
    pub person_ids: Vec<i64>,
    /// A project.
    pub project_id: Option<i64>,
    /// A business case.
    pub business_case_id: Option<i64>,
}

impl Links {
    /// These links without the records for which `visible(kind, id)` is false: what the CRM
    /// reports must not name a record the employee could not open there.
    pub fn retain_visible(self, visible: impl Fn(ItemKind, i64) -> bool) -> Self {
        let keep = |kind, id: Option<i64>| id.filter(|&id| visible(kind, id));
        Self {
            company_id: keep(ItemKind::Company, self.company_id),
            person_ids: self
                .person_ids
                .into_iter()
                .filter(|&id| visible(ItemKind::Person, id))
                .collect(),
            project_id: keep(ItemKind::Project, self.project_id),
            business_case_id: keep(ItemKind::BusinessCase, self.business_case_id),
        }
    }
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

/// A ledger entry as the pane sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Entry {
    /// Entry id.
    pub id: String,
    /// `email` or `meeting`.
    pub kind: String,
    /// `queued`, `saved`, `failed`, `unlinked`, `deleted_in_crm` (the activity was deleted in
    /// the CRM: saving again makes a new one), or `not_logged` (never saved; no other field set).
    pub status: String,
    /// The CRM activity, once saved.
    pub crm_activity_id: Option<i64>,
    /// Its address in the CRM.
    pub crm_link: Option<String>,
    /// Why saving failed.
    pub error: Option<String>,
    /// The picked links.
    pub links: Links,
    /// Addresses that match no CRM person.
    pub unmatched: Vec<String>,
    /// Last change (RFC 3339).
    pub updated_at: String,
    /// The colleague who saved this e-mail or meeting first: this entry shares their activity.
    pub saved_by: Option<String>,
    /// The links the activity has in the CRM, when they were changed there.
    pub crm_links: Option<Links>,
}

impl Entry {
    /// The answer for an item the caller never saved.
    pub fn not_logged() -> Self {
        Self {
            id: String::new(),
            kind: String::new(),
            status: "not_logged".to_owned(),
            crm_activity_id: None,
            crm_link: None,
            error: None,
            links: Links::default(),
            unmatched: Vec::new(),
            updated_at: String::new(),
            saved_by: None,
            crm_links: None,
        }
    }

    /// The view of a stored entry.
    pub fn of(item: &LoggedItem) -> Self {
        let content: Content = serde_json::from_str(&item.content).unwrap_or_default();
        let status = if content.deleted {
            "unlinked".to_owned()
        } else if item.crm_deleted_at.is_some() {
            "deleted_in_crm".to_owned()
        } else {
            item.status.clone()
        };
        let live = status != "unlinked" && status != "deleted_in_crm";
        Self {
            id: item.id.clone(),
            kind: item.kind.clone(),
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
