//! The item cache: import, webhooks, lookup and suggestions against raynet-sim.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use server::items::ItemKind;
use tests::{
    raynet_sim::{GenOptions, SimOptions},
    stack::{Stack, eventually, spawn_stack},
};

fn options(companies: usize, persons: usize) -> SimOptions {
    SimOptions {
        data: GenOptions {
            companies,
            persons_per_company: persons,
            business_cases_per_company: 1,
            projects_per_company: 1,
            seed: 7,
        },
        ..SimOptions::default()
    }
}

fn names(answer: &Value) -> Vec<String> {
    answer["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap().to_owned())
        .collect()
}

async fn add_company(stack: &Stack, name: &str, email: &str) -> i64 {
    let (status, body) = stack.raynet.sim.user_change(
        &Method::PUT,
        "company",
        None,
        &json!({"name": name, "rating": "A", "state": "A_POTENTIAL", "role": "A_SUBSCRIBER",
                "regNumber": "25596641", "addresses": [{"contactInfo": {"email": email}}]}),
    );
    assert!(status.is_success(), "{body}");
    body["data"]["id"].as_i64().unwrap()
}

#[tokio::test]
async fn an_import_copies_the_simulated_crm_exactly() {
    let stack = spawn_stack(options(40, 2), false).await;
    let run = stack.import(Duration::from_secs(60)).await;
    let store = stack.app.state.store.as_ref();
    for (kind, entity) in [
        (ItemKind::Company, "company"),
        (ItemKind::Person, "person"),
        (ItemKind::Project, "project"),
        (ItemKind::BusinessCase, "businessCase"),
    ] {
        let stored = store.count_items(kind).await.unwrap() as usize;
        assert_eq!(stored, stack.raynet.sim.count(entity), "{entity}");
        let progress = run["kinds"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kind"] == kind.as_str())
            .unwrap();
        assert_eq!(progress["done"].as_u64().unwrap() as usize, stored, "{run}");
        assert_eq!(progress["finished"], true);
    }
    // A sample of fields.
    for id in [1, 17, 40] {
        let sim = stack.raynet.sim.company(id).unwrap();
        let cached = stack
            .app
            .state
            .items
            .index()
            .get(ItemKind::Company, id)
            .unwrap();
        assert_eq!(cached.name, &*sim.name);
        if let Some(ico) = sim.reg_number {
            assert_eq!(cached.subtitle, format!("{ico:08}"));
        }
    }
    let person = stack.raynet.sim.person(5).unwrap();
    let cached = stack
        .app
        .state
        .items
        .index()
        .get(ItemKind::Person, 5)
        .unwrap();
    assert_eq!(cached.name, format!("{} {}", person.first, person.last));
    assert_eq!(
        cached.email.as_deref(),
        person.email.as_deref().map(str::to_lowercase).as_deref()
    );
    assert_eq!(cached.company_id, person.company_id);
}

#[tokio::test]
async fn a_second_import_updates_changed_rows_and_removes_deleted_ones() {
    let stack = spawn_stack(options(10, 1), false).await;
    stack.import(Duration::from_secs(60)).await;
    // Changes in the CRM that no webhook reports.
    let (status, _) = stack.raynet.sim.user_change(
        &Method::POST,
        "company",
        Some(3),
        &json!({"name": "Přejmenovaná s.r.o."}),
    );
    assert!(status.is_success());
    let (status, _) =
        stack
            .raynet
            .sim
            .user_change(&Method::DELETE, "person", Some(4), &Value::Null);
    assert!(status.is_success());
    stack.import(Duration::from_secs(60)).await;
    let index = stack.app.state.items.index();
    assert_eq!(
        index.get(ItemKind::Company, 3).unwrap().name,
        "Přejmenovaná s.r.o."
    );
    assert!(index.get(ItemKind::Person, 4).is_none());
    assert!(
        stack
            .app
            .state
            .store
            .items_by_keys(&[(ItemKind::Person, 4)])
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn typing_vitk_finds_vitkovice_and_filters_and_ranking_behave() {
    let stack = spawn_stack(options(5, 1), true).await;
    stack.import(Duration::from_secs(60)).await;
    let steel = add_company(&stack, "Vítkovice Steel a.s.", "info@vitkovice-steel.cz").await;
    let huť = add_company(&stack, "Nová huť Vítkovice", "info@novahut.cz").await;
    let token = stack.employee_token("obchodnik@firma.cz").await;
    assert!(
        eventually(Duration::from_secs(10), || async {
            stack
                .app
                .state
                .items
                .index()
                .get(ItemKind::Company, huť)
                .is_some()
        })
        .await
        .is_some(),
        "the webhook brings the new firms in"
    );
    let found = stack.lookup(&token, "kind=company&q=vitk").await;
    assert_eq!(
        names(&found),
        vec!["Vítkovice Steel a.s.", "Nová huť Vítkovice"],
        "name prefix before word prefix"
    );

    // The employee's pick ranks first next time.
    let pick = stack
        .app
        .client
        .post(stack.app.url("/api/addin/picks"))
        .bearer_auth(&token)
        .json(&json!({"kind": "company", "id": huť}))
        .send()
        .await
        .unwrap();
    assert_eq!(pick.status(), StatusCode::NO_CONTENT);
    let found = stack.lookup(&token, "kind=company&q=VITK").await;
    assert_eq!(found["items"][0]["id"], huť);
    let other = stack.employee_token("kolega@firma.cz").await;
    assert_eq!(
        stack.lookup(&other, "kind=company&q=vitk").await["items"][0]["id"],
        steel,
        "picks are per employee"
    );

    // Contacts and projects of one firm.
    let contacts = stack.lookup(&token, "kind=person&company_id=1").await;
    assert!(!contacts["items"].as_array().unwrap().is_empty());
    assert!(
        contacts["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["company_id"] == 1)
    );

    // Bad parameters are 400, never 5xx.
    for bad in [
        "kind=firm&q=a",
        "kind=company&limit=0",
        "kind=company&limit=x",
        "q=a",
    ] {
        let response = stack
            .app
            .client
            .get(stack.app.url(&format!("/api/addin/lookup?{bad}")))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
    let long = "a".repeat(201);
    let response = stack
        .app
        .client
        .get(
            stack
                .app
                .url(&format!("/api/addin/lookup?kind=company&q={long}")),
        )
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn suggest_finds_persons_by_address_and_firms_by_domain_but_not_by_free_mail() {
    let stack = spawn_stack(options(6, 2), false).await;
    stack.import(Duration::from_secs(60)).await;
    let token = stack.employee_token("obchodnik@nase-firma.cz").await;
    let person = stack.raynet.sim.person(3).unwrap();
    let email = person.email.as_deref().unwrap().to_owned();
    let company = person.company_id.unwrap();
    let domain = email.split_once('@').unwrap().1.to_owned();
    let response = stack
        .app
        .client
        .post(stack.app.url("/api/addin/suggest"))
        .bearer_auth(&token)
        .json(&json!({"addresses": [email.to_uppercase(), format!("novy.clovek@{domain}"), "someone@gmail.com", "kolega@nase-firma.cz"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["persons"][0]["id"], 3, "{body}");
    assert_eq!(body["companies"].as_array().unwrap().len(), 1, "{body}");
    assert_eq!(body["companies"][0]["id"], company);
    assert!(
        body["projects"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["company_id"] == company && p["open"] == true)
    );
    let unmatched: Vec<&str> = body["unmatched"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(
        unmatched,
        vec![
            format!("novy.clovek@{domain}").as_str(),
            "someone@gmail.com",
            "kolega@nase-firma.cz"
        ]
    );
}

#[tokio::test]
async fn webhooks_for_create_update_and_delete_reach_lookups() {
    let stack = spawn_stack(options(3, 1), true).await;
    stack.import(Duration::from_secs(60)).await;
    let token = stack.employee_token("obchodnik@firma.cz").await;
    let id = add_company(&stack, "Žďárské strojírny", "info@zdar.cz").await;
    let visible = |name: &'static str| {
        let stack = &stack;
        let token = token.clone();
        async move {
            names(&stack.lookup(&token, "kind=company&q=zdar").await).contains(&name.to_owned())
        }
    };
    assert!(
        eventually(Duration::from_secs(10), || visible("Žďárské strojírny"))
            .await
            .is_some()
    );
    let (status, _) = stack.raynet.sim.user_change(
        &Method::POST,
        "company",
        Some(id),
        &json!({"name": "Žďárské strojírny a slévárny"}),
    );
    assert!(status.is_success());
    assert!(
        eventually(Duration::from_secs(10), || visible(
            "Žďárské strojírny a slévárny"
        ))
        .await
        .is_some()
    );
    let (status, _) =
        stack
            .raynet
            .sim
            .user_change(&Method::DELETE, "company", Some(id), &Value::Null);
    assert!(status.is_success());
    assert!(
        eventually(Duration::from_secs(10), || async {
            stack.lookup(&token, "kind=company&q=zdar").await["items"]
                .as_array()
                .unwrap()
                .is_empty()
        })
        .await
        .is_some(),
        "the deleted firm disappears"
    );
    let stats: Value = stack
        .admin
        .client
        .get(stack.app.url("/api/admin/webhook/events"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(stats["today"].as_i64().unwrap() >= 3, "{stats}");
    assert_eq!(stats["pending"], 0, "{stats}");
}

fn event(id: &str, kind: &str, entity: &str, entity_id: i64) -> Value {
    json!({"eventId": id, "createdAt": "2026-11-21T10:00:00.000+01:00", "type": kind,
           "author": "x@y.cz", "source": {"name": "user"},
           "data": {"entityName": entity, "entityId": entity_id, "extIds": null}})
}

#[tokio::test]
async fn the_receiver_checks_the_id_and_token_and_refuses_garbage() {
    let stack = spawn_stack(options(2, 1), false).await;
    let body = event("e-1", "record.updated", "Company", 1);
    let post = |path: String, token: Option<&'static str>, body: String| {
        let mut request = stack
            .app
            .client
            .post(stack.app.url(&path))
            .body(body)
            .header("content-type", "application/json");
        if let Some(token) = token {
            request = request.header("X-RAYNETCRM-Token", token);
        }
        request.send()
    };
    let right = format!("/api/raynet-event/{}", stack.webhook_id);
    assert_eq!(
        post("/api/raynet-event/unknown".into(), None, body.to_string())
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        post(right.clone(), None, body.to_string())
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        post(right.clone(), Some("wrong"), body.to_string())
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
    for garbage in [
        "{",
        "[]",
        "null",
        "{\"eventId\":\"x\"}",
        "{\"eventId\":\"x\",\"type\":\"record.updated\",\"data\":{\"entityName\":\"Company\",\"entityId\":\"abc\"}}",
    ] {
        let response = stack
            .app
            .client
            .post(stack.app.url(&right))
            .header("X-RAYNETCRM-Token", &stack.webhook_token)
            .header("content-type", "application/json")
            .body(garbage)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{garbage}");
    }
    let oversize = "x".repeat(2 * 1024 * 1024);
    let response = stack
        .app
        .client
        .post(stack.app.url(&right))
        .header("X-RAYNETCRM-Token", &stack.webhook_token)
        .body(oversize)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // Entities we do not cache are acknowledged.
    assert_eq!(
        stack
            .post_event(&event("e-mail-1", "record.created", "Email", 9))
            .await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn duplicate_and_out_of_order_events_leave_the_crms_state() {
    let stack = spawn_stack(options(4, 1), false).await;
    stack.import(Duration::from_secs(60)).await;
    // The firm is renamed in the CRM; its events arrive twice and out of order (a stale
    // "deleted" for another, still existing firm too).
    let (status, _) = stack.raynet.sim.user_change(
        &Method::POST,
        "company",
        Some(2),
        &json!({"name": "Aktuální název"}),
    );
    assert!(status.is_success());
    for e in [
        event("u-2", "record.updated", "Company", 2),
        event("c-2", "record.inserted", "Company", 2),
        event("u-2", "record.updated", "Company", 2),
        event("d-3", "record.deleted", "Company", 3),
    ] {
        assert_eq!(stack.post_event(&e).await, StatusCode::OK);
    }
    let response = stack
        .app
        .client
        .post(
            stack
                .app
                .url(&format!("/api/raynet-event/{}", stack.webhook_id)),
        )
        .header("X-RAYNETCRM-Token", &stack.webhook_token)
        .json(&event("u-2", "record.updated", "Company", 2))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.json::<Value>().await.unwrap()["status"],
        "duplicate"
    );
    let index = stack.app.state.items.index();
    assert!(
        eventually(Duration::from_secs(10), || async {
            index
                .get(ItemKind::Company, 2)
                .is_some_and(|c| c.name == "Aktuální název")
        })
        .await
        .is_some()
    );
    assert!(
        eventually(Duration::from_secs(5), || async {
            stack.app.state.store.event_stats(0).await.unwrap().pending == 0
        })
        .await
        .is_some()
    );
    assert!(
        index.get(ItemKind::Company, 3).is_some(),
        "a stale delete of a firm that exists changes nothing"
    );
}

#[tokio::test]
async fn a_burst_of_ten_thousand_events_is_applied_completely() {
    let stack = spawn_stack(options(500, 4), false).await;
    stack.import(Duration::from_secs(120)).await;
    // Rename every person in the CRM (2,000), then deliver 5 events for each.
    for id in 1..=2000 {
        let (status, _) = stack.raynet.sim.user_change(
            &Method::POST,
            "person",
            Some(id),
            &json!({"lastName": format!("Burst{id}")}),
        );
        assert!(status.is_success());
    }
    let events: Vec<Value> = (0..10_000)
        .map(|n| {
            let id = (n % 2000) + 1;
            let kind = ["record.updated", "record.created", "record.inserted"][n as usize % 3];
            event(&format!("burst-{n}"), kind, "Person", id)
        })
        .collect();
    use futures::StreamExt;
    let statuses: Vec<StatusCode> =
        futures::stream::iter(events.iter().map(|e| stack.post_event(e)))
            .buffer_unordered(16)
            .collect()
            .await;
    assert!(statuses.iter().all(|s| *s == StatusCode::OK));
    let store = stack.app.state.store.as_ref();
    let applied = eventually(Duration::from_secs(60), || async {
        store.event_stats(0).await.unwrap().pending == 0
    })
    .await;
    assert!(applied.is_some(), "all events applied");
    let index = stack.app.state.items.index();
    let missing: Vec<i64> = (1..=2000)
        .filter(|id| {
            !index
                .get(ItemKind::Person, *id)
                .unwrap()
                .name
                .ends_with(&format!("Burst{id}"))
        })
        .collect();
    assert!(missing.is_empty(), "not applied: {missing:?}");
    assert_eq!(store.event_stats(0).await.unwrap().failed, 0);
}

#[tokio::test]
async fn add_in_endpoints_need_a_token() {
    let stack = spawn_stack(options(1, 1), false).await;
    let response = stack
        .app
        .client
        .get(stack.app.url("/api/addin/lookup?kind=company&q=a"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let response = stack
        .app
        .client
        .post(stack.app.url("/api/addin/suggest"))
        .json(&json!({"addresses": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn two_instances_on_postgres_share_the_cache() {
    // Several instances are a PostgreSQL deployment; on SQLite there is only one.
    let Some(db) = tests::TestDb::postgres().await else {
        return;
    };
    let stack = tests::stack::spawn_stack_on(db, options(3, 1), true).await;
    stack.import(Duration::from_secs(60)).await;
    let second = tests::spawn_second_instance(&stack.app, stack.entra.authority(), |_| {}).await;
    assert!(
        second
            .state
            .items
            .index()
            .get(ItemKind::Company, 1)
            .is_some(),
        "loaded at start"
    );
    // The webhook goes to the first instance; the second must see the change too.
    let id = add_company(&stack, "Sdílená mezi instancemi", "info@sdilena.cz").await;
    let seen = eventually(Duration::from_secs(5), || async {
        second
            .state
            .items
            .index()
            .get(ItemKind::Company, id)
            .is_some()
    })
    .await;
    assert!(seen.is_some(), "the second instance never saw the change");
    let (status, _) =
        stack
            .raynet
            .sim
            .user_change(&Method::DELETE, "company", Some(id), &Value::Null);
    assert!(status.is_success());
    let gone = eventually(Duration::from_secs(5), || async {
        second
            .state
            .items
            .index()
            .get(ItemKind::Company, id)
            .is_none()
    })
    .await;
    assert!(gone.is_some(), "the second instance kept a deleted firm");
}

#[tokio::test]
async fn an_import_killed_midway_resumes_where_it_was_after_a_restart() {
    use server::secrets::MasterKey;
    use tests::{
        process::{ServerProcess, free_port},
        raynet_sim::{Faults, RaynetSim},
    };
    let raynet = RaynetSim::start(options(8000, 1)).await.unwrap();
    let pages: u64 = ["company", "person", "businessCase", "project"]
        .iter()
        .map(|e| (raynet.sim.count(e) as u64).div_ceil(1000))
        .sum();
    let cwd = tempfile::tempdir().unwrap();
    let data = cwd.path().join("data");
    let db_url = server::config::DatabaseUrl::new(format!(
        "sqlite://{}?mode=rwc",
        data.join("crm-bridge.db").display()
    ));
    let store = server::store::connect_and_migrate(&db_url, 1)
        .await
        .unwrap();
    let master = MasterKey::generate();
    tests::stack::connect_crm(store.as_ref(), &master, &raynet)
        .await
        .unwrap();
    let run_id = server::items::import::queue_run_in(store.as_ref())
        .await
        .unwrap();
    drop(store);
    let key = {
        use secrecy::ExposeSecret;
        master.to_base64().expose_secret().to_owned()
    };
    let env = [
        ("CRM_BRIDGE_MASTER_KEY", key.as_str()),
        ("CRM_BRIDGE_JOBS__POLL_INTERVAL_MS", "50"),
        ("CRM_BRIDGE_CRM__ALLOW_OTHER_HOSTS", "true"),
    ];
    // Slow pages, so the import is still running when it is killed.
    raynet.sim.set_faults(Faults {
        latency_ms: 150,
        ..Faults::default()
    });
    let quota_before = raynet.sim.quota_remaining();
    let port = free_port();
    let first = ServerProcess::start_with(cwd.path(), &[], &[], false, &env, port).await;
    let reader = server::store::connect(&db_url, 1).await.unwrap();
    let progressed = eventually(Duration::from_secs(60), || async {
        let run = reader.import_run(&run_id).await.unwrap().unwrap();
        let kinds: Vec<server::items::import::KindProgress> =
            serde_json::from_str(&run.progress).unwrap();
        kinds[0].finished && !kinds[1].finished
    })
    .await;
    assert!(progressed.is_some(), "the import never got past the firms");
    first.kill().await;
    let killed = reader.import_run(&run_id).await.unwrap().unwrap();
    assert_eq!(killed.status, "running");

    let second = ServerProcess::start_with(cwd.path(), &[], &[], false, &env, port).await;
    let finished = eventually(Duration::from_secs(90), || async {
        reader.import_run(&run_id).await.unwrap().unwrap().status == "done"
    })
    .await;
    assert!(
        finished.is_some(),
        "the interrupted run was not finished after the restart"
    );
    for (kind, entity) in [
        (ItemKind::Company, "company"),
        (ItemKind::Person, "person"),
        (ItemKind::Project, "project"),
        (ItemKind::BusinessCase, "businessCase"),
    ] {
        assert_eq!(
            reader.count_items(kind).await.unwrap() as usize,
            raynet.sim.count(entity),
            "{entity}"
        );
    }
    // Resuming, not starting over: the firms' pages were not fetched twice.
    let used = quota_before - raynet.sim.quota_remaining();
    assert!(
        used < pages + 8,
        "{used} requests for {pages} pages: the run started over"
    );
    assert_eq!(
        reader.import_runs(10).await.unwrap().len(),
        1,
        "no second run"
    );
    second.terminate().await;
}

#[tokio::test]
async fn the_id_sweep_removes_records_deleted_in_the_crm_while_the_webhook_was_lost() {
    let stack = tests::stack::spawn_stack(SimOptions::default(), false).await;
    stack.import(Duration::from_secs(60)).await;
    let store = stack.app.state.store.clone();
    let before = store.count_items(ItemKind::Project).await.unwrap();
    let gone = store.item_ids(ItemKind::Project).await.unwrap()[0];
    // Deleted in Raynet; no webhook is registered, so the server never hears of it.
    let (status, body) =
        stack
            .raynet
            .sim
            .user_change(&reqwest::Method::DELETE, "project", Some(gone), &json!({}));
    assert_eq!(status, reqwest::StatusCode::OK, "{body}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(store.count_items(ItemKind::Project).await.unwrap(), before);

    let response = stack
        .admin
        .send_with_csrf(reqwest::Method::POST, &stack.app.url("/api/admin/sweep"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::OK);
    let report: serde_json::Value = response.json().await.unwrap();
    assert_eq!(report["removed"], 1, "{report}");
    assert_eq!(
        store.count_items(ItemKind::Project).await.unwrap(),
        before - 1
    );
    assert!(
        !store
            .item_ids(ItemKind::Project)
            .await
            .unwrap()
            .contains(&gone)
    );
    // Ids only: one request per 1,000 records and kind, plus the check of the one candidate.
    let cached = report["cached"].as_u64().unwrap();
    assert!(
        report["requests"].as_u64().unwrap() <= cached / 1000 + 4 + 1,
        "{report}"
    );
}

/// Creates an employee through the admin API with the CRM account of `user`; returns a token.
async fn employee_with_crm_key(stack: &Stack, user: &tests::raynet_sim::SimUser) -> String {
    let login = format!("bridge.{}", user.username);
    let response = stack
        .admin
        .send_with_csrf(Method::POST, &stack.app.url("/api/admin/employees"))
        .json(&json!({
            "identifier": login, "login_email": login, "o365_email": login,
            "crm_user_email": user.username, "crm_api_key": user.api_key,
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    stack.employee_token(&login).await
}

async fn suggested_companies(stack: &Stack, token: &str, address: &str) -> Vec<i64> {
    let response = stack
        .app
        .client
        .post(stack.app.url("/api/addin/suggest"))
        .bearer_auth(token)
        .json(&json!({"addresses": [address]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    body["companies"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["id"].as_i64())
        .collect()
}

#[tokio::test]
async fn an_employee_never_finds_a_record_on_a_security_level_their_crm_account_may_not_open() {
    let stack = spawn_stack(options(6, 2), false).await;
    let sim = &stack.raynet.sim;
    let board = sim.add_security_level("Vedení");
    assert!(sim.set_security_level("company", 1, board));
    let limited = sim.add_user("obchodnik@firma.cz", "FULL_THROTTLE", "Petr Obchodník");
    sim.set_user_security_levels(limited.account_id, vec![1]);
    let manager = sim.add_user("reditel@firma.cz", "FULL_THROTTLE", "Jana Ředitelová");
    let limited = employee_with_crm_key(&stack, &limited).await;
    let manager = employee_with_crm_key(&stack, &manager).await;
    stack.import(Duration::from_secs(60)).await;

    let firm = sim.company(1).unwrap();
    let query = format!(
        "kind=company&q={}",
        percent_encoding::utf8_percent_encode(&firm.name, percent_encoding::NON_ALPHANUMERIC)
    );
    let ids = |answer: Value| -> Vec<i64> {
        answer["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|i| i["id"].as_i64())
            .collect()
    };
    assert!(ids(stack.lookup(&manager, &query).await).contains(&1));
    assert!(!ids(stack.lookup(&limited, &query).await).contains(&1));

    let contact = (1..100)
        .filter_map(|id| sim.person(id))
        .find(|p| p.company_id == Some(1) && p.email.is_some())
        .unwrap();
    let address = contact.email.unwrap();
    assert!(
        suggested_companies(&stack, &manager, &address)
            .await
            .contains(&1)
    );
    assert!(
        !suggested_companies(&stack, &limited, &address)
            .await
            .contains(&1)
    );
}
