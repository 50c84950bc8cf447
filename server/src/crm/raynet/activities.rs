//! Writing to Raynet with typed request bodies: persons, activities (created with `PUT`, then
//! completed by an update, since participants, the place and the state are only accepted by an
//! update) and updates that send only what changed, with the participant list as a diff (a
//! negative id removes a participant), and webhooks.

use chrono::Utc;
use reqwest::Method;
use serde::Serialize;
use serde_json::Value;

use super::{RaynetClient, activity_entity, data, iso, wire};
use crate::crm::{
    ActivityKind, ActivityParticipant, ActivityStatus, ActivityUpdate, Crm, CrmError, NewActivity,
    NewPerson, ParticipantSpec, TimedActivityKind, TimedUpdate,
};

/// `PUT /person/`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct PersonBody<'a> {
    last_name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    first_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    contact_info: Option<ContactInfo<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    relationship: Option<Relationship>,
    #[serde(skip_serializing_if = "Option::is_none")]
    owner: Option<i64>,
}

#[derive(Debug, Serialize)]
struct ContactInfo<'a> {
    email: &'a str,
}

#[derive(Debug, Serialize)]
struct Relationship {
    company: i64,
}

/// `PUT /email/` or `PUT /meeting/`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct NewActivityBody<'a> {
    title: &'a str,
    priority: &'static str,
    owner: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    company: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    person: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    business_case: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    project: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scheduled_from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scheduled_till: Option<String>,
    description: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    ext_id: Option<&'a str>,
}

/// `POST /email/{id}/` or `POST /meeting/{id}/`: only the fields that change. A link set to
/// `Some(None)` is sent as `null` (removed).
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
struct ActivityPatch<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scheduled_from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scheduled_till: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    meeting_place: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    completed: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    company: Option<Option<i64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    business_case: Option<Option<i64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    project: Option<Option<i64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    participants: Option<Vec<ParticipantChange>>,
}

impl ActivityPatch<'_> {
    fn is_empty(&self) -> bool {
        self.title.is_none()
            && self.scheduled_from.is_none()
            && self.scheduled_till.is_none()
            && self.description.is_none()
            && self.meeting_place.is_none()
            && self.status.is_none()
            && self.completed.is_none()
            && self.company.is_none()
            && self.business_case.is_none()
            && self.project.is_none()
            && self.participants.is_none()
    }
}

/// One entry of an update's participant list.
#[derive(Debug, Serialize, PartialEq, Eq)]
#[serde(untagged)]
enum ParticipantChange {
    /// Removes the participant entry `-id`.
    Remove {
        /// The participant entry's id, negated.
        id: i64,
    },
    /// Adds a person and/or a company.
    Add {
        #[serde(skip_serializing_if = "Option::is_none")]
        person: Option<i64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        company: Option<i64>,
    },
}

/// `PUT /webhook/`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct WebhookBody<'a> {
    url: &'a str,
    secret_token: &'a str,
    events: &'a [&'a str],
}

fn status_name(status: ActivityStatus) -> &'static str {
    match status {
        ActivityStatus::New => "NEW",
        ActivityStatus::Scheduled => "SCHEDULED",
        ActivityStatus::Completed => "COMPLETED",
        ActivityStatus::Cancelled => "CANCELLED",
    }
}

/// A wanted participant is present when its person is (whatever company the CRM filled in), or,
/// for a company alone, when that company is there without a person.
fn same_participant(wanted: &ParticipantSpec, present: &ActivityParticipant) -> bool {
    match wanted.person_id {
        Some(person) => present.person_id == Some(person),
        None => present.person_id.is_none() && present.company_id == wanted.company_id,
    }
}

/// The changes that turn the `current` participants into `wanted` (the owner stays).
fn participant_diff(
    current: &[ActivityParticipant],
    wanted: &[ParticipantSpec],
) -> Vec<ParticipantChange> {
    let mut diff: Vec<ParticipantChange> = current
        .iter()
        .filter(|p| !p.owner)
        .filter(|p| !wanted.iter().any(|w| same_participant(w, p)))
        .filter_map(|p| p.id.map(|id| ParticipantChange::Remove { id: -id }))
        .collect();
    diff.extend(
        wanted
            .iter()
            .filter(|w| !current.iter().any(|p| same_participant(w, p)))
            .map(|w| ParticipantChange::Add {
                person: w.person_id,
                company: w.company_id,
            }),
    );
    diff
}

impl RaynetClient {
    pub(super) async fn insert_person(&self, person: &NewPerson) -> Result<i64, CrmError> {
        let body = PersonBody {
            last_name: &person.last_name,
            first_name: person.first_name.as_deref(),
            contact_info: person.email.as_deref().map(|email| ContactInfo { email }),
            relationship: person.company_id.map(|company| Relationship { company }),
            owner: person.owner_id,
        };
        let env = self
            .send_json::<wire::Inserted>(Method::PUT, self.url(&["person"]), &body)
            .await?;
        Ok(data(env)?.id)
    }

    pub(super) async fn insert_activity(&self, activity: &NewActivity) -> Result<i64, CrmError> {
        let links = &activity.links;
        let body = NewActivityBody {
            title: &activity.title,
            priority: "DEFAULT",
            owner: activity.owner_id,
            company: links.company_id,
            person: links.person_id,
            business_case: links.business_case_id,
            project: links.project_id,
            scheduled_from: activity.from.map(iso),
            scheduled_till: activity.till.map(iso),
            description: &activity.description,
            ext_id: activity.ext_id.as_deref(),
        };
        let url = self.url(&[activity_entity(activity.kind)]);
        let id = data(
            self.send_json::<wire::Inserted>(Method::PUT, url, &body)
                .await?,
        )?
        .id;
        // Participants, the place and the state are only accepted by an update. The contact
        // person of the links stays a participant.
        let mut participants = activity.participants.clone();
        if let Some(person) = links.person_id
            && !participants.iter().any(|p| p.person_id == Some(person))
        {
            participants.insert(
                0,
                ParticipantSpec {
                    person_id: Some(person),
                    company_id: None,
                },
            );
        }
        let follow_up = ActivityUpdate {
            place: activity.place.clone(),
            status: activity.status,
            participants: (!activity.participants.is_empty()).then_some(participants),
            till: activity
                .till
                .filter(|_| activity.status == Some(ActivityStatus::Completed)),
            ..ActivityUpdate::default()
        };
        if follow_up != ActivityUpdate::default() {
            self.patch_activity(activity.kind, id, &follow_up).await?;
        }
        Ok(id)
    }

    pub(super) async fn patch_activity(
        &self,
        kind: ActivityKind,
        id: i64,
        update: &ActivityUpdate,
    ) -> Result<(), CrmError> {
        let mut body = ActivityPatch {
            title: update.title.as_deref(),
            scheduled_from: update.from.map(iso),
            scheduled_till: update.till.map(iso),
            description: update.description.as_deref(),
            meeting_place: update
                .place
                .as_deref()
                .filter(|_| kind == ActivityKind::Meeting),
            ..ActivityPatch::default()
        };
        if let Some(status) = update.status {
            body.status = Some(status_name(status));
            if status == ActivityStatus::Completed {
                let done = update.till.or(update.from).unwrap_or_else(Utc::now);
                body.completed = Some(iso(done));
            }
        }
        if let Some(links) = &update.links {
            // The update takes no `person`: a contact is changed through participants.
            body.company = Some(links.company_id);
            body.business_case = Some(links.business_case_id);
            body.project = Some(links.project_id);
        }
        if let Some(wanted) = &update.participants {
            let current = if body.is_empty() && wanted.is_empty() {
                Vec::new()
            } else {
                self.get_activity(kind, id).await?.participants
            };
            let diff = participant_diff(&current, wanted);
            if !diff.is_empty() {
                body.participants = Some(diff);
            }
        }
        if body.is_empty() {
            return Ok(());
        }
        let url = self.url(&[activity_entity(kind), &id.to_string()]);
        self.send_json::<Value>(Method::POST, url, &body).await?;
        Ok(())
    }

    /// `POST /{entity}/{id}/` with what a calendar change carries: title, times, place
    /// (meetings and events only, as the spec has it) and state.
    pub(super) async fn patch_timed(
        &self,
        kind: TimedActivityKind,
        id: i64,
        update: &TimedUpdate,
    ) -> Result<(), CrmError> {
        let has_place = matches!(kind, TimedActivityKind::Meeting | TimedActivityKind::Event);
        let mut body = ActivityPatch {
            title: update.title.as_deref(),
            scheduled_from: update.from.map(iso),
            scheduled_till: update.till.map(iso),
            meeting_place: update
                .place
                .as_ref()
                .map(|p| p.as_deref().unwrap_or_default())
                .filter(|_| has_place),
            ..ActivityPatch::default()
        };
        if let Some(status) = update.status {
            body.status = Some(status_name(status));
        }
        if body.is_empty() {
            return Ok(());
        }
        let url = self.url(&[kind.entity(), &id.to_string()]);
        self.send_json::<Value>(Method::POST, url, &body).await?;
        Ok(())
    }

    pub(super) async fn insert_webhook(
        &self,
        url: &str,
        secret_token: &str,
        events: &[&str],
    ) -> Result<String, CrmError> {
        let body = WebhookBody {
            url,
            secret_token,
            events,
        };
        let env = self
            .send_json::<wire::WebhookInserted>(Method::PUT, self.url(&["webhook"]), &body)
            .await?;
        Ok(data(env)?.uuid)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_patch_sends_only_what_changes_and_removed_links_as_null() {
        let patch = ActivityPatch {
            title: Some("Offer"),
            company: Some(Some(5)),
            project: Some(None),
            business_case: Some(None),
            ..ActivityPatch::default()
        };
        assert_eq!(
            serde_json::to_value(&patch).unwrap(),
            json!({"title": "Offer", "company": 5, "businessCase": null, "project": null})
        );
        assert!(ActivityPatch::default().is_empty());
    }

    #[test]
    fn the_participant_diff_removes_by_negative_id_and_adds_the_missing() {
        let current = vec![
            ActivityParticipant {
                id: Some(10),
                person_id: Some(1),
                company_id: None,
                owner: true,
                name: None,
                email: None,
            },
            ActivityParticipant {
                id: Some(11),
                person_id: Some(2),
                company_id: Some(7),
                owner: false,
                name: None,
                email: None,
            },
        ];
        let wanted = vec![ParticipantSpec {
            person_id: Some(3),
            company_id: None,
        }];
        let diff = participant_diff(&current, &wanted);
        assert_eq!(
            serde_json::to_value(&diff).unwrap(),
            json!([{"id": -11}, {"person": 3}])
        );
    }

    #[test]
    fn a_new_person_leaves_out_what_is_unknown() {
        let body = PersonBody {
            last_name: "Nováková",
            first_name: None,
            contact_info: Some(ContactInfo {
                email: "jana@firma.cz",
            }),
            relationship: None,
            owner: Some(4),
        };
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            json!({"lastName": "Nováková", "contactInfo": {"email": "jana@firma.cz"}, "owner": 4})
        );
    }
}
