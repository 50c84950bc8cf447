//! Secrets at rest: sealed in the raw database rows (SQLite and PostgreSQL), absent from the
//! logs, readable after `secrets rotate-key`, and the key file created with mode 0600.

use std::{
    io::Write,
    sync::{Arc, Mutex},
};

use reqwest::{Method, StatusCode};
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use server::secrets::{MasterKey, employee_crm_key_aad, rotate, setting_aad};
use tests::{TestApp, TestDb, all_backends, spawn_app_with};

const CRM_KEY: &str = "raynet-secret-key-QQ7781";
const O365_SECRET: &str = "o365-client-secret-ZZ4455";

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

/// Stores a CRM key and an Office 365 secret through the admin API; returns the employee id.
async fn store_secrets(app: &TestApp) -> String {
    let admin = app.login_as_admin().await;
    let created: Value = admin
        .send_with_csrf(Method::POST, &app.url("/api/admin/employees"))
        .json(&json!({"identifier": "E-1", "o365_email": "e1@example.com", "crm_api_key": CRM_KEY}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let put = admin
        .send_with_csrf(Method::PUT, &app.url("/api/admin/office365"))
        .json(&json!({
            "client_id": "6e74172b-be56-4843-9ff4-e66a39bb12e3",
            "tenant_id": "72f988bf-86f1-41af-91ab-2d7cd011db47",
            "client_secret": O365_SECRET
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), StatusCode::OK);
    let shown = put.text().await.unwrap();
    assert!(!shown.contains(O365_SECRET), "{shown}");
    assert!(shown.contains("••••4455"), "{shown}");
    created["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn secrets_are_stored_encrypted_in_the_raw_rows_on_every_backend() {
    for db in all_backends().await {
        let backend = db.backend;
        let app = spawn_app_with(db, |_| {}).await;
        let id = store_secrets(&app).await;
        let row = raw_text(
            &app.db,
            &format!("SELECT crm_api_key_enc FROM employees WHERE employee_id = '{id}'"),
        )
        .await;
        assert!(row.starts_with("v1:"), "{backend}: {row}");
        assert!(!row.contains(CRM_KEY), "{backend}: {row}");
        let setting = raw_text(
            &app.db,
            "SELECT value FROM settings WHERE key = 'office365'",
        )
        .await;
        assert!(!setting.contains(O365_SECRET), "{backend}: {setting}");
        assert!(
            setting.contains("\"client_secret_enc\":\"v1:"),
            "{backend}: {setting}"
        );
        let opened = app
            .state
            .master_key
            .open(&employee_crm_key_aad(&id), &row)
            .unwrap();
        assert_eq!(opened.expose_secret(), CRM_KEY, "{backend}");
    }
}

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs (once per test binary) a global subscriber that records every log line; a scoped
/// default would miss events while other tests run in parallel.
fn capture_logs() -> Captured {
    static CAPTURED: std::sync::OnceLock<Captured> = std::sync::OnceLock::new();
    CAPTURED
        .get_or_init(|| {
            let captured = Captured::default();
            let sink = captured.clone();
            let subscriber = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new("debug"))
                .with_ansi(false)
                .with_writer(move || sink.clone())
                .finish();
            tracing::subscriber::set_global_default(subscriber)
                .expect("no other global subscriber (run without TEST_LOG=1)");
            captured
        })
        .clone()
}

#[tokio::test]
async fn secrets_never_appear_in_the_logs() {
    let captured = capture_logs();
    let app = spawn_app_with(TestDb::for_this_run().await, |_| {}).await;
    let id = store_secrets(&app).await;
    let admin = app.login_as_admin().await;
    admin
        .client
        .get(app.url(&format!("/api/admin/employees/{id}")))
        .send()
        .await
        .unwrap();
    admin
        .client
        .get(app.url("/api/admin/office365"))
        .send()
        .await
        .unwrap();
    // A failed sign-in with a password-like value.
    reqwest::Client::new()
        .post(app.url("/api/admin/session"))
        .json(&json!({"email": "admin@example.com", "password": "typed-password-PP0099"}))
        .send()
        .await
        .unwrap();
    let master = app.state.master_key.to_base64();
    let text = String::from_utf8_lossy(&captured.0.lock().unwrap()).into_owned();
    assert!(
        text.contains("finished processing request"),
        "logs were captured:\n{text}"
    );
    for secret in [
        CRM_KEY,
        O365_SECRET,
        "typed-password-PP0099",
        master.expose_secret(),
    ] {
        assert!(!text.contains(secret), "{secret} leaked into the logs");
    }
    assert!(!text.contains(tests::server::TEST_PASSWORD));
}

#[tokio::test]
async fn rotating_the_master_key_keeps_every_secret_readable() {
    for db in all_backends().await {
        let backend = db.backend;
        let app = spawn_app_with(db, |_| {}).await;
        let id = store_secrets(&app).await;
        let old = app.state.master_key.as_ref().clone();
        let new = MasterKey::generate();
        let rotated = rotate(app.state.store.as_ref(), &old, &new).await.unwrap();
        assert_eq!(rotated.employee_keys, 1, "{backend}");
        assert_eq!(rotated.setting_fields, 1, "{backend}");
        let employee = app.state.store.employee(&id).await.unwrap().unwrap();
        let enc = employee.crm_api_key_enc.unwrap();
        let aad = employee_crm_key_aad(&id);
        assert_eq!(
            new.open(&aad, &enc).unwrap().expose_secret(),
            CRM_KEY,
            "{backend}"
        );
        assert!(
            old.open(&aad, &enc).is_err(),
            "{backend}: the old key no longer opens it"
        );
        let settings = server::identity::office365::Office365Settings::load(&app.state)
            .await
            .unwrap();
        let secret = settings.client_secret_enc.unwrap();
        let opened = new
            .open(&setting_aad("office365", "client_secret_enc"), &secret)
            .unwrap();
        assert_eq!(opened.expose_secret(), O365_SECRET, "{backend}");
    }
}

#[tokio::test]
async fn rotation_with_the_wrong_old_key_changes_nothing() {
    let app = spawn_app_with(TestDb::for_this_run().await, |_| {}).await;
    let id = store_secrets(&app).await;
    let before = app
        .state
        .store
        .employee(&id)
        .await
        .unwrap()
        .unwrap()
        .crm_api_key_enc;
    let wrong = MasterKey::generate();
    assert!(
        rotate(app.state.store.as_ref(), &wrong, &MasterKey::generate())
            .await
            .is_err()
    );
    let after = app
        .state
        .store
        .employee(&id)
        .await
        .unwrap()
        .unwrap()
        .crm_api_key_enc;
    assert_eq!(before, after);
}

#[tokio::test]
async fn the_key_file_is_created_once_with_owner_only_permissions() {
    let app = spawn_app_with(TestDb::sqlite(), |_| {}).await;
    let path = app.db.dir.path().join(server::secrets::KEY_FILE);
    let meta = std::fs::metadata(&path).expect("master.key exists");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    }
    let first = std::fs::read_to_string(&path).unwrap();
    let (again, _) = MasterKey::load(&app.state.config).unwrap();
    assert_eq!(again.to_base64().expose_secret(), first.trim());
}

#[tokio::test]
async fn a_configured_master_key_is_used_instead_of_a_file() {
    let key = MasterKey::generate();
    let text = key.to_base64().expose_secret().to_owned();
    let app = spawn_app_with(TestDb::sqlite(), |c| {
        c.secrets.master_key = server::config::Secret::new(text.clone());
    })
    .await;
    assert!(!app.db.dir.path().join(server::secrets::KEY_FILE).exists());
    let sealed = app.state.master_key.seal("a", "b");
    assert_eq!(key.open("a", &sealed).unwrap().expose_secret(), "b");
}
