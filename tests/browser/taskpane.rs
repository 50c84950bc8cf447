//! The Outlook task pane in headless Chromium (`taskpane.mjs`), inside the Outlook sandbox page,
//! against the real server, raynet-sim and entra-sim. Rust sets the stack up (CRM connection,
//! webhook, an employee with their own CRM key, the sandbox's records, import), mints the
//! employee's token, runs the walk, then checks in the simulator what the pane saved.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;
use tests::{mint_token_for, raynet_sim::SimOptions, stack::spawn_stack_with};

use super::{offers, repo_root, run_node};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_task_pane_suggests_saves_and_follows_the_selected_item_in_a_browser() {
    let pane = tests::server::built_pane_dir();
    assert!(
        pane.join("taskpane.html").is_file(),
        "build the task pane first: scripts/build-wasm (scripts/test does it)"
    );
    let stack = spawn_stack_with(
        tests::TestDb::for_this_run().await,
        SimOptions::default(),
        true,
        |c| {
            c.server.web_dir = pane;
            c.server.serve_sandbox = true;
        },
    )
    .await;
    let (app, crm) = (&stack.app, &stack.raynet);
    let company = tests::sandbox::seed(crm).unwrap().company;
    let employee = app.create_employee("demo@example.com", false).await;
    let worker = crm
        .sim
        .add_user("demo@example.com", "FULL_THROTTLE", "Demo User");
    let changed = stack
        .admin
        .send_with_csrf(
            Method::PUT,
            &app.url(&format!("/api/admin/employees/{}", employee.id)),
        )
        .json(&json!({"crm_user_email": worker.username, "crm_api_key": worker.api_key}))
        .send()
        .await
        .unwrap();
    assert!(
        changed.status().is_success(),
        "{}",
        changed.text().await.unwrap()
    );

    let items = offers(app, "/api/addin/suggest").await;
    let save = items && offers(app, "/api/addin/emails").await;
    if items {
        stack.import(Duration::from_secs(60)).await;
    }
    if !save {
        eprintln!(
            "note: item cache API present: {items}, activities API present: {save}; \
             the walk skips the steps that need a missing one"
        );
    }
    // A colleague attends the sandbox's meeting too and saved it first.
    let colleague = app.create_employee("jana@example.com", false).await;
    let jana = crm
        .sim
        .add_user("jana@example.com", "FULL_THROTTLE", "Jana Nováková");
    stack
        .admin
        .send_with_csrf(
            Method::PUT,
            &app.url(&format!("/api/admin/employees/{}", colleague.id)),
        )
        .json(&json!({"crm_user_email": jana.username, "crm_api_key": jana.api_key}))
        .send()
        .await
        .unwrap();
    if save {
        let saved = app
            .client
            .post(app.url("/api/addin/meetings"))
            .bearer_auth(mint_token_for(&stack.entra, &colleague))
            .json(&json!({
                "ical_uid": "040000008200E00074C5B7101A82E0080000000052C1F3A0A1D5DB01",
                "subject": "Servis linky — kick-off",
                "start": "2026-03-10T10:00:00", "end": "2026-03-10T11:00:00",
                "time_zone": "Europe/Prague",
                "organizer": {"name": "Demo User", "email": "demo@example.com"},
                "required": [], "optional": [], "body_text": "",
                "links": {"company_id": company, "person_ids": [], "project_id": null,
                          "business_case_id": null}
            }))
            .send()
            .await
            .unwrap();
        assert!(
            saved.status().is_success(),
            "{}",
            saved.text().await.unwrap()
        );
        let first = tests::stack::eventually(Duration::from_secs(20), || async {
            crm.sim
                .activities()
                .iter()
                .any(|a| a.owner_id == jana.person_id)
        })
        .await;
        assert!(
            first.is_some(),
            "the colleague's meeting never reached the CRM"
        );
    }
    let token = mint_token_for(&stack.entra, &employee);
    let stranger = stack
        .entra
        .mint(&json!({"preferred_username": "stranger@example.com"}));
    let shots = repo_root().join("test-output/screenshots/taskpane");
    let env = [
        ("BASE_URL", app.base_url.clone()),
        ("TOKEN", token),
        ("STRANGER_TOKEN", stranger),
        ("SHOTS_DIR", shots.display().to_string()),
        ("ITEMS", if items { "1" } else { "0" }.into()),
        ("SAVE", if save { "1" } else { "0" }.into()),
        ("COLLEAGUE", colleague.identifier.clone()),
        ("RAYNET_URL", crm.url.clone()),
    ];
    // The walk stops the server; the simulators live on until the end of the test.
    let tests::stack::Stack {
        app,
        raynet: crm,
        entra: _entra,
        admin: _admin,
        ..
    } = stack;
    run_node("taskpane.mjs", &env, Some(app)).await;

    if save {
        let activities = crm.sim.activities();
        let email = activities
            .iter()
            .find(|a| a.title.contains("Nabídka na servis linky"))
            .expect("the e-mail is an activity in the CRM");
        assert_eq!(email.company_id, Some(company));
        assert!(email.project_id.is_some(), "the picked project is linked");
        assert_eq!(
            email.owner_id, worker.person_id,
            "saved under the employee's own key"
        );
        let meetings = activities
            .iter()
            .filter(|a| a.title.contains("kick-off"))
            .count();
        assert_eq!(
            meetings, 1,
            "the meeting saved by two colleagues is one activity"
        );
        let karel = crm.sim.count("person");
        assert!(karel > 0);
        let added = (1..=karel as i64 + 5)
            .filter_map(|id| crm.sim.person(id))
            .any(|p| p.email.as_deref() == Some("karel.novy@vitkovice.cz"));
        assert!(added, "the unknown attendee was added as a contact");
    }
}
