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

/// The repository's `web/` directory.
pub fn web_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../web")
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
    config
}

/// Starts a server on a fresh database of this run's backend (see [`TestDb::for_this_run`]).
pub async fn spawn_app() -> TestApp {
    spawn_app_with(TestDb::for_this_run().await, |_| {}).await
}

/// Starts a server on `db`, letting `adjust` change the configuration first.
pub async fn spawn_app_with(db: TestDb, adjust: impl FnOnce(&mut Config)) -> TestApp {
    crate::init_test_log();
    let mut config = test_config(&db);
    adjust(&mut config);
    let state = server::build_state(config)
        .await
        .expect("the server state builds");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
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
