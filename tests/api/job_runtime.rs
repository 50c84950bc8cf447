//! The one background-work runtime with several instances: two servers on one PostgreSQL
//! database share the durable job queue — scheduled kinds exist once, an import is run once,
//! and webhooks given to either server are applied.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;
use server::items::ItemKind;
use tests::{
    raynet_sim::{GenOptions, SimOptions},
    stack::eventually,
};

fn options() -> SimOptions {
    SimOptions {
        data: GenOptions {
            companies: 2_500,
            persons_per_company: 1,
            business_cases_per_company: 1,
            projects_per_company: 1,
            seed: 11,
        },
        ..SimOptions::default()
    }
}

#[tokio::test]
async fn two_servers_on_postgres_share_the_job_queue_and_run_each_import_once() {
    // Several instances are a PostgreSQL deployment; on SQLite there is only one.
    let Some(db) = tests::TestDb::postgres().await else {
        return;
    };
    let stack = tests::stack::spawn_stack_on(db, options(), true).await;
    let second = tests::spawn_second_instance(&stack.app, stack.entra.authority(), |_| {}).await;
    let store = stack.app.state.store.as_ref();

    // Both servers registered the scheduled kinds: one job each, not one per server.
    for kind in [
        "items.apply_events",
        "activities.follow",
        "items.reconcile",
        "items.sweep",
    ] {
        let id = server::jobs::schedule_id(kind);
        let job = eventually(Duration::from_secs(10), || async {
            store.job(&id).await.unwrap().is_some()
        })
        .await;
        assert!(job.is_some(), "no scheduled job {id}");
    }
    assert_eq!(
        store.count_jobs("queued").await.unwrap(),
        0,
        "scheduled jobs are not listed as queued work"
    );

    // One import, queued in the database; whichever server takes it, it runs once.
    let pages: u64 = ["company", "person", "businessCase", "project"]
        .iter()
        .map(|e| (stack.raynet.sim.count(e) as u64).div_ceil(1000))
        .sum();
    let quota_before = stack.raynet.sim.quota_remaining();
    let run_id = server::items::import::queue_run_in(store).await.unwrap();
    let done = eventually(Duration::from_secs(120), || async {
        store.import_run(&run_id).await.unwrap().unwrap().status == "done"
    })
    .await;
    assert!(done.is_some(), "the import did not finish");
    let used = quota_before - stack.raynet.sim.quota_remaining();
    assert!(
        used < pages * 2,
        "{used} requests for {pages} pages: the import ran twice"
    );
    assert_eq!(
        store.count_items(ItemKind::Company).await.unwrap() as usize,
        stack.raynet.sim.count("company")
    );

    // A change in the CRM reaches both servers' indexes, whichever applied the webhook.
    let (status, body) = stack.raynet.sim.user_change(
        &Method::PUT,
        "company",
        None,
        &json!({"name": "Sdílená práce", "rating": "A", "state": "A_POTENTIAL",
                "role": "A_SUBSCRIBER", "regNumber": "25596641",
                "addresses": [{"contactInfo": {"email": "info@sdilena-prace.cz"}}]}),
    );
    assert!(status.is_success(), "{body}");
    let id = body["data"]["id"].as_i64().unwrap();
    for app in [&stack.app, &second] {
        let seen = eventually(Duration::from_secs(10), || async {
            app.state.items.index().get(ItemKind::Company, id).is_some()
        })
        .await;
        assert!(seen.is_some(), "a server never saw the new firm");
    }
}
