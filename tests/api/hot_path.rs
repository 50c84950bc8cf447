//! The add-in's hot path reads employees, trust settings and recent picks from memory: it needs
//! no database round trip once warm, and a change made on any instance (here: deactivating an
//! employee, distrusting a tenant) reaches every instance within a second.

use std::time::Duration;

use reqwest::StatusCode;
use tests::{TestApp, TestDb, entra_sim::EntraSim, mint_token_for, stack::eventually};

/// Everything a change may take to reach every instance.
const WITHIN: Duration = Duration::from_secs(1);

async fn status(app: &TestApp, path: &str, token: &str) -> StatusCode {
    app.client
        .get(app.url(path))
        .bearer_auth(token)
        .timeout(Duration::from_secs(3))
        .send()
        .await
        .map(|r| r.status())
        .unwrap_or(StatusCode::REQUEST_TIMEOUT)
}

/// A second server on `first`'s database, trusting the same simulator.
async fn second_instance(first: &TestApp, sim: &EntraSim) -> TestApp {
    tests::spawn_second_instance(first, sim.authority(), |_| {}).await
}

/// The instances of this run's backend: two on PostgreSQL, the one on SQLite.
async fn instances() -> (Vec<TestApp>, EntraSim) {
    let (first, sim) = tests::spawn_app_with_entra_on(TestDb::for_this_run().await).await;
    let mut apps = vec![first];
    if apps[0].db.backend == "postgres" {
        let second = second_instance(&apps[0], &sim).await;
        apps.push(second);
    }
    (apps, sim)
}

#[tokio::test]
async fn a_deactivated_employee_is_refused_within_a_second_on_every_instance() {
    // Arrange: the employee has used the add-in on every instance, so each has them in memory.
    let (apps, sim) = instances().await;
    let employee = apps[0].create_employee("leaving@example.com", false).await;
    let token = mint_token_for(&sim, &employee);
    for app in &apps {
        assert_eq!(status(app, "/api/addin/me", &token).await, StatusCode::OK);
    }
    let admin = apps[0].login_as_admin().await;

    // Act: the admin deactivates them on the first instance.
    let response = admin
        .send_with_csrf(
            reqwest::Method::PUT,
            &apps[0].url(&format!("/api/admin/employees/{}", employee.id)),
        )
        .json(&serde_json::json!({ "active": false }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    // Assert
    for (n, app) in apps.iter().enumerate() {
        let refused = eventually(WITHIN, || async {
            status(app, "/api/addin/me", &token).await == StatusCode::FORBIDDEN
        })
        .await;
        assert!(
            refused.is_some(),
            "instance {n} still served the employee after {WITHIN:?}"
        );
    }
}

#[tokio::test]
async fn a_tenant_no_longer_trusted_is_refused_within_a_second_on_every_instance() {
    let (apps, sim) = instances().await;
    let employee = apps[0].create_employee("tenant@example.com", false).await;
    let token = mint_token_for(&sim, &employee);
    for app in &apps {
        assert_eq!(status(app, "/api/addin/me", &token).await, StatusCode::OK);
    }

    let settings = server::identity::office365::Office365Settings {
        client_id: sim.client_id(),
        tenant_id: "0a1b2c3d-0000-4000-8000-00000000dead".into(),
        ..Default::default()
    };
    settings.save(&apps[0].state).await.unwrap();

    for (n, app) in apps.iter().enumerate() {
        let refused = eventually(WITHIN, || async {
            status(app, "/api/addin/me", &token).await == StatusCode::UNAUTHORIZED
        })
        .await;
        assert!(
            refused.is_some(),
            "instance {n} still trusted the old tenant after {WITHIN:?}"
        );
    }
}

#[tokio::test]
async fn lookups_need_no_database_round_trip_once_warm() {
    // PostgreSQL can lock the tables the hot path used to read; SQLite's readers never wait.
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let (app, sim) = tests::spawn_app_with_entra_on(db).await;
    let employee = app.create_employee("fast@example.com", false).await;
    let token = mint_token_for(&sim, &employee);
    let live = eventually(WITHIN, || async { app.state.caches.is_live() }).await;
    assert!(live.is_some(), "the caches never followed the database");
    // The first request binds the sign-in to the employee (a change, announced a moment later).
    let lookup = "/api/addin/lookup?kind=company&q=a";
    assert_eq!(status(&app, lookup, &token).await, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(status(&app, lookup, &token).await, StatusCode::OK);

    // Any query on these tables now waits until the transaction ends.
    let mut locker = <sqlx::PgConnection as sqlx::Connection>::connect(app.db.url.expose())
        .await
        .unwrap();
    sqlx::query("BEGIN").execute(&mut locker).await.unwrap();
    sqlx::query("LOCK TABLE employees, settings, recent_picks IN ACCESS EXCLUSIVE MODE")
        .execute(&mut locker)
        .await
        .unwrap();

    let started = std::time::Instant::now();
    assert_eq!(status(&app, lookup, &token).await, StatusCode::OK);
    assert_eq!(status(&app, "/api/addin/me", &token).await, StatusCode::OK);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    sqlx::query("ROLLBACK").execute(&mut locker).await.unwrap();
}
