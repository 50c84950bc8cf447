//! One e-mail or meeting is one CRM activity across colleagues ("already saved by"), and the
//! ledger follows the CRM: an activity deleted in Raynet shows as deleted and saves again; links
//! changed in Raynet are shown.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use server::settings::{Setting, WebhookSettings};
use tests::mint_token_for;

use crate::activities::{Rig, add_employee, contact, email_body, quick_crm};

/// Polls the employee's entry for `query` until `done` holds for it (at most 20 s).
async fn entry_when(rig: &Rig, token: &str, query: &str, done: impl Fn(&Value) -> bool) -> Value {
    let path = format!("/api/addin/logged?{query}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (status, entry) = rig.send(Method::GET, &path, None, token).await;
        if status == StatusCode::OK && done(&entry) {
            return entry;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the entry never got there: {entry}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn saved(entry: &Value) -> bool {
    entry["status"] == "saved"
}

/// Bob: a second employee with his own CRM user and key.
async fn bob(rig: &Rig) -> (String, i64) {
    let user = rig
        .crm
        .sim
        .add_user("bob@firma.example.cz", "FULL_THROTTLE", "Bob Dvořák");
    let employee = add_employee(&rig.app, &user).await;
    (mint_token_for(&rig.entra, &employee), user.person_id)
}

fn meeting(uid: &str) -> Value {
    json!({
        "ical_uid": uid,
        "item_id": format!("AAMk-{uid}"),
        "subject": "Porada s klientem",
        "start": "2026-03-10T10:00:00", "end": "2026-03-10T11:00:00",
        "time_zone": "Europe/Prague",
        "organizer": {"name": "Klient", "email": "klient@example.cz"},
        "required": [{"name": "Alice", "email": "alice@firma.example.cz"},
                     {"name": "Bob", "email": "bob@firma.example.cz"}],
        "optional": [],
        "body_text": "Program",
        "links": {"company_id": null, "person_ids": [], "project_id": null,
                  "business_case_id": null}
    })
}

#[tokio::test]
async fn a_meeting_saved_by_two_colleagues_is_one_crm_activity_with_both_as_participants() {
    let rig = Rig::start(quick_crm).await;
    let (bob_token, bob_person) = bob(&rig).await;
    let body = meeting("040000008200E00074C5B7101A82E008-shared");
    let query = "ical_uid=040000008200E00074C5B7101A82E008-shared";

    let (status, _) = rig.post("/api/addin/meetings", &body).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let alice_entry = entry_when(&rig, &rig.token, query, saved).await;
    let (status, _) = rig
        .send(Method::POST, "/api/addin/meetings", Some(&body), &bob_token)
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let bob_entry = entry_when(&rig, &bob_token, query, saved).await;

    assert_eq!(bob_entry["crm_activity_id"], alice_entry["crm_activity_id"]);
    assert_eq!(bob_entry["crm_link"], alice_entry["crm_link"]);
    assert_eq!(
        bob_entry["saved_by"],
        rig.alice.identifier.as_str(),
        "{bob_entry}"
    );
    assert!(alice_entry["saved_by"].is_null(), "{alice_entry}");
    let meetings: Vec<_> = rig
        .crm
        .sim
        .activities()
        .into_iter()
        .filter(|a| a.kind == "meeting")
        .collect();
    assert_eq!(
        meetings.len(),
        1,
        "two Raynet meetings for one Outlook meeting"
    );
    let people: Vec<Option<i64>> = meetings[0].participants.iter().map(|p| p.person).collect();
    assert!(
        people.contains(&Some(bob_person)),
        "Bob is no participant: {people:?}"
    );
    assert!(
        people.contains(&Some(rig.alice_crm.person_id)),
        "{people:?}"
    );

    // Bob's Outlook copy changes: the shared activity keeps Alice's content and participants.
    let mut changed = body.clone();
    changed["subject"] = json!("Porada (Bobova kopie)");
    let (status, _) = rig
        .send(
            Method::POST,
            "/api/addin/meetings",
            Some(&changed),
            &bob_token,
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let again = entry_when(&rig, &bob_token, query, |e| {
        saved(e) && e["updated_at"] != bob_entry["updated_at"]
    })
    .await;
    assert_eq!(again["crm_activity_id"], alice_entry["crm_activity_id"]);
    let meeting = rig.activity(&alice_entry["crm_activity_id"]);
    assert_eq!(meeting.title, "Porada s klientem");
    let people: Vec<Option<i64>> = meeting.participants.iter().map(|p| p.person).collect();
    assert!(people.contains(&Some(bob_person)) && people.contains(&Some(rig.alice_crm.person_id)));
}

#[tokio::test]
async fn an_email_saved_by_two_recipients_is_one_crm_activity() {
    let rig = Rig::start(quick_crm).await;
    let (bob_token, bob_person) = bob(&rig).await;
    let (person, address, company) = contact(&rig.crm, 0);
    let body = email_body("<shared@firma.example.cz>", &address, company, person);
    let query = "internet_message_id=%3Cshared%40firma.example.cz%3E";

    rig.post("/api/addin/emails", &body).await;
    let alice_entry = entry_when(&rig, &rig.token, query, saved).await;
    rig.send(Method::POST, "/api/addin/emails", Some(&body), &bob_token)
        .await;
    let bob_entry = entry_when(&rig, &bob_token, query, saved).await;

    assert_eq!(bob_entry["crm_activity_id"], alice_entry["crm_activity_id"]);
    assert_eq!(bob_entry["saved_by"], rig.alice.identifier.as_str());
    let emails: Vec<_> = rig
        .crm
        .sim
        .activities()
        .into_iter()
        .filter(|a| a.kind == "email")
        .collect();
    assert_eq!(emails.len(), 1, "two Raynet e-mails for one message");
    assert!(
        emails[0]
            .participants
            .iter()
            .any(|p| p.person == Some(bob_person))
    );
}

/// Registers a webhook in the simulator pointing at the rig's server.
async fn register_webhook(rig: &Rig) {
    let store = rig.app.state.store.as_ref();
    let key = &rig.app.state.master_key;
    let id = format!("{:032x}", rand::random::<u128>());
    let token = format!("{:032x}", rand::random::<u128>());
    let mut hook = WebhookSettings {
        webhook_id: id.clone(),
        ..Default::default()
    };
    hook.set_secret_token(key, &token);
    hook.save(store).await.unwrap();
    rig.app
        .state
        .crm
        .admin(store, key)
        .await
        .unwrap()
        .create_webhook(
            &rig.app.url(&format!("/api/raynet-event/{id}")),
            &token,
            &server::crm::WEBHOOK_EVENTS,
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn an_activity_deleted_in_raynet_shows_as_deleted_and_is_saved_again_on_request() {
    let rig = Rig::start(quick_crm).await;
    register_webhook(&rig).await;
    let (person, address, company) = contact(&rig.crm, 0);
    let body = email_body("<gone@firma.example.cz>", &address, company, person);
    let query = "internet_message_id=%3Cgone%40firma.example.cz%3E";
    rig.post("/api/addin/emails", &body).await;
    let entry = entry_when(&rig, &rig.token, query, saved).await;
    let first = entry["crm_activity_id"].as_i64().unwrap();

    let (status, _) = rig
        .crm
        .sim
        .user_change(&Method::DELETE, "email", Some(first), &json!({}));
    assert_eq!(status, StatusCode::OK);
    let gone = entry_when(&rig, &rig.token, query, |e| e["status"] == "deleted_in_crm").await;
    assert!(
        gone["crm_link"].is_null(),
        "a link to a deleted activity: {gone}"
    );

    let (status, _) = rig.post("/api/addin/emails", &body).await;
    assert_eq!(status, StatusCode::ACCEPTED, "saving again is accepted");
    let again = entry_when(&rig, &rig.token, query, saved).await;
    let second = again["crm_activity_id"].as_i64().unwrap();
    assert_ne!(second, first);
    assert!(rig.crm.sim.activities().iter().any(|a| a.id == second));
}

#[tokio::test]
async fn links_changed_in_raynet_are_shown_beside_the_picked_ones() {
    let rig = Rig::start(quick_crm).await;
    register_webhook(&rig).await;
    let (person, address, company) = contact(&rig.crm, 0);
    let (_, _, other_company) = (1..)
        .map(|n| contact(&rig.crm, n))
        .find(|c| c.2 != company)
        .unwrap();
    let body = email_body("<moved@firma.example.cz>", &address, company, person);
    let query = "internet_message_id=%3Cmoved%40firma.example.cz%3E";
    rig.post("/api/addin/emails", &body).await;
    let entry = entry_when(&rig, &rig.token, query, saved).await;
    assert!(entry["crm_links"].is_null(), "{entry}");
    let id = entry["crm_activity_id"].as_i64().unwrap();

    let (status, answer) = rig.crm.sim.user_change(
        &Method::POST,
        "email",
        Some(id),
        &json!({"company": other_company}),
    );
    assert_eq!(status, StatusCode::OK, "{answer}");
    let changed = entry_when(&rig, &rig.token, query, |e| !e["crm_links"].is_null()).await;
    assert_eq!(changed["crm_links"]["company_id"], other_company);
    assert_eq!(
        changed["links"]["company_id"], company,
        "the picked links stay"
    );
    assert_eq!(changed["status"], "saved");
}
