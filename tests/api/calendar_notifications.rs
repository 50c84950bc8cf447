//! Graph change notifications end to end: the validation handshake, a notification with a
//! wrong `clientState` (refused, nothing queued), and with an HTTPS instance of the server the
//! simulator subscribes to: an Outlook edit reaches Raynet through a notification alone, and
//! the lifecycle events `missed`, `reauthorizationRequired` and `subscriptionRemoved` are
//! handled.

use std::time::Duration;

use serde_json::json;
use server::store::CalendarSubscription;
use sha2::{Digest, Sha256};
use tests::{server::spawn_https_instance, stack::eventually};

use crate::{
    calendar_outlook::settled,
    calendar_sync::{CalRig, RigOptions},
};

fn hex_sha256(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

async fn delta_jobs(rig: &CalRig) -> usize {
    rig.stack
        .app
        .state
        .store
        .list_jobs(None, 10_000)
        .await
        .expect("jobs")
        .iter()
        .filter(|j| j.kind == "calendar.outlook_delta")
        .count()
}

/// A rig with Alice's and Bob's calendars opted in, no CRM webhook and no scheduled reconcile,
/// once the opt-in backfills are done.
async fn opted_in_rig() -> CalRig {
    settled(
        CalRig::start_with(RigOptions {
            mode: "meetings_only",
            opt_in: true,
            webhook: false,
            adjust: |c| c.jobs.calendar_reconcile_secs = 0,
        })
        .await,
    )
    .await
}

#[tokio::test]
async fn the_notification_endpoint_echoes_the_validation_token_and_refuses_a_wrong_client_state() {
    let rig = opted_in_rig().await;
    let app = &rig.stack.app;
    let http = reqwest::Client::new();
    for route in ["/api/graph-notify", "/api/graph-lifecycle"] {
        let answer = http
            .post(format!(
                "{}?validationToken=Validation%3A%20Testing%20%3Cb%3E",
                app.url(route)
            ))
            .send()
            .await
            .expect("answer");
        assert_eq!(answer.status(), 200);
        assert!(
            answer.headers()["content-type"]
                .to_str()
                .unwrap_or_default()
                .starts_with("text/plain")
        );
        assert_eq!(
            answer.text().await.expect("text"),
            "Validation: Testing <b>"
        );
    }
    app.state
        .store
        .save_calendar_subscription(&CalendarSubscription {
            employee_id: rig.employees[0].id.clone(),
            subscription_id: "sub-1".into(),
            mailbox: rig.alice.username.clone(),
            client_state_hash: hex_sha256("the-right-secret"),
            expires_at: i64::MAX,
            updated_at: 0,
        })
        .await
        .expect("stored");
    let before = delta_jobs(&rig).await;
    let batch = |client_state: &str, subscription: &str| {
        json!({"value": [{"subscriptionId": subscription, "clientState": client_state,
            "changeType": "updated", "resource": "Users/x/Events/y",
            "subscriptionExpirationDateTime": "2026-12-31T00:00:00Z",
            "tenantId": "t", "resourceData": {"id": "y"}}]})
    };
    for (state, sub) in [
        ("wrong", "sub-1"),
        ("the-right-secret", "sub-2"),
        ("", "sub-1"),
    ] {
        let refused = http
            .post(app.url("/api/graph-notify"))
            .json(&batch(state, sub))
            .send()
            .await
            .expect("answer");
        assert_eq!(refused.status(), 403, "{state} / {sub}");
    }
    let garbage = http
        .post(app.url("/api/graph-notify"))
        .body("not json")
        .send()
        .await
        .expect("answer");
    assert_eq!(garbage.status(), 400);
    assert_eq!(delta_jobs(&rig).await, before, "nothing queued");
    let accepted = http
        .post(app.url("/api/graph-notify"))
        .json(&batch("the-right-secret", "sub-1"))
        .send()
        .await
        .expect("answer");
    assert_eq!(accepted.status(), 202);
    assert!(delta_jobs(&rig).await > before, "the delta round is queued");
}

#[tokio::test]
async fn with_an_https_public_url_an_outlook_edit_reaches_raynet_through_notifications_and_lifecycle_events_are_handled()
 {
    let rig = opted_in_rig().await;
    let graph = rig.stack.entra.graph();
    // The simulator trusts the self-signed certificate through its own configuration only.
    graph.subscriptions().set_accept_invalid_certs(true);
    let id = rig.create_activity(
        "meeting",
        json!({"title": "Demo", "scheduledFrom": "2026-09-01T09:00:00+02:00",
               "scheduledTill": "2026-09-01T10:00:00+02:00"}),
        &[],
    );
    let state = &rig.stack.app.state;
    server::calendar::enqueue(
        state.store.as_ref(),
        &state.jobs,
        server::crm::TimedActivityKind::Meeting,
        id,
    )
    .await
    .expect("queued");
    rig.until("the meeting in Alice's calendar", |r| {
        r.events(&r.alice).len() == 1
    })
    .await;
    let event_id = rig.events(&rig.alice)[0]["id"]
        .as_str()
        .expect("an id")
        .to_owned();
    let graph_url = rig.stack.entra.graph_url();
    let https = spawn_https_instance(&rig.stack.app, rig.stack.entra.authority(), |c| {
        c.jobs.calendar_reconcile_secs = 0;
        c.entra.graph_url = graph_url;
    })
    .await;
    let health = https.client.get(https.url("/healthz")).send().await;
    assert!(
        health.as_ref().is_ok_and(|r| r.status().is_success()),
        "the HTTPS instance answers: {health:?}"
    );
    let subscribed = eventually(Duration::from_secs(30), || async {
        // What a reconcile pass on this instance does: the subscriptions are checked now (again
        // until the instance's schedules exist).
        https
            .state
            .jobs
            .signal(server::calendar::notifications::SUBSCRIPTIONS_DUE);
        graph
            .subscriptions()
            .all()
            .iter()
            .filter(|s| s.mailbox == rig.alice.username)
            .count()
            == 1
    })
    .await;
    let answers: Vec<(String, u16)> = graph
        .recorded()
        .into_iter()
        .filter(|x| x.path.contains("subscriptions"))
        .map(|x| (x.method, x.status))
        .collect();
    assert!(
        subscribed.is_some(),
        "no subscription for Alice; Graph answers {answers:?}"
    );
    let sub = graph
        .subscriptions()
        .all()
        .into_iter()
        .find(|s| s.mailbox == rig.alice.username)
        .expect("Alice's subscription");
    assert!(sub.notification_url.starts_with("https://"));
    // The server stores the subscription once Graph's answer to the create has arrived, which
    // may be a moment after the simulator lists it.
    let store = https.state.store.clone();
    let found = eventually(Duration::from_secs(10), || {
        let (store, id) = (store.clone(), sub.id.clone());
        async move { matches!(store.calendar_subscription(&id).await, Ok(Some(_))) }
    })
    .await;
    assert!(found.is_some(), "the subscription was never stored");
    let stored = store
        .calendar_subscription(&sub.id)
        .await
        .expect("store")
        .expect("stored");
    assert_ne!(
        Some(stored.client_state_hash.as_str()),
        sub.client_state.as_deref(),
        "the client state is not stored as it is"
    );

    // An edit in Outlook: the notification alone brings it to Raynet.
    assert!(graph.user_edit(
        &rig.alice.username,
        &event_id,
        &json!({"subject": "Notified"})
    ));
    let followed = eventually(Duration::from_secs(20), || async {
        rig.stack
            .raynet
            .sim
            .activities()
            .iter()
            .any(|a| a.id == id && a.kind == "meeting" && a.title == "Notified")
    })
    .await;
    assert!(followed.is_some(), "Raynet never followed the Outlook edit");
    let accepted = eventually(Duration::from_secs(10), || async {
        graph
            .subscriptions()
            .all()
            .iter()
            .any(|s| s.id == sub.id && s.delivered.contains(&202))
    })
    .await;
    assert!(
        accepted.is_some(),
        "the server answered 202: {:?}",
        graph.subscriptions().all()
    );

    // reauthorizationRequired: the subscription is renewed.
    let before = sub.expiration;
    assert!(
        graph
            .subscriptions()
            .lifecycle(&sub.id, "reauthorizationRequired")
            .await
    );
    let renewed = eventually(Duration::from_secs(20), || async {
        graph
            .recorded()
            .iter()
            .any(|x| x.method == "PATCH" && x.path.ends_with(&sub.id) && x.status == 200)
    })
    .await;
    assert!(renewed.is_some(), "never renewed");
    assert!(
        graph
            .subscriptions()
            .all()
            .iter()
            .any(|s| s.id == sub.id && s.expiration >= before)
    );

    // subscriptionRemoved: a new subscription replaces it.
    assert!(
        graph
            .subscriptions()
            .lifecycle(&sub.id, "subscriptionRemoved")
            .await
    );
    let recreated = eventually(Duration::from_secs(20), || async {
        graph
            .subscriptions()
            .all()
            .iter()
            .any(|s| s.mailbox == rig.alice.username && s.id != sub.id)
    })
    .await;
    assert!(recreated.is_some(), "never subscribed again");

    // missed: a delta round catches up with a change no notification told of.
    let fresh = graph
        .subscriptions()
        .all()
        .into_iter()
        .find(|s| s.mailbox == rig.alice.username)
        .expect("the new subscription");
    assert!(graph.user_edit(
        &rig.alice.username,
        &event_id,
        &json!({"subject": "Missed"})
    ));
    assert!(graph.subscriptions().lifecycle(&fresh.id, "missed").await);
    let caught_up = eventually(Duration::from_secs(20), || async {
        rig.stack
            .raynet
            .sim
            .activities()
            .iter()
            .any(|a| a.id == id && a.kind == "meeting" && a.title == "Missed")
    })
    .await;
    assert!(
        caught_up.is_some(),
        "the missed change never reached Raynet"
    );
    https.stop().await;
}
