//! Calendar sync Outlook → Raynet end to end: an employee edits, deletes or cancels a synced
//! event in the simulated Exchange mailbox, a Graph delta round of their mailbox finds it, and
//! the Raynet activity follows as the sync rules say, through the real server.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use server::{
    calendar::{
        ConflictPolicy, DeleteMode, PrivatePolicy, SyncRules,
        rules::{Allowed, TypeRules},
    },
    crm::TimedActivityKind,
    settings::Setting,
};
use tests::{raynet_sim::Activity, stack::eventually};

use crate::calendar_sync::{CalRig, RigOptions};

/// A rig whose CRM changes reach us only when a test says so (no webhook, no reconcile), so a
/// test can change both sides before the next delta round.
async fn quiet_rig() -> CalRig {
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

/// A rig with the CRM webhook (CRM changes are synced to Outlook at once).
async fn live_rig() -> CalRig {
    settled(
        CalRig::start_with(RigOptions {
            mode: "meetings_only",
            opt_in: true,
            webhook: true,
            adjust: |c| c.jobs.calendar_reconcile_secs = 0,
        })
        .await,
    )
    .await
}

/// `rig` once the opt-in backfills finished: a backfill still running would sync a meeting a
/// test makes a second time, writing over the test's Outlook edit.
pub(crate) async fn settled(rig: CalRig) -> CalRig {
    let store = rig.stack.app.state.store.clone();
    let done = eventually(Duration::from_secs(20), || async {
        store.list_jobs(None, 1000).await.is_ok_and(|jobs| {
            jobs.iter()
                .filter(|j| j.kind == "calendar.backfill")
                .all(|j| j.status == "done")
        })
    })
    .await;
    assert!(done.is_some(), "the backfills never finished");
    rig
}

impl CalRig {
    /// A meeting Alice alone takes part in, synced to her calendar; (activity id, event id).
    async fn alice_meeting(&self, title: &str) -> (i64, String) {
        let id = self.create_activity(
            "meeting",
            json!({"title": title, "scheduledFrom": "2026-09-01T09:00:00+02:00",
                   "scheduledTill": "2026-09-01T10:00:00+02:00"}),
            &[],
        );
        let state = &self.stack.app.state;
        server::calendar::enqueue(
            state.store.as_ref(),
            &state.jobs,
            TimedActivityKind::Meeting,
            id,
        )
        .await
        .expect("queued");
        let title = title.to_owned();
        self.until("the meeting in Alice's calendar", |r| {
            r.events(&r.alice).iter().any(|e| e["subject"] == title)
        })
        .await;
        let event = self
            .events(&self.alice)
            .into_iter()
            .find(|e| e["subject"] == title.as_str())
            .expect("the event");
        let event_id = event["id"].as_str().expect("an id").to_owned();
        (id, event_id)
    }

    fn activity(&self, id: i64) -> Option<Activity> {
        self.stack
            .raynet
            .sim
            .activities()
            .into_iter()
            .find(|a| a.kind == "meeting" && a.id == id)
    }

    /// Alice edits her event in Outlook.
    fn outlook_edit(&self, event_id: &str, changes: Value) {
        assert!(
            self.stack
                .entra
                .graph()
                .user_edit(&self.alice.username, event_id, &changes),
            "the event exists"
        );
    }

    /// Queues a delta round of Alice's mailbox.
    async fn delta(&self) {
        let state = &self.stack.app.state;
        server::calendar::queue_outlook_delta(
            state.store.as_ref(),
            &state.jobs,
            &self.employees[0].id,
        )
        .await
        .expect("queued");
    }

    async fn store_rules(&self, rules: &SyncRules) {
        rules
            .save(self.stack.app.state.store.as_ref())
            .await
            .expect("rules saved");
    }

    /// The Outlook → CRM trace reasons for activity `id`, oldest first.
    async fn inbound_trace(&self, id: i64) -> Vec<(String, String)> {
        let key = server::calendar::crm_key(TimedActivityKind::Meeting, id);
        let mut entries = self
            .stack
            .app
            .state
            .store
            .calendar_trace(None, Some(&key), 0, 1000)
            .await
            .expect("trace");
        entries.reverse();
        entries
            .into_iter()
            .filter(|e| e.direction == "outlook_to_crm")
            .map(|e| (e.action, e.reason))
            .collect()
    }

    /// Waits (≤ 20 s) for an Outlook → CRM decision of activity `id` with `reason`.
    async fn until_decided(&self, id: i64, reason: &str) {
        let ok = eventually(Duration::from_secs(20), || async {
            self.inbound_trace(id)
                .await
                .iter()
                .any(|(_, r)| r == reason)
        })
        .await;
        let jobs: Vec<String> = self
            .stack
            .app
            .state
            .store
            .list_jobs(None, 1000)
            .await
            .expect("jobs")
            .into_iter()
            .filter(|j| j.kind.starts_with("calendar"))
            .map(|j| format!("{} {} {:?}", j.kind, j.status, j.last_error))
            .collect();
        assert!(
            ok.is_some(),
            "no decision {reason} for meeting {id}: {:?}; jobs {jobs:?}; Raynet {:?}; Outlook {:?}",
            self.inbound_trace(id).await,
            self.activity(id).map(|a| a.title),
            self.events(&self.alice)
                .iter()
                .map(|e| e["subject"].clone())
                .collect::<Vec<_>>()
        );
    }

    /// Graph writes (not reads) to `event_id` so far.
    fn graph_writes_to(&self, event_id: &str) -> usize {
        self.stack
            .entra
            .graph()
            .recorded()
            .iter()
            .filter(|x| x.method != "GET" && x.path.contains(event_id) && !x.injected)
            .count()
    }
}

fn utc(text: &str) -> Value {
    json!({"dateTime": text, "timeZone": "UTC"})
}

fn rules_with(update: bool, delete: bool) -> SyncRules {
    let mut rules = SyncRules::default();
    rules.types.insert(
        TimedActivityKind::Meeting,
        TypeRules {
            outlook_to_crm: Allowed {
                create: false,
                update,
                delete,
            },
            ..TypeRules::default()
        },
    );
    rules
}

/// 2026-09-01 hh:00 UTC as Unix ms.
fn ms(hour: i64) -> i64 {
    1_788_220_800_000 + hour * 3_600_000
}

#[tokio::test]
async fn an_outlook_reschedule_and_retitle_reach_raynet_and_cause_no_write_back_to_outlook() {
    let rig = live_rig().await;
    let (id, event_id) = rig.alice_meeting("Demo").await;
    // Our own write comes back through the first delta round: no CRM write.
    rig.delta().await;
    rig.until_decided(id, "no_outlook_change").await;
    let version = rig.activity(id).expect("the activity").version;
    rig.graph_calls_when_quiet().await;
    let writes = rig.graph_writes_to(&event_id);

    rig.outlook_edit(
        &event_id,
        json!({"subject": "Demo, moved", "start": utc("2026-09-01T11:00:00.0000000"),
               "end": utc("2026-09-01T12:30:00.0000000")}),
    );
    rig.delta().await;
    rig.until_decided(id, "outlook_changed").await;
    let activity = rig.activity(id).expect("the activity");
    assert_eq!(activity.title, "Demo, moved");
    assert_eq!(activity.from, Some(ms(11)));
    assert_eq!(activity.till, Some(ms(12) + 1_800_000));
    assert_eq!(activity.version, version + 1, "one CRM write");
    // Raynet's webhook for our write brings nothing back to Alice's event.
    rig.graph_calls_when_quiet().await;
    assert_eq!(
        rig.graph_writes_to(&event_id),
        writes,
        "no Graph write to the edited event"
    );
    let events = rig.events(&rig.alice);
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["subject"], "Demo, moved");
    // Another round finds nothing new.
    rig.delta().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(rig.activity(id).expect("the activity").version, version + 1);
}

#[tokio::test]
async fn an_outlook_edit_the_rules_forbid_leaves_the_raynet_activity_as_it_is() {
    let rig = quiet_rig().await;
    rig.store_rules(&rules_with(false, false)).await;
    let (id, event_id) = rig.alice_meeting("Demo").await;
    rig.outlook_edit(&event_id, json!({"subject": "Renamed in Outlook"}));
    rig.delta().await;
    rig.until_decided(id, "rule_forbids_update").await;
    assert_eq!(rig.activity(id).expect("the activity").title, "Demo");
}

#[tokio::test]
async fn each_delete_mode_carries_an_outlook_delete_to_raynet_its_own_way() {
    let rig = quiet_rig().await;
    let graph = rig.stack.entra.graph();
    // By default an Outlook delete changes nothing in Raynet.
    let (kept, kept_event) = rig.alice_meeting("Kept").await;
    assert!(graph.user_delete(&rig.alice.username, &kept_event));
    rig.delta().await;
    rig.until_decided(kept, "rule_forbids_delete").await;
    assert_eq!(rig.activity(kept).expect("still there").status, "SCHEDULED");

    let mut rules = rules_with(true, true);
    for (mode, title, reason) in [
        (DeleteMode::Delete, "Deleted", "delete_mode_delete"),
        (DeleteMode::Cancel, "Cancelled", "delete_mode_cancel"),
        (DeleteMode::Unlink, "Unlinked", "delete_mode_unlink"),
    ] {
        rules.delete_to_crm = mode;
        rig.store_rules(&rules).await;
        let (id, event_id) = rig.alice_meeting(title).await;
        assert!(graph.user_delete(&rig.alice.username, &event_id));
        rig.delta().await;
        rig.until_decided(id, reason).await;
        match mode {
            DeleteMode::Delete => assert!(rig.activity(id).is_none(), "deleted in Raynet"),
            DeleteMode::Cancel => {
                assert_eq!(rig.activity(id).expect("kept").status, "CANCELLED")
            }
            DeleteMode::Unlink => {
                let activity = rig.activity(id).expect("kept");
                assert_ne!(activity.status, "CANCELLED");
                // The next sync of the activity does not bring the event back.
                let state = &rig.stack.app.state;
                server::calendar::enqueue(
                    state.store.as_ref(),
                    &state.jobs,
                    TimedActivityKind::Meeting,
                    id,
                )
                .await
                .expect("queued");
                rig.graph_calls_when_quiet().await;
                assert!(
                    !rig.events(&rig.alice).iter().any(|e| e["subject"] == title),
                    "the unlinked event came back"
                );
            }
        }
    }
    // A cancelled event (isCancelled) counts as a delete too.
    rules.delete_to_crm = DeleteMode::Cancel;
    rig.store_rules(&rules).await;
    let (id, event_id) = rig.alice_meeting("Called off").await;
    rig.outlook_edit(&event_id, json!({"isCancelled": true}));
    rig.delta().await;
    rig.until_decided(id, "delete_mode_cancel").await;
    assert_eq!(rig.activity(id).expect("kept").status, "CANCELLED");
}

#[tokio::test]
async fn each_conflict_policy_decides_an_edit_made_on_both_sides_since_the_last_sync() {
    let rig = quiet_rig().await;
    let sim = &rig.stack.raynet.sim;
    let mut rules = rules_with(true, false);
    for policy in [
        ConflictPolicy::CrmWins,
        ConflictPolicy::OutlookWins,
        ConflictPolicy::NewestWins,
        ConflictPolicy::Hold,
    ] {
        rules.conflict = policy;
        rig.store_rules(&rules).await;
        let title = format!("{policy:?}");
        let (id, event_id) = rig.alice_meeting(&title).await;
        rig.outlook_edit(&event_id, json!({"subject": format!("{title} by Outlook")}));
        // Raynet's edit comes later, so it is the newest.
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let (status, _) = sim.user_change(
            &Method::POST,
            "meeting",
            Some(id),
            &json!({"title": format!("{title} by Raynet")}),
        );
        assert!(status.is_success());
        rig.delta().await;
        let (reason, crm_title, outlook_title) = match policy {
            ConflictPolicy::CrmWins => ("conflict_crm_wins", "by Raynet", "by Raynet"),
            ConflictPolicy::OutlookWins => ("conflict_outlook_wins", "by Outlook", "by Outlook"),
            ConflictPolicy::NewestWins => ("conflict_crm_wins", "by Raynet", "by Raynet"),
            ConflictPolicy::Hold => ("conflict_hold", "by Raynet", "by Outlook"),
        };
        rig.until_decided(id, reason).await;
        let crm_title = format!("{title} {crm_title}");
        let outlook_title = format!("{title} {outlook_title}");
        let ok = eventually(Duration::from_secs(20), || async {
            rig.activity(id).is_some_and(|a| a.title == crm_title)
                && rig
                    .events(&rig.alice)
                    .iter()
                    .any(|e| e["id"] == event_id.as_str() && e["subject"] == outlook_title.as_str())
        })
        .await;
        assert!(
            ok.is_some(),
            "{policy:?}: Raynet {:?}, Outlook {:?}",
            rig.activity(id).map(|a| a.title),
            rig.events(&rig.alice)
                .iter()
                .map(|e| e["subject"].clone())
                .collect::<Vec<_>>()
        );
    }
    let held = rig
        .stack
        .app
        .state
        .store
        .held_calendar_items(true)
        .await
        .expect("held items");
    assert_eq!(held.len(), 1, "{held:?}");
    assert_eq!(held[0].reason, "conflict");
    assert!(
        held[0]
            .outlook_version
            .as_deref()
            .is_some_and(|v| v.contains("Hold by Outlook"))
            && held[0]
                .crm_version
                .as_deref()
                .is_some_and(|v| v.contains("Hold by Raynet")),
        "both versions kept: {held:?}"
    );
}

#[tokio::test]
async fn private_outlook_events_are_never_sent_or_only_as_busy_time_as_the_rule_says() {
    let rig = quiet_rig().await;
    let (id, event_id) = rig.alice_meeting("Demo").await;
    rig.outlook_edit(
        &event_id,
        json!({"sensitivity": "private", "subject": "Doctor",
               "start": utc("2026-09-01T13:00:00.0000000"), "end": utc("2026-09-01T14:00:00.0000000")}),
    );
    rig.delta().await;
    rig.until_decided(id, "private_event").await;
    let activity = rig.activity(id).expect("the activity");
    assert_eq!(
        (activity.title.as_str(), activity.from),
        ("Demo", Some(ms(7)))
    );

    let rules = SyncRules {
        private_events: PrivatePolicy::BusyOnly,
        ..SyncRules::default()
    };
    rig.store_rules(&rules).await;
    rig.outlook_edit(
        &event_id,
        json!({"start": utc("2026-09-01T14:00:00.0000000"), "end": utc("2026-09-01T15:00:00.0000000")}),
    );
    rig.delta().await;
    rig.until_decided(id, "outlook_changed").await;
    let activity = rig.activity(id).expect("the activity");
    assert_eq!(activity.title, "Demo", "the private title stays in Outlook");
    assert_eq!(activity.from, Some(ms(14)));
}

#[tokio::test]
async fn an_expired_delta_token_starts_a_full_resync_that_duplicates_nothing() {
    let rig = quiet_rig().await;
    let (id, event_id) = rig.alice_meeting("Demo").await;
    rig.delta().await;
    rig.until_decided(id, "no_outlook_change").await;
    let graph = rig.stack.entra.graph();
    assert!(graph.expire_delta_tokens(&rig.alice.username));
    rig.outlook_edit(&event_id, json!({"subject": "After the resync"}));
    rig.delta().await;
    rig.until_decided(id, "outlook_changed").await;
    assert!(
        graph
            .recorded()
            .iter()
            .any(|x| x.status == 410 && x.path.contains("calendarView")),
        "Graph answered 410 to the old token"
    );
    assert_eq!(
        rig.activity(id).expect("the activity").title,
        "After the resync"
    );
    assert_eq!(rig.events(&rig.alice).len(), 1, "no duplicate event");
    let meetings = rig
        .stack
        .raynet
        .sim
        .activities()
        .into_iter()
        .filter(|a| a.kind == "meeting")
        .count();
    assert_eq!(meetings, 1, "no duplicate activity");
}
