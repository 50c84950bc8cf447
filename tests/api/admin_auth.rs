//! Admin UI security: the authorization matrix, CSRF, sessions (cookie, rotation, expiry),
//! sign-in throttling, the setup link, and the employees API rules.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tests::{TestApp, TestDb, spawn_app, spawn_app_with};

/// Every (method, path) of the admin and add-in JSON APIs, from the OpenAPI document.
async fn endpoints(app: &TestApp, prefix: &str) -> Vec<(Method, String)> {
    let doc: Value = app
        .client
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        if !path.starts_with(prefix) {
            continue;
        }
        for method in item.as_object().unwrap().keys() {
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            out.push((method, path.clone()));
        }
    }
    assert!(!out.is_empty(), "no endpoints under {prefix}");
    out
}

fn concrete(path: &str, id: &str) -> String {
    path.replace("{id}", id)
}

#[tokio::test]
async fn the_authorization_matrix_holds_for_every_admin_and_addin_endpoint() {
    let app = spawn_app().await;
    let admin = app.login_as_admin().await;
    app.create_employee("worker@example.com", false).await;
    let worker = app.login("worker@example.com").await;
    let anonymous = reqwest::Client::new();
    let admin_endpoints = endpoints(&app, "/api/admin/").await;
    // What an employee may do: their own session and password (their own record is tested
    // below; here `{id}` is the admin's).
    let employee_allowed = [
        (Method::GET, "/api/admin/session"),
        (Method::DELETE, "/api/admin/session"),
        (Method::POST, "/api/admin/password"),
    ];
    for (method, path) in &admin_endpoints {
        let url = app.url(&concrete(path, &admin.employee_id));
        let is_login = *method == Method::POST && path == "/api/admin/session";
        if !is_login {
            let status = anonymous
                .request(method.clone(), &url)
                .json(&json!({}))
                .send()
                .await
                .unwrap()
                .status();
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "{method} {path} without a session"
            );
        }
        if !is_login && !employee_allowed.contains(&(method.clone(), path.as_str())) {
            let response = worker
                .send_with_csrf(method.clone(), &url)
                .json(&json!({}))
                .send()
                .await
                .unwrap();
            assert_eq!(
                response.status(),
                StatusCode::FORBIDDEN,
                "{method} {path} as employee"
            );
        }
        if !is_login && *method != Method::GET {
            let response = admin
                .client
                .request(method.clone(), &url)
                .json(&json!({}))
                .send()
                .await
                .unwrap();
            assert_eq!(
                response.status(),
                StatusCode::FORBIDDEN,
                "{method} {path} without CSRF"
            );
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["error"]["code"], "csrf", "{method} {path}");
            let wrong = admin
                .client
                .request(method.clone(), &url)
                .header("x-csrf-token", "wrong")
                .json(&json!({}))
                .send()
                .await
                .unwrap();
            assert_eq!(
                wrong.status(),
                StatusCode::FORBIDDEN,
                "{method} {path} wrong CSRF"
            );
        }
    }
    // The admin's session is intact after all that.
    let me = admin
        .client
        .get(app.url("/api/admin/session"))
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    for (method, path) in endpoints(&app, "/api/addin/").await {
        let status = anonymous
            .request(method.clone(), app.url(&path))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "{method} {path} without a token"
        );
    }
}

#[tokio::test]
async fn a_cross_origin_state_change_is_refused_even_with_the_csrf_token() {
    let app = spawn_app().await;
    let admin = app.login_as_admin().await;
    let body = json!({"identifier": "x", "o365_email": "x@example.com"});
    let refused = admin
        .send_with_csrf(Method::POST, &app.url("/api/admin/employees"))
        .header("origin", "https://evil.example.com")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let same = admin
        .send_with_csrf(Method::POST, &app.url("/api/admin/employees"))
        .header("origin", app.base_url.clone())
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(same.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn the_session_cookie_is_http_only_strict_and_secure_when_configured() {
    let app = spawn_app_with(TestDb::for_this_run().await, |c| {
        c.admin.secure_cookie = true;
    })
    .await;
    app.create_employee("boss@example.com", true).await;
    let response = app
        .client
        .post(app.url("/api/admin/session"))
        .json(&json!({"email": "boss@example.com", "password": tests::server::TEST_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    for part in [
        "crm_bridge_session=",
        "HttpOnly",
        "SameSite=Strict",
        "Path=/",
        "Secure",
    ] {
        assert!(cookie.contains(part), "{part} missing in {cookie}");
    }
}

async fn session_count(app: &TestApp) -> i64 {
    raw_i64(&app.db, "SELECT COUNT(*) FROM admin_sessions").await
}

async fn raw_exec(db: &TestDb, sql: &str) {
    let sql = sqlx::AssertSqlSafe(sql.to_owned());
    if db.backend == "postgres" {
        let pool = sqlx::PgPool::connect(db.url.expose()).await.unwrap();
        sqlx::query(sql).execute(&pool).await.unwrap();
    } else {
        let pool = sqlx::SqlitePool::connect(db.url.expose()).await.unwrap();
        sqlx::query(sql).execute(&pool).await.unwrap();
    }
}

async fn raw_i64(db: &TestDb, sql: &str) -> i64 {
    let sql = sqlx::AssertSqlSafe(sql.to_owned());
    if db.backend == "postgres" {
        let pool = sqlx::PgPool::connect(db.url.expose()).await.unwrap();
        sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap()
    } else {
        let pool = sqlx::SqlitePool::connect(db.url.expose()).await.unwrap();
        sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap()
    }
}

#[tokio::test]
async fn signing_in_again_replaces_the_previous_session() {
    let app = spawn_app().await;
    let admin = app.login_as_admin().await;
    assert_eq!(session_count(&app).await, 1);
    let again = admin
        .client
        .post(app.url("/api/admin/session"))
        .json(&json!({"email": "admin@example.com", "password": tests::server::TEST_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(session_count(&app).await, 1, "the old session row is gone");
    let body: Value = again.json().await.unwrap();
    assert_ne!(body["csrf_token"], admin.csrf.as_str());
}

#[tokio::test]
async fn an_idle_session_expires() {
    let app = spawn_app().await;
    let admin = app.login_as_admin().await;
    let idle_ms = 31 * 60 * 1000;
    raw_exec(
        &app.db,
        &format!("UPDATE admin_sessions SET last_seen_at = last_seen_at - {idle_ms}"),
    )
    .await;
    let response = admin
        .client
        .get(app.url("/api/admin/session"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(session_count(&app).await, 0);
}

#[tokio::test]
async fn a_busy_session_still_ends_at_the_absolute_limit() {
    let app = spawn_app().await;
    let admin = app.login_as_admin().await;
    let ok = admin
        .client
        .get(app.url("/api/admin/session"))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    let age_ms = 13 * 3600 * 1000;
    raw_exec(
        &app.db,
        &format!("UPDATE admin_sessions SET created_at = created_at - {age_ms}"),
    )
    .await;
    let response = admin
        .client
        .get(app.url("/api/admin/session"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn logging_out_ends_the_session() {
    let app = spawn_app().await;
    let admin = app.login_as_admin().await;
    let out = admin
        .send_with_csrf(Method::DELETE, &app.url("/api/admin/session"))
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    let after = admin
        .client
        .get(app.url("/api/admin/session"))
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), StatusCode::UNAUTHORIZED);
}

async fn try_login(app: &TestApp, email: &str, password: &str) -> StatusCode {
    reqwest::Client::new()
        .post(app.url("/api/admin/session"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn too_many_failed_sign_ins_for_an_account_get_429_even_with_the_right_password() {
    let app = spawn_app_with(TestDb::for_this_run().await, |c| {
        c.admin.max_failed_logins = 3
    })
    .await;
    app.create_employee("target@example.com", true).await;
    for _ in 0..3 {
        assert_eq!(
            try_login(&app, "target@example.com", "wrong password!").await,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        try_login(&app, "target@example.com", tests::server::TEST_PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn too_many_failed_sign_ins_from_one_address_get_429_for_any_account() {
    let app = spawn_app_with(TestDb::for_this_run().await, |c| {
        c.admin.max_failed_logins = 3
    })
    .await;
    app.create_employee("fresh@example.com", true).await;
    for i in 0..3 {
        let email = format!("guess{i}@example.com");
        assert_eq!(
            try_login(&app, &email, "whatever-password").await,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        try_login(&app, "fresh@example.com", tests::server::TEST_PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS
    );
}

fn form_body(email: &str, form_token: &str) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .append_pair("email", email)
        .append_pair("password", tests::server::TEST_PASSWORD)
        .append_pair("setup_token", form_token)
        .finish()
}

/// The setup form's token from its page (the client keeps the matching cookie).
fn setup_form_token(html: &str) -> String {
    let at = html
        .find("name=\"setup_token\" value=\"")
        .expect("the form carries a token")
        + "name=\"setup_token\" value=\"".len();
    html[at..].split('"').next().unwrap().to_owned()
}

async fn setup_link(app: &tests::TestApp) -> String {
    let link = server::admin::setup::issue_setup_link_if_needed(&app.state)
        .await
        .unwrap()
        .expect("a link while no admin exists");
    link.trim_start_matches(&app.state.config.server.public_base(false))
        .to_owned()
}

#[tokio::test]
async fn the_setup_link_creates_the_first_admin_once() {
    let app = spawn_app().await;
    let path = setup_link(&app).await;
    let form = app.client.get(app.url(&path)).send().await.unwrap();
    assert_eq!(form.status(), StatusCode::OK);
    let html = form.text().await.unwrap();
    assert!(html.contains("<form"));
    assert!(
        html.contains("/admin/assets/admin.css"),
        "styled like the admin pages"
    );
    let token = setup_form_token(&html);
    let created = app
        .client
        .post(app.url(&path))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("origin", &app.base_url)
        .body(form_body("first@example.com", &token))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    app.login("first@example.com").await;
    let reused = app
        .client
        .post(app.url(&path))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form_body("second@example.com", &token))
        .send()
        .await
        .unwrap();
    assert_eq!(reused.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        app.client
            .get(app.url(&path))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );
    assert!(
        server::admin::setup::issue_setup_link_if_needed(&app.state)
            .await
            .unwrap()
            .is_none(),
        "no link once an admin exists"
    );
    let wrong = app
        .client
        .get(app.url("/admin/setup/not-a-token"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_setup_page_keeps_its_origin_in_requests_and_is_in_czech_on_request() {
    let app = spawn_app().await;
    let path = setup_link(&app).await;
    let form = app
        .client
        .get(app.url(&path))
        .header("accept-language", "cs-CZ,cs;q=0.9")
        .send()
        .await
        .unwrap();
    // `no-referrer` makes Chromium send `Origin: null`, which the CSRF check refuses.
    assert_eq!(form.headers()["referrer-policy"], "same-origin");
    let html = form.text().await.unwrap();
    assert!(html.contains("Vytvořit správce"), "{html}");
}

#[tokio::test]
async fn the_setup_form_needs_its_own_token_and_a_same_site_origin() {
    let app = spawn_app().await;
    let path = setup_link(&app).await;
    let html = app
        .client
        .get(app.url(&path))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let token = setup_form_token(&html);
    let forged = app
        .client
        .post(app.url(&path))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form_body("mallory@example.com", "a-guessed-token"))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let null_origin = app
        .client
        .post(app.url(&path))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("origin", "null")
        .body(form_body("mallory@example.com", &token))
        .send()
        .await
        .unwrap();
    assert_eq!(null_origin.status(), StatusCode::FORBIDDEN);
    let foreign = app
        .client
        .post(app.url(&path))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("origin", "https://evil.example")
        .body(form_body("mallory@example.com", &token))
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.state.store.count_active_admins().await.unwrap(), 0);
}

#[tokio::test]
async fn employees_are_validated_and_their_crm_key_is_write_only() {
    let app = spawn_app().await;
    let admin = app.login_as_admin().await;
    let bad = admin
        .send_with_csrf(Method::POST, &app.url("/api/admin/employees"))
        .json(&json!({"identifier": "", "o365_email": "not-an-email"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = bad.json().await.unwrap();
    assert!(body["error"]["fields"]["identifier"].is_string(), "{body}");
    assert!(body["error"]["fields"]["o365_email"].is_string(), "{body}");
    let created = admin
        .send_with_csrf(Method::POST, &app.url("/api/admin/employees"))
        .json(&json!({
            "identifier": "E-042", "login_email": "karel@example.com",
            "o365_email": "Karel@Example.com", "crm_api_key": "raynet-api-key-WXYZ9876"
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let text = created.text().await.unwrap();
    assert!(!text.contains("raynet-api-key-WXYZ9876"), "{text}");
    let view: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(view["has_crm_api_key"], true);
    assert_eq!(view["crm_api_key_masked"], "••••9876");
    assert_eq!(view["o365_email"], "karel@example.com");
    let listed: Value = admin
        .client
        .get(app.url("/api/admin/employees?q=KAREL"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    let audit: Value = admin
        .client
        .get(app.url("/api/admin/audit"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(audit[0]["action"], "employee.create", "{audit}");
    assert_eq!(audit[0]["actor"], "admin@example.com");
    assert!(!audit.to_string().contains("WXYZ9876"));
}

#[tokio::test]
async fn an_employee_may_change_only_their_own_record_and_not_their_role() {
    let app = spawn_app().await;
    let admin = app.login_as_admin().await;
    let me = app.create_employee("self@example.com", false).await;
    let worker = app.login("self@example.com").await;
    let own = app.url(&format!("/api/admin/employees/{}", me.id));
    assert_eq!(
        worker.client.get(&own).send().await.unwrap().status(),
        StatusCode::OK
    );
    let changed = worker
        .send_with_csrf(Method::PUT, &own)
        .json(&json!({"crm_api_key": "my-own-key-00001111"}))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), StatusCode::OK);
    let promote = worker
        .send_with_csrf(Method::PUT, &own)
        .json(&json!({"role": "admin"}))
        .send()
        .await
        .unwrap();
    assert_eq!(promote.status(), StatusCode::FORBIDDEN);
    let other = app.url(&format!("/api/admin/employees/{}", admin.employee_id));
    let touch_other = worker
        .send_with_csrf(Method::PUT, &other)
        .json(&json!({"identifier": "hacked"}))
        .send()
        .await
        .unwrap();
    assert_eq!(touch_other.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn changing_the_password_keeps_this_session_and_needs_the_current_one() {
    let app = spawn_app().await;
    let admin = app.login_as_admin().await;
    let url = app.url("/api/admin/password");
    let wrong = admin
        .send_with_csrf(Method::POST, &url)
        .json(
            &json!({"current_password": "nope nope nope", "new_password": "a brand new password"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let ok = admin
        .send_with_csrf(Method::POST, &url)
        .json(&json!({
            "current_password": tests::server::TEST_PASSWORD,
            "new_password": "a brand new password"
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        try_login(&app, "admin@example.com", "a brand new password").await,
        StatusCode::OK
    );
}
