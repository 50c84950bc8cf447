//! The ledger follows the CRM: webhooks for e-mail and meeting records update the entries linked
//! to that activity. An activity deleted in the CRM makes its entries say so (the pane offers to
//! save again); links changed in the CRM are shown beside the picked ones.

use std::collections::BTreeMap;

use super::Links;
use crate::{
    crm::{ActivityKind, Crm, CrmError},
    jobs::{
        WorkError,
        drain::{EventHandler, Events, MAX_ATTEMPTS},
    },
    state::AppState,
    store::{LoggedItem, Store, StoredEvent, now_ms},
};

/// Events leased per round.
const BATCH: i64 = 500;

/// The job kind that follows the CRM's changes of activities saved through CRM Bridge.
pub const FOLLOW_JOB: &str = "activities.follow";

/// What the `activities.follow` drain (`jobs::drain::Drain`) does with a batch of stored
/// activity events.
pub struct FollowActivities {
    state: AppState,
}

impl FollowActivities {
    /// The handler, following activities with `state`.
    pub fn new(state: AppState) -> Self {
        Self { state }
    }
}

#[async_trait::async_trait]
impl EventHandler for FollowActivities {
    fn name(&self) -> &'static str {
        FOLLOW_JOB
    }

    fn events(&self) -> Events {
        Events::Activities
    }

    fn batch_size(&self) -> i64 {
        BATCH
    }

    fn store(&self) -> &dyn Store {
        self.state.store.as_ref()
    }

    async fn handle(&self, events: &[StoredEvent]) -> Result<usize, WorkError> {
        follow_events(&self.state, events).await?;
        Ok(events.len())
    }
}

fn activity_kind(entity_name: &str) -> Option<ActivityKind> {
    match entity_name.to_ascii_lowercase().as_str() {
        "email" => Some(ActivityKind::Email),
        "meeting" => Some(ActivityKind::Meeting),
        _ => None,
    }
}

/// Brings the entries of each activity named by the leased `events` in line with the CRM.
async fn follow_events(state: &AppState, events: &[StoredEvent]) -> Result<(), WorkError> {
    let mut by_activity: BTreeMap<(&'static str, i64), Vec<String>> = BTreeMap::new();
    let mut ignored = Vec::new();
    for event in events {
        match activity_kind(&event.entity_name) {
            Some(kind) => by_activity
                .entry((kind.as_str(), event.entity_id))
                .or_default()
                .push(event.event_id.clone()),
            None => ignored.push(event.event_id.clone()),
        }
    }
    state.store.finish_events(&ignored, "ignored").await?;
    let mut crm: Option<std::sync::Arc<dyn Crm>> = None;
    for ((kind_name, id), event_ids) in by_activity {
        let entries = state.store.items_for_activity(kind_name, id).await?;
        if entries.is_empty() {
            // Not saved through CRM Bridge: nothing to follow, no CRM call.
            state.store.finish_events(&event_ids, "ignored").await?;
            continue;
        }
        let client = match &crm {
            Some(c) => c.clone(),
            None => {
                let c = state
                    .crm
                    .admin(state.store.as_ref(), &state.master_key)
                    .await?;
                crm = Some(c.clone());
                c
            }
        };
        let kind = activity_kind(kind_name).unwrap_or(ActivityKind::Email);
        match follow(state, client.as_ref(), kind, id, &entries).await {
            Ok(()) => state.store.finish_events(&event_ids, "applied").await?,
            Err(err) => {
                tracing::warn!(error = %err, activity = id, "following a CRM activity failed");
                let retry_at = match &err {
                    CrmError::RateLimited { until: Some(t) } => t.timestamp_millis(),
                    _ => now_ms() + 5_000,
                };
                state
                    .store
                    .retry_events(&event_ids, &err.to_string(), retry_at, MAX_ATTEMPTS)
                    .await?;
            }
        }
    }
    Ok(())
}

/// The links an activity has in the CRM, in the pane's terms.
fn links_in_crm(activity: &crate::crm::CrmActivity) -> Links {
    Links {
        company_id: activity.links.company_id,
        person_ids: activity.links.person_id.into_iter().collect(),
        project_id: activity.links.project_id,
        business_case_id: activity.links.business_case_id,
    }
}

/// Whether the CRM's links differ from what the employee picked (extra contacts the CRM holds as
/// participants do not count).
fn changed(picked: &Links, in_crm: &Links) -> bool {
    picked.company_id != in_crm.company_id
        || picked.project_id != in_crm.project_id
        || picked.business_case_id != in_crm.business_case_id
        || picked.person_ids.first() != in_crm.person_ids.first()
}

async fn follow(
    state: &AppState,
    crm: &dyn Crm,
    kind: ActivityKind,
    id: i64,
    entries: &[LoggedItem],
) -> Result<(), CrmError> {
    let store_failed = |e: crate::store::StoreError| CrmError::Upstream(format!("storing: {e}"));
    let activity = match crm.get_activity(kind, id).await {
        Ok(a) => a,
        Err(CrmError::NotFound) => {
            state
                .store
                .mark_activity_deleted_in_crm(kind.as_str(), id)
                .await
                .map_err(store_failed)?;
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    let in_crm = links_in_crm(&activity);
    let shown = serde_json::to_string(&in_crm).unwrap_or_default();
    for entry in entries {
        let picked: Links = serde_json::from_str(&entry.links).unwrap_or_default();
        let wanted = changed(&picked, &in_crm).then_some(shown.as_str());
        if entry.crm_links.as_deref() != wanted {
            state
                .store
                .set_entry_crm_links(&entry.id, wanted)
                .await
                .map_err(store_failed)?;
        }
    }
    Ok(())
}
