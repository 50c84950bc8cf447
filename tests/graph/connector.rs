//! Contract tests: the connector against the simulator, one behaviour each.

use std::{sync::Arc, time::Instant};

use serde_json::{Value, json};
use server::graph::{
    DeltaChange, DeltaFrom, GraphClient, GraphError, GraphLimits, crm_property_id,
};
use tests::{
    calendar_rig::app_token,
    entra_sim::{EntraSim, graph::GraphFaults},
};

use crate::{connector, connector_with, draft, prague, quick_limits, start_sim};

/// Calls every operation the connector has, the faults and the errors included, so that the
/// conformance test sees every kind of answer.
pub(crate) async fn exercise_every_operation(sim: &EntraSim) {
    let graph = connector(sim);
    let created = graph
        .create_event(
            "anna@firm.cz",
            &draft("Demo", 9, &["boris@firm.cz", "jan@acme.cz"]),
            "raynet:meeting:1",
            "tx-1",
        )
        .await
        .expect("create");
    graph
        .create_event(
            "anna@firm.cz",
            &draft("Demo", 9, &[]),
            "raynet:meeting:1",
            "tx-1",
        )
        .await
        .expect("retried create");
    graph
        .get_event("anna@firm.cz", &created.id)
        .await
        .expect("get");
    graph
        .find_by_crm_id("anna@firm.cz", "raynet:meeting:1")
        .await
        .expect("search");
    graph
        .update_event(
            "anna@firm.cz",
            &created.id,
            &draft("Demo 2", 10, &["boris@firm.cz"]),
        )
        .await
        .expect("update");
    for n in 0..12 {
        graph
            .create_event(
                "cyril@firm.cz",
                &draft(&format!("Call {n}"), 8, &[]),
                &format!("raynet:phoneCall:{n}"),
                &format!("tx-call-{n}"),
            )
            .await
            .expect("create");
    }
    graph.list_events("cyril@firm.cz").await.expect("list");
    raw_calls(sim).await;
    delta_rounds(sim, &graph).await;
    crate::subscriptions::subscription_calls(sim).await;
    sim.graph().set_faults(&GraphFaults {
        throttle_next: 2,
        ..GraphFaults::default()
    });
    graph
        .check_mailbox("cyril@firm.cz")
        .await
        .expect("after 429s");
    sim.graph().set_faults(&GraphFaults {
        outage_secs: 1,
        ..GraphFaults::default()
    });
    graph
        .check_mailbox("cyril@firm.cz")
        .await
        .expect("after 503s");
    let missing = graph.get_event("anna@firm.cz", "AAkAnothere").await;
    assert_eq!(missing.err(), Some(GraphError::Gone));
    let nobody = graph.check_mailbox("nobody@firm.cz").await;
    assert!(matches!(nobody, Err(GraphError::MailboxNotFound(_))));
    graph
        .cancel_event("anna@firm.cz", &created.id, "Zrušeno")
        .await
        .expect("cancel");
    let other = graph
        .create_event(
            "boris@firm.cz",
            &draft("Solo", 11, &[]),
            "raynet:task:3",
            "tx-3",
        )
        .await
        .expect("create");
    graph
        .delete_event("boris@firm.cz", &other.id)
        .await
        .expect("delete");
    sim.graph().set_app_roles(&[]);
    let denied = connector(sim).check_mailbox("anna@firm.cz").await;
    assert!(
        matches!(denied, Err(GraphError::NoConsent(_))),
        "{denied:?}"
    );
    sim.graph().set_app_roles(&["Calendars.ReadWrite"]);
}

/// Calls the connector does not make, straight over HTTP: no token, calendarView with paging,
/// delta rounds, a filter Graph does not understand.
async fn raw_calls(sim: &EntraSim) {
    let http = reqwest::Client::new();
    let base = sim.graph_url();
    let token = app_token(sim).await;
    let prefer = "IdType=\"ImmutableId\"";
    let no_token = http
        .get(format!("{base}/users/anna@firm.cz/events"))
        .header("Prefer", prefer)
        .send()
        .await
        .unwrap();
    assert_eq!(no_token.status(), 401);
    let view = format!(
        "{base}/users/cyril@firm.cz/calendarView?startDateTime=2026-09-01T00:00:00Z&endDateTime=2026-09-02T00:00:00Z&$top=5"
    );
    let mut next = Some(view);
    let mut seen = 0;
    while let Some(url) = next.take() {
        let page: Value = http
            .get(&url)
            .bearer_auth(&token)
            .header("Prefer", prefer)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        seen += page["value"].as_array().map_or(0, Vec::len);
        next = page["@odata.nextLink"].as_str().map(str::to_owned);
    }
    assert_eq!(
        seen, 12,
        "calendarView pages through every event of the day"
    );
    let mut url = Some(format!(
        "{base}/users/cyril@firm.cz/calendarView/delta?startDateTime=2026-08-01T00:00:00Z&endDateTime=2026-10-01T00:00:00Z"
    ));
    let mut delta_link = None;
    let mut rounds = 0;
    while let Some(u) = url.take() {
        rounds += 1;
        let page: Value = http
            .get(&u)
            .bearer_auth(&token)
            .header("Prefer", prefer)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        url = page["@odata.nextLink"].as_str().map(str::to_owned);
        delta_link = page["@odata.deltaLink"].as_str().map(str::to_owned);
    }
    assert!(rounds >= 2, "12 events take two delta pages");
    let delta_link = delta_link.expect("the last page has a deltaLink");
    let quiet: Value = http
        .get(&delta_link)
        .bearer_auth(&token)
        .header("Prefer", prefer)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(quiet["value"], json!([]), "nothing changed since");
    let bad_filter = http
        .get(format!(
            "{base}/users/anna@firm.cz/events?$filter=subject eq 'x'"
        ))
        .bearer_auth(&token)
        .header("Prefer", prefer)
        .send()
        .await
        .unwrap();
    assert_eq!(bad_filter.status(), 400);
}

#[tokio::test]
async fn a_created_event_carries_the_crm_id_the_category_and_utc_times_and_is_found_by_crm_id() {
    let sim = start_sim().await;
    let graph = connector(&sim);
    let made = graph
        .create_event(
            "anna@firm.cz",
            &draft("Demo", 9, &[]),
            "raynet:meeting:7",
            "tx-7",
        )
        .await
        .unwrap();
    let stored = sim.graph().events("anna@firm.cz").unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0]["id"], json!(made.id));
    assert_eq!(stored[0]["categories"], json!(["Raynet"]));
    assert_eq!(
        stored[0]["start"]["dateTime"],
        "2026-09-01T07:00:00.0000000"
    );
    assert_eq!(
        stored[0]["singleValueExtendedProperties"][0],
        json!({"id": crm_property_id(), "value": "raynet:meeting:7"})
    );
    let found = graph
        .find_by_crm_id("anna@firm.cz", "raynet:meeting:7")
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].id, made.id);
    assert_eq!(found[0].crm_id.as_deref(), Some("raynet:meeting:7"));
    assert!(
        graph
            .find_by_crm_id("anna@firm.cz", "raynet:meeting:8")
            .await
            .unwrap()
            .is_empty()
    );
    let read = graph.get_event("anna@firm.cz", &made.id).await.unwrap();
    assert_eq!(read.start, Some(prague("2026-09-01T09:00")));
    assert!(
        sim.graph().recorded().iter().all(|x| x
            .prefer
            .as_deref()
            .is_some_and(|p| p.contains("IdType=\"ImmutableId\""))),
        "every call asks for immutable ids"
    );
}

#[tokio::test]
async fn a_retried_create_with_the_same_transaction_id_makes_no_second_event_and_no_second_invitation()
 {
    let sim = start_sim().await;
    let graph = connector(&sim);
    let d = draft("Demo", 9, &["jan@acme.cz"]);
    let first = graph
        .create_event("anna@firm.cz", &d, "raynet:meeting:1", "tx-a")
        .await
        .unwrap();
    let again = graph
        .create_event("anna@firm.cz", &d, "raynet:meeting:1", "tx-a")
        .await
        .unwrap();
    assert_eq!(first.id, again.id);
    assert_eq!(sim.graph().events("anna@firm.cz").unwrap().len(), 1);
    assert_eq!(sim.graph().invitations().len(), 1);
}

#[tokio::test]
async fn times_across_both_dst_changes_keep_their_prague_wall_clock() {
    let sim = start_sim().await;
    let graph = connector(&sim);
    for (day, utc_hour) in [
        ("2026-03-28", "08"),
        ("2026-03-29", "07"),
        ("2026-10-25", "08"),
    ] {
        let mut d = draft(day, 9, &[]);
        d.start = prague(&format!("{day}T09:00"));
        d.end = prague(&format!("{day}T10:00"));
        let made = graph
            .create_event("anna@firm.cz", &d, &format!("raynet:event:{day}"), day)
            .await
            .unwrap();
        assert_eq!(
            made.raw["start"]["dateTime"],
            json!(format!("{day}T{utc_hour}:00:00.0000000")),
            "{day}"
        );
        assert_eq!(made.start, Some(d.start));
    }
}

#[tokio::test]
async fn a_meeting_with_a_colleague_reaches_their_calendar_and_cancelling_sends_cancellations() {
    let sim = start_sim().await;
    let graph = connector(&sim);
    let made = graph
        .create_event(
            "anna@firm.cz",
            &draft("Demo", 9, &["boris@firm.cz", "jan@acme.cz"]),
            "raynet:meeting:2",
            "tx-2",
        )
        .await
        .unwrap();
    let copies = sim.graph().events("boris@firm.cz").unwrap();
    assert_eq!(copies.len(), 1);
    assert_eq!(copies[0]["iCalUId"], made.raw["iCalUId"]);
    assert_eq!(copies[0]["isOrganizer"], false);
    let reasons = |sim: &EntraSim| -> Vec<(String, String)> {
        sim.graph()
            .invitations()
            .into_iter()
            .map(|i| (i.recipient, i.reason))
            .collect()
    };
    assert_eq!(
        reasons(&sim),
        [
            ("boris@firm.cz".to_owned(), "invitation".to_owned()),
            ("jan@acme.cz".to_owned(), "invitation".to_owned())
        ]
    );
    // Boris is only an attendee: he cannot cancel.
    let boris_copy = copies[0]["id"].as_str().unwrap().to_owned();
    let refused = graph.cancel_event("boris@firm.cz", &boris_copy, "no").await;
    assert!(
        matches!(refused, Err(GraphError::Rejected { status: 400, .. })),
        "{refused:?}"
    );
    graph
        .cancel_event("anna@firm.cz", &made.id, "Zrušeno")
        .await
        .unwrap();
    assert!(sim.graph().events("anna@firm.cz").unwrap().is_empty());
    assert!(sim.graph().events("boris@firm.cz").unwrap().is_empty());
    assert_eq!(
        reasons(&sim)
            .iter()
            .filter(|(_, r)| r == "cancellation")
            .count(),
        2
    );
    assert_eq!(
        graph.get_event("anna@firm.cz", &made.id).await.err(),
        Some(GraphError::Gone)
    );
}

#[tokio::test]
async fn an_update_that_changes_the_time_sends_updates_and_one_without_attendees_sends_nothing() {
    let sim = start_sim().await;
    let graph = connector(&sim);
    let with = graph
        .create_event(
            "anna@firm.cz",
            &draft("Demo", 9, &["jan@acme.cz"]),
            "raynet:meeting:3",
            "tx-3",
        )
        .await
        .unwrap();
    graph
        .update_event(
            "anna@firm.cz",
            &with.id,
            &draft("Demo", 10, &["jan@acme.cz"]),
        )
        .await
        .unwrap();
    let without = graph
        .create_event(
            "anna@firm.cz",
            &draft("Solo", 9, &[]),
            "raynet:task:3",
            "tx-4",
        )
        .await
        .unwrap();
    graph
        .update_event("anna@firm.cz", &without.id, &draft("Solo", 11, &[]))
        .await
        .unwrap();
    graph
        .delete_event("anna@firm.cz", &without.id)
        .await
        .unwrap();
    let sent: Vec<String> = sim
        .graph()
        .invitations()
        .into_iter()
        .map(|i| i.reason)
        .collect();
    assert_eq!(sent, ["invitation", "update"]);
}

#[tokio::test]
async fn the_app_only_token_is_fetched_once_and_reused() {
    let sim = start_sim().await;
    let graph = connector(&sim);
    for n in 0..5 {
        graph
            .create_event(
                "anna@firm.cz",
                &draft("x", 9, &[]),
                &format!("raynet:task:{n}"),
                &format!("t{n}"),
            )
            .await
            .unwrap();
    }
    assert_eq!(sim.token_grants(), 1);
}

#[tokio::test]
async fn at_most_four_requests_run_at_once_per_mailbox() {
    let sim = start_sim().await;
    sim.graph().set_faults(&GraphFaults {
        latency_ms: 50,
        ..GraphFaults::default()
    });
    let graph = Arc::new(connector(&sim));
    let mut tasks = Vec::new();
    for n in 0..24 {
        let graph = graph.clone();
        tasks.push(tokio::spawn(async move {
            graph
                .create_event(
                    "anna@firm.cz",
                    &draft("x", 9, &[]),
                    &format!("raynet:task:{n}"),
                    &format!("t{n}"),
                )
                .await
        }));
    }
    for t in tasks {
        t.await.unwrap().expect("every create succeeds");
    }
    assert!(
        sim.graph().max_concurrency() <= 4,
        "{}",
        sim.graph().max_concurrency()
    );
    assert!(
        sim.graph().max_concurrency() >= 2,
        "requests did run in parallel"
    );
    assert_eq!(sim.graph().events("anna@firm.cz").unwrap().len(), 24);
    assert_eq!(graph.calls(), 24, "no request was throttled");
}

#[tokio::test]
async fn throttling_and_an_outage_are_waited_out_after_retry_after() {
    let sim = start_sim().await;
    let graph = connector(&sim);
    sim.graph().set_faults(&GraphFaults {
        throttle_next: 3,
        ..GraphFaults::default()
    });
    let started = Instant::now();
    graph
        .create_event("anna@firm.cz", &draft("x", 9, &[]), "raynet:task:1", "t1")
        .await
        .unwrap();
    assert!(
        started.elapsed().as_millis() >= 2900,
        "Retry-After: 1 was honoured three times"
    );
    assert_eq!(graph.calls(), 4);
    sim.graph().set_faults(&GraphFaults {
        outage_secs: 2,
        ..GraphFaults::default()
    });
    graph
        .create_event("anna@firm.cz", &draft("y", 9, &[]), "raynet:task:2", "t2")
        .await
        .unwrap();
    assert_eq!(sim.graph().events("anna@firm.cz").unwrap().len(), 2);
}

#[tokio::test]
async fn each_failure_has_its_own_error() {
    let sim = start_sim().await;
    let wrong = connector_with(&sim, "wrong-secret", quick_limits());
    assert!(matches!(
        wrong.check_mailbox("anna@firm.cz").await,
        Err(GraphError::BadCredentials(_))
    ));
    let graph = connector(&sim);
    assert_eq!(
        graph.check_mailbox("nobody@firm.cz").await,
        Err(GraphError::MailboxNotFound("nobody@firm.cz".into()))
    );
    assert_eq!(
        graph.delete_event("anna@firm.cz", "AAkAgone").await,
        Err(GraphError::Gone)
    );
    sim.graph().set_app_roles(&["Calendars.Read"]);
    let unconsented = connector(&sim);
    assert!(matches!(
        unconsented.check_mailbox("anna@firm.cz").await,
        Err(GraphError::NoConsent(_))
    ));
    sim.graph().set_app_roles(&["Calendars.ReadWrite"]);
    let impatient = connector_with(
        &sim,
        &sim.client_secret(),
        GraphLimits {
            max_retries: 1,
            ..quick_limits()
        },
    );
    sim.graph().set_faults(&GraphFaults {
        throttle_next: 5,
        ..GraphFaults::default()
    });
    let throttled = impatient.check_mailbox("anna@firm.cz").await;
    assert!(
        matches!(&throttled, Err(GraphError::Throttled(_))),
        "{throttled:?}"
    );
    assert!(throttled.unwrap_err().is_transient());
}

/// The connector's delta rounds of a fresh mailbox: the first lists the whole window (over
/// several pages), the next only what the user changed or deleted in Outlook since, and a token
/// the mailbox no longer knows asks for a resync.
pub(crate) async fn delta_rounds(sim: &EntraSim, graph: &GraphClient) {
    let mailbox = "dana@firm.cz";
    sim.graph().add_mailbox(mailbox, "Dana Malá");
    let mut ids = Vec::new();
    for n in 0..12u8 {
        let event = graph
            .create_event(
                mailbox,
                &draft(&format!("Call {n}"), 8 + n % 8, &[]),
                &format!("raynet:phoneCall:{n}"),
                &format!("tx-delta-{n}"),
            )
            .await
            .expect("create");
        ids.push(event.id);
    }
    let window = DeltaFrom::Window {
        start: prague("2026-08-01T00:00"),
        end: prague("2026-10-01T00:00"),
    };
    let first = graph.delta(mailbox, &window).await.expect("first round");
    assert_eq!(first.changes.len(), 12, "the whole window, over two pages");
    assert!(
        first
            .changes
            .iter()
            .all(|c| matches!(c, DeltaChange::Changed(_)))
    );
    assert!(
        sim.graph()
            .user_edit(mailbox, &ids[0], &json!({"subject": "Moved"}))
    );
    assert!(sim.graph().user_delete(mailbox, &ids[1]));
    let next = graph
        .delta(mailbox, &DeltaFrom::Link(first.delta_link.clone()))
        .await
        .expect("next round");
    assert_eq!(next.changes.len(), 2, "{:?}", next.changes);
    assert!(next.changes.iter().any(|c| matches!(c,
        DeltaChange::Changed(e) if e.id == ids[0] && e.raw["subject"] == "Moved")));
    assert!(next.changes.iter().any(|c| matches!(c,
        DeltaChange::Removed { id } if *id == ids[1])));
    let quiet = graph
        .delta(mailbox, &DeltaFrom::Link(next.delta_link.clone()))
        .await
        .expect("quiet round");
    assert!(quiet.changes.is_empty());
    assert!(sim.graph().expire_delta_tokens(mailbox));
    let expired = graph
        .delta(mailbox, &DeltaFrom::Link(quiet.delta_link))
        .await;
    assert!(
        matches!(expired, Err(GraphError::ResyncRequired)),
        "{expired:?}"
    );
    let again = graph.delta(mailbox, &window).await.expect("a fresh round");
    assert_eq!(again.changes.len(), 11, "everything left in the window");
}

#[tokio::test]
async fn a_delta_round_lists_the_window_then_only_the_users_changes_and_an_expired_token_asks_for_a_resync()
 {
    let sim = start_sim().await;
    delta_rounds(&sim, &connector(&sim)).await;
}
