//! Calendar sync CRM → Outlook end to end: meetings changed in raynet-sim reach the simulated
//! Exchange mailboxes through the real server (webhook → job → Microsoft Graph), with the
//! attendees and e-mails each participant mode promises.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use server::{identity::office365::Office365Settings, store::Employee};
use tests::{
    TestDb,
    entra_sim::graph::GraphFaults,
    raynet_sim::{SimOptions, SimUser},
    stack::{Stack, eventually, spawn_stack_with},
};

use crate::activities::{add_employee, contact, load_persons};

/// The stack with three employees (Alice, Bob, Cyril) whose mailboxes exist and who are opted
/// in, calendar sync on in participant mode `mode`, and one customer contact.
struct CalRig {
    stack: Stack,
    alice: SimUser,
    bob: SimUser,
    cyril: SimUser,
    employees: Vec<Employee>,
    customer: (i64, String),
}

impl CalRig {
    async fn start(mode: &str) -> Self {
        let stack = spawn_stack_with(
            TestDb::for_this_run().await,
            SimOptions::default(),
            true,
            |c| c.jobs.max_backoff_secs = 1,
        )
        .await;
        let sim = &stack.raynet.sim;
        let alice = sim.add_user("alice@firma.example.cz", "FULL_THROTTLE", "Alice Nováková");
        let bob = sim.add_user("bob@firma.example.cz", "FULL_THROTTLE", "Bob Dvořák");
        let cyril = sim.add_user("cyril@firma.example.cz", "FULL_THROTTLE", "Cyril Král");
        let mut employees = Vec::new();
        for user in [&alice, &bob, &cyril] {
            let employee = add_employee(&stack.app, user).await;
            stack
                .entra
                .graph()
                .add_mailbox(&user.username, &user.username);
            employees.push(employee);
        }
        load_persons(&stack.app, &stack.raynet).await;
        let (customer_id, customer_mail, _) = contact(&stack.raynet, 0);
        let state = &stack.app.state;
        let mut o365 = Office365Settings::load(state).await.expect("settings");
        o365.set_client_secret(&state.master_key, Some(&stack.entra.client_secret()));
        o365.save(state).await.expect("saved");
        let rig = Self {
            stack,
            alice,
            bob,
            cyril,
            employees,
            customer: (customer_id, customer_mail),
        };
        rig.put("/api/admin/sync", &json!({"participant_mode": mode}))
            .await;
        rig.put(
            "/api/admin/calendar",
            &json!({"enabled": true, "activity_types": ["meeting", "event", "task", "phoneCall", "letter"],
                    "category": "Raynet", "start_date": "2026-01-01"}),
        )
        .await;
        for e in &rig.employees {
            rig.put(
                &format!("/api/admin/calendar/employees/{}", e.id),
                &json!({"enabled": true}),
            )
            .await;
        }
        rig
    }

    async fn put(&self, path: &str, body: &Value) {
        let response = self
            .stack
            .admin
            .send_with_csrf(Method::PUT, &self.stack.app.url(path))
            .json(body)
            .send()
            .await
            .expect("the server answers");
        assert!(
            response.status().is_success(),
            "PUT {path}: {}",
            response.status()
        );
    }

    async fn get(&self, path: &str) -> Value {
        self.stack
            .admin
            .client
            .get(self.stack.app.url(path))
            .send()
            .await
            .expect("the server answers")
            .json()
            .await
            .expect("JSON")
    }

    /// A meeting Alice owns with Bob, Cyril and the customer, made in Raynet's web app.
    fn create_meeting(&self, title: &str) -> i64 {
        let sim = &self.stack.raynet.sim;
        let (status, body) = sim.user_change(
            &Method::PUT,
            "meeting",
            None,
            &json!({"title": title, "priority": "DEFAULT", "owner": self.alice.person_id,
                    "scheduledFrom": "2026-09-01T09:00:00+02:00", "scheduledTill": "2026-09-01T10:00:00+02:00"}),
        );
        assert!(status.is_success(), "{body}");
        let id = body["data"]["id"].as_i64().expect("an id");
        let (status, body) = sim.user_change(
            &Method::POST,
            "meeting",
            Some(id),
            &json!({"participants": [{"person": self.bob.person_id}, {"person": self.cyril.person_id},
                                      {"person": self.customer.0}]}),
        );
        assert!(status.is_success(), "{body}");
        id
    }

    fn events(&self, user: &SimUser) -> Vec<Value> {
        self.stack
            .entra
            .graph()
            .events(&user.username)
            .expect("the mailbox exists")
    }

    fn invitations(&self) -> Vec<(String, String)> {
        self.stack
            .entra
            .graph()
            .invitations()
            .into_iter()
            .map(|i| (i.recipient, i.reason))
            .collect()
    }

    /// Waits (≤ 20 s) until `check` holds for the mailboxes.
    async fn until(&self, what: &str, check: impl Fn(&Self) -> bool) {
        let check = &check;
        let ok = eventually(Duration::from_secs(20), || async move { check(self) }).await;
        assert!(
            ok.is_some(),
            "{what} never happened; alice {:?} bob {:?} cyril {:?} invitations {:?}",
            self.events(&self.alice),
            self.events(&self.bob),
            self.events(&self.cyril),
            self.invitations()
        );
    }
}

impl CalRig {
    /// The Graph call count once no call has come for a second (≤ 20 s): the sync that made the
    /// events visible may still be finishing its last calls, e.g. a second run joining a create.
    async fn graph_calls_when_quiet(&self) -> usize {
        let mut last = self.stack.entra.graph().calls();
        for _ in 0..20 {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let now = self.stack.entra.graph().calls();
            if now == last {
                return now;
            }
            last = now;
        }
        panic!("Graph calls never stopped: {last}");
    }
}

fn attendees(event: &Value) -> Vec<String> {
    let mut out: Vec<String> = event["attendees"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a["emailAddress"]["address"].as_str().map(str::to_owned))
        .collect();
    out.sort();
    out
}

fn start_of(event: &Value) -> String {
    event["start"]["dateTime"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn a_raynet_meeting_reaches_the_owners_calendar_with_every_participant_invited_once() {
    let rig = CalRig::start("meetings_only").await;
    let id = rig.create_meeting("Demo u zákazníka");
    let mut expected = vec![
        rig.bob.username.clone(),
        rig.cyril.username.clone(),
        rig.customer.1.clone(),
    ];
    expected.sort();
    rig.until("the meeting with its attendees in Alice's calendar", |r| {
        let events = r.events(&r.alice);
        events.len() == 1 && attendees(&events[0]) == expected
    })
    .await;
    let event = &rig.events(&rig.alice)[0];
    assert_eq!(event["subject"], "Demo u zákazníka");
    assert_eq!(
        start_of(event),
        "2026-09-01T07:00:00.0000000",
        "09:00 Prague in summer"
    );
    assert_eq!(event["categories"], json!(["Raynet"]));
    assert!(
        event["body"]["content"]
            .as_str()
            .is_some_and(|b| b.contains(&format!("ei={id}"))),
        "the body links to the activity in Raynet: {event}"
    );
    // Colleagues get it as Exchange delivers the invitation: one event each, never two.
    rig.until("one copy each for Bob and Cyril", |r| {
        r.events(&r.bob).len() == 1 && r.events(&r.cyril).len() == 1
    })
    .await;
    assert_eq!(rig.events(&rig.bob)[0]["isOrganizer"], false);

    // Rescheduled in Raynet: the same event moves, attendees get an update.
    let sim = &rig.stack.raynet.sim;
    let (status, _) = sim.user_change(
        &Method::POST,
        "meeting",
        Some(id),
        &json!({"scheduledFrom": "2026-10-26T09:00:00+01:00", "scheduledTill": "2026-10-26T10:00:00+01:00"}),
    );
    assert!(status.is_success());
    rig.until("the meeting moved to 26 October (winter time)", |r| {
        let events = r.events(&r.alice);
        events.len() == 1 && start_of(&events[0]) == "2026-10-26T08:00:00.0000000"
    })
    .await;
    assert_eq!(rig.events(&rig.bob).len(), 1);

    // Deleted in Raynet: gone from every calendar, attendees get a cancellation.
    let (status, _) = sim.user_change(&Method::DELETE, "meeting", Some(id), &json!({}));
    assert!(status.is_success());
    rig.until("the meeting gone from every calendar", |r| {
        r.events(&r.alice).is_empty()
            && r.events(&r.bob).is_empty()
            && r.events(&r.cyril).is_empty()
    })
    .await;
    let sent = rig.invitations();
    for who in &expected {
        let invited = sent
            .iter()
            .filter(|(r, why)| r == who && why == "invitation")
            .count();
        assert_eq!(invited, 1, "{who} invited once: {sent:?}");
        assert!(
            sent.contains(&(who.clone(), "cancellation".into())),
            "{sent:?}"
        );
    }
    // The trace says what was done, per activity (written just after each Graph call).
    let path = format!("/api/admin/calendar/trace?activity=raynet:meeting:{id}");
    let actions = |trace: &Value| -> Vec<String> {
        trace
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t["action"].as_str().map(str::to_owned))
            .collect()
    };
    let (rig_ref, path_ref) = (&rig, &path);
    let traced = eventually(Duration::from_secs(10), || async move {
        actions(&rig_ref.get(path_ref).await).contains(&"delete".to_owned())
    })
    .await;
    let trace = rig.get(&path).await;
    assert!(traced.is_some(), "{trace}");
    assert!(actions(&trace).contains(&"create".to_owned()), "{trace}");
}

#[tokio::test]
async fn in_mode_none_each_employee_gets_a_copy_and_nobody_is_e_mailed() {
    let rig = CalRig::start("none").await;
    let id = rig.create_meeting("Interní porada");
    rig.until("a copy in each calendar", |r| {
        [&r.alice, &r.bob, &r.cyril]
            .iter()
            .all(|u| r.events(u).len() == 1)
    })
    .await;
    for user in [&rig.alice, &rig.bob, &rig.cyril] {
        let events = rig.events(user);
        assert!(attendees(&events[0]).is_empty(), "{events:?}");
        assert_eq!(events[0]["isOrganizer"], true);
    }
    // A webhook storm for an unchanged meeting costs no Graph call.
    let calls = rig.graph_calls_when_quiet().await;
    for n in 0..5 {
        let status = rig
            .stack
            .post_event(&json!({
                "eventId": format!("storm-{n}"), "type": "record.updated",
                "author": "admin@raynet.cz", "source": {"name": "user"},
                "data": {"entityName": "Meeting", "entityId": id, "extIds": null}
            }))
            .await;
        assert!(status.is_success());
    }
    let status = rig.get("/api/admin/calendar/employees").await;
    assert_eq!(
        status
            .as_array()
            .expect("a list")
            .iter()
            .filter(|e| e["items_in_sync"] == 1)
            .count(),
        3,
        "{status}"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        rig.stack.entra.graph().calls(),
        calls,
        "unchanged: no Graph call"
    );
    assert!(rig.invitations().is_empty(), "{:?}", rig.invitations());
    let (status, _) =
        rig.stack
            .raynet
            .sim
            .user_change(&Method::DELETE, "meeting", Some(id), &json!({}));
    assert!(status.is_success());
    rig.until("every copy removed", |r| {
        [&r.alice, &r.bob, &r.cyril]
            .iter()
            .all(|u| r.events(u).is_empty())
    })
    .await;
    assert!(rig.invitations().is_empty(), "{:?}", rig.invitations());
}

#[tokio::test]
async fn the_office_365_test_tells_success_a_wrong_secret_no_consent_and_an_unknown_mailbox_apart()
{
    let (app, entra) =
        tests::server::spawn_app_with_entra_adjusted(TestDb::for_this_run().await, |_| {}).await;
    entra.graph().add_mailbox("anna@firm.cz", "Anna");
    let admin = app.login_as_admin().await;
    let state = &app.state;
    let set_secret = |secret: String| async move {
        let mut o365 = Office365Settings::load(state).await.expect("settings");
        o365.set_client_secret(&state.master_key, Some(&secret));
        o365.save(state).await.expect("saved");
    };
    let test = |mailbox: &'static str| {
        let admin = &admin;
        let app = &app;
        async move {
            let answer: Value = admin
                .send_with_csrf(Method::POST, &app.url("/api/admin/calendar/test"))
                .json(&json!({"mailbox": mailbox}))
                .send()
                .await
                .expect("answers")
                .json()
                .await
                .expect("JSON");
            answer["outcome"].as_str().unwrap_or_default().to_owned()
        }
    };
    set_secret(entra.client_secret()).await;
    assert_eq!(test("anna@firm.cz").await, "ok");
    assert_eq!(test("nobody@firm.cz").await, "mailbox_not_found");
    entra.graph().set_app_roles(&[]);
    assert_eq!(test("anna@firm.cz").await, "no_consent");
    entra.graph().set_app_roles(&["Calendars.ReadWrite"]);
    set_secret("wrong".into()).await;
    assert_eq!(test("anna@firm.cz").await, "bad_credentials");
}

#[tokio::test]
async fn a_meeting_the_add_in_saved_from_outlook_is_not_written_back_as_a_second_event() {
    let rig = CalRig::start("meetings_only").await;
    let token = tests::mint_token_for(&rig.stack.entra, &rig.employees[0]);
    let uid = "040000008200E00074C5B7101A82E008-calendar-echo";
    let body = json!({
        "ical_uid": uid,
        "item_id": format!("AAMk-{uid}"),
        "subject": "Porada z Outlooku",
        "start": "2026-09-02T10:00:00", "end": "2026-09-02T11:00:00",
        "time_zone": "Europe/Prague",
        "organizer": {"name": "Alice", "email": rig.alice.username},
        "required": [{"name": "Bob", "email": rig.bob.username}],
        "optional": [],
        "body_text": "Program",
        "links": {"company_id": null, "person_ids": [], "project_id": null, "business_case_id": null}
    });
    let app = &rig.stack.app;
    let response = app
        .client
        .post(app.url("/api/addin/meetings"))
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await
        .expect("answers");
    assert!(response.status().is_success(), "{}", response.status());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let id = loop {
        let entry: Value = app
            .client
            .get(app.url(&format!("/api/addin/logged?ical_uid={uid}")))
            .bearer_auth(&token)
            .send()
            .await
            .expect("answers")
            .json()
            .await
            .unwrap_or(Value::Null);
        if let Some(id) = entry["crm_activity_id"].as_i64() {
            break id;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the meeting was never saved to Raynet: {entry}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let path = format!("/api/admin/calendar/trace?activity=raynet:meeting:{id}");
    let (rig_ref, path_ref) = (&rig, &path);
    let traced = eventually(Duration::from_secs(20), || async move {
        rig_ref
            .get(path_ref)
            .await
            .as_array()
            .is_some_and(|t| t.iter().any(|e| e["reason"] == "saved_from_outlook"))
    })
    .await;
    assert!(traced.is_some(), "{}", rig.get(&path).await);
    assert!(
        rig.events(&rig.alice).is_empty(),
        "{:?}",
        rig.events(&rig.alice)
    );
    assert!(rig.events(&rig.bob).is_empty());
    assert!(rig.invitations().is_empty());
}

/// Events in `user`'s calendar by subject, to spot duplicates.
fn subjects(rig: &CalRig, user: &SimUser) -> Vec<String> {
    let mut out: Vec<String> = rig
        .events(user)
        .iter()
        .filter_map(|e| e["subject"].as_str().map(str::to_owned))
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn a_graph_outage_and_a_burst_of_throttling_during_many_changes_end_with_every_calendar_right()
 {
    let rig = CalRig::start("none").await;
    // 503s for 5 s, then 40 answers of 429, while Raynet changes.
    rig.stack.entra.graph().set_faults(&GraphFaults {
        outage_secs: 5,
        throttle_next: 40,
        latency_ms: 0,
    });
    let sim = &rig.stack.raynet.sim;
    let ids: Vec<i64> = (0..20)
        .map(|n| rig.create_meeting(&format!("Schůzka {n:02}")))
        .collect();
    for (n, id) in ids.iter().enumerate().take(10) {
        let (status, _) = sim.user_change(
            &Method::POST,
            "meeting",
            Some(*id),
            &json!({"title": format!("Schůzka {n:02} (změněná)")}),
        );
        assert!(status.is_success());
    }
    for id in &ids[15..] {
        let (status, _) = sim.user_change(&Method::DELETE, "meeting", Some(*id), &json!({}));
        assert!(status.is_success());
    }
    let mut expected: Vec<String> = (0..15)
        .map(|n| {
            if n < 10 {
                format!("Schůzka {n:02} (změněná)")
            } else {
                format!("Schůzka {n:02}")
            }
        })
        .collect();
    expected.sort();
    let ok = eventually(Duration::from_secs(90), || {
        let (rig, expected) = (&rig, &expected);
        async move {
            [&rig.alice, &rig.bob, &rig.cyril]
                .iter()
                .all(|u| subjects(rig, u) == *expected)
        }
    })
    .await;
    assert!(
        ok.is_some(),
        "alice {:?}\nbob {:?}\ncyril {:?}",
        subjects(&rig, &rig.alice),
        subjects(&rig, &rig.bob),
        subjects(&rig, &rig.cyril)
    );
    assert!(rig.invitations().is_empty(), "mode none e-mails nobody");
}

#[tokio::test]
async fn two_server_instances_on_one_database_write_each_change_once() {
    let rig = CalRig::start("none").await;
    let key = {
        use secrecy::ExposeSecret;
        rig.stack
            .app
            .state
            .master_key
            .to_base64()
            .expose_secret()
            .to_owned()
    };
    let (authority, graph_url) = (rig.stack.entra.authority(), rig.stack.entra.graph_url());
    let second = tests::spawn_app_with(rig.stack.app.db.shared(), |c| {
        c.secrets.master_key = server::config::Secret::new(key);
        c.entra.authority = authority;
        c.entra.graph_url = graph_url;
    })
    .await;
    let id = rig.create_meeting("Jedna změna, dvě instance");
    // Both instances receive a storm of webhooks for the meeting at the same time.
    let mut posts = Vec::new();
    for n in 0..10 {
        for app in [&rig.stack.app, &second] {
            let request = app
                .client
                .post(app.url(&format!("/api/raynet-event/{}", rig.stack.webhook_id)))
                .header("X-RAYNETCRM-Token", &rig.stack.webhook_token)
                .json(&json!({
                    "eventId": format!("twin-{n}-{}", app.url("")), "type": "record.updated",
                    "author": "admin@raynet.cz", "source": {"name": "user"},
                    "data": {"entityName": "Meeting", "entityId": id, "extIds": null}
                }));
            posts.push(request.send());
        }
    }
    for answer in futures::future::join_all(posts).await {
        assert!(answer.expect("answers").status().is_success());
    }
    rig.until("a copy in each calendar", |r| {
        [&r.alice, &r.bob, &r.cyril]
            .iter()
            .all(|u| r.events(u).len() == 1)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    for user in [&rig.alice, &rig.bob, &rig.cyril] {
        assert_eq!(rig.events(user).len(), 1, "{:?}", rig.events(user));
    }
    let created: std::collections::BTreeSet<String> = rig
        .stack
        .entra
        .graph()
        .recorded()
        .iter()
        .filter(|x| x.method == "POST" && x.path.ends_with("/events") && x.status == 201)
        .filter_map(|x| x.body.as_ref()?["id"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(
        created.len(),
        3,
        "one event per mailbox, whichever instance wrote it"
    );
    second.stop().await;
}
