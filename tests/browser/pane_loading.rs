//! Loading the task pane in headless Chromium (`pane_loading.mjs`) from the server's built pane:
//! the first opening is interactive within 300 ms and at most 100 KB, the second costs at most
//! 2 KB, and a wasm that cannot be loaded is reported.

use tests::{TestDb, server::built_pane_dir, spawn_app_with};

use super::run_node;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pane_opens_fast_again_from_the_cache_and_reports_a_wasm_that_cannot_load() {
    let pane = built_pane_dir();
    assert!(
        pane.join("taskpane.html").is_file(),
        "build the task pane first: scripts/build-wasm (scripts/test does it)"
    );
    let app = spawn_app_with(TestDb::sqlite(), |c| c.server.web_dir = pane).await;
    run_node(
        "pane_loading.mjs",
        &[("BASE_URL", app.base_url.clone())],
        None,
    )
    .await;
}
