//! The add-in manifest the server renders (`/manifest.xml`) and the pane's sign-in
//! configuration (`/api/public/addin-config`).

use std::path::PathBuf;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tests::{
    TestApp, TestDb,
    entra_sim::{DEFAULT_TENANT, EntraSim},
    server::spawn_app_with,
    spawn_app_with_entra,
};

const PUBLIC_URL: &str = "https://crm-bridge.example.cz";

/// A server whose public URL is HTTPS (as Outlook requires), trusting entra-sim.
async fn spawn_https_app() -> (TestApp, EntraSim) {
    let sim = EntraSim::start(([127, 0, 0, 1], 0).into(), DEFAULT_TENANT)
        .await
        .unwrap();
    let authority = sim.authority();
    let app = spawn_app_with(TestDb::for_this_run().await, |c| {
        c.entra.authority = authority;
        c.server.public_url = PUBLIC_URL.into();
    })
    .await;
    app.trust_entra_sim(&sim).await;
    (app, sim)
}

fn between<'a>(xml: &'a str, open: &str, close: &str) -> &'a str {
    let start = xml.find(open).expect("the element is there") + open.len();
    &xml[start..start + xml[start..].find(close).unwrap()]
}

fn schema() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../schemas/office-addin-manifest/OfficeAppManifestV1_1.xsd")
}

#[tokio::test]
async fn the_served_manifest_names_the_configured_client_id_and_passes_the_office_schema() {
    let (app, sim) = spawn_https_app().await;
    let response = app
        .client
        .get(app.url("/manifest.xml"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("application/xml"),
        "{content_type}"
    );
    let xml = response.text().await.unwrap();
    assert!(xml.contains(&format!("<Id>{}</Id>", sim.client_id())));
    let config = &app.state.config;
    let base = config.server.public_base(config.tls.enabled());
    assert!(xml.contains(&format!("\"{base}/taskpane.html\"")), "{xml}");
    assert_eq!(base, PUBLIC_URL);
    assert!(!xml.contains("localhost:3000"));

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("manifest.xml");
    std::fs::write(&file, &xml).unwrap();
    let out = std::process::Command::new("xmllint")
        .args(["--noout", "--nonet", "--schema"])
        .arg(schema())
        .arg(&file)
        .output()
        .expect("xmllint is installed (scripts/test installs libxml2-utils)");
    assert!(
        out.status.success(),
        "the rendered manifest is invalid: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn the_pane_configuration_names_the_tenant_authority_and_our_api_scope() {
    let (app, sim) = spawn_https_app().await;
    let response = app
        .client
        .get(app.url("/api/public/addin-config"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["client_id"], sim.client_id());
    assert_eq!(
        body["authority"],
        format!("{}/{}", sim.authority(), sim.tenant())
    );
    assert_eq!(
        body["scopes"][0],
        format!(
            "api://crm-bridge.example.cz/{}/access_as_user",
            sim.client_id()
        )
    );
}

#[tokio::test]
async fn the_manifest_resource_and_the_pane_scope_come_from_one_application_id_uri() {
    let (app, sim) = spawn_https_app().await;
    let xml = app
        .client
        .get(app.url("/manifest.xml"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let resource = between(&xml, "<Resource>", "</Resource>");
    // The form Office's getAccessToken requires: the add-in's domain, ending with the client id.
    assert_eq!(
        resource,
        format!("api://crm-bridge.example.cz/{}", sim.client_id())
    );
    let config: Value = app
        .client
        .get(app.url("/api/public/addin-config"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(config["scopes"][0], format!("{resource}/access_as_user"));
    let admin = app.login_as_admin().await;
    let view: Value = admin
        .client
        .get(app.url("/api/admin/office365"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(view["app_id_uri"], resource);
}

#[tokio::test]
async fn an_application_id_uri_other_than_the_derived_one_is_refused_with_the_value_to_use() {
    let (app, sim) = spawn_https_app().await;
    let admin = app.login_as_admin().await;
    let wrong = admin
        .send_with_csrf(Method::PUT, &app.url("/api/admin/office365"))
        .json(&json!({"app_id_uri": format!("api://{}", sim.client_id())}))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = wrong.json().await.unwrap();
    let expected = format!("api://crm-bridge.example.cz/{}", sim.client_id());
    let message = body["error"]["fields"]["app_id_uri"].as_str().unwrap();
    assert!(message.contains(&expected), "{message}");
    let right = admin
        .send_with_csrf(Method::PUT, &app.url("/api/admin/office365"))
        .json(&json!({"app_id_uri": expected}))
        .send()
        .await
        .unwrap();
    assert_eq!(right.status(), StatusCode::OK);
}

#[tokio::test]
async fn no_manifest_is_rendered_for_a_plain_http_public_url_and_the_answer_says_why() {
    let (app, _sim) = spawn_app_with_entra().await;
    let response = app
        .client
        .get(app.url("/manifest.xml"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CONFLICT);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "manifest_needs_https");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("HTTPS") && message.contains("server.public_url"),
        "{message}"
    );
}
