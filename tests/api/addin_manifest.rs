//! The add-in manifest the server renders (`/manifest.xml`) and the pane's sign-in
//! configuration (`/api/public/addin-config`).

use std::path::PathBuf;

use reqwest::StatusCode;
use serde_json::Value;
use tests::spawn_app_with_entra;

fn schema() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../schemas/office-addin-manifest/OfficeAppManifestV1_1.xsd")
}

#[tokio::test]
async fn the_served_manifest_names_the_configured_client_id_and_passes_the_office_schema() {
    let (app, sim) = spawn_app_with_entra().await;
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
    let (app, sim) = spawn_app_with_entra().await;
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
        format!("api://{}/access_as_user", sim.client_id())
    );
}
