//! The task pane's static files: content-hashed files cached for a year, the entry page
//! revalidated by ETag and framed only by Outlook's hosts, precompressed files for clients that
//! accept them, no package files, the sandbox only when asked for, and `readyz` naming a missing
//! pane.

use reqwest::{StatusCode, header};
use tests::{TestApp, TestDb, spawn_app_with};

const WASM_PATH: &str = "v/0123456789abcdef/pkg/addin_wasm_bg.wasm";

/// A built pane in a temporary folder, as `scripts/build-wasm` lays it out.
fn built_pane() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let put = |path: &str, bytes: &[u8]| {
        let target = dir.path().join(path);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::write(target, bytes).unwrap();
    };
    put("taskpane.html", b"<!doctype html><title>pane</title>");
    put(WASM_PATH, b"raw wasm");
    put(&format!("{WASM_PATH}.br"), b"brotli wasm");
    put(&format!("{WASM_PATH}.gz"), b"gzip wasm");
    put("sandbox.html", b"<!doctype html><title>sandbox</title>");
    put("package.json", b"{\"name\": \"secret\"}");
    put("package-lock.json", b"{}");
    dir
}

async fn serve(pane: &tempfile::TempDir, sandbox: bool) -> TestApp {
    let dir = pane.path().to_path_buf();
    spawn_app_with(TestDb::sqlite(), move |c| {
        c.server.web_dir = dir;
        c.server.serve_sandbox = sandbox;
    })
    .await
}

/// A client that neither decompresses nor asks for compression by itself (the tests crate's
/// reqwest has no decompression features).
fn plain_client() -> reqwest::Client {
    reqwest::Client::new()
}

#[tokio::test]
async fn the_entry_page_is_revalidated_by_etag_and_framed_only_by_outlook() {
    let pane = built_pane();
    let app = serve(&pane, false).await;
    let client = plain_client();

    let first = client.get(app.url("/taskpane.html")).send().await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    let headers = first.headers().clone();
    assert_eq!(headers[header::CACHE_CONTROL], "no-cache");
    assert!(
        headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(csp.starts_with("frame-ancestors 'self' "), "{csp}");
    for host in [
        "https://*.office.com",
        "https://*.cloud.microsoft",
        "https://*.office365.com",
    ] {
        assert!(
            csp.split(' ').any(|h| h == host),
            "{host} missing from {csp}"
        );
    }
    assert!(!csp.contains(" * ") && !csp.ends_with(" *"), "{csp}");
    let etag = headers[header::ETAG].to_str().unwrap().to_owned();

    let again = client
        .get(app.url("/taskpane.html"))
        .header(header::IF_NONE_MATCH, &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(again.headers()[header::ETAG], etag.as_str());
    assert!(again.bytes().await.unwrap().is_empty());
}

#[tokio::test]
async fn hashed_files_are_immutable_and_sent_precompressed_when_accepted() {
    let pane = built_pane();
    let app = serve(&pane, false).await;
    let client = plain_client();
    let url = app.url(&format!("/{WASM_PATH}"));
    for (accept, encoding, body) in [
        (Some("gzip, deflate, br"), Some("br"), "brotli wasm"),
        (Some("gzip"), Some("gzip"), "gzip wasm"),
        (None, None, "raw wasm"),
    ] {
        let mut request = client.get(&url);
        if let Some(accept) = accept {
            request = request.header(header::ACCEPT_ENCODING, accept);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{accept:?}");
        let headers = response.headers().clone();
        assert_eq!(
            headers[header::CACHE_CONTROL],
            "public, max-age=31536000, immutable"
        );
        assert_eq!(headers[header::CONTENT_TYPE], "application/wasm");
        assert_eq!(headers[header::VARY], "accept-encoding");
        assert_eq!(
            headers
                .get(header::CONTENT_ENCODING)
                .map(|v| v.to_str().unwrap()),
            encoding,
            "{accept:?}"
        );
        assert_eq!(response.text().await.unwrap(), body);
    }
}

#[tokio::test]
async fn package_files_are_never_served_and_the_sandbox_only_when_configured() {
    let pane = built_pane();
    let app = serve(&pane, false).await;
    for path in ["/package.json", "/package-lock.json", "/sandbox.html"] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let demo = serve(&pane, true).await;
    let sandbox = demo
        .client
        .get(demo.url("/sandbox.html"))
        .send()
        .await
        .unwrap();
    assert_eq!(sandbox.status(), StatusCode::OK);
    let package = demo
        .client
        .get(demo.url("/package.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(package.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn readyz_fails_with_a_clear_message_when_there_is_no_task_pane() {
    let empty = tempfile::tempdir().unwrap();
    let app = serve(&empty, false).await;
    let response = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: serde_json::Value = response.json().await.unwrap();
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("no task pane"), "{message}");
    assert!(message.contains("scripts/build-wasm"), "{message}");
}
