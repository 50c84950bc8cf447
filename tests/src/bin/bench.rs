//! `bench`: measures DESIGN.md §8's figures end to end and prints one `BENCH name=value` line
//! each. Run through `scripts/bench` (release build).
//!
//! raynet-sim and entra-sim run in this process; the server runs as its own process (the
//! release `crm-bridge`), so its RSS is its own. The load generator is this process's own
//! (hyper through reqwest, kept-alive connections): closed loop, 64 requests in flight, latency
//! from send to the last byte; and open loop, requests sent at a fixed rate by a paced thread,
//! latency from each request's scheduled send time, so a server that falls behind is not hidden
//! by a generator that waits for it.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    process::Stdio,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use clap::Parser;
use reqwest::Method;
use serde_json::{Value, json};
use server::{
    config::DatabaseUrl,
    crm::{Crm, RaynetClient, RaynetConnection},
    identity::office365::Office365Settings,
    items::{ItemKind, import::PageStream},
    secrets::MasterKey,
    settings::{CrmConnectionSettings, Setting, WebhookSettings},
    store::NewEmployee,
};
use tests::{
    entra_sim::{DEFAULT_TENANT, EntraSim},
    raynet_sim::{GenOptions, RaynetSim, SimOptions},
};

#[derive(Parser)]
struct Args {
    /// 100,000 items instead of 1,000,000, and shorter load phases.
    #[arg(long)]
    quick: bool,
    /// The release `crm-bridge` binary.
    #[arg(long, default_value = "target/release/crm-bridge")]
    server: PathBuf,
    /// Concurrent clients of the load phases.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
}

fn bench(name: &str, value: impl std::fmt::Display) {
    println!("BENCH {name}={value}");
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let companies = if args.quick { 16_667 } else { 166_667 };
    let load_secs = if args.quick { 5 } else { 10 };

    // The simulated CRM: per firm 3 persons, 1 business case, 1 project → 6 items.
    let started = Instant::now();
    let raynet = RaynetSim::start(SimOptions {
        data: GenOptions {
            companies,
            persons_per_company: 3,
            business_cases_per_company: 1,
            projects_per_company: 1,
            seed: 42,
        },
        daily_limit: 1_000_000,
        ..SimOptions::default()
    })
    .await?;
    let items: usize = ["company", "person", "businessCase", "project"]
        .iter()
        .map(|e| raynet.sim.count(e))
        .sum();
    eprintln!(
        "raynet-sim: {items} items generated in {:?}",
        started.elapsed()
    );
    bench("items", items);

    let fetch_only = fetch_all_pages(&raynet).await?;
    bench("fetch_only_s", format!("{:.2}", fetch_only.as_secs_f64()));

    let entra = EntraSim::start(SocketAddr::from(([127, 0, 0, 1], 0)), DEFAULT_TENANT).await?;
    let data_dir = tempfile::tempdir()?;
    let server = ServerUnderTest::start(&args.server, data_dir.path(), &raynet, &entra).await?;

    // Import.
    let admin = server.login_admin().await?;
    let started = Instant::now();
    let run: Value = admin
        .request(Method::POST, server.url("/api/admin/import"))
        .send()
        .await?
        .json()
        .await?;
    let run_id = run["run_id"].as_str().context("no run id")?.to_owned();
    loop {
        let run: Value = admin
            .get(server.url(&format!("/api/admin/import/{run_id}")))
            .send()
            .await?
            .json()
            .await?;
        match run["status"].as_str() {
            Some("done") => break,
            Some("failed") => bail!("import failed: {run}"),
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
        if started.elapsed() > Duration::from_secs(1800) {
            bail!("import did not finish in 30 minutes");
        }
    }
    let import = started.elapsed();
    bench("import_s", format!("{:.2}", import.as_secs_f64()));
    bench(
        "import_ratio",
        format!("{:.2}", import.as_secs_f64() / fetch_only.as_secs_f64()),
    );
    bench("rss_mb", server.rss_mb()?);

    // Lookups and the trivial handler, same concurrency, same run.
    let token = server.employee_token(&entra);
    let queries = lookup_queries(&raynet, 2000);
    let lookup = load(args.concurrency, Duration::from_secs(load_secs), {
        let base = server.base.clone();
        let token = token.clone();
        let queries = Arc::new(queries);
        move |client: &reqwest::Client, n: usize| {
            let (kind, q) = &queries[n % queries.len()];
            client
                .get(format!(
                    "{base}/api/addin/lookup?kind={kind}&q={q}&limit=20"
                ))
                .bearer_auth(&token)
        }
    })
    .await?;
    let healthz = load(args.concurrency, Duration::from_secs(load_secs), {
        let base = server.base.clone();
        move |client: &reqwest::Client, _| client.get(format!("{base}/healthz"))
    })
    .await?;
    bench("lookup_p50_ms", format!("{:.2}", lookup.p(0.50)));
    bench("lookup_p99_ms", format!("{:.2}", lookup.p(0.99)));
    bench("lookup_rps", format!("{:.0}", lookup.rps()));
    bench("healthz_rps", format!("{:.0}", healthz.rps()));
    bench(
        "lookup_vs_healthz_ratio",
        format!("{:.2}", lookup.rps() / healthz.rps()),
    );
    let open = open_loop(OPEN_LOOP_RATE, Duration::from_secs(load_secs), {
        let base = server.base.clone();
        let token = token.clone();
        let queries = Arc::new(lookup_queries(&raynet, 2000));
        move |client: &reqwest::Client, n: usize| {
            let (kind, q) = &queries[n % queries.len()];
            client
                .get(format!(
                    "{base}/api/addin/lookup?kind={kind}&q={q}&limit=20"
                ))
                .bearer_auth(&token)
        }
    })
    .await?;
    bench("lookup_open_rps", format!("{:.0}", open.rps()));
    bench("lookup_open_p50_ms", format!("{:.2}", open.p(0.50)));
    bench("lookup_open_p99_ms", format!("{:.2}", open.p(0.99)));

    // Suggest with 10 addresses: 6 known persons, 2 unknown at known domains, 2 free-mail.
    let bodies = Arc::new(suggest_bodies(&raynet, 500));
    let suggest = load(16, Duration::from_secs(load_secs / 2), {
        let base = server.base.clone();
        let token = token.clone();
        move |client: &reqwest::Client, n: usize| {
            client
                .post(format!("{base}/api/addin/suggest"))
                .bearer_auth(&token)
                .json(&bodies[n % bodies.len()])
        }
    })
    .await?;
    bench("suggest_p99_ms", format!("{:.2}", suggest.p(0.99)));

    // Webhook → visible in lookup.
    let visible =
        webhook_to_visible(&server, &raynet, &token, if args.quick { 50 } else { 200 }).await?;
    bench(
        "webhook_visible_p99_ms",
        format!("{:.1}", percentile(&visible, 0.99)),
    );
    bench("rss_mb_end", server.rss_mb()?);

    // Killed and started again: how long until lookups are answered from the whole index.
    let mut server = server;
    let ready = server.restart(&token).await?;
    bench("restart_ready_s", format!("{:.2}", ready.as_secs_f64()));
    server.stop().await;
    Ok(())
}

/// Requests per second of the open-loop phase.
const OPEN_LOOP_RATE: u32 = 1000;

/// Sends `rate` requests a second for `duration` whatever the answers do; each latency counts from
/// the request's scheduled send time. Every answer must be 2xx.
async fn open_loop<F>(rate: u32, duration: Duration, make: F) -> anyhow::Result<LoadResult>
where
    F: Fn(&reqwest::Client, usize) -> reqwest::RequestBuilder + Send + Sync + Clone + 'static,
{
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()?;
    for n in 0..64 {
        make(&client, n).send().await?.error_for_status()?;
    }
    let total = (f64::from(rate) * duration.as_secs_f64()) as usize;
    let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel();
    let runtime = tokio::runtime::Handle::current();
    let started = Instant::now();
    // A thread paces the sends: the runtime's timer ticks in whole milliseconds.
    let pacer = std::thread::spawn(move || {
        for n in 0..total {
            let scheduled = started + Duration::from_secs_f64(n as f64 / f64::from(rate));
            if let Some(wait) = scheduled.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            let request = make(&client, n);
            let _ = sender.send(runtime.spawn(async move {
                let response = request.send().await?;
                let status = response.status();
                let _ = response.bytes().await?;
                if !status.is_success() {
                    bail!("an open-loop request answered {status}");
                }
                Ok::<_, anyhow::Error>(scheduled.elapsed().as_secs_f64() * 1000.0)
            }));
        }
    });
    let mut latencies = Vec::with_capacity(total);
    while let Some(task) = receiver.recv().await {
        latencies.push(task.await??);
    }
    let elapsed = started.elapsed();
    pacer
        .join()
        .map_err(|_| anyhow::anyhow!("the pacer thread panicked"))?;
    Ok(LoadResult { latencies, elapsed })
}

/// Time to page through every kind with the import's own page pipeline, writing nothing.
async fn fetch_all_pages(raynet: &RaynetSim) -> anyhow::Result<Duration> {
    let client: Arc<dyn Crm> = Arc::new(raynet_client(raynet)?);
    let started = Instant::now();
    let mut errors = 0;
    for kind in ItemKind::ALL {
        let mut pages = PageStream::new(client.clone(), kind, 0);
        while let Some(page) = pages.next(&mut errors).await? {
            std::hint::black_box(page);
        }
    }
    Ok(started.elapsed())
}

fn raynet_client(raynet: &RaynetSim) -> anyhow::Result<RaynetClient> {
    let config = server::config::CrmConfig::default();
    Ok(RaynetClient::new(
        server::http_client::for_crm(&config)?,
        RaynetConnection {
            base_url: raynet.url.clone(),
            instance: raynet.instance.clone(),
            user_email: raynet.admin.username.clone(),
            api_key: raynet.admin.api_key.clone().into(),
        },
        &config,
    )?)
}

/// Realistic type-ahead queries: 2–6 character prefixes of words of real names.
fn lookup_queries(raynet: &RaynetSim, n: usize) -> Vec<(&'static str, String)> {
    let mut out = Vec::with_capacity(n);
    let mut rng = 1u64;
    let mut next = move || {
        rng = rng
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (rng >> 33) as usize
    };
    let companies = raynet.sim.count("company");
    let persons = raynet.sim.count("person");
    while out.len() < n {
        let (kind, name) = if next() % 2 == 0 {
            let c = raynet.sim.company((next() % companies) as i64 + 1);
            ("company", c.map(|c| c.name.to_string()))
        } else {
            let p = raynet.sim.person((next() % persons) as i64 + 1);
            ("person", p.map(|p| format!("{} {}", p.first, p.last)))
        };
        let Some(name) = name else { continue };
        let words: Vec<&str> = name
            .split_whitespace()
            .filter(|w| w.chars().count() >= 2)
            .collect();
        if words.is_empty() {
            continue;
        }
        let word = words[next() % words.len()];
        let len = 2 + next() % 5;
        let prefix: String = word.chars().take(len).collect();
        let encoded: String = url::form_urlencoded::byte_serialize(prefix.as_bytes()).collect();
        out.push((kind, encoded));
    }
    out
}

fn suggest_bodies(raynet: &RaynetSim, n: usize) -> Vec<Value> {
    let persons = raynet.sim.count("person") as i64;
    (0..n as i64)
        .map(|i| {
            let mut addresses: Vec<String> = (0..6)
                .filter_map(|k| raynet.sim.person((i * 7919 + k * 104_729) % persons + 1))
                .filter_map(|p| p.email.map(|e| e.to_string()))
                .collect();
            if let Some(domain) = addresses
                .first()
                .and_then(|a| a.split_once('@'))
                .map(|(_, d)| d.to_owned())
            {
                addresses.push(format!("novy.kontakt{i}@{domain}"));
                addresses.push(format!("jiny{i}@{domain}"));
            }
            addresses.push(format!("soukromy{i}@gmail.com"));
            addresses.push(format!("dalsi{i}@seznam.cz"));
            json!({ "addresses": addresses })
        })
        .collect()
}

async fn webhook_to_visible(
    server: &ServerUnderTest,
    raynet: &RaynetSim,
    token: &str,
    rounds: usize,
) -> anyhow::Result<Vec<f64>> {
    let client = reqwest::Client::new();
    let mut times = Vec::with_capacity(rounds);
    for round in 0..rounds {
        let id = (round as i64) * 37 + 1;
        let marker = format!("Benchmarkova{round}x");
        let started = Instant::now();
        let (status, body) = raynet.sim.user_change(
            &Method::POST,
            "company",
            Some(id),
            &json!({ "name": marker }),
        );
        if !status.is_success() {
            bail!("changing firm {id} in the simulator failed: {body}");
        }
        let folded = marker.to_lowercase();
        loop {
            let found: Value = client
                .get(server.url(&format!(
                    "/api/addin/lookup?kind=company&q={folded}&limit=1"
                )))
                .bearer_auth(token)
                .send()
                .await?
                .json()
                .await?;
            if found["items"][0]["id"] == id {
                break;
            }
            if started.elapsed() > Duration::from_secs(10) {
                bail!("change {round} not visible after 10 s");
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    Ok(times)
}

/// Latencies (ms) and the wall time of one load phase.
struct LoadResult {
    latencies: Vec<f64>,
    elapsed: Duration,
}

impl LoadResult {
    fn p(&self, q: f64) -> f64 {
        percentile(&self.latencies, q)
    }

    fn rps(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64()
    }
}

fn percentile(values: &[f64], q: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

/// Keeps `concurrency` requests in flight for `duration`; every answer must be 2xx.
async fn load<F>(concurrency: usize, duration: Duration, make: F) -> anyhow::Result<LoadResult>
where
    F: Fn(&reqwest::Client, usize) -> reqwest::RequestBuilder + Send + Sync + Clone + 'static,
{
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()?;
    // Warm-up: connections and caches.
    for n in 0..concurrency * 4 {
        make(&client, n).send().await?.error_for_status()?;
    }
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::new();
    for worker in 0..concurrency {
        let client = client.clone();
        let make = make.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut n = worker * 1_000_003;
            while Instant::now() < deadline {
                let t = Instant::now();
                let response = make(&client, n).send().await?;
                let status = response.status();
                let _ = response.bytes().await?;
                if !status.is_success() {
                    bail!("a load request answered {status}");
                }
                latencies.push(t.elapsed().as_secs_f64() * 1000.0);
                n += 1;
            }
            Ok::<_, anyhow::Error>(latencies)
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await??);
    }
    Ok(LoadResult {
        latencies,
        elapsed: started.elapsed(),
    })
}

/// The release server as a child process, configured to the simulators.
struct ServerUnderTest {
    child: tokio::process::Child,
    launch: Launch,
    base: String,
    admin_client: reqwest::Client,
    employee: server::store::Employee,
}

const ADMIN_EMAIL: &str = "bench-admin@example.cz";
const ADMIN_PASSWORD: &str = "bench password 123";

impl ServerUnderTest {
    async fn start(
        bin: &Path,
        dir: &Path,
        raynet: &RaynetSim,
        entra: &EntraSim,
    ) -> anyhow::Result<Self> {
        let master = MasterKey::generate();
        let key_text = {
            use secrecy::ExposeSecret;
            master.to_base64().expose_secret().to_owned()
        };
        let db_url = DatabaseUrl::new(format!(
            "sqlite://{}?mode=rwc",
            dir.join("crm-bridge.db").display()
        ));
        let store = server::store::connect_and_migrate(&db_url, 1).await?;
        let port = tests::process::free_port();
        let base = format!("http://127.0.0.1:{port}");

        // What an admin would have entered in the admin UI.
        let mut crm = CrmConnectionSettings {
            base_url: raynet.url.clone(),
            instance: raynet.instance.clone(),
            user_email: raynet.admin.username.clone(),
            api_key_enc: None,
            ..Default::default()
        };
        crm.set_api_key(&master, &raynet.admin.api_key);
        crm.save(store.as_ref()).await?;
        let token = format!("{:032x}", rand::random::<u128>());
        let mut webhook = WebhookSettings {
            webhook_id: format!("{:032x}", rand::random::<u128>()),
            ..Default::default()
        };
        webhook.set_secret_token(&master, &token);
        webhook.save(store.as_ref()).await?;
        let office = Office365Settings {
            client_id: entra.client_id(),
            tenant_id: entra.tenant(),
            ..Default::default()
        };
        store
            .put_setting(
                server::identity::office365::KEY,
                &serde_json::to_string(&office)?,
            )
            .await?;
        store
            .create_employee(NewEmployee {
                identifier: ADMIN_EMAIL.into(),
                login_email: ADMIN_EMAIL.into(),
                password_hash: Some(server::identity::password::hash(ADMIN_PASSWORD)?),
                admin: true,
                ..Default::default()
            })
            .await?;
        let employee = store
            .create_employee(NewEmployee {
                identifier: "obchodnik@example.cz".into(),
                login_email: "obchodnik@example.cz".into(),
                o365_email: "obchodnik@example.cz".into(),
                ..Default::default()
            })
            .await?;
        drop(store);
        raynet_client(raynet)?
            .create_webhook(
                &server::crm::webhook::url(&base, &webhook.webhook_id),
                &token,
                &server::crm::WEBHOOK_EVENTS,
            )
            .await?;

        let launch = Launch {
            bin: bin.to_owned(),
            dir: dir.to_owned(),
            port,
            key_text,
            authority: entra.authority(),
        };
        let child = launch.spawn()?;
        let admin_client = reqwest::Client::builder().cookie_store(true).build()?;
        let server = Self {
            child,
            launch,
            base,
            admin_client,
            employee,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while reqwest::get(server.url("/healthz")).await.is_err() {
            if Instant::now() > deadline {
                bail!("the server did not start");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(server)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn login_admin(&self) -> anyhow::Result<AdminHandle<'_>> {
        let body: Value = self
            .admin_client
            .post(self.url("/api/admin/session"))
            .json(&json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let csrf = body["csrf_token"]
            .as_str()
            .context("no csrf token")?
            .to_owned();
        Ok(AdminHandle { server: self, csrf })
    }

    fn employee_token(&self, entra: &EntraSim) -> String {
        entra.mint(&json!({ "preferred_username": self.employee.o365_email, "name": "Obchodník" }))
    }

    fn rss_mb(&self) -> anyhow::Result<u64> {
        let pid = self.child.id().context("the server exited")?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        let kb: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .context("no VmRSS")?;
        Ok(kb / 1024)
    }

    async fn stop(mut self) {
        let _ = self.child.kill().await;
    }

    /// Kills the server, starts it again on the same data, and measures the time from the start
    /// until a lookup answers with results.
    /// `token` is the one used so far: a new one would carry another object id, which the
    /// employee (bound at the first sign-in) does not have.
    async fn restart(&mut self, token: &str) -> anyhow::Result<Duration> {
        self.child.kill().await?;
        let client = reqwest::Client::new();
        let url = self.url("/api/addin/lookup?kind=company&q=a&limit=1");
        let started = Instant::now();
        self.child = self.launch.spawn()?;
        loop {
            if let Ok(response) = client.get(&url).bearer_auth(token).send().await
                && response.status().is_success()
                && let Ok(answer) = response.json::<Value>().await
                && answer["items"]
                    .as_array()
                    .is_some_and(|items| !items.is_empty())
            {
                return Ok(started.elapsed());
            }
            if started.elapsed() > Duration::from_secs(300) {
                bail!("no lookup answered within 5 minutes of a restart");
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// How the server process is started (again).
struct Launch {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    key_text: String,
    authority: String,
}

impl Launch {
    fn spawn(&self) -> anyhow::Result<tokio::process::Child> {
        tokio::process::Command::new(&self.bin)
            .args([
                "--data-dir",
                &self.dir.display().to_string(),
                "--bind",
                &format!("127.0.0.1:{}", self.port),
                "serve",
            ])
            .env("CRM_BRIDGE_MASTER_KEY", &self.key_text)
            .env("CRM_BRIDGE_ENTRA__AUTHORITY", &self.authority)
            .env("CRM_BRIDGE_ADMIN__SECURE_COOKIE", "false")
            .env("CRM_BRIDGE_CRM__ALLOW_OTHER_HOSTS", "true")
            .env("CRM_BRIDGE_JOBS__POLL_INTERVAL_MS", "50")
            .env("CRM_BRIDGE_LOG__LEVEL", "warn")
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {}", self.bin.display()))
    }
}

struct AdminHandle<'a> {
    server: &'a ServerUnderTest,
    csrf: String,
}

impl AdminHandle<'_> {
    fn request(&self, method: Method, url: String) -> reqwest::RequestBuilder {
        self.server
            .admin_client
            .request(method, url)
            .header("x-csrf-token", &self.csrf)
    }

    fn get(&self, url: String) -> reqwest::RequestBuilder {
        self.server.admin_client.get(url)
    }
}
