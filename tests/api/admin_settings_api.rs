//! Every admin setting through the JSON admin API (`/api/admin/company`, `/sync`,
//! `/crm-connection` + `/test`, `/webhook*`) with the same validation as the pages; the stored
//! CRM key bound to the base URL it was saved with; Raynet-only base URLs; the webhook token
//! renewed without breaking deliveries, and refused deliveries on the Health page.

use std::{sync::Arc, time::Duration};

use parking_lot::Mutex;
use reqwest::{Method, StatusCode, header};
use serde_json::{Value, json};
use server::settings::Setting;
use tests::{
    AdminClient, TestApp, TestDb,
    raynet_sim::{RaynetSim, SimOptions},
    server::{spawn_app_public, spawn_app_with},
    spawn_app,
    stack::eventually,
};

async fn send(
    admin: &AdminClient,
    method: Method,
    url: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = admin.send_with_csrf(method, url);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Posts a form as a browser would (the CSRF token is one of `pairs`).
async fn post_form(admin: &AdminClient, url: String, pairs: &[(&str, &str)]) -> reqwest::Response {
    let mut body = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        body.append_pair(k, v);
    }
    admin
        .client
        .post(url)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(body.finish())
        .send()
        .await
        .unwrap()
}

async fn sim() -> RaynetSim {
    RaynetSim::start(SimOptions::default()).await.unwrap()
}

fn connection(sim: &RaynetSim) -> Value {
    json!({
        "base_url": sim.url,
        "instance": sim.instance,
        "user_email": sim.admin.username,
        "api_key": sim.admin.api_key,
    })
}

/// A loopback listener that records every request it gets (an attacker's server).
struct Recorder {
    url: String,
    seen: Arc<Mutex<Vec<String>>>,
}

async fn recorder() -> Recorder {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/api/v2/", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut buf = vec![0u8; 8192];
            let n = socket.read(&mut buf).await.unwrap_or(0);
            log.lock()
                .push(String::from_utf8_lossy(&buf[..n]).into_owned());
            let _ = socket
                .write_all(b"HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\n\r\n")
                .await;
        }
    });
    Recorder { url, seen }
}

#[tokio::test]
async fn company_and_sync_parameters_are_set_through_the_json_api_with_the_pages_validation() {
    let app = spawn_app().await;
    let admin = app.login_as_admin().await;
    let url = app.url("/api/admin/company");

    let (status, body) = send(
        &admin,
        Method::PUT,
        &url,
        Some(json!({"name": "", "ico": "25607805", "dic": "SK1"})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let fields = &body["error"]["fields"];
    assert_eq!(fields["name"], "This field is required.");
    assert!(
        fields["ico"].as_str().unwrap().contains("check digit"),
        "{body}"
    );
    assert!(fields["dic"].is_string(), "{body}");

    let (status, body) = send(
        &admin,
        Method::PUT,
        &url,
        Some(json!({"name": " Acme s.r.o. ", "ico": "256 07804", "dic": "cz25607804"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"name": "Acme s.r.o.", "ico": "25607804", "dic": "CZ25607804"})
    );
    let (_, read) = send(&admin, Method::GET, &url, None).await;
    assert_eq!(read, body);

    let sync = app.url("/api/admin/sync");
    let (status, body) = send(
        &admin,
        Method::PUT,
        &sync,
        Some(json!({"participant_mode": "sometimes"})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["error"]["fields"]["participant_mode"].is_string());
    let (status, body) = send(
        &admin,
        Method::PUT,
        &sync,
        Some(json!({"participant_mode": "all_activities"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, read) = send(&admin, Method::GET, &sync, None).await;
    assert_eq!(read["participant_mode"], "all_activities");

    // The same rules on the page, and both leave an audit trail.
    let (_, audit) = send(&admin, Method::GET, &app.url("/api/admin/audit"), None).await;
    let text = audit.to_string();
    assert!(
        text.contains("company.update") && text.contains("sync.update"),
        "{text}"
    );
}

#[tokio::test]
async fn the_crm_connection_is_saved_and_tested_through_the_json_api_without_ever_showing_the_key()
{
    let app = spawn_app().await;
    let sim = sim().await;
    let admin = app.login_as_admin().await;
    let url = app.url("/api/admin/crm-connection");

    let (status, body) = send(
        &admin,
        Method::PUT,
        &url,
        Some(json!({"base_url": "ftp://x", "instance": "a b", "user_email": "nope"})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    for field in ["base_url", "instance", "user_email", "api_key"] {
        assert!(
            body["error"]["fields"][field].is_string(),
            "{field}: {body}"
        );
    }

    let (status, body) = send(&admin, Method::PUT, &url, Some(connection(&sim))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["has_api_key"], true);
    assert!(!body.to_string().contains(&sim.admin.api_key), "{body}");

    let (status, body) = send(
        &admin,
        Method::POST,
        &app.url("/api/admin/crm-connection/test"),
        Some(json!({})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["username"], sim.admin.username.as_str());
    assert!(body["quota_remaining"].is_u64(), "{body}");
}

#[tokio::test]
async fn the_crm_test_tells_an_unknown_instance_a_bad_key_and_a_blocked_address_apart() {
    let app = spawn_app().await;
    let sim = sim().await;
    let admin = app.login_as_admin().await;
    let test = app.url("/api/admin/crm-connection/test");

    let mut wrong_instance = connection(&sim);
    wrong_instance["instance"] = json!("no-such-instance");
    let (status, body) = send(&admin, Method::POST, &test, Some(wrong_instance.clone())).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert_eq!(body["error"]["code"], "crm_unknown_instance", "{body}");

    let mut wrong_key = connection(&sim);
    wrong_key["api_key"] = json!("wrong-key-000000");
    let (_, body) = send(&admin, Method::POST, &test, Some(wrong_key.clone())).await;
    assert_eq!(body["error"]["code"], "crm_bad_credentials", "{body}");

    // The page says the same in words.
    let form = [
        ("base_url", sim.url.as_str()),
        ("instance", "no-such-instance"),
        ("user_email", sim.admin.username.as_str()),
        ("api_key", sim.admin.api_key.as_str()),
        ("csrf_token", admin.csrf.as_str()),
    ];
    let html = post_form(&admin, app.url("/admin/crm/test"), &form)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("Raynet has no instance of this name"),
        "{html}"
    );

    for _ in 0..25 {
        send(&admin, Method::POST, &test, Some(wrong_key.clone())).await;
    }
    let (_, body) = send(&admin, Method::POST, &test, Some(connection(&sim))).await;
    assert_eq!(body["error"]["code"], "crm_blocked", "{body}");
}

#[tokio::test]
async fn a_stored_crm_key_is_never_sent_to_a_changed_base_url() {
    let app = spawn_app().await;
    let sim = sim().await;
    let attacker = recorder().await;
    let admin = app.login_as_admin().await;
    let (status, _) = send(
        &admin,
        Method::PUT,
        &app.url("/api/admin/crm-connection"),
        Some(connection(&sim)),
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    // Test with another address and an empty key: refused, nothing sent anywhere.
    let moved = json!({"base_url": attacker.url, "api_key": ""});
    let (status, body) = send(
        &admin,
        Method::POST,
        &app.url("/api/admin/crm-connection/test"),
        Some(moved.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["error"]["fields"]["api_key"]
            .as_str()
            .unwrap()
            .contains("enter the API key again")
    );
    let form = [
        ("base_url", attacker.url.as_str()),
        ("instance", sim.instance.as_str()),
        ("user_email", sim.admin.username.as_str()),
        ("api_key", ""),
        ("csrf_token", admin.csrf.as_str()),
    ];
    for path in ["/admin/crm/test", "/admin/crm"] {
        let r = post_form(&admin, app.url(path), &form).await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{path}");
    }
    let (status, _) = send(
        &admin,
        Method::PUT,
        &app.url("/api/admin/crm-connection"),
        Some(moved),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        attacker.seen.lock().is_empty(),
        "the stored key left for another address"
    );

    // An employee's key saved for the simulator is not sent once the address changes either.
    let user = sim
        .sim
        .add_user("jana@firma.cz", "FULL_THROTTLE", "Jana Nováková");
    let (status, employee) = send(
        &admin,
        Method::POST,
        &app.url("/api/admin/employees"),
        Some(json!({
            "identifier": "E-1",
            "crm_user_email": user.username,
            "crm_api_key": user.api_key,
            "o365_email": "jana@firma.cz",
        })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{employee}");
    let id = employee["id"].as_str().unwrap().to_owned();
    let (status, _) = send(
        &admin,
        Method::PUT,
        &app.url("/api/admin/crm-connection"),
        Some(json!({"base_url": attacker.url, "api_key": "a-new-admin-key"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let html = post_form(
        &admin,
        app.url(&format!("/admin/employees/{id}/test")),
        &[("csrf_token", admin.csrf.as_str())],
    )
    .await
    .text()
    .await
    .unwrap();
    assert!(html.contains("enter the key again"), "{html}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let seen = attacker.seen.lock().join("\n");
    let basic = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", user.username, user.api_key))
    };
    assert!(
        !seen.contains(&basic),
        "the employee's key was sent to the new address"
    );
}

#[tokio::test]
async fn crm_base_urls_must_be_raynet_over_https_unless_the_configuration_allows_others() {
    let app = spawn_app_with(TestDb::for_this_run().await, |c| {
        c.crm.allow_other_hosts = false
    })
    .await;
    let admin = app.login_as_admin().await;
    let url = app.url("/api/admin/crm-connection");
    let mut input = json!({
        "base_url": "http://127.0.0.1:9/api/v2/",
        "instance": "acme",
        "user_email": "admin@acme.cz",
        "api_key": "k-123",
    });
    let (status, body) = send(&admin, Method::PUT, &url, Some(input.clone())).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["error"]["fields"]["base_url"]
            .as_str()
            .unwrap()
            .contains("https://")
    );
    input["base_url"] = json!("https://app.raynet.cz.evil.example/api/v2/");
    let (status, _) = send(&admin, Method::PUT, &url, Some(input.clone())).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    input["base_url"] = json!("https://eu.raynetcrm.com/api/v2/");
    let (status, body) = send(&admin, Method::PUT, &url, Some(input)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn a_crm_key_typed_into_a_form_with_errors_is_kept_in_the_form() {
    let app = spawn_app().await;
    let admin = app.login_as_admin().await;
    let form = [
        ("base_url", "https://app.raynet.cz/api/v2/"),
        ("instance", "bad instance!"),
        ("user_email", "admin@acme.cz"),
        ("api_key", "typed-key-4242"),
        ("csrf_token", admin.csrf.as_str()),
    ];
    let r = post_form(&admin, app.url("/admin/crm"), &form).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(html.contains(r#"value="typed-key-4242""#), "{html}");
}

async fn webhook_stack() -> (TestApp, RaynetSim, AdminClient) {
    let app = spawn_app_public(TestDb::for_this_run().await, |_| {}).await;
    let sim = sim().await;
    let admin = app.login_as_admin().await;
    let (status, _) = send(
        &admin,
        Method::PUT,
        &app.url("/api/admin/crm-connection"),
        Some(connection(&sim)),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    (app, sim, admin)
}

#[tokio::test]
async fn the_webhook_is_generated_registered_and_renewed_through_the_json_api_and_keeps_delivering()
{
    let (app, sim, admin) = webhook_stack().await;
    let (status, body) = send(
        &admin,
        Method::POST,
        &app.url("/api/admin/webhook/registration"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "no id yet: {body}");
    let (status, body) = send(
        &admin,
        Method::POST,
        &app.url("/api/admin/webhook/generate"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let id = body["webhook_id"].as_str().unwrap().to_owned();
    assert!(
        body["url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/api/raynet-event/{id}"))
    );
    let (status, body) = send(
        &admin,
        Method::POST,
        &app.url("/api/admin/webhook/registration"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["registered"], true);
    assert_eq!(sim.sim.webhooks().len(), 1);

    // A new token re-registers the webhook: the CRM's next delivery is accepted.
    let (status, body) = send(
        &admin,
        Method::POST,
        &app.url("/api/admin/webhook/token"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"reregistered": true, "token": null}));
    assert_eq!(
        sim.sim.webhooks().len(),
        1,
        "the old registration is replaced"
    );
    sim.sim.user_change(
        &Method::PUT,
        "company",
        None,
        &json!({"name": "Nová firma s.r.o.", "state": "A_POTENTIAL", "rating": "A", "role": "A_SUBSCRIBER"}),
    );
    let delivered = eventually(Duration::from_secs(10), || async {
        let (_, s) = send(&admin, Method::GET, &app.url("/api/admin/webhook"), None).await;
        s["events"]["today"].as_i64() == Some(1)
    })
    .await;
    assert!(
        delivered.is_some(),
        "the delivery after the new token was not accepted"
    );
    let (_, status_now) = send(&admin, Method::GET, &app.url("/api/admin/webhook"), None).await;
    assert_eq!(status_now["events"]["rejected"], 0, "{status_now}");

    let (status, _) = send(
        &admin,
        Method::DELETE,
        &app.url("/api/admin/webhook/registration"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(sim.sim.webhooks().is_empty());
}

#[tokio::test]
async fn deliveries_refused_for_a_wrong_token_are_counted_and_shown_on_health_as_a_failure() {
    let (app, _sim, admin) = webhook_stack().await;
    let (_, body) = send(
        &admin,
        Method::POST,
        &app.url("/api/admin/webhook/generate"),
        None,
    )
    .await;
    let id = body["webhook_id"].as_str().unwrap().to_owned();
    send(
        &admin,
        Method::POST,
        &app.url("/api/admin/webhook/registration"),
        None,
    )
    .await;
    for _ in 0..3 {
        let r = app
            .client
            .post(app.url(&format!("/api/raynet-event/{id}")))
            .header("X-RAYNETCRM-Token", "an-old-token")
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    let (_, status) = send(&admin, Method::GET, &app.url("/api/admin/webhook"), None).await;
    assert_eq!(status["events"]["rejected"], 3, "{status}");
    assert!(status["events"]["last_rejected_at"].is_i64());
    let html = admin
        .client
        .get(app.url("/admin/health"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("Deliveries refused (wrong token)"), "{html}");
    assert!(
        html.contains(r#"class="failure""#),
        "not shown as a failure: {html}"
    );

    // Registering again clears the alarm.
    send(
        &admin,
        Method::POST,
        &app.url("/api/admin/webhook/registration"),
        None,
    )
    .await;
    let (_, status) = send(&admin, Method::GET, &app.url("/api/admin/webhook"), None).await;
    assert_eq!(status["events"]["rejected"], 0, "{status}");
}

#[tokio::test]
async fn every_admin_setting_is_in_the_openapi_document() {
    let app = spawn_app().await;
    let doc: Value = app
        .client
        .get(app.url("/api/openapi.json"))
        .header(header::ACCEPT, "application/json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for (path, method) in [
        ("/api/admin/company", "put"),
        ("/api/admin/sync", "put"),
        ("/api/admin/crm-connection", "put"),
        ("/api/admin/crm-connection/test", "post"),
        ("/api/admin/webhook", "get"),
        ("/api/admin/webhook/generate", "post"),
        ("/api/admin/webhook/registration", "post"),
        ("/api/admin/webhook/registration", "delete"),
        ("/api/admin/webhook/token", "post"),
        ("/api/admin/office365", "put"),
    ] {
        assert!(
            doc["paths"][path][method].is_object(),
            "{method} {path} is not documented"
        );
    }
}

/// The first `sh` code block after the heading that starts with `heading` in `markdown`.
fn code_block_after(markdown: &str, heading: &str) -> String {
    let section = markdown
        .split("\n## ")
        .find(|s| s.starts_with(heading))
        .unwrap_or_else(|| panic!("no section {heading}"));
    let start = section.find("```sh\n").expect("a sh block") + "```sh\n".len();
    let end = section[start..].find("```").expect("the block ends") + start;
    section[start..end].to_owned()
}

#[tokio::test]
async fn the_automated_setup_in_both_setup_guides_runs_verbatim_against_a_server_and_the_simulators()
 {
    let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs");
    for (file, heading) in [
        ("setup.md", "7. Automated setup"),
        ("setup.cs.md", "7. Automatické nastavení"),
    ] {
        let markdown = std::fs::read_to_string(docs.join(file)).unwrap();
        let script = code_block_after(&markdown, heading);
        let app = spawn_app_public(TestDb::for_this_run().await, |_| {}).await;
        app.login_as_admin().await;
        let sim = sim().await;
        let output = tokio::process::Command::new("bash")
            .arg("-c")
            .arg(&script)
            .env("CRM_BRIDGE_URL", &app.base_url)
            .env("ADMIN_EMAIL", "admin@example.com")
            .env("ADMIN_PASSWORD", tests::server::TEST_PASSWORD)
            .env("RAYNET_API_URL", &sim.url)
            .env("RAYNET_INSTANCE", &sim.instance)
            .env("RAYNET_USER", &sim.admin.username)
            .env("RAYNET_API_KEY", &sim.admin.api_key)
            .env("O365_CLIENT_ID", "0f0e0d0c-0b0a-4909-8807-060504030201")
            .env("O365_TENANT_ID", "11111111-2222-4333-8444-555555555555")
            .output()
            .await
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{file}: {stdout}\n{stderr}");
        let last: Value = serde_json::Deserializer::from_str(&stdout)
            .into_iter::<Value>()
            .filter_map(Result::ok)
            .last()
            .unwrap_or_default();
        assert_eq!(last["registered"], true, "{file}: {stdout}");
        assert_eq!(sim.sim.webhooks().len(), 1, "{file}");
        let company = server::settings::CompanySettings::load(app.state.store.as_ref())
            .await
            .unwrap();
        assert_eq!(company.ico, "25607804", "{file}");
        assert!(
            app.state
                .store
                .count_items(server::items::ItemKind::Company)
                .await
                .unwrap()
                > 0,
            "{file}: nothing imported"
        );
        assert!(
            !stdout.contains(&sim.admin.api_key),
            "{file}: the key was echoed"
        );
    }
}
