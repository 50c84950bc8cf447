//! The sign-in throttling policy (issue 15, findings 3 and 11): a growing delay per account
//! instead of a lock, a per-address limit that believes `X-Forwarded-For` only from trusted
//! proxies, a device cookie that keeps the owner signing in during an attack, the password
//! change throttled like sign-in, and CSRF tokens stored only as a hash.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::json;
use sha2::Digest;
use tests::{TestApp, TestDb, server::TEST_PASSWORD, spawn_app_with};

async fn app_behind_proxy(db: TestDb, max_failed: u32) -> TestApp {
    spawn_app_with(db, |c| {
        c.admin.max_failed_logins = max_failed;
        c.server.trusted_proxies = vec!["127.0.0.1".into()];
    })
    .await
}

async fn sign_in(
    app: &TestApp,
    client: &reqwest::Client,
    from: &str,
    email: &str,
    password: &str,
) -> reqwest::Response {
    client
        .post(app.url("/api/admin/session"))
        .header("x-forwarded-for", from)
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap()
}

fn jar() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap()
}

/// Wrong passwords for `email` from ever new addresses until `failures` were checked, waiting
/// out each delay the account asks for.
async fn attack(app: &TestApp, email: &str, failures: usize) {
    let mut checked = 0;
    for i in 1..100 {
        let from = format!("198.51.100.{i}");
        let r = sign_in(app, &jar(), &from, email, "wrong password!").await;
        match r.status() {
            StatusCode::UNAUTHORIZED => checked += 1,
            StatusCode::TOO_MANY_REQUESTS => {
                let wait: u64 = r.headers()["retry-after"]
                    .to_str()
                    .unwrap()
                    .parse()
                    .unwrap();
                tokio::time::sleep(Duration::from_millis(wait * 1000 + 50)).await;
            }
            other => panic!("{other}"),
        }
        if checked == failures {
            return;
        }
    }
    panic!("the attack did not get {failures} checks");
}

#[tokio::test]
async fn wrong_passwords_from_many_addresses_delay_the_account_instead_of_locking_it() {
    let app = app_behind_proxy(TestDb::for_this_run().await, 1).await;
    app.create_employee("boss@example.com", true).await;
    // One free failure, then one after a 1 s delay: the next attempt waits 2 s.
    attack(&app, "boss@example.com", 2).await;
    let early = sign_in(&app, &jar(), "192.0.2.9", "boss@example.com", TEST_PASSWORD).await;
    assert_eq!(early.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = early.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (1..=2).contains(&wait),
        "a short delay, not a lock: {wait} s"
    );
    tokio::time::sleep(Duration::from_millis(wait * 1000 + 50)).await;
    let later = sign_in(&app, &jar(), "192.0.2.9", "boss@example.com", TEST_PASSWORD).await;
    assert_eq!(
        later.status(),
        StatusCode::OK,
        "the owner gets in after the delay"
    );
}

#[tokio::test]
async fn a_browser_that_signed_in_before_is_not_blocked_by_an_attack_on_its_account() {
    for db in tests::all_backends().await {
        let backend = db.backend;
        let app = app_behind_proxy(db, 1).await;
        app.create_employee("boss@example.com", true).await;
        let owner = jar();
        let first = sign_in(
            &app,
            &owner,
            "203.0.113.5",
            "boss@example.com",
            TEST_PASSWORD,
        )
        .await;
        assert_eq!(first.status(), StatusCode::OK, "{backend}");
        let cookies: Vec<_> = first.headers().get_all("set-cookie").iter().collect();
        assert!(
            cookies
                .iter()
                .any(|c| c.to_str().unwrap().starts_with("crm_bridge_device=")),
            "{backend}: a device cookie is set: {cookies:?}"
        );
        // Three checked failures: the account now makes new browsers wait 4 s.
        attack(&app, "boss@example.com", 3).await;
        let stranger = sign_in(&app, &jar(), "192.0.2.1", "boss@example.com", TEST_PASSWORD).await;
        assert_eq!(
            stranger.status(),
            StatusCode::TOO_MANY_REQUESTS,
            "{backend}: a new browser waits out the account's delay"
        );
        let again = sign_in(
            &app,
            &owner,
            "203.0.113.5",
            "boss@example.com",
            TEST_PASSWORD,
        )
        .await;
        assert_eq!(
            again.status(),
            StatusCode::OK,
            "{backend}: the known browser signs in at once"
        );
    }
}

#[tokio::test]
async fn one_address_behind_a_trusted_proxy_does_not_block_another() {
    let app = app_behind_proxy(TestDb::for_this_run().await, 3).await;
    app.create_employee("boss@example.com", true).await;
    for i in 0..3 {
        let email = format!("guess{i}@example.com");
        let r = sign_in(&app, &jar(), "198.51.100.66", &email, "whatever").await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    let attacker = sign_in(&app, &jar(), "198.51.100.66", "boss@example.com", "x").await;
    assert_eq!(attacker.status(), StatusCode::TOO_MANY_REQUESTS);
    let owner = sign_in(
        &app,
        &jar(),
        "203.0.113.5",
        "boss@example.com",
        TEST_PASSWORD,
    )
    .await;
    assert_eq!(owner.status(), StatusCode::OK);
}

#[tokio::test]
async fn forwarded_for_from_an_untrusted_peer_is_ignored() {
    let app = spawn_app_with(TestDb::for_this_run().await, |c| {
        c.admin.max_failed_logins = 3
    })
    .await;
    app.create_employee("boss@example.com", true).await;
    for i in 0..3 {
        let (from, email) = (format!("198.51.100.{i}"), format!("guess{i}@example.com"));
        let r = sign_in(&app, &jar(), &from, &email, "whatever").await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    let forged = sign_in(
        &app,
        &jar(),
        "203.0.113.77",
        "boss@example.com",
        TEST_PASSWORD,
    )
    .await;
    assert_eq!(
        forged.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "a forged X-Forwarded-For does not escape the peer's limit"
    );
}

#[tokio::test]
async fn wrong_current_passwords_are_throttled_like_sign_ins() {
    let app = spawn_app_with(TestDb::for_this_run().await, |c| {
        c.admin.max_failed_logins = 3
    })
    .await;
    let admin = app.login_as_admin().await;
    let url = app.url("/api/admin/password");
    let change = |current: &str| {
        admin
            .send_with_csrf(Method::POST, &url)
            .json(&json!({"current_password": current, "new_password": "a brand new password"}))
            .send()
    };
    for _ in 0..3 {
        let r = change("wrong wrong wrong").await.unwrap();
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    let blocked = change(TEST_PASSWORD).await.unwrap();
    assert_eq!(blocked.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(blocked.headers().contains_key("retry-after"));
}

#[tokio::test]
async fn csrf_tokens_are_stored_only_as_a_hash() {
    for db in tests::all_backends().await {
        let backend = db.backend;
        let app = spawn_app_with(db, |_| {}).await;
        let admin = app.login_as_admin().await;
        let stored = raw_text(&app.db, "SELECT csrf_hash FROM admin_sessions").await;
        assert_ne!(stored, admin.csrf, "{backend}");
        let expected: String = sha2::Sha256::digest(admin.csrf.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(stored, expected, "{backend}");
        let changed = admin
            .send_with_csrf(
                Method::PUT,
                &app.url(&format!("/api/admin/employees/{}", admin.employee_id)),
            )
            .json(&json!({"identifier": "Boss"}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            changed.status(),
            StatusCode::OK,
            "{backend}: the token works"
        );
    }
}

async fn raw_text(db: &TestDb, sql: &str) -> String {
    let sql = sqlx::AssertSqlSafe(sql.to_owned());
    if db.backend == "postgres" {
        let pool = sqlx::PgPool::connect(db.url.expose()).await.unwrap();
        sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap()
    } else {
        let pool = sqlx::SqlitePool::connect(db.url.expose()).await.unwrap();
        sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap()
    }
}
