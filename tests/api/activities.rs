//! Saving e-mails and meetings into the CRM through the add-in API, against raynet-sim: owner,
//! links, participants, times, body, exactly-once under double posts, outages, 429 and retries,
//! re-link, unlink, "add as contact", and who may see an entry.

use std::{net::SocketAddr, time::Duration};

use futures::StreamExt;
use reqwest::StatusCode;
use serde_json::{Value, json};
use server::{
    config::Config,
    items::{Item, ItemKind},
    settings::{CrmConnectionSettings, ParticipantSyncMode, Setting, SyncSettings},
    store::Employee,
};
use tests::{
    TestApp, TestDb,
    entra_sim::{DEFAULT_TENANT, EntraSim},
    mint_token_for,
    raynet_sim::{Activity, Fault, Faults, RaynetSim, SimOptions, SimUser},
    spawn_app_with,
};

/// The server, both simulators and one employee with a CRM key.
pub(crate) struct Rig {
    pub(crate) app: TestApp,
    pub(crate) entra: EntraSim,
    pub(crate) crm: RaynetSim,
    pub(crate) alice: Employee,
    pub(crate) alice_crm: SimUser,
    pub(crate) token: String,
}

/// Makes the CRM client give up at once, so the job queue does the waiting.
pub(crate) fn quick_crm(config: &mut Config) {
    config.crm.max_retries = 0;
    config.crm.request_timeout_secs = 5;
    config.jobs.max_backoff_secs = 1;
}

impl Rig {
    pub(crate) async fn start(adjust: impl FnOnce(&mut Config)) -> Self {
        Self::start_on(TestDb::for_this_run().await, adjust).await
    }

    pub(crate) async fn start_on(db: TestDb, adjust: impl FnOnce(&mut Config)) -> Self {
        let crm = RaynetSim::start(SimOptions::default())
            .await
            .expect("raynet-sim starts");
        let entra = EntraSim::start(SocketAddr::from(([127, 0, 0, 1], 0)), DEFAULT_TENANT)
            .await
            .expect("entra-sim starts");
        let authority = entra.authority();
        let app = spawn_app_with(db, |c| {
            c.entra.authority = authority;
            adjust(c);
        })
        .await;
        app.trust_entra_sim(&entra).await;
        let alice_crm = connect_crm(&app, &crm).await;
        let alice = add_employee(&app, &alice_crm).await;
        load_persons(&app, &crm).await;
        let token = mint_token_for(&entra, &alice);
        Self {
            app,
            entra,
            crm,
            alice,
            alice_crm,
            token,
        }
    }

    pub(crate) async fn post(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        self.send(reqwest::Method::POST, path, Some(body), &self.token)
            .await
    }

    pub(crate) async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
        token: &str,
    ) -> (StatusCode, Value) {
        let mut request = self
            .app
            .client
            .request(method, self.app.url(path))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.expect("the server answers");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Polls the entry until it leaves `queued` (or `within` passes) and returns it.
    pub(crate) async fn settled(&self, query: &str, within: Duration) -> Value {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let (status, entry) = self
                .send(
                    reqwest::Method::GET,
                    &format!("/api/addin/logged?{query}"),
                    None,
                    &self.token,
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{entry}");
            if entry["status"] != "queued" || tokio::time::Instant::now() > deadline {
                return entry;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The simulator's activity with this id.
    pub(crate) fn activity(&self, id: &Value) -> Activity {
        let id = id.as_i64().expect("an activity id");
        self.crm
            .sim
            .activities()
            .into_iter()
            .find(|a| a.id == id)
            .expect("the activity exists in the CRM")
    }
}

/// Stores the CRM connection and adds a CRM user for Alice.
pub(crate) async fn connect_crm(app: &TestApp, crm: &RaynetSim) -> SimUser {
    let mut settings = CrmConnectionSettings {
        base_url: crm.url.clone(),
        instance: crm.instance.clone(),
        user_email: crm.admin.username.clone(),
        api_key_enc: None,
        ..Default::default()
    };
    settings.set_api_key(&app.state.master_key, &crm.admin.api_key);
    settings
        .save(app.state.store.as_ref())
        .await
        .expect("settings saved");
    crm.sim
        .add_user("alice@firma.example.cz", "FULL_THROTTLE", "Alice Nováková")
}

/// Creates the employee Alice with her own CRM key.
pub(crate) async fn add_employee(app: &TestApp, user: &SimUser) -> Employee {
    let employee = app.create_employee(&user.username, false).await;
    let sealed = app.state.master_key.seal(
        &server::secrets::employee_crm_key_aad(&employee.id),
        &user.api_key,
    );
    let base_url = CrmConnectionSettings::load(app.state.store.as_ref())
        .await
        .expect("the connection is stored")
        .base_url;
    app.state
        .store
        .set_crm_api_key_enc(&employee.id, Some(&sealed), Some(&base_url))
        .await
        .expect("key stored");
    app.state
        .store
        .employee(&employee.id)
        .await
        .expect("the store answers")
        .expect("the employee exists")
}

/// Puts the simulator's persons into the item cache (what the import would do).
pub(crate) async fn load_persons(app: &TestApp, crm: &RaynetSim) {
    let count = crm.sim.count("person") as i64;
    let items: Vec<Item> = (1..=count + 5)
        .filter_map(|id| crm.sim.person(id))
        .map(|p| Item {
            kind: ItemKind::Person,
            id: p.id,
            name: p.full_name(),
            subtitle: String::new(),
            emails: p.email.iter().map(|e| e.to_lowercase()).collect(),
            company_id: p.company_id,
            open: true,
            updated_at: None,
            security_level: None,
        })
        .collect();
    app.state
        .items
        .upsert(app.state.store.as_ref(), items)
        .await
        .expect("items cached");
}

/// A CRM person with an e-mail and a company (a generated contact).
pub(crate) fn contact(crm: &RaynetSim, nth: usize) -> (i64, String, i64) {
    (1..200)
        .filter_map(|id| crm.sim.person(id))
        .filter(|p| p.email.is_some() && p.company_id.is_some())
        .nth(nth)
        .map(|p| {
            (
                p.id,
                p.email.as_deref().unwrap_or_default().to_lowercase(),
                p.company_id.unwrap_or_default(),
            )
        })
        .expect("the simulator has contacts")
}

pub(crate) fn email_body(message_id: &str, to: &str, company: i64, person: i64) -> Value {
    json!({
        "internet_message_id": message_id,
        "item_id": format!("AAMk-{message_id}"),
        "subject": "Nabídka na servis",
        "from": {"name": "Alice Nováková", "email": "alice@firma.example.cz"},
        "to": [{"name": "Klient", "email": to}],
        "cc": [{"name": "Neznámý", "email": "nobody@unknown.example"}],
        "sent_at": "2026-03-02T09:15:00+01:00",
        "body_text": "Dobrý den,\nposíláme nabídku.",
        "attachments": [{"name": "nabidka.pdf", "size": 12345}],
        "links": {"company_id": company, "person_ids": [person], "project_id": null,
                  "business_case_id": null}
    })
}

#[tokio::test]
async fn an_email_lands_once_as_an_email_activity_with_owner_links_and_body() {
    let rig = Rig::start(quick_crm).await;
    let (person, address, company) = contact(&rig.crm, 0);
    let body = email_body("<m1@firma.example.cz>", &address, company, person);

    let (status, entry) = rig.post("/api/addin/emails", &body).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{entry}");
    assert_eq!(entry["kind"], "email");
    assert_eq!(entry["unmatched"], json!(["nobody@unknown.example"]));
    let (again, repeat) = rig.post("/api/addin/emails", &body).await;
    assert_eq!(again, StatusCode::OK, "{repeat}");
    assert_eq!(repeat["id"], entry["id"]);

    let saved = rig
        .settled(
            "internet_message_id=%3Cm1%40firma.example.cz%3E",
            Duration::from_secs(20),
        )
        .await;
    assert_eq!(saved["status"], "saved", "{saved}");
    let link = saved["crm_link"].as_str().expect("a link to the CRM");
    // Raynet's web app address for the record, which the simulator serves like Raynet does.
    assert_eq!(
        link,
        format!(
            "{}/{}/?view=DetailView&en=Email&ei={}",
            rig.crm.root, rig.crm.instance, saved["crm_activity_id"]
        )
    );
    let card = reqwest::get(link).await.unwrap();
    assert_eq!(card.status(), StatusCode::OK);
    assert!(card.text().await.unwrap().contains("Nabídka na servis"));
    let activity = rig.activity(&saved["crm_activity_id"]);
    assert_eq!(activity.kind, "email");
    assert_eq!(
        activity.owner_id, rig.alice_crm.person_id,
        "owner is the employee"
    );
    assert_eq!(
        activity.created_by, rig.alice_crm.username,
        "written with her key"
    );
    assert_eq!(activity.company_id, Some(company));
    assert_eq!(activity.person_id, Some(person));
    assert_eq!(activity.title, "Nabídka na servis");
    assert_eq!(
        activity.from,
        Some(
            chrono::DateTime::parse_from_rfc3339("2026-03-02T08:15:00Z")
                .unwrap()
                .timestamp_millis()
        )
    );
    let description = activity.description.clone().unwrap_or_default();
    assert!(description.contains("posíláme nabídku"), "{description}");
    assert!(description.contains("nabidka.pdf"), "{description}");
    assert_eq!(
        activity.ext_ids,
        vec![saved["id"].as_str().unwrap().to_owned()]
    );
    assert_eq!(
        rig.crm.sim.count("email"),
        1,
        "the double post made one activity"
    );

    let picks = rig
        .app
        .state
        .store
        .recent_picks(&rig.alice.id, ItemKind::Person, 5)
        .await
        .unwrap();
    assert_eq!(picks, vec![person], "the picked person is a recent pick");
}

#[tokio::test]
async fn an_item_never_saved_is_answered_as_not_logged_not_as_an_error() {
    let rig = Rig::start(quick_crm).await;
    let (status, entry) = rig
        .send(
            reqwest::Method::GET,
            "/api/addin/logged?internet_message_id=%3Cnever%40x%3E",
            None,
            &rig.token,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{entry}");
    assert_eq!(entry["status"], "not_logged");
}

#[tokio::test]
async fn a_save_the_crm_refuses_is_queued_with_the_reason_until_it_goes_through() {
    let rig = Rig::start(|c| {
        quick_crm(c);
        c.jobs.max_attempts = 1000;
    })
    .await;
    let (person, address, company) = contact(&rig.crm, 0);
    rig.crm.sim.set_faults(Faults {
        outage_secs: 3600,
        ..Faults::default()
    });
    let body = email_body("<down@x>", &address, company, person);
    let (status, entry) = rig.post("/api/addin/emails", &body).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert!(
        entry["error"].is_null(),
        "no attempt yet: the pane says 'Saving…'"
    );
    let query = "internet_message_id=%3Cdown%40x%3E";
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let noted = loop {
        let (_, entry) = rig
            .send(
                reqwest::Method::GET,
                &format!("/api/addin/logged?{query}"),
                None,
                &rig.token,
            )
            .await;
        if entry["error"].is_string() || tokio::time::Instant::now() > deadline {
            break entry;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(noted["status"], "queued", "{noted}");
    assert!(
        noted["error"].is_string(),
        "a failed attempt is told: {noted}"
    );
    rig.crm.sim.set_faults(Faults::default());
    let saved = rig.settled(query, Duration::from_secs(30)).await;
    assert_eq!(saved["status"], "saved", "{saved}");
    assert!(saved["error"].is_null(), "{saved}");
}

#[tokio::test]
async fn a_long_body_is_truncated_with_a_marker() {
    let rig = Rig::start(quick_crm).await;
    let (person, address, company) = contact(&rig.crm, 0);
    let mut body = email_body("<long@x>", &address, company, person);
    body["body_text"] = json!("á".repeat(server::activities::MAX_DESCRIPTION_CHARS + 500));
    let (status, _) = rig.post("/api/addin/emails", &body).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let saved = rig
        .settled(
            "internet_message_id=%3Clong%40x%3E",
            Duration::from_secs(20),
        )
        .await;
    let description = rig
        .activity(&saved["crm_activity_id"])
        .description
        .unwrap_or_default();
    assert_eq!(
        description.chars().count(),
        server::activities::MAX_DESCRIPTION_CHARS
    );
    assert!(description.ends_with(server::activities::TRUNCATION_MARKER));
}

fn meeting_body(uid: &str, start: &str, end: &str, zone: &str, attendee: &str) -> Value {
    json!({
        "ical_uid": uid,
        "item_id": format!("AAMk-{uid}"),
        "subject": "Porada",
        "start": start, "end": end, "time_zone": zone,
        "location": "Brno, zasedačka",
        "organizer": {"name": "Alice", "email": "alice@firma.example.cz"},
        "required": [{"name": "Klient", "email": attendee}],
        "optional": [{"name": "Host", "email": "guest@unknown.example"}],
        "body_text": "Program porady",
        "links": {"company_id": null, "person_ids": [], "project_id": null,
                  "business_case_id": null}
    })
}

fn utc_ms(text: &str) -> Option<i64> {
    Some(
        chrono::DateTime::parse_from_rfc3339(text)
            .unwrap()
            .timestamp_millis(),
    )
}

#[tokio::test]
async fn meetings_land_with_times_right_across_dst_and_attendees_as_participants() {
    let rig = Rig::start(quick_crm).await;
    let (person, address, _) = contact(&rig.crm, 1);
    // Winter time in Prague (UTC+1), named the way Outlook on Windows names it.
    let winter = meeting_body(
        "uid-winter",
        "2026-03-27T10:00:00",
        "2026-03-27T11:30:00",
        "Central Europe Standard Time",
        &address,
    );
    // Summer time (UTC+2), two days later, by IANA name.
    let summer = meeting_body(
        "uid-summer",
        "2026-03-30T10:00:00",
        "2026-03-30T11:30:00",
        "Europe/Prague",
        &address,
    );
    for body in [&winter, &summer] {
        let (status, entry) = rig.post("/api/addin/meetings", body).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{entry}");
        assert_eq!(entry["unmatched"], json!(["guest@unknown.example"]));
    }
    let w = rig
        .settled("ical_uid=uid-winter", Duration::from_secs(20))
        .await;
    let s = rig
        .settled("ical_uid=uid-summer", Duration::from_secs(20))
        .await;
    let (w, s) = (
        rig.activity(&w["crm_activity_id"]),
        rig.activity(&s["crm_activity_id"]),
    );
    assert_eq!(w.kind, "meeting");
    assert_eq!(w.from, utc_ms("2026-03-27T09:00:00Z"));
    assert_eq!(w.till, utc_ms("2026-03-27T10:30:00Z"));
    assert_eq!(s.from, utc_ms("2026-03-30T08:00:00Z"));
    assert_eq!(s.till, utc_ms("2026-03-30T09:30:00Z"));
    assert_eq!(w.place.as_deref(), Some("Brno, zasedačka"));
    assert_eq!(w.owner_id, rig.alice_crm.person_id);
    let attendees: Vec<i64> = w
        .participants
        .iter()
        .filter(|p| !p.owner)
        .filter_map(|p| p.person)
        .collect();
    assert_eq!(
        attendees,
        vec![person],
        "the known attendee is a participant"
    );

    // Changed in Outlook and saved again: the same activity is updated.
    let mut moved = summer.clone();
    moved["subject"] = json!("Porada (přesunuto)");
    moved["start"] = json!("2026-03-31T14:00:00");
    moved["end"] = json!("2026-03-31T15:00:00");
    let (status, entry) = rig.post("/api/addin/meetings", &moved).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{entry}");
    let again = rig
        .settled("ical_uid=uid-summer", Duration::from_secs(20))
        .await;
    assert_eq!(again["crm_activity_id"], json!(s.id));
    let updated = rig.activity(&again["crm_activity_id"]);
    assert_eq!(updated.title, "Porada (přesunuto)");
    assert_eq!(updated.from, utc_ms("2026-03-31T12:00:00Z"));
    assert_eq!(rig.crm.sim.count("meeting"), 2);
}

#[tokio::test]
async fn picked_persons_and_meeting_attendees_are_participants_whatever_the_participant_mode() {
    let rig = Rig::start(quick_crm).await;
    // The mode governs only which attendees calendar sync puts on Outlook events; what the user
    // picked in Outlook is their explicit choice and is written even in the strictest mode.
    SyncSettings {
        participant_mode: ParticipantSyncMode::None,
    }
    .save(rig.app.state.store.as_ref())
    .await
    .unwrap();
    let (attendee, address, _) = contact(&rig.crm, 1);
    let (picked, _, _) = contact(&rig.crm, 2);
    let mut meeting = meeting_body(
        "uid-none",
        "2026-05-05T10:00:00Z",
        "2026-05-05T11:00:00Z",
        "UTC",
        &address,
    );
    meeting["links"]["person_ids"] = json!([picked]);
    rig.post("/api/addin/meetings", &meeting).await;
    let (person, to, company) = contact(&rig.crm, 0);
    rig.post(
        "/api/addin/emails",
        &email_body("<none@x>", &to, company, person),
    )
    .await;
    // Ids are per activity type in the CRM: the meeting and the e-mail may share one.
    let people = |saved: &Value, kind: &str| -> Vec<i64> {
        let activity = rig
            .crm
            .sim
            .activities()
            .into_iter()
            .find(|a| Some(a.id) == saved["crm_activity_id"].as_i64() && a.kind == kind)
            .expect("the activity exists in the CRM");
        let mut people: Vec<i64> = activity
            .participants
            .iter()
            .filter(|p| !p.owner)
            .filter_map(|p| p.person)
            .collect();
        people.sort_unstable();
        people
    };
    let saved = rig
        .settled("ical_uid=uid-none", Duration::from_secs(20))
        .await;
    let mut expected = vec![attendee, picked];
    expected.sort_unstable();
    assert_eq!(
        people(&saved, "meeting"),
        expected,
        "picked person and attendee"
    );
    let saved = rig
        .settled(
            "internet_message_id=%3Cnone%40x%3E",
            Duration::from_secs(20),
        )
        .await;
    assert_eq!(
        people(&saved, "email"),
        vec![person],
        "the e-mail's picked person"
    );
}

#[tokio::test]
async fn bad_meeting_times_and_zones_are_refused_with_422() {
    let rig = Rig::start(quick_crm).await;
    for (start, zone) in [
        ("2026-03-27T10:00:00", "Mars/Olympus"),
        ("2026-03-27T10:00:00", ""),
        ("next tuesday", "UTC"),
    ] {
        let body = meeting_body("uid-bad", start, "2026-03-27T11:00:00Z", zone, "x@y.cz");
        let (status, error) = rig.post("/api/addin/meetings", &body).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{start} {zone}: {error}"
        );
        assert_eq!(error["error"]["code"], "invalid");
    }
    let (status, _) = rig
        .post("/api/addin/emails", &json!({"subject": "no id"}))
        .await;
    assert!(status.is_client_error());
}

#[tokio::test]
async fn unknown_attendees_are_reported_and_can_be_added_as_contacts() {
    let rig = Rig::start(quick_crm).await;
    let (_, _, company) = contact(&rig.crm, 0);
    let before = rig.crm.sim.count("person");
    let (status, item) = rig
        .post(
            "/api/addin/persons",
            &json!({"first_name": "Nový", "last_name": "Kontakt",
                    "email": "Guest@Unknown.example", "company_id": company}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{item}");
    assert_eq!(item["kind"], "person");
    assert_eq!(item["name"], "Nový Kontakt");
    assert_eq!(rig.crm.sim.count("person"), before + 1);
    let created = rig
        .crm
        .sim
        .person(item["id"].as_i64().unwrap())
        .expect("in the CRM");
    assert_eq!(created.company_id, Some(company));

    // The new contact is matched at once.
    let body = meeting_body(
        "uid-new",
        "2026-05-05T10:00:00Z",
        "2026-05-05T11:00:00Z",
        "UTC",
        "nobody@else.example",
    );
    let (_, entry) = rig.post("/api/addin/meetings", &body).await;
    assert_eq!(entry["unmatched"], json!(["nobody@else.example"]));
    let saved = rig
        .settled("ical_uid=uid-new", Duration::from_secs(20))
        .await;
    let activity = rig.activity(&saved["crm_activity_id"]);
    assert!(
        activity
            .participants
            .iter()
            .any(|p| p.person == item["id"].as_i64()),
        "{:?}",
        activity.participants
    );

    let (status, _) = rig
        .post(
            "/api/addin/persons",
            &json!({"last_name": "", "email": "x@y.cz"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn relink_and_unlink_change_and_delete_the_crm_activity() {
    let rig = Rig::start(quick_crm).await;
    let (person, address, company) = contact(&rig.crm, 0);
    let (other_person, _, other_company) = contact(&rig.crm, 4);
    let (_, entry) = rig
        .post(
            "/api/addin/emails",
            &email_body("<rl@x>", &address, company, person),
        )
        .await;
    let id = entry["id"].as_str().unwrap().to_owned();
    let saved = rig
        .settled("internet_message_id=%3Crl%40x%3E", Duration::from_secs(20))
        .await;

    let links = json!({"links": {"company_id": other_company, "person_ids": [other_person],
                                 "project_id": null, "business_case_id": null}});
    let (status, relinked) = rig
        .send(
            reqwest::Method::PUT,
            &format!("/api/addin/logged/{id}"),
            Some(&links),
            &rig.token,
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{relinked}");
    let after = rig
        .settled("internet_message_id=%3Crl%40x%3E", Duration::from_secs(20))
        .await;
    assert_eq!(after["status"], "saved");
    assert_eq!(after["crm_activity_id"], saved["crm_activity_id"]);
    assert_eq!(after["links"]["company_id"], json!(other_company));
    let activity = rig.activity(&after["crm_activity_id"]);
    assert_eq!(activity.company_id, Some(other_company));
    // The CRM changes an activity's contact only through its participants.
    let people: Vec<i64> = activity
        .participants
        .iter()
        .filter(|p| !p.owner)
        .filter_map(|p| p.person)
        .collect();
    assert_eq!(people, vec![other_person], "{:?}", activity.participants);

    let (status, unlinked) = rig
        .send(
            reqwest::Method::DELETE,
            &format!("/api/addin/logged/{id}"),
            None,
            &rig.token,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{unlinked}");
    assert_eq!(unlinked["status"], "unlinked");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while rig.crm.sim.count("email") > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(rig.crm.sim.count("email"), 0, "the CRM activity is deleted");
    let entry = rig
        .settled("internet_message_id=%3Crl%40x%3E", Duration::from_secs(5))
        .await;
    assert_eq!(entry["status"], "unlinked");
    assert_eq!(entry["crm_activity_id"], Value::Null);
}

#[tokio::test]
async fn another_employee_cannot_see_or_change_someone_elses_entry() {
    let rig = Rig::start(quick_crm).await;
    let (person, address, company) = contact(&rig.crm, 0);
    let (_, entry) = rig
        .post(
            "/api/addin/emails",
            &email_body("<own@x>", &address, company, person),
        )
        .await;
    let id = entry["id"].as_str().unwrap().to_owned();
    let bob = rig.app.create_employee("bob@firma.example.cz", false).await;
    let bob_token = mint_token_for(&rig.entra, &bob);

    let (status, seen) = rig
        .send(
            reqwest::Method::GET,
            "/api/addin/logged?internet_message_id=%3Cown%40x%3E",
            None,
            &bob_token,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{seen}");
    assert_eq!(
        seen["status"], "not_logged",
        "Bob learns nothing of Alice's entry"
    );
    assert_eq!(seen["id"], "");
    let links = json!({"links": {"company_id": null, "person_ids": []}});
    let (status, _) = rig
        .send(
            reqwest::Method::PUT,
            &format!("/api/addin/logged/{id}"),
            Some(&links),
            &bob_token,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = rig
        .send(
            reqwest::Method::DELETE,
            &format!("/api/addin/logged/{id}"),
            None,
            &bob_token,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "not_found");
    let saved = rig
        .settled("internet_message_id=%3Cown%40x%3E", Duration::from_secs(20))
        .await;
    assert_eq!(saved["status"], "saved", "Bob changed nothing");
    let (status, _) = rig
        .send(
            reqwest::Method::GET,
            "/api/addin/logged?internet_message_id=%3Cown%40x%3E",
            None,
            "",
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_quota_exhausted_crm_delays_saving_until_its_reset_without_losing_anything() {
    let rig = Rig::start(quick_crm).await;
    let (person, address, company) = contact(&rig.crm, 0);
    for _ in 0..3 {
        rig.crm.sim.push_fault(Fault::RateLimit {
            reset_in_secs: Some(2),
        });
    }
    let started = std::time::Instant::now();
    let (status, _) = rig
        .post(
            "/api/addin/emails",
            &email_body("<q@x>", &address, company, person),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let saved = rig
        .settled("internet_message_id=%3Cq%40x%3E", Duration::from_secs(30))
        .await;
    assert_eq!(saved["status"], "saved", "{saved}");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "the job waited for the reset ({:?})",
        started.elapsed()
    );
    assert_eq!(rig.crm.sim.count("email"), 1);
}

#[tokio::test]
async fn emails_logged_during_a_crm_outage_all_arrive_exactly_once_after_it() {
    const EMAILS: usize = 500;
    // The 30 s outage; `TEST_OUTAGE_SECS` shortens it while iterating locally.
    let outage_secs: u64 = std::env::var("TEST_OUTAGE_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    let rig = Rig::start(|c| {
        quick_crm(c);
        c.jobs.max_attempts = 1000;
        c.jobs.max_backoff_secs = 2;
    })
    .await;
    let (person, address, company) = contact(&rig.crm, 0);
    // Down until lifted below, so the outage outlasts the posting however slow the machine is.
    let outage_started = std::time::Instant::now();
    rig.crm.sim.set_faults(Faults {
        outage_secs: 3600,
        ..Faults::default()
    });
    let posted: Vec<StatusCode> = futures::stream::iter(0..EMAILS)
        .map(|n| {
            let body = email_body(&format!("<outage-{n}@x>"), &address, company, person);
            let rig = &rig;
            async move { rig.post("/api/addin/emails", &body).await.0 }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    let refused: Vec<_> = posted
        .iter()
        .filter(|s| **s != StatusCode::ACCEPTED)
        .collect();
    assert!(refused.is_empty(), "{refused:?}");
    assert_eq!(
        rig.crm.sim.count("email"),
        0,
        "nothing got through during the outage"
    );
    let down_for = Duration::from_secs(outage_secs);
    tokio::time::sleep(down_for.saturating_sub(outage_started.elapsed())).await;
    assert_eq!(rig.crm.sim.count("email"), 0);
    rig.crm.sim.set_faults(Faults::default());

    let deadline = tokio::time::Instant::now() + Duration::from_secs(outage_secs + 90);
    while rig.app.state.store.count_jobs("queued").await.unwrap() > 0
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(rig.app.state.store.count_jobs("queued").await.unwrap(), 0);
    assert_eq!(rig.app.state.store.count_jobs("failed").await.unwrap(), 0);
    let activities = rig.crm.sim.activities();
    assert_eq!(
        activities.len(),
        EMAILS,
        "every e-mail arrived exactly once"
    );
    let mut ext: Vec<&String> = activities.iter().flat_map(|a| &a.ext_ids).collect();
    ext.sort();
    ext.dedup();
    assert_eq!(ext.len(), EMAILS, "one activity per ledger entry");
}

#[tokio::test]
async fn after_the_retry_limit_the_entry_fails_and_an_admin_retry_saves_it() {
    let rig = Rig::start(|c| {
        quick_crm(c);
        c.jobs.max_attempts = 2;
    })
    .await;
    let (person, address, company) = contact(&rig.crm, 0);
    rig.crm.sim.set_faults(Faults {
        outage_secs: 600,
        ..Faults::default()
    });
    rig.post(
        "/api/addin/emails",
        &email_body("<f@x>", &address, company, person),
    )
    .await;
    let failed = rig
        .settled("internet_message_id=%3Cf%40x%3E", Duration::from_secs(20))
        .await;
    assert_eq!(failed["status"], "failed", "{failed}");
    let reason = failed["error"].as_str().unwrap_or_default();
    assert!(
        reason.contains("gave up after 2 attempts") && reason.contains("unavailable"),
        "{reason}"
    );

    let admin = rig.app.login_as_admin().await;
    let list: Value = admin
        .client
        .get(rig.app.url("/api/admin/jobs?status=failed"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["failed"], 1, "{list}");
    let job = &list["jobs"][0];
    assert_eq!(job["entry_id"], failed["id"]);
    assert_eq!(job["attempts"], 2);
    let job_id = job["id"].as_str().unwrap();

    let url = rig.app.url(&format!("/api/admin/jobs/{job_id}/retry"));
    let no_csrf = admin.client.post(&url).send().await.unwrap();
    assert_eq!(no_csrf.status(), StatusCode::FORBIDDEN, "CSRF is required");
    let (status, _) = rig
        .send(
            reqwest::Method::POST,
            &format!("/api/admin/jobs/{job_id}/retry"),
            None,
            &rig.token,
        )
        .await;
    assert!(
        status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN,
        "{status}"
    );

    rig.crm.sim.set_faults(Faults::default());
    let retried = admin
        .send_with_csrf(reqwest::Method::POST, &url)
        .send()
        .await
        .unwrap();
    assert_eq!(retried.status(), StatusCode::ACCEPTED);
    let saved = rig
        .settled("internet_message_id=%3Cf%40x%3E", Duration::from_secs(20))
        .await;
    assert_eq!(saved["status"], "saved", "{saved}");
    assert_eq!(rig.crm.sim.count("email"), 1);
    let again = admin
        .send_with_csrf(reqwest::Method::POST, &url)
        .send()
        .await
        .unwrap();
    assert_eq!(
        again.status(),
        StatusCode::CONFLICT,
        "a done job cannot be retried"
    );
}

#[tokio::test]
async fn jobs_pending_when_the_server_is_killed_complete_exactly_once_after_a_restart() {
    const EMAILS: usize = 40;
    // The in-process server only takes the posts; the real binary runs the jobs.
    let rig = Rig::start(|c| {
        quick_crm(c);
        c.jobs.enabled = false;
    })
    .await;
    let (person, address, company) = contact(&rig.crm, 0);
    for n in 0..EMAILS {
        let body = email_body(&format!("<kill-{n}@x>"), &address, company, person);
        let (status, _) = rig.post("/api/addin/emails", &body).await;
        assert_eq!(status, StatusCode::ACCEPTED);
    }
    rig.crm.sim.set_faults(Faults {
        latency_ms: 60,
        ..Faults::default()
    });
    let dir = rig.app.db.dir.path();
    let config = dir.join("kill.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\ndata_dir = {data:?}\n[database]\nurl = {url:?}\n[crm]\nmax_retries = 0\nallow_other_hosts = true\n\
             [jobs]\nlease_secs = 2\npoll_interval_ms = 50\nmax_backoff_secs = 1\n",
            data = dir.display().to_string(),
            url = rig.app.db.url.expose(),
        ),
    )
    .unwrap();
    let config = config.display().to_string();
    let args = ["--config", config.as_str()];

    let server = tests::process::ServerProcess::start(dir, &args, &[], false).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while rig.crm.sim.count("email") < 5 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    server.kill().await;
    let at_kill = rig.crm.sim.count("email");
    assert!(
        (5..EMAILS).contains(&at_kill),
        "killed with jobs pending ({at_kill} of {EMAILS} saved)"
    );

    let server = tests::process::ServerProcess::start(dir, &args, &[], false).await;
    let store = rig.app.state.store.clone();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    while store.count_jobs("queued").await.unwrap() > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let status = server.terminate().await;
    assert!(status.success(), "{status}");
    assert_eq!(
        store.count_jobs("queued").await.unwrap(),
        0,
        "every job completed"
    );
    assert_eq!(store.count_jobs("failed").await.unwrap(), 0);
    let activities = rig.crm.sim.activities();
    assert_eq!(
        activities.len(),
        EMAILS,
        "exactly once: no duplicates, none lost"
    );
    let mut ext: Vec<&String> = activities.iter().flat_map(|a| &a.ext_ids).collect();
    ext.sort();
    ext.dedup();
    assert_eq!(ext.len(), EMAILS);
    for n in [0, EMAILS / 2, EMAILS - 1] {
        let entry = rig
            .settled(
                &format!("internet_message_id=%3Ckill-{n}%40x%3E"),
                Duration::from_secs(1),
            )
            .await;
        assert_eq!(entry["status"], "saved", "{entry}");
    }
}
