//! Sign-in under attack (issue 15, findings 1–4): memory stays bounded under a flood of
//! attempts, concurrent attempts cannot exceed the limit, timing does not reveal accounts.

use std::{process::Stdio, time::Duration};

use reqwest::StatusCode;
use serde_json::json;
use tests::{
    TestDb,
    process::{ServerProcess, command, free_port},
    server::TEST_PASSWORD,
    spawn_app_with,
};
use tokio::io::AsyncWriteExt;

/// Concurrent wrong-password attempts in the memory test.
const FLOOD: usize = 1000;
/// The server's peak resident memory must stay below this under the flood (MiB): a debug build
/// with 1,000 connections and requests in flight plus the bounded password checks (19 MiB of
/// reused work memory each, one per core; measured ~110 MiB in all). Unbounded, 200 attempts
/// took this debug build from 27 MiB to 3.7 GiB.
const RSS_CEILING_MIB: u64 = 200;

fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("{field} in /proc/{pid}/status"))
}

#[tokio::test]
async fn a_thousand_concurrent_wrong_passwords_keep_the_servers_memory_bounded() {
    let cwd = tempfile::tempdir().unwrap();
    let email = "victim@example.com";
    let mut create = command(cwd.path())
        .args(["admin", "create", "--email", email])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = create.stdin.take().unwrap();
    stdin
        .write_all(format!("{TEST_PASSWORD}\n").as_bytes())
        .await
        .unwrap();
    drop(stdin);
    assert!(create.wait().await.unwrap().success());
    // No throttling in the way: every attempt wants a password check.
    let env = [("CRM_BRIDGE_ADMIN__MAX_FAILED_LOGINS", "1000000")];
    let server = ServerProcess::start_with(cwd.path(), &[], &[], false, &env, free_port()).await;
    let pid = server.child.id().unwrap();
    let before = status_kib(pid, "VmRSS:");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap();
    let url = format!("{}/api/admin/session", server.base_url);
    let attempts = (0..FLOOD).map(|i| {
        let (client, url) = (client.clone(), url.clone());
        tokio::spawn(async move {
            let response = client
                .post(url)
                .json(&json!({"email": email, "password": format!("wrong password {i}")}))
                .send()
                .await
                .unwrap();
            let retry_after = response.headers().get("retry-after").is_some();
            (response.status(), retry_after)
        })
    });
    let results = futures::future::join_all(attempts).await;
    let peak_mib = status_kib(pid, "VmHWM:") / 1024;
    let mut refused_busy = 0;
    for result in results {
        let (status, retry_after) = result.unwrap();
        match status {
            StatusCode::UNAUTHORIZED => {}
            StatusCode::SERVICE_UNAVAILABLE | StatusCode::TOO_MANY_REQUESTS => {
                assert!(retry_after, "{status} carries Retry-After");
                refused_busy += 1;
            }
            other => panic!("unexpected {other}"),
        }
    }
    println!(
        "MEASURE rss_before_mib={} peak_rss_mib={peak_mib} attempts={FLOOD} refused_busy={refused_busy}",
        before / 1024
    );
    assert!(
        peak_mib < RSS_CEILING_MIB,
        "peak RSS {peak_mib} MiB under {FLOOD} concurrent sign-ins (ceiling {RSS_CEILING_MIB} MiB)"
    );
    // The server still signs the right person in afterwards.
    let ok = client
        .post(&url)
        .json(&json!({"email": email, "password": TEST_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    server.kill().await;
}

#[tokio::test]
async fn forty_parallel_wrong_passwords_on_one_account_get_at_most_the_limit_of_checks() {
    for db in tests::all_backends().await {
        let backend = db.backend;
        let app = spawn_app_with(db, |c| c.admin.max_failed_logins = 10).await;
        app.create_employee("target@example.com", true).await;
        let attempts = (0..40).map(|i| {
            let (client, url) = (reqwest::Client::new(), app.url("/api/admin/session"));
            async move {
                client
                    .post(url)
                    .json(&json!({"email": "target@example.com", "password": format!("guess {i}")}))
                    .send()
                    .await
                    .unwrap()
                    .status()
            }
        });
        let statuses = futures::future::join_all(attempts).await;
        // 401 is the answer of a password check; refusals before the check are 429 (or 503).
        let checked = statuses
            .iter()
            .filter(|s| **s == StatusCode::UNAUTHORIZED)
            .count();
        println!("MEASURE backend={backend} parallel=40 password_checks={checked}");
        assert!(
            statuses.iter().all(|s| matches!(
                *s,
                StatusCode::UNAUTHORIZED
                    | StatusCode::TOO_MANY_REQUESTS
                    | StatusCode::SERVICE_UNAVAILABLE
            )),
            "{backend}: {statuses:?}"
        );
        assert!(
            checked <= 10,
            "{backend}: {checked} password checks for 40 parallel attempts"
        );
    }
}

#[tokio::test]
async fn parallel_attempts_on_two_instances_sharing_a_database_share_one_limit() {
    for db in tests::all_backends().await {
        let backend = db.backend;
        let second_db = db.shared();
        let first = spawn_app_with(db, |c| c.admin.max_failed_logins = 10).await;
        let second = spawn_app_with(second_db, |c| c.admin.max_failed_logins = 10).await;
        first.create_employee("target@example.com", true).await;
        let attempts = (0..40).map(|i| {
            let app = if i % 2 == 0 { &first } else { &second };
            let (client, url) = (reqwest::Client::new(), app.url("/api/admin/session"));
            async move {
                client
                    .post(url)
                    .json(&json!({"email": "target@example.com", "password": format!("guess {i}")}))
                    .send()
                    .await
                    .unwrap()
                    .status()
            }
        });
        let statuses = futures::future::join_all(attempts).await;
        let checked = statuses
            .iter()
            .filter(|s| **s == StatusCode::UNAUTHORIZED)
            .count();
        println!("MEASURE backend={backend} instances=2 parallel=40 password_checks={checked}");
        assert!(
            checked <= 10,
            "{backend}: {checked} password checks on two instances"
        );
    }
}

// The fastest of several tries: load on a shared machine only ever adds time, so the minimum
// is the cost of the work itself, where a median still moves with the neighbours' builds.
fn fastest(values: &[f64]) -> f64 {
    values.iter().copied().fold(f64::INFINITY, f64::min)
}

#[tokio::test]
async fn sign_in_takes_as_long_for_an_unknown_e_mail_as_for_a_known_one() {
    let app = spawn_app_with(TestDb::for_this_run().await, |c| {
        c.admin.max_failed_logins = 1_000_000
    })
    .await;
    app.create_employee("known@example.com", true).await;
    let client = reqwest::Client::new();
    let (mut known, mut unknown) = (Vec::new(), Vec::new());
    for i in 0..15 {
        for (email, times) in [
            ("known@example.com", &mut known),
            ("nobody@example.com", &mut unknown),
        ] {
            let start = std::time::Instant::now();
            let status = client
                .post(app.url("/api/admin/session"))
                .json(&json!({"email": email, "password": format!("wrong password {i}")}))
                .send()
                .await
                .unwrap()
                .status();
            times.push(start.elapsed().as_secs_f64() * 1000.0);
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{email}");
        }
    }
    let (known, unknown) = (fastest(&known), fastest(&unknown));
    println!("MEASURE fastest_known_ms={known:.1} fastest_unknown_ms={unknown:.1}");
    let ratio = unknown / known;
    assert!(
        (0.7..1.4).contains(&ratio),
        "fastest {unknown:.1} ms for an unknown e-mail vs {known:.1} ms for a known one"
    );
}
