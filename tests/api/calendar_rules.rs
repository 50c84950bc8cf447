//! The sync rules an admin sets (issue #14), CRM → Outlook, end to end through the real server,
//! raynet-sim and the Microsoft 365 simulator: every cell of the type × create/update/delete
//! matrix on and off, each delete mode, the per-employee opt-in and start date, the rules API's
//! validation and audit, and the dry run listing exactly what the real sync then does.

use std::{collections::BTreeSet, time::Duration};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use server::calendar::{ActivityKind, crm_key};
use tests::stack::eventually;

use crate::calendar_sync::{CalRig, RigOptions};

/// The five types with a create body each (Alice owns every one; Raynet's shapes).
fn body_of(entity: &str, title: &str, day: u32) -> Value {
    let at = |h: u32| format!("2026-09-{day:02}T{h:02}:00:00+02:00");
    match entity {
        "task" => json!({"title": title, "deadline": at(12)}),
        "phoneCall" => json!({"title": title, "scheduledFrom": at(10)}),
        _ => json!({"title": title, "scheduledFrom": at(9), "scheduledTill": at(10)}),
    }
}

const ENTITIES: [&str; 5] = ["meeting", "event", "task", "phoneCall", "letter"];

fn key_of(entity: &str, id: i64) -> String {
    crm_key(
        ActivityKind::from_entity(entity).expect("a synced type"),
        id,
    )
}

impl CalRig {
    /// Sends `body` with CSRF; the status and the JSON answer (`Null` when none).
    async fn send(&self, method: Method, path: &str, body: &Value) -> (StatusCode, Value) {
        let response = self
            .stack
            .admin
            .send_with_csrf(method, &self.stack.app.url(path))
            .json(body)
            .send()
            .await
            .expect("the server answers");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Replaces the rules with the defaults changed by `patch` (top-level fields).
    async fn set_rules(&self, patch: Value) -> Value {
        let (status, body) = self
            .send(Method::PUT, "/api/admin/calendar/rules", &patch)
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    /// The trace of one activity, newest first.
    async fn trace_of(&self, key: &str) -> Vec<Value> {
        let trace = self
            .get(&format!("/api/admin/calendar/trace?activity={key}"))
            .await;
        trace.as_array().cloned().unwrap_or_default()
    }

    /// Waits (≤ 20 s) until the trace of `key` holds an entry with `action` and `reason`.
    async fn until_traced(&self, key: &str, action: &str, reason: &str) {
        let found = eventually(Duration::from_secs(20), || async move {
            self.trace_of(key)
                .await
                .iter()
                .any(|t| t["action"] == action && t["reason"] == reason)
        })
        .await;
        assert!(
            found.is_some(),
            "no {action} ({reason}) for {key}: {:?}",
            self.trace_of(key).await
        );
    }

    /// The subjects of the events in Alice's calendar.
    fn alice_subjects(&self) -> BTreeSet<String> {
        self.events(&self.alice)
            .iter()
            .filter_map(|e| e["subject"].as_str().map(str::to_owned))
            .collect()
    }

    fn change(&self, entity: &str, id: i64, body: &Value) {
        let method = if body.is_null() {
            Method::DELETE
        } else {
            Method::POST
        };
        let body = if body.is_null() {
            json!({})
        } else {
            body.clone()
        };
        let (status, answer) = self
            .stack
            .raynet
            .sim
            .user_change(&method, entity, Some(id), &body);
        assert!(status.is_success(), "{entity} {id}: {answer}");
    }
}

/// Rules where `op` (`create`, `update`, `delete`) CRM → Outlook is allowed for the types in
/// `on` only, everything else allowed.
fn rules_with(op: &str, on: &[&str]) -> Value {
    let mut types = serde_json::Map::new();
    for entity in ENTITIES {
        let mut allowed = json!({"create": true, "update": true, "delete": true});
        allowed[op] = json!(on.contains(&entity));
        types.insert(
            entity.to_owned(),
            json!({"crm_to_outlook": allowed,
                   "outlook_to_crm": {"create": false, "update": true, "delete": false}}),
        );
    }
    json!({ "types": types })
}

/// Two patterns that together switch every type on once and off once.
const PATTERNS: [&[&str]; 2] = [&["meeting", "task", "letter"], &["event", "phoneCall"]];

#[tokio::test]
async fn every_cell_of_the_crm_to_outlook_matrix_creates_updates_and_deletes_only_as_allowed() {
    let rig = CalRig::start("none").await;
    let mut day = 1;
    for op in ["create", "update", "delete"] {
        for (n, on) in PATTERNS.iter().enumerate() {
            // Every type: one activity, synced under all-allowed rules first (update, delete).
            let mut ids = Vec::new();
            rig.set_rules(rules_with(op, &ENTITIES)).await;
            if op != "create" {
                for entity in ENTITIES {
                    let title = format!("{op} {n} {entity}");
                    let id = rig.create_activity(entity, body_of(entity, &title, day), &[]);
                    ids.push((entity, id, title));
                }
                rig.until(&format!("{op} {n}: every type in Alice's calendar"), |r| {
                    let subjects = r.alice_subjects();
                    ids.iter().all(|(_, _, t)| subjects.contains(t))
                })
                .await;
            }
            rig.set_rules(rules_with(op, on)).await;
            if op == "create" {
                for entity in ENTITIES {
                    let title = format!("{op} {n} {entity}");
                    let id = rig.create_activity(entity, body_of(entity, &title, day), &[]);
                    ids.push((entity, id, title));
                }
            }
            for (entity, id, title) in &ids {
                match op {
                    "update" => rig.change(entity, *id, &json!({"title": format!("{title}!")})),
                    "delete" => rig.change(entity, *id, &Value::Null),
                    _ => {}
                }
            }
            for (entity, id, title) in &ids {
                let key = key_of(entity, *id);
                let allowed = on.contains(entity);
                let cell = format!("{entity} {op} {}", if allowed { "on" } else { "off" });
                if allowed {
                    let expect_present = match op {
                        "create" => Some(title.clone()),
                        "update" => Some(format!("{title}!")),
                        _ => None,
                    };
                    rig.until(&cell, |r| match &expect_present {
                        Some(subject) => r.alice_subjects().contains(subject),
                        None => !r.alice_subjects().contains(title),
                    })
                    .await;
                } else {
                    let rule = format!("{entity}.crm_to_outlook.{op}=off");
                    rig.until_traced(&key, "skip", &rule).await;
                    let subjects = rig.alice_subjects();
                    match op {
                        "create" => assert!(!subjects.contains(title), "{cell}: {subjects:?}"),
                        "update" => assert!(
                            subjects.contains(title) && !subjects.contains(&format!("{title}!")),
                            "{cell}: the event is left as it was: {subjects:?}"
                        ),
                        _ => assert!(subjects.contains(title), "{cell}: {subjects:?}"),
                    }
                }
            }
            day += 1;
        }
    }
}

#[tokio::test]
async fn a_crm_delete_reaches_outlook_as_a_delete_a_cancellation_or_an_unlink_as_configured() {
    let rig = CalRig::start("meetings_only").await;
    let bob = rig.bob.username.clone();
    let cancellations_to_bob = |r: &CalRig| {
        r.invitations()
            .iter()
            .filter(|(to, why)| *to == bob && why == "cancellation")
            .count()
    };
    for mode in ["delete", "cancel", "unlink"] {
        rig.set_rules(json!({"delete_to_outlook": mode, "cancel_message": "Schůzka se ruší."}))
            .await;
        let title = format!("Porada {mode}");
        let id = rig.create_meeting(&title);
        rig.until(&format!("{mode}: the meeting at Alice's and Bob's"), |r| {
            r.alice_subjects().contains(&title) && r.events(&r.bob).len() == 1
        })
        .await;
        let cancelled_before = cancellations_to_bob(&rig);
        let graph_calls = rig.stack.entra.graph().recorded().len();
        rig.change("meeting", id, &Value::Null);
        let key = key_of("meeting", id);
        let rule = format!("meeting.crm_to_outlook.delete delete_to_outlook={mode}");
        rig.until_traced(&key, mode, &rule).await;
        let since: Vec<(String, String)> = rig.stack.entra.graph().recorded()[graph_calls..]
            .iter()
            .map(|x| (x.method.clone(), x.path.clone()))
            .collect();
        match mode {
            "unlink" => {
                assert!(
                    rig.alice_subjects().contains(&title),
                    "the event is kept in Alice's calendar"
                );
                assert_eq!(rig.events(&rig.bob).len(), 1, "Bob keeps his copy");
                assert_eq!(cancellations_to_bob(&rig), cancelled_before);
                assert!(
                    since.iter().all(|(m, _)| m == "GET"),
                    "unlink writes nothing to Graph: {since:?}"
                );
                let employees = rig.get("/api/admin/calendar/employees").await;
                let alice = employees
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|e| e["employee_id"] == rig.employees[0].id.as_str())
                    .cloned()
                    .unwrap_or_default();
                assert_eq!(alice["items_in_sync"], 0, "the link is gone: {employees}");
            }
            _ => {
                rig.until(&format!("{mode}: gone from both calendars"), |r| {
                    !r.alice_subjects().contains(&title) && r.events(&r.bob).is_empty()
                })
                .await;
                assert_eq!(cancellations_to_bob(&rig), cancelled_before + 1);
                let cancelled = since
                    .iter()
                    .any(|(m, p)| m == "POST" && p.ends_with("/cancel"));
                assert_eq!(
                    cancelled,
                    mode == "cancel",
                    "cancel goes through Graph's cancel: {since:?}"
                );
            }
        }
    }
}

#[tokio::test]
async fn employees_follow_the_default_opt_in_unless_overridden_and_their_own_start_date() {
    let rig = CalRig::start_with(RigOptions {
        opt_in: false,
        ..RigOptions::mode("none")
    })
    .await;
    let (alice, bob, cyril) = (
        rig.employees[0].id.clone(),
        rig.employees[1].id.clone(),
        rig.employees[2].id.clone(),
    );
    let team = [rig.bob.person_id, rig.cyril.person_id];
    rig.create_activity("meeting", body_of("meeting", "Porada týmu", 1), &team);
    rig.set_rules(json!({"opt_in_by_default": true})).await;
    rig.until("everyone opted in by default has the meeting", |r| {
        [&r.alice, &r.bob, &r.cyril]
            .iter()
            .all(|u| r.events(u).len() == 1)
    })
    .await;

    let rig_ref = &rig;
    let put = |id: &str, body: Value| {
        let path = format!("/api/admin/calendar/employees/{id}/overrides");
        async move { rig_ref.send(Method::PUT, &path, &body).await }
    };
    let (status, body) = put(&bob, json!({"opt_in": false, "start_date": null})).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, body) = put(&cyril, json!({"opt_in": null, "start_date": "2026-09-10"})).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, body) = put(&cyril, json!({"opt_in": null, "start_date": "10.9.2026"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.to_string().contains("start_date"), "{body}");
    let (status, _) = put("nobody", json!({"opt_in": true, "start_date": null})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let employees = rig.get("/api/admin/calendar/employees").await;
    let row = |id: &str| {
        employees
            .as_array()
            .into_iter()
            .flatten()
            .find(|e| e["employee_id"] == id)
            .cloned()
            .unwrap_or_default()
    };
    assert_eq!(
        (
            row(&alice)["enabled"].clone(),
            row(&alice)["opt_in_set"].clone()
        ),
        (json!(true), json!(false))
    );
    assert_eq!(
        (
            row(&bob)["enabled"].clone(),
            row(&bob)["opt_in_set"].clone()
        ),
        (json!(false), json!(true))
    );
    assert_eq!(
        row(&cyril)["start_date"],
        "2026-09-10",
        "the rejected date changed nothing"
    );

    // Before Cyril's own start: only Alice (Bob opted out); after it: Alice and Cyril.
    rig.create_activity("meeting", body_of("meeting", "Brzy", 5), &team);
    rig.create_activity("meeting", body_of("meeting", "Později", 15), &team);
    rig.until("Alice has both new meetings", |r| {
        let s = r.alice_subjects();
        s.contains("Brzy") && s.contains("Později")
    })
    .await;
    rig.until("Cyril has only the later one", |r| {
        r.events(&r.cyril).iter().any(|e| e["subject"] == "Později")
    })
    .await;
    let cyrils: Vec<Value> = rig.events(&rig.cyril);
    assert!(cyrils.iter().all(|e| e["subject"] != "Brzy"), "{cyrils:?}");
    assert!(
        rig.events(&rig.bob)
            .iter()
            .all(|e| e["subject"] != "Brzy" && e["subject"] != "Později"),
        "Bob opted out gets nothing new"
    );
}

#[tokio::test]
async fn the_rules_api_refuses_bad_rules_by_field_and_audits_each_change_with_before_and_after() {
    let rig = CalRig::start("none").await;
    let defaults = rig.get("/api/admin/calendar/rules").await;
    assert_eq!(defaults["types"].as_object().map(|t| t.len()), Some(5));
    assert_eq!(defaults["delete_to_outlook"], "delete");
    assert_eq!(defaults["types"]["task"]["crm_to_outlook"]["update"], true);

    let (status, body) = rig
        .send(
            Method::PUT,
            "/api/admin/calendar/rules",
            &json!({"flap_limit_per_hour": 0, "mass_delete_percent": 0}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let fields = body["error"]["fields"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    assert!(
        fields.contains_key("flap_limit_per_hour") && fields.contains_key("mass_delete_percent"),
        "{body}"
    );
    for bad in [
        json!({"mass_delete_percent": 300}),
        json!({"delete_to_outlook": "shred"}),
        json!({"types": {"fax": {}}}),
        json!({"types": {"task": {"crm_to_outlook": {"create": false}}}}),
        json!({"no_such_rule": true}),
    ] {
        let (status, body) = rig
            .send(Method::PUT, "/api/admin/calendar/rules", &bad)
            .await;
        assert!(status.is_client_error(), "{bad}: {status} {body}");
    }
    assert_eq!(
        rig.get("/api/admin/calendar/rules").await,
        defaults,
        "nothing refused was stored"
    );

    let mut wanted = rules_with("update", &["meeting", "event", "phoneCall", "letter"]);
    wanted["delete_to_outlook"] = json!("cancel");
    let saved = rig.set_rules(wanted).await;
    assert_eq!(saved["types"]["task"]["crm_to_outlook"]["update"], false);
    assert_eq!(rig.get("/api/admin/calendar/rules").await, saved);

    let audit = rig.get("/api/admin/audit").await;
    let entries: Vec<&Value> = audit
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["action"] == "calendar.rules")
        .collect();
    assert_eq!(entries.len(), 1, "one change, one entry: {audit}");
    let detail = entries[0]["detail"].as_str().unwrap_or_default();
    let (before, after) = detail.split_once(" after: ").unwrap_or_default();
    assert!(
        before.contains(r#""delete_to_outlook":"delete""#),
        "{detail}"
    );
    assert!(
        after.contains(r#""delete_to_outlook":"cancel""#),
        "{detail}"
    );
}

/// `(action, activity key, employee id, rule)` of the preview's actions.
fn planned(preview: &Value) -> BTreeSet<(String, String, String, String)> {
    preview["actions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| {
            let s = |f: &str| a[f].as_str().unwrap_or_default().to_owned();
            (s("action"), s("activity_key"), s("employee_id"), s("rule"))
        })
        .collect()
}

/// The same of the trace entries written at or after `since` (Unix ms) for an employee,
/// leaving out writes that changed nothing.
async fn done(rig: &CalRig, since: i64) -> BTreeSet<(String, String, String, String)> {
    rig.get("/api/admin/calendar/trace?limit=500")
        .await
        .as_array()
        .into_iter()
        .flatten()
        .filter(|t| {
            t["at"].as_i64().is_some_and(|at| at >= since)
                && t["employee_id"] != ""
                && t["reason"] != "unchanged"
        })
        .map(|t| {
            let s = |f: &str| t[f].as_str().unwrap_or_default().to_owned();
            let rule = match s("action").as_str() {
                // The trace gives creates and updates no reason; the preview names the rule.
                "create" | "update" => String::new(),
                _ => s("reason"),
            };
            (s("action"), s("activity_key"), s("employee_id"), rule)
        })
        .collect()
}

fn without_write_rules(
    actions: BTreeSet<(String, String, String, String)>,
) -> BTreeSet<(String, String, String, String)> {
    actions
        .into_iter()
        .map(|(action, key, employee, rule)| match action.as_str() {
            "create" | "update" => (action, key, employee, String::new()),
            _ => (action, key, employee, rule),
        })
        .collect()
}

#[tokio::test]
async fn the_dry_run_lists_exactly_what_the_real_sync_then_does() {
    let rig = CalRig::start_with(RigOptions {
        webhook: false,
        opt_in: false,
        adjust: |c| c.jobs.calendar_reconcile_secs = 0,
        ..RigOptions::mode("none")
    })
    .await;
    // Before sync is on, Alice and Cyril opted in (Bob not): a meeting of Alice's with Bob, a
    // task and a letter (no creates allowed for letters) of hers, and a call before the start
    // date.
    rig.put(
        "/api/admin/calendar",
        &json!({"enabled": false, "activity_types": ENTITIES, "category": "Raynet",
                "start_date": "2026-01-01"}),
    )
    .await;
    rig.opt_in(0).await;
    rig.opt_in(2).await;
    rig.set_rules(rules_with(
        "create",
        &["meeting", "event", "task", "phoneCall"],
    ))
    .await;
    let bob = rig.bob.person_id;
    let meeting = rig.create_activity("meeting", body_of("meeting", "Porada", 1), &[bob]);
    let task = rig.create_activity("task", body_of("task", "Nabídka", 2), &[]);
    let letter = rig.create_activity("letter", body_of("letter", "Dopis", 3), &[]);
    rig.create_activity(
        "phoneCall",
        json!({"title": "Loni", "scheduledFrom": "2025-06-01T10:00:00+02:00"}),
        &[],
    );
    let preview = rig.get("/api/admin/calendar/preview").await;
    assert_eq!(preview["sync_enabled"], false, "{preview}");
    let first = planned(&preview);
    let (alice, bob_id) = (rig.employees[0].id.clone(), rig.employees[1].id.clone());
    let expected: BTreeSet<(String, String, String, String)> = [
        (
            "create",
            key_of("meeting", meeting),
            &alice,
            "meeting.crm_to_outlook.create",
        ),
        (
            "create",
            key_of("task", task),
            &alice,
            "task.crm_to_outlook.create",
        ),
        (
            "skip",
            key_of("letter", letter),
            &alice,
            "letter.crm_to_outlook.create=off",
        ),
    ]
    .into_iter()
    .map(|(a, k, e, r)| (a.to_owned(), k, e.clone(), r.to_owned()))
    .collect();
    assert_eq!(first, expected, "{preview}");
    let one = rig
        .get(&format!("/api/admin/calendar/preview?employee={bob_id}"))
        .await;
    assert_eq!(
        planned(&one).into_iter().map(|a| a.0).collect::<Vec<_>>(),
        ["create"],
        "Bob, not opted in, would get the meeting once he is: {one}"
    );
    let page = rig
        .stack
        .admin
        .client
        .get(rig.stack.app.url("/admin/sync/preview"))
        .send()
        .await
        .expect("the server answers")
        .text()
        .await
        .expect("a page");
    assert!(
        page.contains(&key_of("task", task)) && page.contains("letter.crm_to_outlook.create=off"),
        "the preview page lists the actions with their rules"
    );
    assert!(
        rig.events(&rig.alice).is_empty(),
        "the preview wrote nothing"
    );

    // The real sync: turning sync on backfills every opted-in calendar.
    let since = server::store::now_ms();
    rig.put(
        "/api/admin/calendar",
        &json!({"enabled": true, "activity_types": ENTITIES, "category": "Raynet",
                "start_date": "2026-01-01"}),
    )
    .await;
    rig.until("the meeting and the task written", |r| {
        r.alice_subjects().len() == 2
    })
    .await;
    rig.graph_calls_when_quiet().await;
    let wanted = without_write_rules(first);
    let (rig_ref, wanted_ref) = (&rig, &wanted);
    let ok = eventually(Duration::from_secs(10), || async move {
        done(rig_ref, since).await == *wanted_ref
    })
    .await;
    assert!(ok.is_some(), "{:?} != {wanted:?}", done(&rig, since).await);

    // After a rule change: the task's updates stop, deletes unlink; the meeting is deleted and
    // the task retitled in Raynet.
    let mut changed = rules_with("update", &["meeting", "event", "phoneCall", "letter"]);
    changed["delete_to_outlook"] = json!("unlink");
    changed["types"]["letter"]["crm_to_outlook"]["create"] = json!(false);
    rig.set_rules(changed).await;
    rig.change("meeting", meeting, &Value::Null);
    rig.change("task", task, &json!({"title": "Nabídka 2"}));
    let second = planned(&rig.get("/api/admin/calendar/preview").await);
    let unlink = "meeting.crm_to_outlook.delete delete_to_outlook=unlink";
    let expected: BTreeSet<(String, String, String, String)> = [
        ("unlink", key_of("meeting", meeting), &alice, unlink),
        (
            "skip",
            key_of("task", task),
            &alice,
            "task.crm_to_outlook.update=off",
        ),
        (
            "skip",
            key_of("letter", letter),
            &alice,
            "letter.crm_to_outlook.create=off",
        ),
    ]
    .into_iter()
    .map(|(a, k, e, r)| (a.to_owned(), k, e.clone(), r.to_owned()))
    .collect();
    assert_eq!(second, expected);
    // The real sync of everything the preview looked at: every calendar backfilled again.
    let since = server::store::now_ms();
    let state = &rig.stack.app.state;
    for employee in [&rig.employees[0], &rig.employees[2]] {
        server::calendar::queue_backfill(state.store.as_ref(), &state.jobs, &employee.id)
            .await
            .expect("queued");
    }
    let wanted = without_write_rules(second);
    let (rig_ref, wanted_ref) = (&rig, &wanted);
    let ok = eventually(Duration::from_secs(20), || async move {
        done(rig_ref, since).await == *wanted_ref
    })
    .await;
    assert!(ok.is_some(), "{:?} != {wanted:?}", done(&rig, since).await);
    assert_eq!(rig.alice_subjects().len(), 2, "unlinked events stay");
}
