//! The real `crm-bridge` binary as a child process, for tests that need a process boundary
//! (command line, signals, SIGKILL and restart) and for `bench`, which measures the release
//! binary from outside.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    sync::OnceLock,
    time::{Duration, Instant},
};

use tokio::process::{Child, Command};

/// Path of the `crm-bridge` binary, built once per test binary (a no-op when up to date).
pub fn server_binary() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let status = std::process::Command::new(cargo)
                .args(["build", "--quiet", "-p", "server", "--bin", "crm-bridge"])
                .status()
                .expect("cargo runs");
            assert!(status.success(), "building crm-bridge failed");
            // target/debug/deps/<test> → target/debug/crm-bridge
            let exe = std::env::current_exe().expect("the test binary's path");
            let dir = exe.parent().and_then(Path::parent).expect("target/debug");
            dir.join("crm-bridge")
        })
        .clone()
}

/// A command for `crm-bridge` with a clean `CRM_BRIDGE_*` environment, run in `cwd`.
pub fn command(cwd: &Path) -> Command {
    let mut cmd = Command::new(server_binary());
    cmd.current_dir(cwd).kill_on_drop(true);
    for (name, _) in std::env::vars() {
        if name.starts_with("CRM_BRIDGE_") || name == "RUST_LOG" || name.starts_with("LC_") {
            cmd.env_remove(name);
        }
    }
    // Messages for people follow LANG; tests read the English ones unless they choose.
    cmd.env("LANG", "en_US.UTF-8");
    // A debug binary's built-in pane is web/dist, which only scripts/build-wasm makes.
    cmd.env("CRM_BRIDGE_SERVER__WEB_DIR", crate::server::web_dir());
    cmd
}

/// A running `crm-bridge serve`.
pub struct ServerProcess {
    /// The child.
    pub child: Child,
    /// Base URL it answers on.
    pub base_url: String,
}

impl ServerProcess {
    /// Starts `crm-bridge [args] serve [serve_args]` on a free loopback port and waits until
    /// `/healthz` answers (at most 30 s).
    pub async fn start(cwd: &Path, args: &[&str], serve_args: &[&str], https: bool) -> Self {
        Self::start_with(cwd, args, serve_args, https, &[], free_port()).await
    }

    /// Like [`ServerProcess::start`] with extra environment variables and a chosen port (a
    /// restarted server keeps its address).
    pub async fn start_with(
        cwd: &Path,
        args: &[&str],
        serve_args: &[&str],
        https: bool,
        env: &[(&str, &str)],
        port: u16,
    ) -> Self {
        let bind = format!("127.0.0.1:{port}");
        let log = if std::env::var("TEST_LOG").is_ok_and(|v| v == "1") {
            Stdio::inherit()
        } else {
            Stdio::null()
        };
        let child = command(cwd)
            .args(args)
            .args(["--bind", &bind, "serve"])
            .args(serve_args)
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("crm-bridge starts");
        let scheme = if https { "https" } else { "http" };
        let base_url = format!("{scheme}://{bind}");
        let server = Self { child, base_url };
        server.wait_healthy(Duration::from_secs(30)).await;
        server
    }

    /// Starts `launch` and waits until `/healthz` answers (at most `within`).
    pub async fn launch(launch: &Launch, within: Duration) -> anyhow::Result<Self> {
        let server = Self {
            child: launch.spawn()?,
            base_url: launch.base_url(),
        };
        server.healthy_within(within).await?;
        Ok(server)
    }

    async fn wait_healthy(&self, within: Duration) {
        if let Err(e) = self.healthy_within(within).await {
            panic!("{e}");
        }
    }

    async fn healthy_within(&self, within: Duration) -> anyhow::Result<()> {
        let client = insecure_client();
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            let url = format!("{}/healthz", self.base_url);
            if let Ok(r) = client.get(url).send().await
                && r.status().is_success()
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        anyhow::bail!(
            "crm-bridge did not answer /healthz at {} within {within:?}",
            self.base_url
        )
    }

    /// The process's resident memory in MB (Linux).
    pub fn rss_mb(&self) -> anyhow::Result<u64> {
        let pid = self
            .child
            .id()
            .ok_or_else(|| anyhow::anyhow!("the server exited"))?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        let kb: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| anyhow::anyhow!("no VmRSS in /proc/{pid}/status"))?;
        Ok(kb / 1024)
    }

    /// Sends SIGTERM and waits for the exit status.
    pub async fn terminate(mut self) -> std::process::ExitStatus {
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
        }
        tokio::time::timeout(Duration::from_secs(20), self.child.wait())
            .await
            .expect("the server stops within 20 s of SIGTERM")
            .expect("an exit status")
    }

    /// Kills the process at once (SIGKILL), as a crash would.
    pub async fn kill(mut self) {
        let _ = self.child.kill().await;
    }
}

/// How a `crm-bridge serve` is started (and started again on the same data and port): a given
/// binary (the release one for `bench`), configured only through `CRM_BRIDGE_*` variables.
#[derive(Debug, Clone)]
pub struct Launch {
    /// The `crm-bridge` binary.
    pub bin: PathBuf,
    /// `--data-dir`.
    pub data_dir: PathBuf,
    /// Loopback port.
    pub port: u16,
    /// Extra environment (`CRM_BRIDGE_*`).
    pub env: Vec<(String, String)>,
}

impl Launch {
    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Spawns the process (killed when dropped; its log, warnings only, to stderr).
    pub fn spawn(&self) -> anyhow::Result<Child> {
        let mut cmd = Command::new(&self.bin);
        for (name, _) in std::env::vars() {
            if name.starts_with("CRM_BRIDGE_") || name == "RUST_LOG" {
                cmd.env_remove(name);
            }
        }
        cmd.args([
            "--data-dir",
            &self.data_dir.display().to_string(),
            "--bind",
            &format!("127.0.0.1:{}", self.port),
            "serve",
        ])
        .env("CRM_BRIDGE_LOG__LEVEL", "warn")
        .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| anyhow::anyhow!("cannot start {}: {e}", self.bin.display()))
    }
}

/// An HTTP client that accepts the development certificate.
pub fn insecure_client() -> reqwest::Client {
    reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .timeout(Duration::from_secs(10))
        .build()
        .expect("an HTTP client")
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}
