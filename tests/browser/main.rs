//! Browser tests: Rust starts the real stack (server on loopback, raynet-sim, entra-sim, an admin
//! account), then runs a Node script that drives headless Chromium through `playwright-core`,
//! streams its output and requires exit status 0; afterwards Rust checks what the walk changed.
//! Screenshots go to `test-output/screenshots/` under the repository root.

mod pane_loading;
mod taskpane;

use std::{path::PathBuf, process::Stdio};

use server::{
    calendar::{ActivityKind, CalendarSettings, DeleteMode, Direction, Operation, SyncRules},
    identity::office365::Office365Settings,
    settings::{CompanySettings, ParticipantSyncMode, Setting, SyncSettings, WebhookSettings},
};
use tests::{
    TestApp, TestDb,
    entra_sim::{DEFAULT_TENANT, EntraSim},
    raynet_sim::{RaynetSim, SimOptions},
    server::{TEST_PASSWORD, spawn_app_public},
};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Runs `node tests/browser/<script>` with `env`, echoing its output; panics unless it exits 0.
/// When the script prints `STOP_SERVER`, `server` is stopped (to show the offline state) and
/// the script is told so on its standard input.
async fn run_node(script: &str, env: &[(&str, String)], mut server: Option<TestApp>) {
    let dir = repo_root().join("tests/browser");
    assert!(
        dir.join("node_modules/playwright-core").is_dir(),
        "run `npm ci` in tests/browser (scripts/test does it) to install playwright-core"
    );
    let tag = script.trim_end_matches(".mjs").to_owned();
    let mut command = tokio::process::Command::new("node");
    command
        .arg(dir.join(script))
        .current_dir(repo_root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = command.spawn().expect("node starts");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut errors = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let err_tag = tag.clone();
    let err = tokio::spawn(async move {
        while let Ok(Some(line)) = errors.next_line().await {
            eprintln!("[{err_tag}] {line}");
        }
    });
    let walk = async {
        while let Ok(Some(line)) = lines.next_line().await {
            eprintln!("[{tag}] {line}");
            if line == "STOP_SERVER" {
                if let Some(server) = server.take() {
                    server.stop().await;
                }
                stdin
                    .write_all(b"stopped\n")
                    .await
                    .expect("node reads stdin");
            }
        }
        child.wait().await.expect("node runs")
    };
    let status = tokio::time::timeout(std::time::Duration::from_secs(240), walk)
        .await
        .expect("the browser script finishes within 4 minutes");
    let _ = err.await;
    assert!(status.success(), "{script} failed: {status}");
}

/// Whether the running server offers `path` (from its OpenAPI document).
async fn offers(app: &TestApp, path: &str) -> bool {
    let doc: serde_json::Value = app
        .client
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    doc["paths"].get(path).is_some()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_admin_walks_through_the_whole_setup_in_a_browser() {
    let crm = RaynetSim::start(SimOptions::default()).await.unwrap();
    let entra = EntraSim::start(([127, 0, 0, 1], 0).into(), DEFAULT_TENANT)
        .await
        .unwrap();
    let (authority, graph_url) = (entra.authority(), entra.graph_url());
    let app = spawn_app_public(TestDb::for_this_run().await, |c| {
        c.entra.authority = authority;
        c.entra.graph_url = graph_url;
    })
    .await;
    // A real first run: no admin yet, only the one-time setup link the server prints.
    let setup_url = server::admin::setup::issue_setup_link_if_needed(&app.state)
        .await
        .unwrap()
        .expect("a setup link while no admin exists");
    let worker = crm
        .sim
        .add_user("jana.novakova@firma.cz", "FULL_THROTTLE", "Jana Nováková");
    entra
        .graph()
        .add_mailbox("jana.novakova@firma.cz", "Jana Nováková");
    let import = offers(&app, "/api/admin/import").await;
    let events = offers(&app, "/api/admin/webhook/events").await;
    if !import || !events {
        eprintln!(
            "note: import API present: {import}, webhook events API present: {events}; \
             the walk skips the steps that need a missing one"
        );
    }
    let shots = repo_root().join("test-output/screenshots/admin");
    let secrets = [
        crm.admin.api_key.clone(),
        worker.api_key.clone(),
        entra.client_secret(),
    ]
    .join("\n");
    run_node(
        "admin_setup.mjs",
        &[
            ("BASE_URL", app.base_url.clone()),
            ("SETUP_URL", setup_url),
            ("ADMIN_EMAIL", "admin@example.com".into()),
            ("ADMIN_PASSWORD", TEST_PASSWORD.into()),
            ("CRM_URL", crm.url.clone()),
            ("CRM_ROOT", crm.root.clone()),
            ("CRM_INSTANCE", crm.instance.clone()),
            ("CRM_USER", crm.admin.username.clone()),
            ("CRM_KEY", crm.admin.api_key.clone()),
            ("O365_CLIENT_ID", entra.client_id()),
            ("O365_TENANT", entra.tenant()),
            ("O365_SECRET", entra.client_secret()),
            ("EMP_CRM_USER", worker.username.clone()),
            ("EMP_CRM_KEY", worker.api_key.clone()),
            ("EMP_PERSON_ID", worker.person_id.to_string()),
            ("SECRETS", secrets),
            ("SHOTS_DIR", shots.display().to_string()),
            ("WITH_IMPORT", if import { "1" } else { "0" }.into()),
            ("WITH_EVENTS", if events { "1" } else { "0" }.into()),
        ],
        None,
    )
    .await;

    let store = app.state.store.as_ref();
    let company = CompanySettings::load(store).await.unwrap();
    assert_eq!(company.ico, "25607804");
    let hook = WebhookSettings::load(store).await.unwrap();
    let hooks = crm.sim.webhooks();
    assert_eq!(hooks.len(), 1, "the simulator shows the webhook registered");
    assert_eq!(
        hooks[0].url,
        format!("{}/api/raynet-event/{}", app.base_url, hook.webhook_id)
    );
    let sync = SyncSettings::load(store).await.unwrap();
    assert_eq!(sync.participant_mode, ParticipantSyncMode::AllActivities);
    let calendar = CalendarSettings::load(store).await.unwrap();
    assert!(calendar.enabled && calendar.activity_types.len() == 5);
    let rules = SyncRules::load(store).await.unwrap();
    assert!(!rules.allows(
        ActivityKind::Task,
        Direction::CrmToOutlook,
        Operation::Update
    ));
    assert_eq!(rules.delete_to_outlook, DeleteMode::Cancel);
    assert_eq!(rules.flap_limit_per_hour, 6);
    let events = entra.graph().events("jana.novakova@firma.cz");
    let events = events.unwrap_or_default();
    assert_eq!(events.len(), 1, "one event in Jana's calendar: {events:?}");
    assert_eq!(events[0]["subject"], "Prohlídka stavby");
    let o365 = Office365Settings::load(&app.state).await.unwrap();
    assert_eq!(o365.client_id, entra.client_id());
    assert!(o365.client_secret_enc.is_some());
    let employees = store.list_employees().await.unwrap();
    assert!(
        employees
            .iter()
            .any(|e| e.identifier == "E-042" && e.crm_api_key_enc.is_some())
    );
    for name in [
        "setup",
        "login",
        "company",
        "crm",
        "webhook",
        "import",
        "office365",
        "employees",
        "employee",
        "sync",
        "sync-trace",
        "sync-preview",
        "health",
        "audit",
        "account",
    ] {
        for lang in ["en", "cs"] {
            let file = shots.join(format!("{name}-{lang}.png"));
            assert!(file.is_file(), "missing screenshot {}", file.display());
        }
    }
    for lang in ["en", "cs"] {
        let file = repo_root().join(format!("docs/screenshots/sync-rules-{lang}.png"));
        assert!(file.is_file(), "missing screenshot {}", file.display());
    }
}
