//! The admin UI of calendar sync: the Synchronisation page (settings saved only when all of them
//! are right, errors next to the fields), per-employee opt-in and "sync now", the trace page a
//! page at a time, and the Office 365 page's Test button against entra-sim's Microsoft Graph.

use reqwest::{StatusCode, header};
use server::{
    calendar::CalendarSettings,
    settings::{ParticipantSyncMode, Setting, SyncSettings},
    store::{TraceEntry, WrittenEvent},
};
use tests::{AdminClient, TestApp, spawn_app, spawn_app_with_entra};

pub(crate) async fn post_form(
    admin: &AdminClient,
    url: &str,
    pairs: &[(&str, &str)],
) -> reqwest::Response {
    let mut all = pairs.to_vec();
    all.push(("csrf_token", &admin.csrf));
    let mut body = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in all {
        body.append_pair(k, v);
    }
    admin
        .client
        .post(url)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(body.finish())
        .send()
        .await
        .expect("the server answers")
}

pub(crate) async fn html(admin: &AdminClient, url: &str, lang: &str) -> (StatusCode, String) {
    let r = admin
        .client
        .get(url)
        .header(header::ACCEPT_LANGUAGE, lang)
        .send()
        .await
        .expect("the server answers");
    (r.status(), r.text().await.expect("a page"))
}

fn location(r: &reqwest::Response) -> String {
    r.headers()[header::LOCATION]
        .to_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn the_synchronisation_page_saves_every_setting_and_refuses_bad_input_saving_nothing() {
    let app = spawn_app().await;
    let admin = app.login_as_admin().await;
    let store = app.state.store.as_ref();
    let url = app.url("/admin/sync");
    let good = [
        ("enabled", "on"),
        ("participant_mode", "all_activities"),
        ("type_meeting", "on"),
        ("type_phoneCall", "on"),
        ("category", "  Z Raynetu "),
        ("start_date", "2026-02-01"),
    ];
    let r = post_form(&admin, &url, &good).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/admin/sync?ok=saved");
    let calendar = CalendarSettings::load(store).await.unwrap();
    assert!(calendar.enabled);
    let types: Vec<&str> = calendar.activity_types.iter().map(|k| k.entity()).collect();
    assert_eq!(types, ["meeting", "phoneCall"]);
    assert_eq!(calendar.category, "Z Raynetu");
    assert_eq!(calendar.start_date.as_deref(), Some("2026-02-01"));
    assert_eq!(
        SyncSettings::load(store).await.unwrap().participant_mode,
        ParticipantSyncMode::AllActivities
    );
    let (_, page) = html(&admin, &url, "en").await;
    assert!(page.contains(r#"value="all_activities" checked"#), "{page}");
    assert!(page.contains(r#"name="type_phoneCall" value="on" checked"#));
    assert!(!page.contains(r#"name="type_task" value="on" checked"#));
    assert!(page.contains(r#"value="2026-02-01""#));

    // Every field wrong at once: each error stands next to its field, nothing is saved.
    let bad = [
        ("enabled", "on"),
        ("participant_mode", "everyone"),
        ("category", " "),
        ("start_date", "1. 2. 2026"),
    ];
    let r = post_form(&admin, &url, &bad).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = r.text().await.unwrap();
    for id in [
        "f-category-error",
        "f-start_date-error",
        "f-activity_types-error",
        "f-participant_mode-error",
    ] {
        assert!(page.contains(&format!(r#"id="{id}""#)), "{id} in {page}");
    }
    assert!(page.contains("Enter a date such as 2026-01-31."));
    assert!(
        page.contains(r#"value="1. 2. 2026""#),
        "what was typed stays"
    );
    assert_eq!(CalendarSettings::load(store).await.unwrap(), calendar);
    assert_eq!(
        SyncSettings::load(store).await.unwrap().participant_mode,
        ParticipantSyncMode::AllActivities
    );

    // Turned off, with every type unticked: allowed, and the category kept.
    let r = post_form(
        &admin,
        &url,
        &[("participant_mode", "none"), ("category", "Raynet")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(!CalendarSettings::load(store).await.unwrap().enabled);

    let (status, page) = html(&admin, &url, "cs-CZ,cs;q=0.9").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Synchronizace kalendářů"), "{page}");
    assert!(page.contains("Outlook nikomu nepíše"), "{page}");
    let no_csrf = admin
        .client
        .post(&url)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body("participant_mode=none&category=X")
        .send()
        .await
        .unwrap();
    assert_eq!(no_csrf.status(), StatusCode::FORBIDDEN);
}

/// Records that `employee`'s calendar holds the event of activity `key`.
async fn linked(app: &TestApp, key: &str, employee: &str, mailbox: &str) {
    let store = app.state.store.as_ref();
    assert!(
        store
            .begin_calendar_create(key, employee, mailbox, "tx-1")
            .await
            .unwrap()
    );
    store
        .record_calendar_write(&WrittenEvent {
            activity_key: key.into(),
            employee_id: employee.into(),
            mailbox: mailbox.into(),
            event_id: format!("ev-{key}"),
            ical_uid: format!("uid-{key}"),
            transaction_id: "tx-1".into(),
            content_hash: "h".into(),
            has_attendees: false,
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn an_employee_is_opted_in_and_out_and_sync_now_queues_the_events_in_their_calendar() {
    let app = spawn_app().await;
    let admin = app.login_as_admin().await;
    let jana = app.create_employee("jana@firma.cz", false).await;
    let store = app.state.store.as_ref();
    let opt = |enabled: &'static str| {
        let (admin, app, id) = (&admin, &app, jana.id.clone());
        async move {
            let url = app.url(&format!("/admin/sync/employees/{id}/enabled"));
            post_form(admin, &url, &[("enabled", enabled)]).await
        }
    };
    let r = opt("true").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let enabled = |id: &str| {
        let id = id.to_owned();
        async move {
            store
                .calendar_employees()
                .await
                .unwrap()
                .iter()
                .any(|e| e.employee_id == id && e.enabled)
        }
    };
    assert!(enabled(&jana.id).await);
    linked(&app, "raynet:meeting:81", &jana.id, "jana@firma.cz").await;
    linked(&app, "raynet:task:7", &jana.id, "jana@firma.cz").await;
    let (_, page) = html(&admin, &app.url("/admin/sync"), "en").await;
    let row = page
        .split(&format!(r#"data-employee="{}""#, jana.id))
        .nth(1)
        .and_then(|rest| rest.split("</tr>").next())
        .expect("Jana's row");
    assert!(
        row.contains("jana@firma.cz") && row.contains(">On<"),
        "{row}"
    );
    assert!(row.contains("<td>2</td>"), "two items in sync: {row}");
    assert!(
        row.contains("Turn off") && row.contains("Sync now"),
        "{row}"
    );

    let r = post_form(
        &admin,
        &app.url(&format!("/admin/sync/employees/{}/run", jana.id)),
        &[],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let flash = location(&r);
    let (_, page) = html(&admin, &app.url(&flash), "en").await;
    assert!(page.contains("2 activities are queued for sync."), "{page}");
    let queued: Vec<String> = store
        .list_jobs(None, 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|j| j.kind == "calendar.sync")
        .map(|j| j.payload)
        .collect();
    assert_eq!(queued.len(), 2, "{queued:?}");
    assert!(
        queued
            .iter()
            .any(|p| p.contains("phone") || p.contains("task"))
    );

    let r = opt("false").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(!enabled(&jana.id).await);
    assert_eq!(opt("maybe").await.status(), StatusCode::BAD_REQUEST);
    let r = post_form(
        &admin,
        &app.url("/admin/sync/employees/no-such-id/enabled"),
        &[("enabled", "true")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let (_, audit) = html(&admin, &app.url("/admin/audit"), "en").await;
    assert!(audit.contains("Calendar sync turned on or off for an employee"));
}

fn decision(at: i64, key: &str, employee: &str, action: &str, reason: &str) -> TraceEntry {
    TraceEntry {
        at,
        activity_key: key.into(),
        employee_id: employee.into(),
        mailbox: if employee.is_empty() {
            String::new()
        } else {
            format!("{employee}@firma.cz")
        },
        action: action.into(),
        reason: reason.into(),
        request_id: (action != "skip").then(|| format!("req-{at}")),
        error: (action == "failed").then(|| "mailbox petr@firma.cz was not found".into()),
        direction: "crm_to_outlook".into(),
    }
}

#[tokio::test]
async fn the_trace_page_shows_decisions_newest_first_a_page_at_a_time_per_employee_and_activity() {
    let app = spawn_app().await;
    let admin = app.login_as_admin().await;
    let jana = app.create_employee("jana@firma.cz", false).await;
    let store = app.state.store.as_ref();
    let base = 1_780_000_000_000_i64;
    for n in 0..120 {
        let key = format!("raynet:meeting:{n}");
        store
            .add_calendar_trace(&decision(base + n, &key, &jana.id, "create", ""))
            .await
            .unwrap();
    }
    store
        .add_calendar_trace(&decision(
            base + 500,
            "raynet:task:9",
            "",
            "skip",
            "before_start_date",
        ))
        .await
        .unwrap();
    store
        .add_calendar_trace(&decision(
            base + 501,
            "raynet:meeting:3",
            &jana.id,
            "failed",
            "update",
        ))
        .await
        .unwrap();

    let (status, first) = html(&admin, &app.url("/admin/sync/trace"), "en").await;
    assert_eq!(status, StatusCode::OK);
    let rows = |page: &str| page.matches("<tr").count() - 1;
    assert_eq!(rows(&first), 50);
    // Newest first: the failure, then the skip in words, then the newest create.
    let failed = first.find("req-").unwrap();
    assert!(first[failed..].starts_with(&format!("req-{}", base + 501)));
    assert!(
        first.contains("it starts before the sync start date"),
        "{first}"
    );
    assert!(first.contains("mailbox petr@firma.cz was not found"));
    assert!(first.contains("Event created") && first.contains("Failed"));
    assert!(first.contains(r#"rel="next""#) && !first.contains(r#"rel="prev""#));
    assert!(first.contains("Entries 1–50"), "{first}");
    assert!(first.contains(r#"href="/admin/sync/trace?offset=50""#));
    let (_, last) = html(&admin, &app.url("/admin/sync/trace?offset=100"), "en").await;
    assert_eq!(rows(&last), 22, "122 decisions: 50 + 50 + 22");
    assert!(last.contains("Entries 101–122"));
    assert!(last.contains(r#"href="/admin/sync/trace?offset=50""#));
    assert!(last.contains(r#"rel="prev""#) && !last.contains(r#"rel="next""#));
    assert!(last.contains(&format!("req-{base}")), "the oldest is last");

    let url = app.url(&format!("/admin/sync/trace?employee={}", jana.id));
    let (_, mine) = html(&admin, &url, "en").await;
    assert!(!mine.contains("before_start_date") && !mine.contains("before the sync start"));
    let url = app.url("/admin/sync/trace?activity=raynet%3Ameeting%3A3");
    let (_, one) = html(&admin, &url, "cs").await;
    assert_eq!(rows(&one), 2, "its create and its failure");
    assert!(
        one.contains("Selhalo") && one.contains("Událost vytvořena"),
        "{one}"
    );
    let (_, none) = html(&admin, &app.url("/admin/sync/trace?activity=x"), "en").await;
    assert!(none.contains("No sync decisions match."));
    let (_, cs) = html(&admin, &app.url("/admin/sync/trace?offset=50"), "cs").await;
    assert!(
        cs.contains("Záznamy 51–100") && cs.contains("Novější") && cs.contains("Starší"),
        "{cs}"
    );
    let (status, _) = html(&admin, &app.url("/admin/sync/trace?offset=-1"), "en").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_trace_api_pages_by_offset_and_limit_and_links_the_older_and_newer_pages() {
    let app = spawn_app().await;
    let admin = app.login_as_admin().await;
    let store = app.state.store.as_ref();
    let base = 1_780_000_000_000_i64;
    // Five decisions in one millisecond and five after: pages stay stable within a millisecond.
    for n in 0..10 {
        let key = format!("raynet:meeting:{n}");
        let at = base + i64::from(n >= 5);
        store
            .add_calendar_trace(&decision(at, &key, "", "skip", "unchanged"))
            .await
            .unwrap();
    }
    let page = |query: &'static str| {
        let admin = &admin;
        let url = app.url(&format!("/api/admin/calendar/trace?{query}"));
        async move {
            let r = admin
                .client
                .get(url)
                .send()
                .await
                .expect("the server answers");
            let status = r.status();
            let link = r
                .headers()
                .get(header::LINK)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            let body: serde_json::Value = r.json().await.unwrap_or_default();
            let keys: Vec<String> = body
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|e| e["activity_key"].as_str().map(str::to_owned))
                .collect();
            (status, keys, link)
        }
    };
    let (status, first, link) = page("limit=4").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(first.len(), 4);
    assert!(
        first.iter().all(|k| k.as_str() >= "raynet:meeting:5"),
        "newest first: {first:?}"
    );
    assert_eq!(
        link,
        r#"</api/admin/calendar/trace?offset=4&limit=4>; rel="next""#
    );
    let (_, second, link) = page("offset=4&limit=4").await;
    assert!(link.contains(r#"offset=8&limit=4>; rel="next""#), "{link}");
    assert!(link.contains(r#"offset=0&limit=4>; rel="prev""#), "{link}");
    let (_, third, link) = page("offset=8&limit=4").await;
    assert_eq!(third.len(), 2);
    assert!(!link.contains("next") && link.contains("prev"), "{link}");
    let mut all: Vec<String> = [first, second, third].concat();
    let listed = all.len();
    all.sort();
    all.dedup();
    assert_eq!(
        (listed, all.len()),
        (10, 10),
        "every decision once across the pages"
    );
    for bad in ["limit=0", "limit=501", "offset=-1"] {
        let (status, _, _) = page(bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    }
}

/// Presses the Office 365 page's Test with `mailbox`; the outcome's code and the page.
async fn press_test(app: &TestApp, admin: &AdminClient, mailbox: &str) -> (String, String) {
    let r = post_form(
        admin,
        &app.url("/admin/office365/test"),
        &[("mailbox", mailbox)],
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let page = r.text().await.unwrap();
    let code = page
        .split(r#"data-outcome=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_default()
        .to_owned();
    (code, page)
}

#[tokio::test]
async fn the_office_365_test_button_tells_success_a_wrong_secret_no_consent_and_an_unknown_mailbox_apart()
 {
    let (app, entra) = spawn_app_with_entra().await;
    let admin = app.login_as_admin().await;
    app.create_employee("anna@firm.cz", false).await;
    entra.graph().add_mailbox("anna@firm.cz", "Anna");
    let save = |secret: String| {
        let (admin, app, entra) = (&admin, &app, &entra);
        async move {
            let pairs = [
                ("client_id", entra.client_id()),
                ("tenant_id", entra.tenant()),
                ("client_secret", secret),
            ];
            let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let r = post_form(admin, &app.url("/admin/office365"), &pairs).await;
            assert_eq!(r.status(), StatusCode::SEE_OTHER);
        }
    };
    save(entra.client_secret()).await;
    let (_, page) = html(&admin, &app.url("/admin/office365"), "en").await;
    assert!(page.contains(r#"<option value="anna@firm.cz">"#), "{page}");

    let (code, page) = press_test(&app, &admin, "anna@firm.cz").await;
    assert_eq!(code, "ok", "{page}");
    assert!(
        page.contains("the calendar of anna@firm.cz can be read"),
        "{page}"
    );
    let (code, page) = press_test(&app, &admin, "nobody@firm.cz").await;
    assert_eq!(code, "mailbox_not_found", "{page}");
    assert!(page.contains("nobody@firm.cz has no Exchange Online mailbox"));
    entra.graph().set_app_roles(&[]);
    let (code, page) = press_test(&app, &admin, "anna@firm.cz").await;
    assert_eq!(code, "no_consent", "{page}");
    assert!(page.contains("Calendars.ReadWrite") && page.contains("admin consent"));
    entra.graph().set_app_roles(&["Calendars.ReadWrite"]);
    save("wrong-secret-value".into()).await;
    let (code, page) = press_test(&app, &admin, "anna@firm.cz").await;
    assert_eq!(code, "bad_credentials", "{page}");
    assert!(page.contains("Microsoft did not accept"), "{page}");
    assert!(!page.contains(&entra.client_secret()));
    let (code, page) = press_test(&app, &admin, "not an address").await;
    assert_eq!(code, "not_run", "{page}");
    assert!(page.contains(r#"id="f-mailbox-error""#), "{page}");
}
