//! An in-process server on a real loopback socket, configured in code.

use std::{net::SocketAddr, path::PathBuf};

use server::{AppState, config::Config};
use tokio::sync::oneshot;

use crate::db::TestDb;

/// A running server and what a test needs to talk to it.
pub struct TestApp {
    /// Where it listens.
    pub addr: SocketAddr,
    /// `http://127.0.0.1:PORT`.
    pub base_url: String,
    /// HTTP client (cookies on, no redirects followed).
    pub client: reqwest::Client,
    /// The server's state, for arranging data directly.
    pub state: AppState,
    /// The database it uses.
    pub db: TestDb,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl TestApp {
    /// `base_url` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A stand-in task pane (`tests/fixtures/pane`), so the API tests need no wasm build.
pub fn web_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/pane")
}

/// The task pane `scripts/build-wasm` built (`web/dist`), for the browser tests.
pub fn built_pane_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../web/dist")
}

/// A configuration for tests: loopback, port 0, the given database, the data dir beside it.
pub fn test_config(db: &TestDb) -> Config {
    let mut config = Config::default();
    config.server.bind = SocketAddr::from(([127, 0, 0, 1], 0));
    config.server.data_dir = db.dir.path().to_path_buf();
    config.server.web_dir = web_dir();
    config.database.url = db.url.clone();
    config.admin.secure_cookie = false;
    config.jobs.poll_interval_ms = 50;
    // raynet-sim listens on plain HTTP on loopback, not on a Raynet host.
    config.crm.allow_other_hosts = true;
    config
}

/// Starts a server on a fresh database of this run's backend (see [`TestDb::for_this_run`]).
pub async fn spawn_app() -> TestApp {
    spawn_app_with(TestDb::for_this_run().await, |_| {}).await
}

/// Starts a server on `db`, letting `adjust` change the configuration first.
pub async fn spawn_app_with(db: TestDb, adjust: impl FnOnce(&mut Config)) -> TestApp {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    spawn_app_on(listener, db, adjust).await
}

/// A second server on `first`'s database with `first`'s master key (so it opens the stored
/// secrets), trusting the Entra authority `authority`, then `adjust`ed: another instance of the
/// same deployment.
pub async fn spawn_second_instance(
    first: &TestApp,
    authority: String,
    adjust: impl FnOnce(&mut Config),
) -> TestApp {
    let same = same_deployment(first, authority);
    spawn_app_with(first.db.shared(), |c| {
        same(c);
        adjust(c);
    })
    .await
}

/// What makes a server another instance of `first`'s deployment: `first`'s master key (so it
/// opens the stored secrets) and the Entra authority `authority`.
fn same_deployment(first: &TestApp, authority: String) -> impl FnOnce(&mut Config) {
    use secrecy::ExposeSecret;
    let key = first
        .state
        .master_key
        .to_base64()
        .expose_secret()
        .to_owned();
    move |c| {
        c.secrets.master_key = server::config::Secret::new(key);
        c.entra.authority = authority;
    }
}

/// Like [`spawn_app_with`], with `server.public_url` set to the real address (for flows that
/// hand our URL to another service, such as the CRM webhook).
pub async fn spawn_app_public(db: TestDb, adjust: impl FnOnce(&mut Config)) -> TestApp {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let addr = listener.local_addr().expect("a local address");
    spawn_app_on(listener, db, |c| {
        c.server.public_url = format!("http://{addr}");
        adjust(c);
    })
    .await
}

/// Another instance of `first`'s deployment (as [`spawn_second_instance`]) serving HTTPS with
/// its self-signed development certificate, with `server.public_url` its real `https://`
/// address: what Graph's change notifications need.
pub async fn spawn_https_instance(
    first: &TestApp,
    authority: String,
    adjust: impl FnOnce(&mut Config),
) -> TestApp {
    let same = same_deployment(first, authority);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let addr = listener.local_addr().expect("a local address");
    let mut app = spawn_app_on(listener, first.db.shared(), |c| {
        same(c);
        c.tls.self_signed = true;
        c.server.public_url = format!("https://{addr}");
        adjust(c);
    })
    .await;
    app.base_url = format!("https://{addr}");
    app.client = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .build()
        .expect("an HTTP client");
    app
}

async fn spawn_app_on(
    listener: tokio::net::TcpListener,
    db: TestDb,
    adjust: impl FnOnce(&mut Config),
) -> TestApp {
    crate::init_test_log();
    let mut config = test_config(&db);
    adjust(&mut config);
    let state = server::build_state(config)
        .await
        .expect("the server state builds");
    let addr = listener.local_addr().expect("a local address");
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(server::serve(state.clone(), listener, async move {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("an HTTP client");
    TestApp {
        addr,
        base_url: format!("http://{addr}"),
        client,
        state,
        db,
        stop: Some(stop),
        task: Some(task),
    }
}

/// A browser-like client signed in to the admin UI: cookie jar plus the session's CSRF token.
pub struct AdminClient {
    /// Client holding the session cookie.
    pub client: reqwest::Client,
    /// Send as `X-CSRF-Token` on state-changing requests.
    pub csrf: String,
    /// The signed-in employee's id.
    pub employee_id: String,
}

impl AdminClient {
    /// Signs in to the server at `base_url` (`http://…`) as `email` with `password`, as the
    /// admin UI's sign-in form does, with a fresh cookie jar.
    pub async fn sign_in(base_url: &str, email: &str, password: &str) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let response = client
            .post(format!("{base_url}/api/admin/session"))
            .json(&serde_json::json!({ "email": email, "password": password }))
            .send()
            .await?;
        anyhow::ensure!(
            response.status() == reqwest::StatusCode::OK,
            "the sign-in answered {}",
            response.status()
        );
        let body: serde_json::Value = response.json().await?;
        let field = |name: &str| {
            body[name]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| anyhow::anyhow!("no {name} in the session: {body}"))
        };
        Ok(Self {
            csrf: field("csrf_token")?,
            employee_id: field("employee_id")?,
            client,
        })
    }

    /// Starts an import at the server at `base_url` and waits (≤ `within`) until it is done;
    /// returns the finished run.
    pub async fn import(
        &self,
        base_url: &str,
        within: std::time::Duration,
    ) -> anyhow::Result<serde_json::Value> {
        let response = self
            .send_with_csrf(
                reqwest::Method::POST,
                &format!("{base_url}/api/admin/import"),
            )
            .send()
            .await?;
        anyhow::ensure!(
            response.status() == reqwest::StatusCode::ACCEPTED,
            "the import did not start: {}",
            response.status()
        );
        let run: serde_json::Value = response.json().await?;
        let id = run["run_id"]
            .as_str()
            .ok_or_else(|| anyhow::anyhow!("no run id: {run}"))?;
        self.wait_for_run(base_url, id, within).await
    }

    /// Polls import run `id` until it is done (an error when it failed or took longer than
    /// `within`).
    pub async fn wait_for_run(
        &self,
        base_url: &str,
        id: &str,
        within: std::time::Duration,
    ) -> anyhow::Result<serde_json::Value> {
        let deadline = std::time::Instant::now() + within;
        loop {
            let run: serde_json::Value = self
                .client
                .get(format!("{base_url}/api/admin/import/{id}"))
                .send()
                .await?
                .json()
                .await?;
            match run["status"].as_str() {
                Some("done") => return Ok(run),
                Some("failed") => anyhow::bail!("the import failed: {run}"),
                _ if std::time::Instant::now() > deadline => {
                    anyhow::bail!("the import did not finish within {within:?}: {run}")
                }
                _ => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
            }
        }
    }

    /// A request with the CSRF header set.
    pub fn send_with_csrf(&self, method: reqwest::Method, url: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, url)
            .header("x-csrf-token", &self.csrf)
    }
}

/// A password tests use for accounts they create.
pub const TEST_PASSWORD: &str = "correct horse battery staple";

impl TestApp {
    /// Creates an employee directly in the store; `admin` picks the role; the password is
    /// [`TEST_PASSWORD`].
    pub async fn create_employee(&self, email: &str, admin: bool) -> server::store::Employee {
        let hash = server::identity::password::hash(TEST_PASSWORD).expect("a hash");
        self.state
            .store
            .create_employee(server::store::NewEmployee {
                identifier: email.to_owned(),
                login_email: email.to_owned(),
                password_hash: Some(hash),
                admin,
                o365_email: email.to_owned(),
                ..Default::default()
            })
            .await
            .expect("the employee is created")
    }

    /// Signs in as `email` with [`TEST_PASSWORD`] using a fresh cookie jar.
    pub async fn login(&self, email: &str) -> AdminClient {
        match AdminClient::sign_in(&self.base_url, email, TEST_PASSWORD).await {
            Ok(admin) => admin,
            Err(e) => panic!("login of {email}: {e:#}"),
        }
    }

    /// Creates an admin `admin@example.com` (if needed) and signs in.
    pub async fn login_as_admin(&self) -> AdminClient {
        let email = "admin@example.com";
        if self
            .state
            .store
            .employee_by_login_email(email)
            .await
            .expect("the store answers")
            .is_none()
        {
            self.create_employee(email, true).await;
        }
        self.login(email).await
    }

    /// Stores Office 365 settings that trust tokens from `sim`.
    pub async fn trust_entra_sim(&self, sim: &crate::entra_sim::EntraSim) {
        let settings = server::identity::office365::Office365Settings {
            client_id: sim.client_id(),
            tenant_id: sim.tenant(),
            ..Default::default()
        };
        settings.save(&self.state).await.expect("settings saved");
    }
}

/// Starts entra-sim and a server configured (through `entra.authority`) and set up to trust it.
pub async fn spawn_app_with_entra() -> (TestApp, crate::entra_sim::EntraSim) {
    spawn_app_with_entra_on(TestDb::for_this_run().await).await
}

/// Like [`spawn_app_with_entra`] on a given database.
pub async fn spawn_app_with_entra_on(db: TestDb) -> (TestApp, crate::entra_sim::EntraSim) {
    spawn_app_with_entra_adjusted(db, |_| {}).await
}

/// Like [`spawn_app_with_entra_on`], letting `adjust` change the configuration first.
pub async fn spawn_app_with_entra_adjusted(
    db: TestDb,
    adjust: impl FnOnce(&mut Config),
) -> (TestApp, crate::entra_sim::EntraSim) {
    let sim = crate::entra_sim::EntraSim::start(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        crate::entra_sim::DEFAULT_TENANT,
    )
    .await
    .expect("entra-sim starts");
    let authority = sim.authority();
    let graph_url = sim.graph_url();
    let app = spawn_app_with(db, |c| {
        c.entra.authority = authority;
        c.entra.graph_url = graph_url;
        adjust(c);
    })
    .await;
    app.trust_entra_sim(&sim).await;
    (app, sim)
}

/// The `oid` the simulator uses for `employee` (its bound oid, else one derived from its id).
pub fn oid_for(employee: &server::store::Employee) -> String {
    use sha2::Digest;
    if let Some(oid) = &employee.entra_oid {
        return oid.clone();
    }
    let digest = sha2::Sha256::digest(employee.id.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Uuid::from_bytes(bytes).to_string()
}

/// A valid add-in access token for `employee` (by their Office 365 e-mail and a stable oid).
pub fn mint_token_for(
    sim: &crate::entra_sim::EntraSim,
    employee: &server::store::Employee,
) -> String {
    sim.mint(&serde_json::json!({
        "oid": oid_for(employee),
        "preferred_username": employee.o365_email,
        "name": employee.identifier,
    }))
}
