//! The sync rules and the per-employee overrides on the Synchronisation page: saved only when
//! every value is right (problems next to the fields, nothing saved), CSRF required, English and
//! Czech.

use reqwest::StatusCode;
use server::{
    calendar::{
        ActivityKind, ConflictPolicy, DeleteMode, Direction, Operation, PrivatePolicy, SyncRules,
    },
    settings::Setting,
};
use tests::spawn_app;

use crate::admin_sync_pages::{html, post_form};

/// Every box of the matrix ticked except `off`, with the other fields as given.
fn rules_form<'a>(off: &str, extra: &[(&'a str, &'a str)]) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    for kind in ["meeting", "event", "task", "phoneCall", "letter"] {
        for dir in ["c2o", "o2c"] {
            for op in ["create", "update", "delete"] {
                let name = format!("r_{kind}_{dir}_{op}");
                if name != off {
                    pairs.push((name, "on".to_owned()));
                }
            }
        }
    }
    pairs.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    pairs
}

fn borrowed(pairs: &[(String, String)]) -> Vec<(&str, &str)> {
    pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

#[tokio::test]
async fn the_rules_form_saves_the_whole_matrix_and_refuses_a_bad_value_saving_nothing() {
    let app = spawn_app().await;
    let admin = app.login_as_admin().await;
    let store = app.state.store.as_ref();
    let url = app.url("/admin/sync/rules");
    let (status, page) = html(&admin, &app.url("/admin/sync"), "en").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Sync rules"), "the rules form is on the page");
    assert!(
        page.contains(r#"name="r_task_c2o_update" value="on" checked"#),
        "defaults ticked"
    );
    let (_, czech) = html(&admin, &app.url("/admin/sync"), "cs").await;
    assert!(czech.contains("Pravidla synchronizace") && czech.contains("Náhled"));

    // Without the CSRF token: refused.
    let refused = admin
        .client
        .post(&url)
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body("conflict=hold")
        .send()
        .await
        .expect("the server answers");
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);

    let bad = rules_form(
        "r_task_c2o_update",
        &[
            ("conflict", "hold"),
            ("delete_to_outlook", "unlink"),
            ("delete_to_crm", "shred"),
            ("private_events", "busy_only"),
            ("flap_limit_per_hour", "0"),
            ("mass_delete_percent", "abc"),
            ("cancel_message", "Ruší se."),
        ],
    );
    let r = post_form(&admin, &url, &borrowed(&bad)).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = r.text().await.expect("a page");
    for id in [
        "f-flap_limit_per_hour-error",
        "f-mass_delete_percent-error",
        "f-delete_to_crm-error",
    ] {
        assert!(page.contains(id), "{id} shown");
    }
    assert!(
        !page.contains(r#"name="r_task_c2o_update" value="on" checked"#),
        "what was typed is kept"
    );
    assert_eq!(
        SyncRules::load(store).await.expect("rules"),
        SyncRules::default(),
        "nothing saved"
    );

    let good = rules_form(
        "r_task_c2o_update",
        &[
            ("conflict", "hold"),
            ("delete_to_outlook", "unlink"),
            ("delete_to_crm", "cancel"),
            ("private_events", "busy_only"),
            ("outlook_creates_meetings", "on"),
            ("opt_in_by_default", "on"),
            ("flap_limit_per_hour", "12"),
            ("mass_delete_percent", "30"),
            ("cancel_message", " Ruší se. "),
        ],
    );
    let r = post_form(&admin, &url, &borrowed(&good)).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let saved = SyncRules::load(store).await.expect("rules");
    assert!(!saved.allows(
        ActivityKind::Task,
        Direction::CrmToOutlook,
        Operation::Update
    ));
    assert!(saved.allows(
        ActivityKind::Task,
        Direction::OutlookToCrm,
        Operation::Create
    ));
    assert!(saved.allows(
        ActivityKind::Letter,
        Direction::CrmToOutlook,
        Operation::Delete
    ));
    assert_eq!(saved.conflict, ConflictPolicy::Hold);
    assert_eq!(saved.delete_to_outlook, DeleteMode::Unlink);
    assert_eq!(saved.private_events, PrivatePolicy::BusyOnly);
    assert!(saved.outlook_creates_meetings && saved.opt_in_by_default);
    assert_eq!(
        (saved.flap_limit_per_hour, saved.mass_delete_percent),
        (12, 30)
    );
    assert_eq!(saved.cancel_message, "Ruší se.");
    let (_, page) = html(&admin, &app.url("/admin/sync"), "en").await;
    assert!(page.contains(r#"id="f-conflict-hold" name="conflict" value="hold" checked"#));
}

#[tokio::test]
async fn an_employees_overrides_are_saved_from_their_row_and_a_bad_date_is_refused() {
    let app = spawn_app().await;
    let admin = app.login_as_admin().await;
    let jana = app.create_employee("jana@firma.cz", false).await;
    let store = app.state.store.as_ref();
    let url = app.url(&format!("/admin/sync/employees/{}/overrides", jana.id));
    let r = post_form(
        &admin,
        &url,
        &[("opt_in", "off"), ("start_date", "2026-05-01")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let state = |id: String| async move {
        store
            .calendar_employees()
            .await
            .expect("states")
            .into_iter()
            .find(|e| e.employee_id == id)
            .expect("a row")
    };
    let jana_state = state(jana.id.clone()).await;
    assert!(jana_state.opt_in_set && !jana_state.enabled);
    assert_eq!(jana_state.start_date.as_deref(), Some("2026-05-01"));
    let r = post_form(
        &admin,
        &url,
        &[("opt_in", "default"), ("start_date", "1.5.2026")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(state(jana.id.clone()).await, jana_state, "nothing saved");
    let r = post_form(&admin, &url, &[("opt_in", "maybe"), ("start_date", "")]).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = post_form(&admin, &url, &[("opt_in", "default"), ("start_date", "")]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let jana_state = state(jana.id.clone()).await;
    assert!(!jana_state.opt_in_set && jana_state.start_date.is_none());
    let (_, page) = html(&admin, &app.url("/admin/sync"), "cs").await;
    let row = page
        .split(&format!(r#"data-employee="{}""#, jana.id))
        .nth(1)
        .and_then(|rest| rest.split("</tr>").next())
        .expect("Jana's row");
    assert!(
        row.contains("(výchozí)") && row.contains("Výjimky"),
        "{row}"
    );
}
