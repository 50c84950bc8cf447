//! The admin web UI (server-rendered pages under `/admin`): sign-in, CSRF on every form,
//! validation next to the fields with typed values kept, the CRM, webhook, Office 365 and
//! employee flows against raynet-sim and entra-sim, languages, and secrets never in pages.

use reqwest::{Client, StatusCode, header};
use server::settings::{CompanySettings, Setting, WebhookSettings};
use tests::{
    AdminClient, TestApp, TestDb,
    raynet_sim::{RaynetSim, SimOptions},
    server::spawn_app_public,
    spawn_app, spawn_app_with_entra,
};

fn encode(pairs: &[(&str, &str)]) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

/// Posts a form with the session's CSRF token field added.
async fn post_form(admin: &AdminClient, url: &str, pairs: &[(&str, &str)]) -> reqwest::Response {
    let mut all = pairs.to_vec();
    all.push(("csrf_token", &admin.csrf));
    admin
        .client
        .post(url)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(encode(&all))
        .send()
        .await
        .unwrap()
}

async fn page(client: &Client, url: &str) -> (StatusCode, String) {
    let r = client.get(url).send().await.unwrap();
    (r.status(), r.text().await.unwrap())
}

fn location(r: &reqwest::Response) -> String {
    r.headers()[header::LOCATION].to_str().unwrap().to_owned()
}

async fn sim() -> RaynetSim {
    RaynetSim::start(SimOptions::default()).await.unwrap()
}

async fn connect_crm(app: &TestApp, admin: &AdminClient, sim: &RaynetSim) {
    let r = post_form(
        admin,
        &app.url("/admin/crm"),
        &[
            ("base_url", &sim.url),
            ("instance", &sim.instance),
            ("user_email", &sim.admin.username),
            ("api_key", &sim.admin.api_key),
        ],
    )
    .await;
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "{}",
        r.text().await.unwrap()
    );
}

#[tokio::test]
async fn a_visitor_is_sent_to_sign_in_and_the_sign_in_form_opens_the_page_asked_for() {
    let app = spawn_app().await;
    app.create_employee("boss@example.com", true).await;
    let r = app
        .client
        .get(app.url("/admin/company"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/admin/login?next=%2Fadmin%2Fcompany");
    let (status, html) = page(&app.client, &app.url("/admin/login")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(r#"name="password""#));

    let wrong = app
        .client
        .post(app.url("/admin/login"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(encode(&[
            ("email", "boss@example.com"),
            ("password", "nope"),
            ("next", "/admin/crm"),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let text = wrong.text().await.unwrap();
    assert!(text.contains("Wrong e-mail or password."), "{text}");
    assert!(
        text.contains("boss@example.com"),
        "the typed e-mail is kept"
    );

    let ok = app
        .client
        .post(app.url("/admin/login"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(encode(&[
            ("email", "boss@example.com"),
            ("password", tests::server::TEST_PASSWORD),
            ("next", "/admin/crm"),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&ok), "/admin/crm");
    let (status, html) = page(&app.client, &app.url("/admin/crm")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Test connection"));
}

#[tokio::test]
async fn sign_in_never_redirects_off_site() {
    let app = spawn_app().await;
    app.create_employee("boss@example.com", true).await;
    for next in [
        "https://evil.example/",
        "//evil.example/admin",
        "/api/admin/session",
    ] {
        // A fresh browser each time: a signed-in one would need the CSRF token.
        let browser = Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let r = browser
            .post(app.url("/admin/login"))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(encode(&[
                ("email", "boss@example.com"),
                ("password", tests::server::TEST_PASSWORD),
                ("next", next),
            ]))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&r), "/admin/company", "next = {next}");
    }
}

#[tokio::test]
async fn every_admin_page_renders_for_an_admin_in_english_and_czech() {
    let app = spawn_app().await;
    let admin = app.login_as_admin().await;
    let pages = [
        ("/admin/company", "IČO"),
        ("/admin/crm", "API"),
        ("/admin/webhook", "Webhook"),
        ("/admin/import", "Import"),
        ("/admin/office365", "Office 365"),
        ("/admin/employees", "admin@example.com"),
        ("/admin/employees/new", "CRM"),
        ("/admin/sync", "Meetings only"),
        ("/admin/sync/trace", "Calendar sync trace"),
        ("/admin/health", "Webhook"),
        ("/admin/audit", "employee"),
        ("/admin/account", "password"),
    ];
    for (path, needle) in pages {
        let (status, html) = page(&admin.client, &app.url(path)).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(html.contains(r#"<html lang="en">"#), "{path}");
        assert!(
            html.contains(needle) || path == "/admin/audit",
            "{path} lacks {needle}"
        );
        assert!(html.contains("/admin/assets/admin.css"));
    }
    let r = admin
        .client
        .get(app.url("/admin/sync"))
        .header(header::ACCEPT_LANGUAGE, "cs-CZ,cs;q=0.9,en;q=0.5")
        .send()
        .await
        .unwrap();
    let html = r.text().await.unwrap();
    assert!(html.contains(r#"<html lang="cs">"#));
    assert!(html.contains("Jen schůzky (doporučeno)"), "{html}");
    for asset in ["/admin/assets/admin.css", "/admin/assets/admin.js"] {
        let r = app.client.get(app.url(asset)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{asset}");
    }
}

#[tokio::test]
async fn the_language_switch_is_saved_on_the_account_and_wins_over_the_browser() {
    let app = spawn_app().await;
    let admin = app.login_as_admin().await;
    let r = post_form(
        &admin,
        &app.url("/admin/language"),
        &[("lang", "cs"), ("back", "/admin/sync")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/admin/sync");
    let saved = app
        .state
        .store
        .employee(&admin.employee_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(saved.language.as_deref(), Some("cs"));
    let html = admin
        .client
        .get(app.url("/admin/company"))
        .header(header::ACCEPT_LANGUAGE, "en")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("Název firmy"),
        "Czech from the saved preference"
    );
    let bad = post_form(&admin, &app.url("/admin/language"), &[("lang", "xx")]).await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn forms_without_the_csrf_token_are_refused() {
    let app = spawn_app().await;
    let admin = app.login_as_admin().await;
    for path in [
        "/admin/company",
        "/admin/sync",
        "/admin/webhook/generate",
        "/admin/logout",
    ] {
        let r = admin
            .client
            .post(app.url(path))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(encode(&[("name", "X"), ("participant_mode", "none")]))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path}");
    }
    assert_eq!(
        CompanySettings::load(app.state.store.as_ref())
            .await
            .unwrap(),
        CompanySettings::default()
    );
}

#[tokio::test]
async fn an_employee_without_the_admin_role_gets_a_forbidden_page() {
    let app = spawn_app().await;
    app.create_employee("worker@example.com", false).await;
    let worker = app.login("worker@example.com").await;
    for path in ["/admin/company", "/admin/employees", "/admin/health"] {
        let (status, html) = page(&worker.client, &app.url(path)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
        assert!(html.contains("This page is for administrators"));
    }
    let (status, _) = page(&worker.client, &app.url("/admin/account")).await;
    assert_eq!(status, StatusCode::OK);
    let r = post_form(&worker, &app.url("/admin/company"), &[("name", "Mine")]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn company_errors_show_next_to_the_field_and_keep_what_was_typed() {
    let app = spawn_app().await;
    let admin = app.login_as_admin().await;
    let r = post_form(
        &admin,
        &app.url("/admin/company"),
        &[
            ("name", "Typed Name s.r.o."),
            ("ico", "25607805"),
            ("dic", "CZ12"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(html.contains(r#"value="Typed Name s.r.o.""#));
    assert!(html.contains(r#"value="25607805""#));
    assert!(html.contains(r#"id="f-ico-error""#) && html.contains("wrong check digit"));
    assert!(html.contains(r#"id="f-dic-error""#));
    assert!(html.contains(r#"aria-describedby="f-ico-hint f-ico-error""#));
    assert!(!html.contains(r#"id="f-name-error""#));
    assert_eq!(
        CompanySettings::load(app.state.store.as_ref())
            .await
            .unwrap(),
        CompanySettings::default()
    );

    let ok = post_form(
        &admin,
        &app.url("/admin/company"),
        &[
            ("name", "Acme s.r.o."),
            ("ico", "25607804"),
            ("dic", "cz25607804"),
        ],
    )
    .await;
    assert_eq!(ok.status(), StatusCode::SEE_OTHER);
    let saved = CompanySettings::load(app.state.store.as_ref())
        .await
        .unwrap();
    assert_eq!(
        (saved.ico.as_str(), saved.dic.as_str()),
        ("25607804", "CZ25607804")
    );
    let (_, html) = page(&admin.client, &app.url("/admin/company?ok=saved")).await;
    assert!(html.contains("Saved.") && html.contains("Acme s.r.o."));
}

#[tokio::test]
async fn the_crm_connection_is_tested_in_words_and_its_key_never_shows() {
    let app = spawn_app().await;
    let sim = sim().await;
    let admin = app.login_as_admin().await;
    let fields = [
        ("base_url", sim.url.as_str()),
        ("instance", sim.instance.as_str()),
        ("user_email", sim.admin.username.as_str()),
        ("api_key", "wrong-key-0000000000"),
    ];
    let bad = post_form(&admin, &app.url("/admin/crm/test"), &fields).await;
    let html = bad.text().await.unwrap();
    assert!(html.contains("The connection does not work."), "{html}");
    assert!(
        html.contains(&format!(r#"value="{}""#, sim.instance)),
        "typed values stay"
    );

    connect_crm(&app, &admin, &sim).await;
    let mut stored = fields;
    stored[3] = ("api_key", "");
    let good = post_form(&admin, &app.url("/admin/crm/test"), &stored).await;
    let html = good.text().await.unwrap();
    assert!(html.contains("The connection works."), "{html}");
    assert!(html.contains(&sim.admin.username));
    assert!(html.contains("requests are left today"));
    assert!(
        !html.contains(&sim.admin.api_key),
        "the API key is in the page"
    );
    let (_, html) = page(&admin.client, &app.url("/admin/crm")).await;
    assert!(!html.contains(&sim.admin.api_key));
    assert!(html.contains("A key is stored (••••"));
}

#[tokio::test]
async fn the_webhook_is_generated_registered_in_the_crm_and_deleted() {
    let app = spawn_app_public(TestDb::for_this_run().await, |_| {}).await;
    let sim = sim().await;
    let admin = app.login_as_admin().await;
    connect_crm(&app, &admin, &sim).await;

    let r = post_form(&admin, &app.url("/admin/webhook/create"), &[]).await;
    assert_eq!(r.status(), StatusCode::CONFLICT, "no id yet");
    let r = post_form(&admin, &app.url("/admin/webhook/generate"), &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let first = WebhookSettings::load(app.state.store.as_ref())
        .await
        .unwrap();
    assert!(first.webhook_id.len() >= 22, "at least 128 random bits");
    let r = post_form(&admin, &app.url("/admin/webhook/generate"), &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let hook = WebhookSettings::load(app.state.store.as_ref())
        .await
        .unwrap();
    assert_ne!(hook.webhook_id, first.webhook_id);
    let url = format!("{}/api/raynet-event/{}", app.base_url, hook.webhook_id);
    let (_, html) = page(&admin.client, &app.url("/admin/webhook")).await;
    assert!(html.contains(&url), "the exact URL is shown");
    assert!(html.contains("Not registered in Raynet."));

    let r = post_form(&admin, &app.url("/admin/webhook/create"), &[]).await;
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "{}",
        r.text().await.unwrap()
    );
    let hooks = sim.sim.webhooks();
    assert_eq!(hooks.len(), 1);
    assert_eq!(hooks[0].url, url);
    assert_eq!(
        hooks[0].events,
        ["record.created", "record.updated", "record.deleted"]
    );
    let token = hooks[0].secret_token.clone().expect("a secret token");
    let saved = WebhookSettings::load(app.state.store.as_ref())
        .await
        .unwrap();
    assert_eq!(
        saved.crm_webhook_id.as_deref(),
        Some(hooks[0].uuid.as_str())
    );
    let (_, html) = page(&admin.client, &app.url("/admin/webhook")).await;
    assert!(html.contains("Registered in Raynet on"));
    assert!(!html.contains(&token), "the secret token is in the page");

    // Recreate: a fresh token, still one webhook.
    post_form(&admin, &app.url("/admin/webhook/create"), &[]).await;
    let hooks = sim.sim.webhooks();
    assert_eq!(hooks.len(), 1);
    assert_ne!(hooks[0].secret_token.as_deref(), Some(token.as_str()));

    let r = post_form(&admin, &app.url("/admin/webhook/delete"), &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(sim.sim.webhooks().is_empty());
    let saved = WebhookSettings::load(app.state.store.as_ref())
        .await
        .unwrap();
    assert_eq!(saved.crm_webhook_id, None);
    assert_eq!(saved.webhook_id, hook.webhook_id);
}

#[tokio::test]
async fn the_office_365_test_asks_the_authority_for_a_token_and_reports_in_words() {
    let (app, entra) = spawn_app_with_entra().await;
    let admin = app.login_as_admin().await;
    let bad = post_form(
        &admin,
        &app.url("/admin/office365"),
        &[
            ("client_id", "not-a-guid"),
            ("tenant_id", &entra.tenant()),
            ("client_secret", ""),
        ],
    )
    .await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        bad.text()
            .await
            .unwrap()
            .contains(r#"id="f-client_id-error""#)
    );

    let save = |secret: String| {
        let admin = &admin;
        let app = &app;
        let entra = &entra;
        async move {
            let r = post_form(
                admin,
                &app.url("/admin/office365"),
                &[
                    ("client_id", &entra.client_id()),
                    ("tenant_id", &entra.tenant()),
                    ("client_secret", &secret),
                ],
            )
            .await;
            assert_eq!(r.status(), StatusCode::SEE_OTHER);
        }
    };
    save("wrong-secret-value".into()).await;
    let html = post_form(&admin, &app.url("/admin/office365/test"), &[])
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("Microsoft did not accept"), "{html}");
    assert!(html.contains("AADSTS7000215"));

    save(entra.client_secret()).await;
    let html = post_form(&admin, &app.url("/admin/office365/test"), &[])
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("Microsoft accepted the app"), "{html}");
    assert!(
        !html.contains(&entra.client_secret()),
        "the client secret is in the page"
    );
    // The test server's public URL is plain http, so the page says why there is no manifest.
    assert!(
        html.contains("Outlook loads add-ins only over HTTPS"),
        "{html}"
    );
}

#[tokio::test]
async fn the_office_365_test_tries_the_typed_values_and_names_what_is_missing() {
    let (app, entra) = spawn_app_with_entra().await;
    let admin = app.login_as_admin().await;
    // Nothing saved yet but the ids (spawn_app_with_entra); no secret typed either.
    let html = post_form(&admin, &app.url("/admin/office365/test"), &[])
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("The test did not run."), "{html}");
    assert!(html.contains("Fill in first: Client secret"), "{html}");
    assert!(!html.contains("Microsoft did not accept"), "{html}");
    // Typed, unsaved values are what is tested.
    let html = post_form(
        &admin,
        &app.url("/admin/office365/test"),
        &[
            ("client_id", &entra.client_id()),
            ("tenant_id", &entra.tenant()),
            ("client_secret", &entra.client_secret()),
        ],
    )
    .await
    .text()
    .await
    .unwrap();
    assert!(html.contains("Microsoft accepted the app"), "{html}");
    let saved = server::identity::office365::Office365Settings::load(&app.state)
        .await
        .unwrap();
    assert!(saved.client_secret_enc.is_none(), "a test saves nothing");
}

#[tokio::test]
async fn an_employee_is_created_tested_with_their_key_and_deactivated() {
    let app = spawn_app().await;
    let sim = sim().await;
    let admin = app.login_as_admin().await;
    connect_crm(&app, &admin, &sim).await;
    let user = sim
        .sim
        .add_user("jana@firma.cz", "FULL_THROTTLE", "Jana Nováková");

    let bad = post_form(
        &admin,
        &app.url("/admin/employees/new"),
        &[
            ("identifier", ""),
            ("o365_email", "not-an-email"),
            ("crm_api_key", "k"),
        ],
    )
    .await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = bad.text().await.unwrap();
    assert!(
        html.contains(r#"id="f-identifier-error""#) && html.contains(r#"value="not-an-email""#)
    );

    let r = post_form(
        &admin,
        &app.url("/admin/employees/new"),
        &[
            ("identifier", "E-042"),
            ("login_email", ""),
            ("crm_user_email", &user.username),
            ("crm_api_key", &user.api_key),
            ("o365_email", "jana@firma.cz"),
            ("role", "employee"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let to = location(&r);
    let id = to
        .trim_start_matches("/admin/employees/")
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    let (_, html) = page(&admin.client, &app.url(&to)).await;
    assert!(
        html.contains("Created.") && html.contains("Not yet"),
        "not signed in from Outlook"
    );
    assert!(!html.contains(&user.api_key));

    let html = post_form(
        &admin,
        &app.url(&format!("/admin/employees/{id}/test")),
        &[],
    )
    .await
    .text()
    .await
    .unwrap();
    assert!(html.contains("The connection works."), "{html}");
    assert!(html.contains("Jana Nováková"));
    assert!(!html.contains(&user.api_key));

    let (_, list) = page(&admin.client, &app.url("/admin/employees?q=E-04")).await;
    assert!(list.contains("E-042") && !list.contains("admin@example.com</td>"));

    let r = post_form(
        &admin,
        &app.url(&format!("/admin/employees/{id}/active")),
        &[("active", "false")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let employee = app.state.store.employee(&id).await.unwrap().unwrap();
    assert!(!employee.active);
}

#[tokio::test]
async fn changes_made_in_the_pages_are_in_the_audit_log_page() {
    let app = spawn_app().await;
    let admin = app.login_as_admin().await;
    let r = post_form(
        &admin,
        &app.url("/admin/sync"),
        &[("participant_mode", "none"), ("category", "Raynet")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, html) = page(&admin.client, &app.url("/admin/audit")).await;
    // In words, not codes.
    assert!(html.contains("Sync parameters changed") && html.contains("admin@example.com"));
    assert!(html.contains("Calendar sync settings changed"), "{html}");
    assert!(!html.contains("sync.update"), "{html}");
}

#[tokio::test]
async fn the_password_is_changed_from_the_account_page() {
    let app = spawn_app().await;
    let admin = app.login_as_admin().await;
    let wrong = post_form(
        &admin,
        &app.url("/admin/account"),
        &[
            ("current_password", "not it at all"),
            ("new_password", "a brand new password"),
        ],
    )
    .await;
    assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        wrong
            .text()
            .await
            .unwrap()
            .contains("The current password is wrong.")
    );
    let ok = post_form(
        &admin,
        &app.url("/admin/account"),
        &[
            ("current_password", tests::server::TEST_PASSWORD),
            ("new_password", "a brand new password"),
        ],
    )
    .await;
    assert_eq!(ok.status(), StatusCode::SEE_OTHER);
    let out = post_form(&admin, &app.url("/admin/logout"), &[]).await;
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    let (status, _) = page(&admin.client, &app.url("/admin/company")).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "signed out");
}
