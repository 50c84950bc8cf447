//! Hardening (issue 15, findings 6–11): the Office 365 e-mail that binds the first Outlook
//! sign-in, bounded metrics, safe redirects, security headers, plain HTTP refused, JSON answers
//! for oversize requests, and private SQLite files.

use std::{process::Stdio, time::Duration};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tests::{
    TestDb,
    process::{command, free_port},
    server::TEST_PASSWORD,
    spawn_app, spawn_app_with, spawn_app_with_entra_on,
};
use tokio::io::{AsyncBufReadExt, BufReader};

#[tokio::test]
async fn an_employee_cannot_change_their_own_office_365_e_mail() {
    let app = spawn_app().await;
    app.login_as_admin().await;
    let me = app.create_employee("self@example.com", false).await;
    let colleague = app.create_employee("colleague@example.com", false).await;
    let worker = app.login("self@example.com").await;
    let refused = worker
        .send_with_csrf(
            Method::PUT,
            &app.url(&format!("/api/admin/employees/{}", me.id)),
        )
        .json(&json!({"o365_email": colleague.o365_email}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let stored = app.state.store.employee(&me.id).await.unwrap().unwrap();
    assert_eq!(stored.o365_email, "self@example.com");
}

#[tokio::test]
async fn two_active_employees_cannot_share_an_office_365_e_mail() {
    for db in tests::all_backends().await {
        let backend = db.backend;
        let app = spawn_app_with(db, |_| {}).await;
        let admin = app.login_as_admin().await;
        let create = |identifier: &str| {
            admin
                .send_with_csrf(Method::POST, &app.url("/api/admin/employees"))
                .json(&json!({"identifier": identifier, "o365_email": "Eva@Example.com"}))
                .send()
        };
        let first: Value = create("eva").await.unwrap().json().await.unwrap();
        let second = create("eva-again").await.unwrap();
        assert_eq!(second.status(), StatusCode::CONFLICT, "{backend}");
        let body: Value = second.json().await.unwrap();
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("Office 365"),
            "{backend}: {body}"
        );
        // A deactivated employee's e-mail is free; reactivating then conflicts.
        let first_url = app.url(&format!(
            "/api/admin/employees/{}",
            first["id"].as_str().unwrap()
        ));
        let off = admin
            .send_with_csrf(Method::PUT, &first_url)
            .json(&json!({"active": false}))
            .send()
            .await
            .unwrap();
        assert_eq!(off.status(), StatusCode::OK, "{backend}");
        assert_eq!(
            create("eva-new").await.unwrap().status(),
            StatusCode::CREATED
        );
        let on = admin
            .send_with_csrf(Method::PUT, &first_url)
            .json(&json!({"active": true}))
            .send()
            .await
            .unwrap();
        assert_eq!(on.status(), StatusCode::CONFLICT, "{backend}");
    }
}

#[tokio::test]
async fn rebinding_a_bound_employee_to_another_microsoft_account_is_refused_and_audited() {
    for db in tests::all_backends().await {
        let backend = db.backend;
        let (app, sim) = spawn_app_with_entra_on(db).await;
        let eva = app.create_employee("eva@example.com", false).await;
        let me = |token: String| {
            let (client, url) = (app.client.clone(), app.url("/api/addin/me"));
            async move {
                client
                    .get(url)
                    .bearer_auth(token)
                    .send()
                    .await
                    .unwrap()
                    .status()
            }
        };
        let own = sim.mint(&json!({"oid": "oid-eva", "preferred_username": "eva@example.com"}));
        assert_eq!(me(own).await, StatusCode::OK, "{backend}");
        let thief = sim.mint(&json!({"oid": "oid-thief", "preferred_username": "eva@example.com"}));
        assert_eq!(me(thief).await, StatusCode::FORBIDDEN, "{backend}");
        let stored = app.state.store.employee(&eva.id).await.unwrap().unwrap();
        assert_eq!(stored.entra_oid.as_deref(), Some("oid-eva"), "{backend}");
        let audit = app.state.store.list_audit(10).await.unwrap();
        assert!(
            audit.iter().any(|e| e.action == "employee.rebind_refused"
                && e.target == format!("employee:{}", eva.id)),
            "{backend}: {audit:?}"
        );
    }
}

#[tokio::test]
async fn random_methods_and_paths_do_not_grow_the_metrics() {
    let app = spawn_app().await;
    let metrics = || async {
        app.client
            .get(app.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    let client = reqwest::Client::new();
    let send = |i: usize| {
        let method = Method::from_bytes(format!("XMETHOD{i}").as_bytes()).unwrap();
        client
            .request(method, app.url(&format!("/nothing/{i}")))
            .send()
    };
    send(0).await.unwrap();
    let before = metrics().await.len();
    for i in 1..300 {
        send(i).await.unwrap();
    }
    let after = metrics().await;
    assert!(!after.contains("XMETHOD"), "raw methods are not labels");
    assert!(!after.contains("/nothing/"), "raw paths are not labels");
    assert!(after.contains("method=\"other\""), "{after}");
    assert!(
        after.len() < before + 2_000,
        "/metrics grew from {before} to {} bytes",
        after.len()
    );
}

fn form(pairs: &[(&str, &str)]) -> String {
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        out.append_pair(k, v);
    }
    out.finish()
}

#[tokio::test]
async fn a_line_break_in_a_redirect_target_falls_back_to_the_default_page() {
    let app = spawn_app().await;
    app.create_employee("boss@example.com", true).await;
    let post = |path: &str, body: String| {
        app.client
            .post(app.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    let language = post(
        "/admin/language",
        form(&[("lang", "cs"), ("back", "/admin\r\nSet-Cookie: evil=1")]),
    )
    .await
    .unwrap();
    assert_eq!(language.status(), StatusCode::SEE_OTHER);
    assert_eq!(language.headers()["location"], "/admin/company");
    let signed_in = post(
        "/admin/login",
        form(&[
            ("email", "boss@example.com"),
            ("password", TEST_PASSWORD),
            ("next", "/admin/crm\r\nX-Evil: 1"),
        ]),
    )
    .await
    .unwrap();
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    assert_eq!(signed_in.headers()["location"], "/admin/company");
    assert!(signed_in.headers().get("x-evil").is_none());
    // Signed out (a fresh client), so no CSRF token is needed.
    let offsite = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(app.url("/admin/language"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[
            ("lang", "en"),
            ("back", "//evil.example.com/admin"),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(offsite.headers()["location"], "/admin/company");
}

#[tokio::test]
async fn admin_pages_have_a_content_security_policy_and_every_response_nosniff() {
    let app = spawn_app().await;
    let page = app
        .client
        .get(app.url("/admin/login"))
        .send()
        .await
        .unwrap();
    let csp = page.headers()["content-security-policy"].to_str().unwrap();
    for part in [
        "default-src 'self'",
        "frame-ancestors 'none'",
        "object-src 'none'",
    ] {
        assert!(csp.contains(part), "{part} in {csp}");
    }
    for path in [
        "/admin/login",
        "/healthz",
        "/api/nothing",
        "/admin/assets/admin.js",
    ] {
        let r = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(r.headers()["x-content-type-options"], "nosniff", "{path}");
        assert!(
            r.headers().get("strict-transport-security").is_none(),
            "{path}: no HSTS over http"
        );
    }
}

#[tokio::test]
async fn https_mode_sends_hsts() {
    let app = spawn_app_with(TestDb::for_this_run().await, |c| {
        c.tls.self_signed = true;
        c.server.public_url = "https://crm.example.com".into();
    })
    .await;
    let client = tests::process::insecure_client();
    let r = client
        .get(format!("https://{}/healthz", app.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let hsts = r.headers()["strict-transport-security"].to_str().unwrap();
    assert!(hsts.starts_with("max-age="), "{hsts}");
}

#[tokio::test]
async fn a_plain_http_public_url_off_loopback_is_refused_unless_a_tls_proxy_is_declared() {
    let db = TestDb::for_this_run().await;
    let mut config = tests::server::test_config(&db);
    config.server.public_url = "http://crm.example.com".into();
    let state = server::build_state(config.clone()).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let refused = tokio::time::timeout(
        Duration::from_secs(10),
        server::serve(state, listener, std::future::pending()),
    )
    .await
    .expect("serve returns at once")
    .unwrap_err()
    .to_string();
    assert!(refused.contains("server.public_url"), "{refused}");
    assert!(refused.contains("behind_tls_proxy"), "{refused}");
    config.server.behind_tls_proxy = true;
    assert!(
        config.check_transport().is_ok(),
        "a declared TLS proxy is accepted"
    );
}

#[tokio::test]
async fn a_session_cookie_without_secure_off_loopback_is_warned_about_at_start() {
    let cwd = tempfile::tempdir().unwrap();
    let bind = format!("127.0.0.1:{}", free_port());
    let mut child = command(cwd.path())
        .args(["--bind", &bind, "serve"])
        .env("CRM_BRIDGE_SERVER__PUBLIC_URL", "https://crm.example.com")
        .env("CRM_BRIDGE_ADMIN__SECURE_COOKIE", "false")
        .env("CRM_BRIDGE_LOG__FORMAT", "text")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let found = tokio::time::timeout(Duration::from_secs(60), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if line.contains("admin.secure_cookie") {
                return true;
            }
        }
        false
    })
    .await
    .unwrap_or(false);
    let _ = child.kill().await;
    assert!(found, "a warning naming admin.secure_cookie");
}

#[tokio::test]
async fn an_overlong_request_target_and_oversize_headers_get_json_errors() {
    let app = spawn_app().await;
    let long = format!("/api/addin/lookup?q={}", "a".repeat(10_000));
    let r = app.client.get(app.url(&long)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::URI_TOO_LONG);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "uri_too_long");
    let r = app
        .client
        .get(app.url("/healthz"))
        .header("x-padding", "b".repeat(40_000))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "headers_too_large");
}

#[cfg(unix)]
#[tokio::test]
async fn the_sqlite_database_files_are_readable_by_their_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let app = spawn_app_with(TestDb::sqlite(), |_| {}).await;
    app.login_as_admin().await;
    let dir = app.db.dir.path().to_path_buf();
    let mut seen = 0;
    for name in ["test.db", "test.db-wal", "test.db-shm"] {
        if let Ok(meta) = std::fs::metadata(dir.join(name)) {
            seen += 1;
            let mode = meta.permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{name} has mode {mode:o}");
        }
    }
    assert!(seen >= 2, "the database and its WAL exist");
}
