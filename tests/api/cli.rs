//! The `crm-bridge` binary: zero-configuration start, signals, TLS and the admin commands.

use std::process::Stdio;

use tests::process::{ServerProcess, command, insecure_client};
use tokio::io::AsyncWriteExt;

#[tokio::test]
async fn serve_with_no_configuration_starts_on_sqlite_and_answers_every_probe() {
    let cwd = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(cwd.path(), &[], &[], false).await;
    let client = insecure_client();
    for path in ["/healthz", "/readyz", "/metrics", "/api/openapi.json"] {
        let response = client
            .get(format!("{}{path}", server.base_url))
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
    }
    assert!(
        cwd.path().join("data/crm-bridge.db").exists(),
        "the SQLite file is in ./data"
    );
    let status = server.terminate().await;
    assert!(
        status.success(),
        "graceful shutdown on SIGTERM exits 0, got {status}"
    );
}

#[tokio::test]
async fn tls_self_signed_serves_https_with_a_localhost_certificate() {
    let cwd = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(cwd.path(), &[], &["--tls-self-signed"], true).await;
    let response = insecure_client()
        .get(format!("{}/healthz", server.base_url))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
    assert!(cwd.path().join("data/tls/localhost-cert.pem").exists());
    let key = cwd.path().join("data/tls/localhost-key.pem");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the private key is readable by its owner only");
    }
    server.terminate().await;
}

#[tokio::test]
async fn admin_create_reads_the_password_from_standard_input() {
    let cwd = tempfile::tempdir().unwrap();
    let mut child = command(cwd.path())
        .args(["admin", "create", "--email", "Admin@Firma.cz"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"a long enough password\n").await.unwrap();
    drop(stdin);
    let output = child.wait_with_output().await.unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.contains("admin@firma.cz"), "{stdout}");
    assert!(
        !stdout.contains("password:"),
        "a typed password is not printed: {stdout}"
    );

    let config = server::config::Config {
        server: server::config::ServerConfig {
            data_dir: cwd.path().join("data"),
            ..Default::default()
        },
        ..Default::default()
    };
    let store = server::store::connect(&config.database_url(), 1)
        .await
        .unwrap();
    let admin = store
        .employee_by_login_email("admin@firma.cz")
        .await
        .unwrap()
        .unwrap();
    let hash = admin.password_hash.unwrap();
    assert!(server::identity::password::verify(
        "a long enough password",
        &hash
    ));
}

#[tokio::test]
async fn admin_create_without_input_generates_and_prints_a_password_once() {
    let cwd = tempfile::tempdir().unwrap();
    let output = command(cwd.path())
        .args(["admin", "create", "--email", "boss@firma.cz"])
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    let password = stdout
        .lines()
        .find_map(|l| l.strip_prefix("password: "))
        .unwrap_or_else(|| panic!("no generated password in {stdout}"));
    assert_eq!(password.len(), 20);
}

#[tokio::test]
async fn print_config_redacts_secrets_and_misspelled_variables_are_warned_about() {
    let cwd = tempfile::tempdir().unwrap();
    let output = command(cwd.path())
        .arg("print-config")
        .env(
            "CRM_BRIDGE_DATABASE__URL",
            "postgres://bridge:hunter2@db.internal/crm",
        )
        .env(
            "CRM_BRIDGE_MASTER_KEY",
            "c3VwZXItc2VjcmV0LW1hc3Rlci1rZXktdmFsdWUhISE=",
        )
        .env("CRM_BRIDGE_SERVR__BIND", "127.0.0.1:1")
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stdout.contains("postgres://bridge:***@db.internal/crm"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("hunter2") && !stdout.contains("c3VwZXIt"),
        "{stdout}"
    );
    assert!(
        stderr.contains("CRM_BRIDGE_SERVR__BIND"),
        "a warning names the variable: {stderr}"
    );
}

#[tokio::test]
async fn a_missing_tls_key_fails_with_the_key_and_variable_named() {
    let cwd = tempfile::tempdir().unwrap();
    let output = command(cwd.path())
        .arg("serve")
        .env("CRM_BRIDGE_TLS__CERT", "/nonexistent/cert.pem")
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("tls.key") && stderr.contains("CRM_BRIDGE_TLS__KEY"),
        "{stderr}"
    );
}

#[tokio::test]
async fn the_command_line_speaks_czech_when_lang_says_so() {
    let cwd = tempfile::tempdir().unwrap();
    let output = command(cwd.path())
        .args(["admin", "create", "--email", "spravce@firma.cz"])
        .env("LANG", "cs_CZ.UTF-8")
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(
        stdout.contains("Administrátor spravce@firma.cz je vytvořen."),
        "{stdout}"
    );
    assert!(stdout.contains("heslo: "), "{stdout}");
    let failed = command(cwd.path())
        .args(["admin", "create", "--email", "spravce@firma.cz"])
        .env("LANG", "cs_CZ.UTF-8")
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(!failed.status.success());
    assert!(stderr.starts_with("chyba: "), "{stderr}");
}

#[tokio::test]
async fn sync_status_lists_each_employees_calendar_sync_sync_run_reports_what_it_synced_and_queues_backfills_and_sync_preview_names_an_unknown_employee()
 {
    let cwd = tempfile::tempdir().unwrap();
    let output = command(cwd.path())
        .args(["admin", "create", "--email", "boss@firma.cz"])
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap();
    assert!(output.status.success());
    let config = server::config::Config {
        server: server::config::ServerConfig {
            data_dir: cwd.path().join("data"),
            ..Default::default()
        },
        ..Default::default()
    };
    let store = server::store::connect(&config.database_url(), 1)
        .await
        .unwrap();
    let boss = store
        .employee_by_login_email("boss@firma.cz")
        .await
        .unwrap()
        .unwrap();
    store.set_calendar_enabled(&boss.id, true).await.unwrap();
    let output = command(cwd.path())
        .args(["sync", "status"])
        .env("LANG", "en_US.UTF-8")
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(
        stdout.contains("sync on, 0 in sync, last sync never"),
        "{stdout}"
    );
    let output = command(cwd.path())
        .args(["sync", "run", "--employee", "boss@firma.cz"])
        .env("LANG", "en_US.UTF-8")
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.contains("0 activities synced."), "{stdout}");
    assert!(
        stdout.contains("Backfill queued for 0 calendars"),
        "calendar sync is off: {stdout}"
    );

    // With calendar sync on, the opted-in employee's calendar is backfilled by the server.
    use server::settings::Setting;
    let mut settings = server::calendar::CalendarSettings::load(store.as_ref())
        .await
        .unwrap();
    settings.enabled = true;
    settings.save(store.as_ref()).await.unwrap();
    let backfills = || async {
        store
            .list_jobs(Some("queued"), 100)
            .await
            .unwrap()
            .into_iter()
            .filter(|j| j.kind == "calendar.backfill" && j.payload.contains(&boss.id))
            .count()
    };
    for args in [
        &["sync", "run", "--employee", "boss@firma.cz"][..],
        &["sync", "run"],
    ] {
        let output = command(cwd.path())
            .args(args)
            .env("LANG", "en_US.UTF-8")
            .output()
            .await
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{stdout}");
        assert!(
            stdout.contains("Backfill queued for 1 calendars"),
            "{args:?}: {stdout}"
        );
        // The second request finds the first still waiting: one backfill, not two.
        assert_eq!(backfills().await, 1, "{args:?}");
    }
    let output = command(cwd.path())
        .args(["sync", "preview", "--employee", "nobody@firma.cz"])
        .env("LANG", "en_US.UTF-8")
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "an unknown employee is an error");
    assert!(
        stderr.contains("no such employee whose calendar can be synced: nobody@firma.cz"),
        "{stderr}"
    );
}

#[tokio::test]
async fn the_import_command_takes_over_a_run_whose_holder_died_and_finishes_it_as_its_job() {
    use server::{items::ItemKind, secrets::MasterKey};
    use tests::raynet_sim::{GenOptions, RaynetSim, SimOptions};
    let raynet = RaynetSim::start(SimOptions {
        data: GenOptions {
            companies: 1500,
            persons_per_company: 1,
            business_cases_per_company: 1,
            projects_per_company: 1,
            seed: 7,
        },
        ..SimOptions::default()
    })
    .await
    .unwrap();
    let cwd = tempfile::tempdir().unwrap();
    let db_url = server::config::DatabaseUrl::new(format!(
        "sqlite://{}?mode=rwc",
        cwd.path().join("data/crm-bridge.db").display()
    ));
    std::fs::create_dir_all(cwd.path().join("data")).unwrap();
    let store = server::store::connect_and_migrate(&db_url, 1)
        .await
        .unwrap();
    let master = MasterKey::generate();
    tests::stack::connect_crm(store.as_ref(), &master, &raynet)
        .await
        .unwrap();
    // A run whose holder died: its job is leased to a process that renews nothing.
    let run_id = server::items::import::queue_run_in(store.as_ref())
        .await
        .unwrap();
    assert!(store.start_import_run(&run_id).await.unwrap().is_some());
    let held = store.lease_job_now(&run_id, "dead", 300).await.unwrap();
    assert!(held.is_some(), "the run is a job of the same id");
    assert!(
        server::items::import::queue_run_in(store.as_ref())
            .await
            .is_err(),
        "a second run is refused while the first one's job is unfinished"
    );
    let key = {
        use secrecy::ExposeSecret;
        master.to_base64().expose_secret().to_owned()
    };
    let output = command(cwd.path())
        .arg("import")
        .env("CRM_BRIDGE_MASTER_KEY", key)
        .env("CRM_BRIDGE_CRM__ALLOW_OTHER_HOSTS", "true")
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains(&format!("Import {run_id} done")),
        "{stdout}"
    );
    let run = store.import_run(&run_id).await.unwrap().unwrap();
    assert_eq!(run.status, "done");
    let job = store.job(&run_id).await.unwrap().unwrap();
    assert_eq!(job.status, "done", "the command finished the run's job");
    assert_eq!(
        store.count_items(ItemKind::Company).await.unwrap() as usize,
        raynet.sim.count("company")
    );
    assert_eq!(
        store.import_runs(10).await.unwrap().len(),
        1,
        "no second run"
    );
}
