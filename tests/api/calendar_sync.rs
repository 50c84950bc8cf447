//! Calendar sync CRM → Outlook end to end: meetings changed in raynet-sim reach the simulated
//! Exchange mailboxes through the real server (webhook → job → Microsoft Graph), with the
//! attendees and e-mails each participant mode promises.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use server::store::Employee;
use tests::{
    TestDb,
    calendar_rig::store_client_secret,
    entra_sim::graph::GraphFaults,
    raynet_sim::{SimOptions, SimUser},
    stack::{Stack, eventually, spawn_stack_with},
};

use crate::activities::{add_employee, contact, load_persons};

/// The stack with three employees (Alice, Bob, Cyril) whose mailboxes exist and who are opted
/// in, calendar sync on in participant mode `mode`, and one customer contact.
pub(crate) struct CalRig {
    pub(crate) stack: Stack,
    pub(crate) alice: SimUser,
    pub(crate) bob: SimUser,
    pub(crate) cyril: SimUser,
    pub(crate) employees: Vec<Employee>,
    pub(crate) customer: (i64, String),
}

/// How to start a [`CalRig`].
pub(crate) struct RigOptions {
    /// Participant mode.
    pub(crate) mode: &'static str,
    /// Opt the three employees in at the start.
    pub(crate) opt_in: bool,
    /// Register the CRM webhook (without it, changes reach us only through the reconcile).
    pub(crate) webhook: bool,
    /// Further configuration.
    pub(crate) adjust: fn(&mut server::config::Config),
}

impl RigOptions {
    pub(crate) fn mode(mode: &'static str) -> Self {
        Self {
            mode,
            opt_in: true,
            webhook: true,
            adjust: |_| {},
        }
    }
}

impl CalRig {
    pub(crate) async fn start(mode: &'static str) -> Self {
        Self::start_with(RigOptions::mode(mode)).await
    }

    pub(crate) async fn start_with(options: RigOptions) -> Self {
        let stack = spawn_stack_with(
            TestDb::for_this_run().await,
            SimOptions::default(),
            options.webhook,
            |c| {
                c.jobs.max_backoff_secs = 1;
                (options.adjust)(c);
            },
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
        store_client_secret(&stack.app, &stack.entra.client_secret()).await;
        let rig = Self {
            stack,
            alice,
            bob,
            cyril,
            employees,
            customer: (customer_id, customer_mail),
        };
        rig.put(
            "/api/admin/sync",
            &json!({"participant_mode": options.mode}),
        )
        .await;
        rig.put(
            "/api/admin/calendar",
            &json!({"enabled": true, "activity_types": ["meeting", "event", "task", "phoneCall", "letter"],
                    "category": "Raynet", "start_date": "2026-01-01"}),
        )
        .await;
        if options.opt_in {
            for n in 0..rig.employees.len() {
                rig.opt_in(n).await;
            }
        }
        rig
    }

    /// Opts employee `n` (0 Alice, 1 Bob, 2 Cyril) in.
    pub(crate) async fn opt_in(&self, n: usize) {
        self.put(
            &format!("/api/admin/calendar/employees/{}", self.employees[n].id),
            &json!({"enabled": true}),
        )
        .await;
    }

    pub(crate) async fn put(&self, path: &str, body: &Value) {
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

    pub(crate) async fn get(&self, path: &str) -> Value {
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
    pub(crate) fn create_meeting(&self, title: &str) -> i64 {
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

    /// An activity of `entity` Alice owns (unless `body` names another owner), made in Raynet's
    /// web app: `body` is the create body (title, times, …), and `participants` (person ids) are
    /// added by the update that follows, as Raynet takes no participants on create.
    pub(crate) fn create_activity(&self, entity: &str, body: Value, participants: &[i64]) -> i64 {
        let sim = &self.stack.raynet.sim;
        let mut full = json!({"priority": "DEFAULT", "owner": self.alice.person_id});
        if let (Some(full), Some(extra)) = (full.as_object_mut(), body.as_object()) {
            full.extend(extra.clone());
        }
        let (status, answer) = sim.user_change(&Method::PUT, entity, None, &full);
        assert!(status.is_success(), "{entity}: {answer}");
        let id = answer["data"]["id"].as_i64().expect("an id");
        if !participants.is_empty() {
            let list: Vec<Value> = participants.iter().map(|p| json!({"person": p})).collect();
            let (status, answer) = sim.user_change(
                &Method::POST,
                entity,
                Some(id),
                &json!({"participants": list}),
            );
            assert!(status.is_success(), "{answer}");
        }
        id
    }

    pub(crate) fn events(&self, user: &SimUser) -> Vec<Value> {
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
    pub(crate) async fn until(&self, what: &str, check: impl Fn(&Self) -> bool) {
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
    pub(crate) async fn graph_calls_when_quiet(&self) -> usize {
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
    let set_secret = |secret: String| {
        let app = &app;
        async move { store_client_secret(app, &secret).await }
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
async fn a_graph_outage_of_30_s_and_a_burst_of_429s_during_500_changes_end_with_every_calendar_right()
 {
    let rig = CalRig::start_with(RigOptions {
        adjust: |c| c.jobs.workers = 8,
        ..RigOptions::mode("none")
    })
    .await;
    // 503s for 30 s, then 40 answers of 429, while Raynet changes 500 times: 200 meetings
    // created (each a create and a participant update), 60 renamed, 40 deleted.
    rig.stack.entra.graph().set_faults(&GraphFaults {
        outage_secs: 30,
        throttle_next: 40,
        latency_ms: 0,
    });
    let started = std::time::Instant::now();
    let sim = &rig.stack.raynet.sim;
    let ids: Vec<i64> = (0..200)
        .map(|n| {
            rig.create_activity(
                "meeting",
                json!({"title": format!("Schůzka {n:03}"),
                       "scheduledFrom": format!("2026-09-{:02}T09:00:00+02:00", 1 + n % 28),
                       "scheduledTill": format!("2026-09-{:02}T10:00:00+02:00", 1 + n % 28)}),
                &[rig.bob.person_id],
            )
        })
        .collect();
    for (n, id) in ids.iter().enumerate().take(60) {
        let (status, _) = sim.user_change(
            &Method::POST,
            "meeting",
            Some(*id),
            &json!({"title": format!("Schůzka {n:03} (změněná)")}),
        );
        assert!(status.is_success());
    }
    for id in &ids[160..] {
        let (status, _) = sim.user_change(&Method::DELETE, "meeting", Some(*id), &json!({}));
        assert!(status.is_success());
    }
    let mut expected: Vec<String> = (0..160)
        .map(|n| {
            if n < 60 {
                format!("Schůzka {n:03} (změněná)")
            } else {
                format!("Schůzka {n:03}")
            }
        })
        .collect();
    expected.sort();
    let ok = eventually(Duration::from_secs(120), || {
        let (rig, expected) = (&rig, &expected);
        async move {
            [&rig.alice, &rig.bob]
                .iter()
                .all(|u| subjects(rig, u) == *expected)
        }
    })
    .await;
    assert!(
        ok.is_some(),
        "alice {:?}\nbob {:?}",
        subjects(&rig, &rig.alice),
        subjects(&rig, &rig.bob),
    );
    println!(
        "500 changes through a 30 s Graph outage: every calendar right after {:?}",
        started.elapsed()
    );
    rig.graph_calls_when_quiet().await;
    for user in [&rig.alice, &rig.bob] {
        assert_eq!(subjects(&rig, user), expected, "no duplicate");
    }
    assert!(rig.events(&rig.cyril).is_empty());
    assert!(rig.invitations().is_empty(), "mode none e-mails nobody");
}

#[tokio::test]
async fn two_server_instances_on_one_database_write_each_change_once() {
    let rig = CalRig::start("none").await;
    let graph_url = rig.stack.entra.graph_url();
    let second = tests::spawn_second_instance(&rig.stack.app, rig.stack.entra.authority(), |c| {
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

fn end_of(event: &Value) -> String {
    event["end"]["dateTime"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// The event titled `subject` in `events`.
fn titled<'a>(events: &'a [Value], subject: &str) -> &'a Value {
    events
        .iter()
        .find(|e| e["subject"] == subject)
        .unwrap_or_else(|| panic!("no event {subject}: {events:?}"))
}

#[tokio::test]
async fn events_tasks_calls_and_letters_reach_the_calendar_of_everyone_taking_part() {
    let rig = CalRig::start("meetings_only").await;
    let bob = rig.bob.person_id;
    let customer = rig.customer.0;
    rig.create_activity(
        "event",
        json!({"title": "Výročí klienta", "scheduledFrom": "2026-09-03T14:00:00+02:00",
               "scheduledTill": "2026-09-03T16:00:00+02:00"}),
        &[bob],
    );
    let task = rig.create_activity(
        "task",
        json!({"title": "Poslat nabídku", "deadline": "2026-09-04T12:00:00+02:00"}),
        &[bob],
    );
    let call = rig.create_activity(
        "phoneCall",
        json!({"title": "Dotaz z call centra", "scheduledFrom": "2026-09-05T10:00:00+02:00"}),
        &[bob, customer],
    );
    rig.create_activity(
        "letter",
        json!({"title": "Dopis příteli", "scheduledFrom": "2026-09-06T09:00:00+02:00",
               "scheduledTill": "2026-09-06T10:00:00+02:00"}),
        &[bob],
    );
    rig.until("four events each for Alice and Bob", |r| {
        r.events(&r.alice).len() == 4 && r.events(&r.bob).len() == 4
    })
    .await;
    for user in [&rig.alice, &rig.bob] {
        let events = rig.events(user);
        for event in &events {
            assert!(attendees(event).is_empty(), "only meetings invite: {event}");
            assert_eq!(event["isOrganizer"], true, "a copy of its own: {event}");
            assert_eq!(event["categories"], json!(["Raynet"]));
        }
        let event = titled(&events, "Výročí klienta");
        assert_eq!(start_of(event), "2026-09-03T12:00:00.0000000");
        assert_eq!(end_of(event), "2026-09-03T14:00:00.0000000");
        // Planned by its deadline only: the half hour before it is due.
        let event = titled(&events, "Poslat nabídku");
        assert_eq!(start_of(event), "2026-09-04T09:30:00.0000000");
        assert_eq!(end_of(event), "2026-09-04T10:00:00.0000000");
        // A start only: a quarter of an hour.
        let event = titled(&events, "Dotaz z call centra");
        assert_eq!(start_of(event), "2026-09-05T08:00:00.0000000");
        assert_eq!(end_of(event), "2026-09-05T08:15:00.0000000");
        titled(&events, "Dopis příteli");
    }
    assert!(rig.events(&rig.cyril).is_empty());
    assert!(rig.invitations().is_empty(), "{:?}", rig.invitations());

    let sim = &rig.stack.raynet.sim;
    let (status, _) = sim.user_change(
        &Method::POST,
        "phoneCall",
        Some(call),
        &json!({"title": "Dotaz z call centra (vyřízeno)"}),
    );
    assert!(status.is_success());
    let (status, _) = sim.user_change(&Method::DELETE, "task", Some(task), &json!({}));
    assert!(status.is_success());
    rig.until("the call renamed and the task gone, for both", |r| {
        [&r.alice, &r.bob].iter().all(|u| {
            let mut names = subjects(r, u);
            names.retain(|s| s.starts_with("Dotaz") || s.starts_with("Poslat"));
            names == ["Dotaz z call centra (vyřízeno)"]
        })
    })
    .await;
    // A cancelled activity leaves the calendars too.
    let (status, _) = sim.user_change(
        &Method::POST,
        "phoneCall",
        Some(call),
        &json!({"status": "CANCELLED"}),
    );
    assert!(status.is_success());
    rig.until("the cancelled call gone", |r| {
        r.events(&r.alice).len() == 2 && r.events(&r.bob).len() == 2
    })
    .await;
    assert!(rig.invitations().is_empty(), "{:?}", rig.invitations());
}

/// `(recipient, reason)` counts of the invitations sent.
fn sent_counts(rig: &CalRig) -> std::collections::BTreeMap<(String, String), usize> {
    let mut out = std::collections::BTreeMap::new();
    for sent in rig.invitations() {
        *out.entry(sent).or_insert(0) += 1;
    }
    out
}

#[tokio::test]
async fn each_participant_mode_gives_meetings_and_tasks_exactly_their_attendees_and_e_mails() {
    for mode in ["none", "meetings_only", "all_activities"] {
        let rig = CalRig::start(mode).await;
        rig.create_meeting("Porada");
        rig.create_activity(
            "task",
            json!({"title": "Úkol", "deadline": "2026-09-04T12:00:00+02:00"}),
            &[rig.bob.person_id, rig.cyril.person_id, rig.customer.0],
        );
        rig.until(&format!("{mode}: two events in each calendar"), |r| {
            [&r.alice, &r.bob, &r.cyril]
                .iter()
                .all(|u| r.events(u).len() == 2)
        })
        .await;
        rig.graph_calls_when_quiet().await;
        let mut everyone = vec![
            rig.bob.username.clone(),
            rig.cyril.username.clone(),
            rig.customer.1.clone(),
        ];
        everyone.sort();
        let invited = |types: usize| -> std::collections::BTreeMap<(String, String), usize> {
            everyone
                .iter()
                .filter(|_| types > 0)
                .map(|who| ((who.clone(), "invitation".to_owned()), types))
                .collect()
        };
        let alice = rig.events(&rig.alice);
        let (meeting, task) = (titled(&alice, "Porada"), titled(&alice, "Úkol"));
        match mode {
            "none" => {
                assert!(attendees(meeting).is_empty() && attendees(task).is_empty());
                assert_eq!(sent_counts(&rig), invited(0), "{mode}");
            }
            "meetings_only" => {
                assert_eq!(attendees(meeting), everyone, "{mode}");
                assert!(attendees(task).is_empty(), "{mode}");
                assert_eq!(sent_counts(&rig), invited(1), "{mode}");
            }
            _ => {
                assert_eq!(attendees(meeting), everyone, "{mode}");
                assert_eq!(attendees(task), everyone, "{mode}");
                assert_eq!(sent_counts(&rig), invited(2), "{mode}");
            }
        }
        // Colleagues: an organizer's copy of their own without attendees, or the delivered
        // invitation; never both.
        for user in [&rig.bob, &rig.cyril] {
            let events = rig.events(user);
            assert_eq!(subjects(&rig, user), ["Porada", "Úkol"], "{mode}");
            for event in &events {
                let delivered = match mode {
                    "none" => false,
                    "meetings_only" => event["subject"] == "Porada",
                    _ => true,
                };
                assert_eq!(event["isOrganizer"], !delivered, "{mode}: {event}");
            }
        }
    }
}

#[tokio::test]
async fn opting_an_employee_in_backfills_their_calendar_from_the_start_date_on() {
    let rig = CalRig::start_with(RigOptions {
        opt_in: false,
        ..RigOptions::mode("none")
    })
    .await;
    rig.create_activity(
        "meeting",
        json!({"title": "Vlastní schůzka", "scheduledFrom": "2026-09-01T09:00:00+02:00",
               "scheduledTill": "2026-09-01T10:00:00+02:00"}),
        &[],
    );
    rig.create_activity(
        "task",
        json!({"title": "Vlastní úkol", "deadline": "2026-10-01T12:00:00+02:00"}),
        &[],
    );
    rig.create_activity(
        "phoneCall",
        json!({"title": "Loňský telefonát", "scheduledFrom": "2025-12-01T10:00:00+01:00"}),
        &[],
    );
    rig.create_activity(
        "meeting",
        json!({"title": "Bobova schůzka", "owner": rig.bob.person_id,
               "scheduledFrom": "2026-09-10T09:00:00+02:00", "scheduledTill": "2026-09-10T10:00:00+02:00"}),
        &[rig.alice.person_id],
    );
    // Nobody is opted in: the webhooks write nothing.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(rig.events(&rig.alice).is_empty());
    rig.opt_in(0).await;
    rig.until("Alice's activities from the start date on", |r| {
        subjects(r, &r.alice) == ["Bobova schůzka", "Vlastní schůzka", "Vlastní úkol"]
    })
    .await;
    assert!(rig.events(&rig.bob).is_empty(), "Bob is not opted in");
    let (rig_ref, alice_id) = (&rig, &rig.employees[0].id);
    let done = eventually(Duration::from_secs(10), || async move {
        rig_ref
            .get("/api/admin/calendar/employees")
            .await
            .as_array()
            .into_iter()
            .flatten()
            .any(|e| {
                e["employee_id"] == *alice_id
                    && e["backfilled_at"].is_i64()
                    && e["backfilling"] == false
                    && e["items_in_sync"] == 3
            })
    })
    .await;
    assert!(
        done.is_some(),
        "{}",
        rig.get("/api/admin/calendar/employees").await
    );
    rig.graph_calls_when_quiet().await;
    assert_eq!(rig.events(&rig.alice).len(), 3, "no event twice");
}

#[tokio::test]
async fn a_change_whose_webhook_was_lost_reaches_the_calendar_through_the_reconcile() {
    let rig = CalRig::start_with(RigOptions {
        webhook: false,
        adjust: |c| c.jobs.calendar_reconcile_secs = 1,
        ..RigOptions::mode("none")
    })
    .await;
    let id = rig.create_activity(
        "meeting",
        json!({"title": "Bez webhooku", "scheduledFrom": "2026-09-01T09:00:00+02:00",
               "scheduledTill": "2026-09-01T10:00:00+02:00"}),
        &[rig.bob.person_id],
    );
    rig.until("the meeting in Alice's and Bob's calendars", |r| {
        subjects(r, &r.alice) == ["Bez webhooku"] && subjects(r, &r.bob) == ["Bez webhooku"]
    })
    .await;
    let sim = &rig.stack.raynet.sim;
    let (status, _) = sim.user_change(
        &Method::POST,
        "meeting",
        Some(id),
        &json!({"title": "Bez webhooku, přejmenovaná"}),
    );
    assert!(status.is_success());
    rig.until("the new title", |r| {
        subjects(r, &r.alice) == ["Bez webhooku, přejmenovaná"]
            && subjects(r, &r.bob) == ["Bez webhooku, přejmenovaná"]
    })
    .await;
    let (status, _) = sim.user_change(&Method::DELETE, "meeting", Some(id), &json!({}));
    assert!(status.is_success());
    rig.until("the deleted meeting gone", |r| {
        r.events(&r.alice).is_empty() && r.events(&r.bob).is_empty()
    })
    .await;
    assert!(sim.deliveries().is_empty(), "no webhook was registered");
}

#[tokio::test]
async fn a_backfill_killed_mid_way_resumes_after_a_restart_with_every_event_once() {
    use tests::process::{ServerProcess, free_port};
    const COUNT: usize = 40;
    // This server only takes the admin's calls; the `crm-bridge` processes do the work.
    let rig = CalRig::start_with(RigOptions {
        opt_in: false,
        webhook: false,
        adjust: |c| c.jobs.enabled = false,
        ..RigOptions::mode("none")
    })
    .await;
    for n in 0..COUNT {
        rig.create_activity(
            "meeting",
            json!({"title": format!("Schůzka {n:03}"),
                   "scheduledFrom": format!("2026-09-{:02}T09:00:00+02:00", 1 + n % 28),
                   "scheduledTill": format!("2026-09-{:02}T10:00:00+02:00", 1 + n % 28)}),
            &[],
        );
    }
    rig.opt_in(0).await;
    let graph = rig.stack.entra.graph();
    // Slow Graph answers, so the backfill is still running when it is killed.
    graph.set_faults(&GraphFaults {
        latency_ms: 100,
        ..GraphFaults::default()
    });
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
    let db_url = rig.stack.app.db.url.expose().to_owned();
    let (authority, graph_url) = (rig.stack.entra.authority(), rig.stack.entra.graph_url());
    let env = [
        ("CRM_BRIDGE_MASTER_KEY", key.as_str()),
        ("CRM_BRIDGE_DATABASE__URL", db_url.as_str()),
        ("CRM_BRIDGE_ENTRA__AUTHORITY", authority.as_str()),
        ("CRM_BRIDGE_ENTRA__GRAPH_URL", graph_url.as_str()),
        ("CRM_BRIDGE_CRM__ALLOW_OTHER_HOSTS", "true"),
        ("CRM_BRIDGE_JOBS__POLL_INTERVAL_MS", "50"),
        ("CRM_BRIDGE_JOBS__LEASE_SECS", "2"),
        ("CRM_BRIDGE_JOBS__CALENDAR_RECONCILE_SECS", "0"),
    ];
    let cwd = tempfile::tempdir().expect("a directory");
    let port = free_port();
    let first = ServerProcess::start_with(cwd.path(), &[], &[], false, &env, port).await;
    let started = eventually(Duration::from_secs(60), || async {
        rig.events(&rig.alice).len() >= 10
    })
    .await;
    assert!(started.is_some(), "the backfill never got going");
    first.kill().await;
    let at_kill = rig.events(&rig.alice).len();
    assert!(at_kill < COUNT, "the backfill finished before the kill");
    println!("backfill killed with {at_kill} of {COUNT} events written");
    let cursor = rig
        .stack
        .app
        .state
        .store
        .calendar_employees()
        .await
        .expect("the store answers")
        .into_iter()
        .find(|e| e.employee_id == rig.employees[0].id)
        .and_then(|e| e.backfill_cursor);
    assert!(cursor.is_some(), "the progress is stored");

    graph.set_faults(&GraphFaults::default());
    let second = ServerProcess::start_with(cwd.path(), &[], &[], false, &env, port).await;
    let finished = eventually(Duration::from_secs(60), || async {
        rig.events(&rig.alice).len() >= COUNT
    })
    .await;
    assert!(
        finished.is_some(),
        "{} of {COUNT} events after the restart",
        rig.events(&rig.alice).len()
    );
    rig.graph_calls_when_quiet().await;
    let expected: Vec<String> = (0..COUNT).map(|n| format!("Schůzka {n:03}")).collect();
    assert_eq!(
        subjects(&rig, &rig.alice),
        expected,
        "each event exactly once"
    );
    let created: std::collections::BTreeSet<String> = graph
        .recorded()
        .iter()
        .filter(|x| x.method == "POST" && x.path.ends_with("/events") && x.status == 201)
        .filter_map(|x| x.body.as_ref()?["id"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(created.len(), COUNT, "no event created twice");
    second.terminate().await;
}

#[tokio::test]
async fn switching_the_participant_mode_replans_every_synced_event_at_the_next_reconcile() {
    let rig = CalRig::start_with(RigOptions {
        adjust: |c| c.jobs.calendar_reconcile_secs = 1,
        ..RigOptions::mode("none")
    })
    .await;
    rig.create_meeting("Porada");
    rig.until("a copy in each calendar", |r| {
        [&r.alice, &r.bob, &r.cyril]
            .iter()
            .all(|u| r.events(u).len() == 1)
    })
    .await;
    // The reconcile has long passed the meeting's last change: only the new mode makes it
    // plan the meeting again.
    tokio::time::sleep(Duration::from_secs(3)).await;
    rig.put(
        "/api/admin/sync",
        &json!({"participant_mode": "meetings_only"}),
    )
    .await;
    let mut everyone = vec![
        rig.bob.username.clone(),
        rig.cyril.username.clone(),
        rig.customer.1.clone(),
    ];
    everyone.sort();
    rig.until(
        "Alice's meeting inviting everyone, the colleagues' own copies gone",
        |r| {
            let alice = r.events(&r.alice);
            alice.len() == 1
                && attendees(&alice[0]) == everyone
                && [&r.bob, &r.cyril].iter().all(|u| {
                    let events = r.events(u);
                    events.len() == 1 && events[0]["isOrganizer"] == false
                })
        },
    )
    .await;
}
