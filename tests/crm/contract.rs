//! Contract tests: the Raynet connector against the simulator, for every operation, each quirk
//! and each error.

use std::time::{Duration, Instant};

use axum::http::Method;
use chrono::{TimeZone, Utc};
use serde_json::json;
use server::crm::{
    ActivityKind, ActivityLinks, ActivityStatus, ActivityUpdate, Crm, CrmError, NewActivity,
    NewPerson, PageRequest, ParticipantSpec, RecordKind, TaskTime, TimedActivityKind, TimedFilter,
    WEBHOOK_EVENTS, describe_connection,
};
use tests::raynet_sim::{Fault, Faults, RaynetSim, SimUser};

use crate::{Receiver, connector, connector_for, quick_config, start_sim};

fn meeting(owner: i64, company: i64, person: i64, ext: &str) -> NewActivity {
    NewActivity {
        kind: ActivityKind::Meeting,
        ext_id: Some(ext.into()),
        owner_id: owner,
        title: "Schůzka k dodávce".into(),
        from: Utc.with_ymd_and_hms(2025, 3, 4, 9, 0, 0).single(),
        till: Utc.with_ymd_and_hms(2025, 3, 4, 10, 30, 0).single(),
        description: "<p>Probereme termíny.</p>".into(),
        place: Some("Zasedačka Třinec".into()),
        links: ActivityLinks {
            company_id: Some(company),
            person_id: Some(person),
            business_case_id: Some(1),
            project_id: Some(1),
        },
        participants: vec![ParticipantSpec {
            person_id: Some(person + 1),
            company_id: None,
        }],
        status: None,
    }
}

/// Runs every connector operation once (used again by the spec conformance test).
pub(crate) async fn exercise_every_operation(sim: &RaynetSim) {
    let crm = connector(sim);
    let report = crm.test_connection().await.unwrap();
    assert_eq!(report.identity.person_id, Some(sim.admin.person_id));
    for kind in RecordKind::ALL {
        let page = crm.list(kind, PageRequest::first(None)).await.unwrap();
        assert!(!page.items.is_empty(), "{kind} listing is empty");
        let first = page.items[0].id;
        assert_eq!(crm.get(kind, first).await.unwrap().id, first);
        assert_eq!(crm.get_many(kind, &[first]).await.unwrap().len(), 1);
        let changed = crm
            .list(kind, PageRequest::first(Utc.timestamp_opt(0, 0).single()))
            .await
            .unwrap();
        assert_eq!(changed.total, page.total);
    }
    assert_eq!(
        crm.get(RecordKind::Company, 999_999).await,
        Err(CrmError::NotFound)
    );
    let person = sim.sim.person(1).unwrap();
    let email = person.email.as_deref().unwrap().to_owned();
    assert_eq!(crm.find_persons_by_email(&email).await.unwrap()[0].id, 1);
    let new_person = crm
        .create_person(&NewPerson {
            first_name: Some("Šárka".into()),
            last_name: "Nováková".into(),
            email: Some("sarka.novakova@example.cz".into()),
            company_id: Some(1),
            owner_id: None,
        })
        .await
        .unwrap();
    assert!(new_person > 0);
    let mut email_activity = meeting(sim.admin.person_id, 1, 1, "crm-bridge:conf-email");
    email_activity.kind = ActivityKind::Email;
    email_activity.place = None;
    email_activity.status = Some(ActivityStatus::Completed);
    let email_id = crm.create_activity(&email_activity).await.unwrap();
    let meeting_id = crm
        .create_activity(&meeting(
            sim.admin.person_id,
            1,
            1,
            "crm-bridge:conf-meeting",
        ))
        .await
        .unwrap();
    crm.update_activity(
        ActivityKind::Meeting,
        meeting_id,
        &ActivityUpdate {
            title: Some("Přesunuto".into()),
            participants: Some(vec![]),
            ..ActivityUpdate::default()
        },
    )
    .await
    .unwrap();
    assert!(
        crm.get_activity(ActivityKind::Email, email_id)
            .await
            .is_ok()
    );
    assert!(
        crm.find_activity_by_ext_id(ActivityKind::Meeting, "crm-bridge:conf-meeting")
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        crm.find_activity_by_ext_id(ActivityKind::Email, "crm-bridge:nothing")
            .await
            .unwrap()
            .is_none()
    );
    crm.delete_activity(ActivityKind::Meeting, meeting_id)
        .await
        .unwrap();
    timed_activities(sim).await;
    let hook = crm
        .create_webhook("http://127.0.0.1:9/hook", "tajne", &WEBHOOK_EVENTS)
        .await
        .unwrap();
    assert_eq!(crm.list_webhooks().await.unwrap().len(), 1);
    crm.delete_webhook(&hook).await.unwrap();
    // Errors the spec documents.
    sim.sim.push_fault(Fault::ServerError {
        message: "TranslatedApplicationException: exception.duplicateKey".into(),
        translated_message: "Duplicitní záznam.".into(),
    });
    assert!(crm.get(RecordKind::Company, 1).await.is_err());
    sim.sim.push_fault(Fault::RateLimit {
        reset_in_secs: Some(1),
    });
    assert!(crm.get(RecordKind::Company, 1).await.is_ok());
    let readonly = sim
        .sim
        .add_user("ctenar@firma.cz", "READONLY", "Čtenář Pomalý");
    let denied = connector_for(sim, &readonly, &quick_config())
        .create_person(&NewPerson {
            first_name: None,
            last_name: "X".into(),
            email: None,
            company_id: None,
            owner_id: None,
        })
        .await;
    assert!(matches!(denied, Err(CrmError::AccessDenied(_))));
}

/// A task planned by its deadline and a phone call with a start only, made in Raynet's web app
/// (`task`, `phoneCall`), with person 3 taking part in the call; their ids.
fn plan_timed_activities(sim: &RaynetSim) -> (i64, i64) {
    let owner = sim.admin.person_id;
    let (status, task) = sim.sim.user_change(
        &Method::PUT,
        "task",
        None,
        &json!({"title": "Poslat nabídku", "priority": "DEFAULT", "owner": owner,
                "deadline": "2026-09-04T12:00:00+02:00"}),
    );
    assert!(status.is_success(), "{task}");
    let (status, call) = sim.sim.user_change(
        &Method::PUT,
        "phoneCall",
        None,
        &json!({"title": "Dotaz", "priority": "DEFAULT", "owner": owner,
                "scheduledFrom": "2026-09-05T10:00:00+02:00"}),
    );
    assert!(status.is_success(), "{call}");
    let call = call["data"]["id"].as_i64().unwrap();
    let (status, answer) = sim.sim.user_change(
        &Method::POST,
        "phoneCall",
        Some(call),
        &json!({"participants": [{"person": 3}], "status": "CANCELLED"}),
    );
    assert!(status.is_success(), "{answer}");
    (task["data"]["id"].as_i64().unwrap(), call)
}

/// The calendar reads: every timed type by id, and listings by participant and start; the ids
/// of the task and the call.
async fn timed_activities(sim: &RaynetSim) -> (i64, i64) {
    let crm = connector(sim);
    let (task_id, call_id) = plan_timed_activities(sim);
    let task = crm
        .get_timed_activity(TimedActivityKind::Task, task_id)
        .await
        .unwrap();
    assert_eq!(task.title, "Poslat nabídku");
    assert_eq!(task.from, None);
    assert_eq!(
        task.deadline,
        Utc.with_ymd_and_hms(2026, 9, 4, 10, 0, 0).single()
    );
    assert_eq!(task.owner_id, Some(sim.admin.person_id));
    let call = crm
        .get_timed_activity(TimedActivityKind::PhoneCall, call_id)
        .await
        .unwrap();
    assert_eq!(
        call.from,
        Utc.with_ymd_and_hms(2026, 9, 5, 8, 0, 0).single()
    );
    assert_eq!(call.till, None);
    assert_eq!(call.status, Some(ActivityStatus::Cancelled));
    assert!(call.participants.iter().any(|p| p.person_id == Some(3)));
    assert!(call.changed_at.is_some());
    let by_person = |person: i64| TimedFilter {
        person_id: Some(person),
        ..TimedFilter::default()
    };
    let listed = crm
        .list_timed_activities(
            TimedActivityKind::PhoneCall,
            &by_person(3),
            PageRequest::first(None),
        )
        .await
        .unwrap();
    assert_eq!(
        listed.items.iter().map(|a| a.id).collect::<Vec<_>>(),
        [call_id]
    );
    let none = crm
        .list_timed_activities(
            TimedActivityKind::PhoneCall,
            &by_person(4),
            PageRequest::first(None),
        )
        .await
        .unwrap();
    assert!(none.items.is_empty());
    // A task is selected by its scheduled start or, when asked, by its deadline.
    let due_from = |day: u32| TimedFilter {
        from: Utc.with_ymd_and_hms(2026, 9, day, 0, 0, 0).single(),
        task_time: TaskTime::Due,
        ..TimedFilter::default()
    };
    let listed_tasks = |filter: TimedFilter| {
        let crm = &crm;
        async move {
            crm.list_timed_activities(TimedActivityKind::Task, &filter, PageRequest::first(None))
                .await
                .unwrap()
                .items
                .iter()
                .map(|t| t.id)
                .collect::<Vec<_>>()
        }
    };
    assert!(listed_tasks(due_from(4)).await.contains(&task_id));
    assert!(
        !listed_tasks(due_from(5)).await.contains(&task_id),
        "due before"
    );
    let scheduled_from_4 = TimedFilter {
        task_time: TaskTime::Scheduled,
        ..due_from(4)
    };
    assert!(
        !listed_tasks(scheduled_from_4).await.contains(&task_id),
        "not scheduled at all"
    );
    assert_eq!(
        crm.get_timed_activity(TimedActivityKind::Letter, 999_999)
            .await
            .err(),
        Some(CrmError::NotFound)
    );
    assert!(
        crm.timed_activity_link(TimedActivityKind::PhoneCall, call_id)
            .ends_with(&format!("en=PhoneCall&ei={call_id}"))
    );
    (task_id, call_id)
}

#[tokio::test]
async fn timed_activities_of_every_type_are_read_and_listed_by_participant_start_and_id() {
    let sim = start_sim(false).await;
    let (task_id, _) = timed_activities(&sim).await;
    // The cheap listing (`view=rowInfo`) for finding deleted ones, from an id on.
    let crm = connector(&sim);
    let ids = crm
        .list_timed_activity_ids(
            TimedActivityKind::Task,
            &TimedFilter {
                min_id: Some(task_id),
                ..TimedFilter::default()
            },
            PageRequest::first(None),
        )
        .await
        .unwrap();
    assert_eq!(ids.items, [task_id]);
}

#[tokio::test]
async fn every_operation_works_against_the_simulator() {
    let sim = start_sim(false).await;
    exercise_every_operation(&sim).await;
}

#[tokio::test]
async fn listing_pages_through_companies_in_id_order_and_reports_the_total() {
    let sim = start_sim(false).await;
    let crm = connector(&sim);
    let mut page = PageRequest {
        offset: 0,
        limit: 7,
        changed_since: None,
    };
    let mut ids = Vec::new();
    loop {
        let got = crm.list(RecordKind::Company, page).await.unwrap();
        assert_eq!(got.total, 20);
        if got.items.is_empty() {
            break;
        }
        ids.extend(got.items.iter().map(|r| r.id));
        page = page.next();
    }
    assert_eq!(ids, (1..=20).collect::<Vec<_>>());
}

#[tokio::test]
async fn records_are_mapped_into_the_uniform_shape() {
    let sim = start_sim(false).await;
    let crm = connector(&sim);
    let company = sim.sim.company(3).unwrap();
    let record = crm.get(RecordKind::Company, 3).await.unwrap();
    assert_eq!(record.name, &*company.name);
    assert_eq!(record.reg_number, company.ico());
    assert_eq!(record.open, !company.invalid);
    assert!(record.emails.contains(&format!("info@{}", company.domain)));
    assert!(record.updated_at.is_some());
    // Persons 5 and 6 belong to company 3.
    let person = crm.get(RecordKind::Person, 5).await.unwrap();
    assert_eq!(person.company_id, Some(3));
    assert_eq!(person.company_name.as_deref(), Some(&*company.name));
    assert_eq!(person.subtitle.as_deref(), Some(&*company.name));
    assert!(person.emails[0].ends_with(&*company.domain));
    let case = crm.get(RecordKind::BusinessCase, 3).await.unwrap();
    assert_eq!(case.subtitle.as_deref(), Some("OP-24-0003"));
    assert_eq!(case.company_id, Some(3));
}

#[tokio::test]
async fn a_closed_business_case_is_not_open() {
    let sim = start_sim(false).await;
    let crm = connector(&sim);
    let (status, _) = sim.sim.user_change(
        &Method::POST,
        "businessCase",
        Some(2),
        &json!({"status": "F_LOST"}),
    );
    assert!(status.is_success());
    assert!(!crm.get(RecordKind::BusinessCase, 2).await.unwrap().open);
    sim.sim.user_change(
        &Method::POST,
        "businessCase",
        Some(2),
        &json!({"status": "B_ACTIVE"}),
    );
    assert!(crm.get(RecordKind::BusinessCase, 2).await.unwrap().open);
}

#[tokio::test]
async fn changed_since_returns_only_records_modified_later() {
    let sim = start_sim(false).await;
    let crm = connector(&sim);
    tokio::time::sleep(Duration::from_millis(20)).await;
    let since = Utc::now();
    tokio::time::sleep(Duration::from_millis(20)).await;
    sim.sim.user_change(
        &Method::POST,
        "company",
        Some(4),
        &json!({"name": "Vítkovice Nová a.s."}),
    );
    let (_, created) = sim.sim.user_change(
        &Method::PUT,
        "company",
        None,
        &json!({"name": "Železárny Nové s.r.o.", "rating": "A", "state": "A_POTENTIAL", "role": "A_SUBSCRIBER"}),
    );
    let page = crm
        .list(RecordKind::Company, PageRequest::first(Some(since)))
        .await
        .unwrap();
    let ids: Vec<i64> = page.items.iter().map(|r| r.id).collect();
    assert_eq!(ids, vec![4, created["data"]["id"].as_i64().unwrap()]);
    assert_eq!(page.items[0].name, "Vítkovice Nová a.s.");
}

#[tokio::test]
async fn several_records_are_fetched_by_ids_and_missing_ones_left_out() {
    let sim = start_sim(false).await;
    let crm = connector(&sim);
    let got = crm
        .get_many(RecordKind::Person, &[9, 2, 9, 77_777, 4])
        .await
        .unwrap();
    assert_eq!(got.iter().map(|r| r.id).collect::<Vec<_>>(), vec![2, 4, 9]);
    let many: Vec<i64> = (1..=40).collect();
    assert_eq!(
        crm.get_many(RecordKind::Person, &many).await.unwrap().len(),
        40
    );
}

#[tokio::test]
async fn a_missing_record_is_not_found() {
    let sim = start_sim(false).await;
    let crm = connector(&sim);
    assert_eq!(
        crm.get(RecordKind::Project, 4242).await,
        Err(CrmError::NotFound)
    );
    assert_eq!(
        crm.get_activity(ActivityKind::Email, 4242).await,
        Err(CrmError::NotFound)
    );
}

#[tokio::test]
async fn a_created_person_is_found_by_email_with_its_company() {
    let sim = start_sim(false).await;
    let crm = connector(&sim);
    let id = crm
        .create_person(&NewPerson {
            first_name: Some("Jiří".into()),
            last_name: "Kříž".into(),
            email: Some("jiri.kriz@example.cz".into()),
            company_id: Some(2),
            owner_id: Some(sim.admin.person_id),
        })
        .await
        .unwrap();
    let found = crm
        .find_persons_by_email("jiri.kriz@example.cz")
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].id, id);
    assert_eq!(found[0].name, "Jiří Kříž");
    assert_eq!(found[0].company_id, Some(2));
}

#[tokio::test]
async fn an_email_activity_lands_with_owner_links_ext_id_and_participants() {
    let sim = start_sim(false).await;
    let employee = sim
        .sim
        .add_user("petr.svetr@firma.cz", "FULL_THROTTLE", "Petr Světr");
    let crm = connector_for(&sim, &employee, &quick_config());
    let mut activity = meeting(employee.person_id, 2, 3, "crm-bridge:msg-1");
    activity.kind = ActivityKind::Email;
    activity.place = None;
    activity.status = Some(ActivityStatus::Completed);
    let id = crm.create_activity(&activity).await.unwrap();
    let landed = sim.sim.activities();
    assert_eq!(landed.len(), 1);
    let a = &landed[0];
    assert_eq!(
        (a.id, a.kind, a.owner_id),
        (id, "email", employee.person_id)
    );
    assert_eq!(a.created_by, "petr.svetr@firma.cz");
    assert_eq!(a.ext_ids, vec!["crm-bridge:msg-1".to_owned()]);
    assert_eq!(
        (a.company_id, a.person_id, a.business_case_id, a.project_id),
        (Some(2), Some(3), Some(1), Some(1))
    );
    assert_eq!(a.status, "COMPLETED");
    assert_eq!(a.from, activity.from.map(|t| t.timestamp_millis()));
    let people: Vec<Option<i64>> = a.participants.iter().map(|p| p.person).collect();
    assert_eq!(people, vec![Some(employee.person_id), Some(3), Some(4)]);
    assert!(a.participants[0].owner);
    let read = crm.get_activity(ActivityKind::Email, id).await.unwrap();
    assert_eq!(read.title, "Schůzka k dodávce");
    assert_eq!(read.participants.len(), 3);
    assert_eq!(read.from, activity.from);
}

#[tokio::test]
async fn a_meeting_is_found_by_ext_id_updated_and_deleted() {
    let sim = start_sim(false).await;
    let crm = connector(&sim);
    let id = crm
        .create_activity(&meeting(sim.admin.person_id, 1, 1, "crm-bridge:ical-42"))
        .await
        .unwrap();
    let found = crm
        .find_activity_by_ext_id(ActivityKind::Meeting, "crm-bridge:ical-42")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id, id);
    assert_eq!(found.place.as_deref(), Some("Zasedačka Třinec"));
    crm.update_activity(
        ActivityKind::Meeting,
        id,
        &ActivityUpdate {
            title: Some("Schůzka přesunuta".into()),
            participants: Some(vec![ParticipantSpec {
                person_id: Some(6),
                company_id: None,
            }]),
            links: Some(ActivityLinks {
                company_id: Some(3),
                ..ActivityLinks::default()
            }),
            ..ActivityUpdate::default()
        },
    )
    .await
    .unwrap();
    let after = crm.get_activity(ActivityKind::Meeting, id).await.unwrap();
    assert_eq!(after.title, "Schůzka přesunuta");
    assert_eq!(after.links.company_id, Some(3));
    assert_eq!(after.links.project_id, None);
    let others: Vec<Option<i64>> = after
        .participants
        .iter()
        .filter(|p| !p.owner)
        .map(|p| p.person_id)
        .collect();
    assert_eq!(others, vec![Some(6)]);
    assert!(
        crm.activity_link(ActivityKind::Meeting, id)
            .ends_with(&format!("/demo/?view=DetailView&en=Meeting&ei={id}"))
    );
    crm.delete_activity(ActivityKind::Meeting, id)
        .await
        .unwrap();
    assert_eq!(
        crm.find_activity_by_ext_id(ActivityKind::Meeting, "crm-bridge:ical-42")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        crm.delete_activity(ActivityKind::Meeting, id).await,
        Err(CrmError::NotFound)
    );
}

#[tokio::test]
async fn webhooks_are_created_listed_deleted_and_deliver_events_with_the_token() {
    let sim = start_sim(false).await;
    let crm = connector(&sim);
    let receiver = Receiver::start().await;
    let id = crm
        .create_webhook(&receiver.url, "tajne-heslo", &WEBHOOK_EVENTS)
        .await
        .unwrap();
    let hooks = crm.list_webhooks().await.unwrap();
    assert_eq!(hooks.len(), 1);
    assert_eq!(
        (hooks[0].id.as_str(), hooks[0].url.as_str()),
        (id.as_str(), receiver.url.as_str())
    );
    assert_eq!(hooks[0].events, WEBHOOK_EVENTS.map(String::from).to_vec());
    sim.sim.user_change(
        &Method::POST,
        "company",
        Some(5),
        &json!({"name": "Nový název s.r.o."}),
    );
    let person = crm
        .create_person(&NewPerson {
            first_name: None,
            last_name: "Beneš".into(),
            email: None,
            company_id: None,
            owner_id: None,
        })
        .await
        .unwrap();
    sim.sim
        .user_change(&Method::DELETE, "person", Some(person), &json!({}));
    let got = receiver.wait_for(3).await;
    assert_eq!(got.len(), 3);
    assert!(
        got.iter()
            .all(|(token, _)| token.as_deref() == Some("tajne-heslo"))
    );
    let kinds: Vec<(&str, &str, i64)> = got
        .iter()
        .map(|(_, b)| {
            (
                b["type"].as_str().unwrap(),
                b["data"]["entityName"].as_str().unwrap(),
                b["data"]["entityId"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("record.updated", "Company", 5),
            ("record.created", "Person", person),
            ("record.deleted", "Person", person)
        ]
    );
    let first = &got[0].1;
    assert_eq!(
        first["source"],
        json!({"name": "user", "description": "browser"})
    );
    assert_eq!(got[1].1["source"]["name"], "api");
    assert_eq!(first["eventId"].as_str().unwrap().len(), 32);
    assert!(first["createdAt"].as_str().unwrap().contains('T'));
    assert!(first["data"]["extIds"].is_null());
    crm.delete_webhook(&id).await.unwrap();
    assert!(crm.list_webhooks().await.unwrap().is_empty());
    assert_eq!(crm.delete_webhook(&id).await, Err(CrmError::NotFound));
}

#[tokio::test]
async fn the_connection_test_names_the_user_and_the_remaining_quota() {
    let sim = start_sim(false).await;
    let crm = connector(&sim);
    sim.sim.set_quota(24_000, 23_000);
    let report = crm.test_connection().await.unwrap();
    assert_eq!(report.identity.username, sim.admin.username);
    assert_eq!(report.identity.role.as_deref(), Some("ADMIN"));
    assert_eq!(
        report.identity.full_name.as_deref(),
        Some("Správce Simulátoru")
    );
    // The account's detail names the security levels it may open (every level: an admin).
    assert_eq!(report.identity.security_levels, Some(vec![1]));
    // Two requests: the account found by its login, then its detail.
    let quota = report.quota.unwrap();
    assert_eq!((quota.limit, quota.remaining), (Some(24_000), Some(22_998)));
    assert!(quota.reset_at.unwrap() > Utc::now());
    let words = describe_connection(&report, &server::i18n::Tr::default()).join("\n");
    assert!(words.contains(&sim.admin.username), "{words}");
    assert!(
        words.contains("22,998 of 24,000 API requests are left today"),
        "{words}"
    );
    let czech = describe_connection(&report, &server::i18n::Tr::new(server::i18n::Lang::Cs));
    assert!(
        czech
            .join("\n")
            .contains("Dnes zbývá 22\u{a0}998 z 24\u{a0}000"),
        "{czech:?}"
    );
}

#[tokio::test]
async fn a_429_with_a_near_reset_is_waited_out_and_retried() {
    let sim = start_sim(false).await;
    let crm = connector(&sim);
    sim.sim.push_fault(Fault::RateLimit {
        reset_in_secs: Some(1),
    });
    // The reset header has whole seconds, so it may lie only milliseconds ahead; what must
    // hold is that the retry came no earlier than the announced second.
    let started_second = Utc::now().timestamp();
    assert!(crm.get(RecordKind::Company, 1).await.is_ok());
    assert!(
        Utc::now().timestamp() > started_second,
        "the client retried before the announced reset"
    );
}

#[tokio::test]
async fn a_429_with_a_far_reset_returns_rate_limited_until_the_reset_at_once() {
    let sim = start_sim(false).await;
    let crm = connector(&sim);
    sim.sim.push_fault(Fault::RateLimit {
        reset_in_secs: Some(3600),
    });
    let started = Instant::now();
    let err = crm.get(RecordKind::Company, 1).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(1));
    let CrmError::RateLimited { until: Some(until) } = err else {
        panic!("expected RateLimited with a time, got {err:?}");
    };
    let ahead = (until - Utc::now()).num_seconds();
    assert!((3500..=3601).contains(&ahead), "{ahead}");
}

#[tokio::test]
async fn a_429_without_a_reset_header_is_retried_with_backoff() {
    let sim = start_sim(false).await;
    let crm = connector(&sim);
    sim.sim.push_fault(Fault::RateLimit {
        reset_in_secs: None,
    });
    sim.sim.push_fault(Fault::RateLimit {
        reset_in_secs: None,
    });
    assert!(crm.get(RecordKind::Company, 1).await.is_ok());
    sim.sim.set_faults(Faults {
        next: vec![
            Fault::RateLimit {
                reset_in_secs: None
            };
            10
        ],
        ..Faults::default()
    });
    assert!(matches!(
        crm.get(RecordKind::Company, 1).await,
        Err(CrmError::RateLimited { .. })
    ));
}

#[tokio::test]
async fn a_503_is_retried_and_a_long_outage_is_an_upstream_failure() {
    let sim = start_sim(false).await;
    let crm = connector(&sim);
    sim.sim.push_fault(Fault::Unavailable);
    assert!(crm.get(RecordKind::Company, 1).await.is_ok());
    sim.sim.set_faults(Faults {
        outage_secs: 60,
        ..Faults::default()
    });
    assert!(matches!(
        crm.get(RecordKind::Company, 1).await,
        Err(CrmError::Upstream(_))
    ));
}

#[tokio::test]
async fn a_500_with_a_message_is_an_upstream_failure_carrying_the_message() {
    let sim = start_sim(false).await;
    let crm = connector(&sim);
    sim.sim.push_fault(Fault::ServerError {
        message: "TranslatedApplicationException: exception.stillReferenced".into(),
        translated_message: "Tento záznam nelze smazat.".into(),
    });
    let err = crm.get(RecordKind::Company, 1).await.unwrap_err();
    assert_eq!(
        err,
        CrmError::Upstream(
            "Tento záznam nelze smazat. (TranslatedApplicationException: exception.stillReferenced)"
                .into()
        )
    );
    assert_eq!(sim.sim.quota_remaining(), 24_000, "a 500 is not retried");
}

#[tokio::test]
async fn a_write_without_permission_is_access_denied() {
    let sim = start_sim(false).await;
    let readonly = sim
        .sim
        .add_user("ctenar@firma.cz", "READONLY", "Čtenář Pomalý");
    let crm = connector_for(&sim, &readonly, &quick_config());
    let err = crm
        .create_activity(&meeting(readonly.person_id, 1, 1, "x"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, CrmError::AccessDenied(ref m) if m.contains("oprávnění")),
        "{err:?}"
    );
    assert!(sim.sim.activities().is_empty());
}

#[tokio::test]
async fn malformed_json_is_an_upstream_failure() {
    let sim = start_sim(false).await;
    let crm = connector(&sim);
    sim.sim.push_fault(Fault::Malformed);
    let err = crm
        .list(RecordKind::Company, PageRequest::first(None))
        .await;
    assert!(
        matches!(err, Err(CrmError::Upstream(ref m)) if m.contains("malformed JSON")),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_crm_that_does_not_answer_in_time_is_an_upstream_failure() {
    let sim = start_sim(false).await;
    let crm = connector(&sim);
    sim.sim.push_fault(Fault::Hang { secs: 3 });
    let started = Instant::now();
    let err = crm.get(RecordKind::Company, 1).await;
    assert!(
        matches!(err, Err(CrmError::Upstream(ref m)) if m.contains("in time")),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_millis(2500));
}

#[tokio::test]
async fn bad_credentials_and_an_unknown_instance_are_reported_once_and_never_retried() {
    let sim = start_sim(false).await;
    let mut wrong = sim.admin.clone();
    wrong.api_key = "wrong-key".into();
    let crm = connector_for(&sim, &wrong, &quick_config());
    assert_eq!(crm.test_connection().await, Err(CrmError::BadCredentials));
    let wrong_instance = server::crm::RaynetClient::new(
        reqwest::Client::new(),
        server::crm::RaynetConnection {
            base_url: sim.url.clone(),
            instance: "jina-instance".into(),
            user_email: sim.admin.username.clone(),
            api_key: sim.admin.api_key.clone().into(),
        },
        &quick_config(),
    )
    .unwrap();
    assert_eq!(
        wrong_instance.get(RecordKind::Company, 1).await,
        Err(CrmError::UnknownInstance)
    );
    assert_eq!(sim.sim.quota_remaining(), 24_000);
}

#[tokio::test]
async fn twenty_bad_logins_block_the_address_even_for_the_right_key() {
    let sim = start_sim(false).await;
    let mut wrong = sim.admin.clone();
    wrong.api_key = "wrong-key".into();
    let bad = connector_for(&sim, &wrong, &quick_config());
    for _ in 0..20 {
        assert_eq!(
            bad.get(RecordKind::Company, 1).await,
            Err(CrmError::BadCredentials)
        );
    }
    let good = connector(&sim);
    assert_eq!(
        good.get(RecordKind::Company, 1).await,
        Err(CrmError::Blocked)
    );
    sim.sim.clear_bad_logins();
    assert!(good.get(RecordKind::Company, 1).await.is_ok());
}

#[tokio::test]
async fn an_exhausted_daily_quota_is_rate_limited_until_midnight_utc() {
    let sim = start_sim(false).await;
    let crm = connector(&sim);
    sim.sim.set_quota(24_000, 0);
    let err = crm.get(RecordKind::Company, 1).await.unwrap_err();
    let CrmError::RateLimited { until: Some(until) } = err else {
        panic!("expected RateLimited, got {err:?}");
    };
    assert_eq!(until.timestamp() % 86_400, 0);
    assert!(until > Utc::now());
    assert_eq!(crm.quota().and_then(|q| q.remaining), Some(0));
}

#[tokio::test]
async fn the_connector_keeps_to_four_connections_where_a_naive_client_is_refused() {
    let sim = start_sim(false).await;
    sim.sim.set_faults(Faults {
        latency_ms: 150,
        ..Faults::default()
    });
    let crm = std::sync::Arc::new(connector(&sim));
    let calls = (1..=10).map(|id| {
        let crm = crm.clone();
        async move { crm.get(RecordKind::Company, id).await }
    });
    let results = futures::future::join_all(calls).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let naive = reqwest::Client::new();
    let calls = (1..=10).map(|id| {
        naive
            .get(format!("{}company/{id}/", sim.url))
            .basic_auth(&sim.admin.username, Some(&sim.admin.api_key))
            .header("X-Instance-Name", "demo")
            .send()
    });
    let statuses: Vec<u16> = futures::future::join_all(calls)
        .await
        .into_iter()
        .map(|r| r.unwrap().status().as_u16())
        .collect();
    assert!(statuses.contains(&429), "{statuses:?}");
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        4,
        "{statuses:?}"
    );
}

/// `GET` on the simulator's API as `user`.
async fn raw_get(sim: &RaynetSim, user: &SimUser, path: &str) -> (u16, serde_json::Value) {
    let response = reqwest::Client::new()
        .get(format!("{}{path}", sim.url))
        .basic_auth(&user.username, Some(&user.api_key))
        .header("X-Instance-Name", &sim.instance)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or_default())
}

#[tokio::test]
async fn security_levels_are_listed_carried_by_records_and_limit_what_a_user_may_open() {
    let sim = start_sim(false).await;
    let board = sim.sim.add_security_level("Vedení");
    assert!(sim.sim.set_security_level("company", 1, board));
    let user = sim
        .sim
        .add_user("obchodnik@firma.cz", "FULL_THROTTLE", "Petr Obchodník");
    sim.sim.set_user_security_levels(user.account_id, vec![1]);

    let (_, levels) = raw_get(&sim, &sim.admin, "securityLevel/").await;
    let names: Vec<&str> = levels["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|l| l["name"].as_str())
        .collect();
    assert_eq!(names, ["Sdílená", "Vedení"]);
    let (status, company) = raw_get(&sim, &sim.admin, "company/1/").await;
    assert_eq!(status, 200);
    assert_eq!(company["data"]["securityLevel"]["id"], board);

    // The user limited to the shared level neither lists nor opens the board's firm.
    let (status, _) = raw_get(&sim, &user, "company/1/").await;
    assert_eq!(status, 404);
    let (_, all) = raw_get(&sim, &sim.admin, "company/?limit=1000").await;
    let (_, seen) = raw_get(&sim, &user, "company/?limit=1000").await;
    assert_eq!(
        seen["totalCount"].as_u64().unwrap() + 1,
        all["totalCount"].as_u64().unwrap()
    );
    assert!(
        !seen["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["id"] == 1)
    );
    let (_, account) = raw_get(
        &sim,
        &sim.admin,
        &format!("userAccount/{}/", user.account_id),
    )
    .await;
    assert_eq!(
        account["data"]["securityLevels"],
        serde_json::json!([{"id": 1, "name": "Sdílená"}])
    );
}
