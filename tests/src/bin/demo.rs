//! `demo`: the whole product on one machine for a newcomer. Starts raynet-sim (sample data plus
//! the sandbox's records), entra-sim and the server on SQLite configured to them — admin account,
//! CRM connection, Office 365 app, webhook registered in the simulator, an employee with their own
//! CRM key, import run — and prints the URLs (admin UI, Outlook sandbox with a token) and the
//! credentials. Ctrl-C stops everything. `scripts/demo` builds and runs it.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use anyhow::Context;
use clap::Parser;
use serde_json::json;
use server::{config::Config, identity::password, store::NewEmployee};
use tests::{
    entra_sim::{DEFAULT_TENANT, EntraSim},
    raynet_sim::{GenOptions, RaynetSim, SimOptions},
    server::AdminClient,
    stack::{connect_crm, office365_for, register_webhook},
};

#[derive(Parser)]
#[command(
    name = "demo",
    about = "CRM Bridge with simulated Raynet and Microsoft, for a demo"
)]
struct Cli {
    /// Address of the CRM Bridge server.
    #[arg(long, default_value = "127.0.0.1:8080")]
    bind: SocketAddr,
    /// Data directory of the demo (wiped at start: it holds only demo data).
    #[arg(long, default_value = "data/demo")]
    data_dir: PathBuf,
    /// Sample firms in the simulated CRM.
    #[arg(long, default_value_t = 2000)]
    companies: usize,
    /// Folder of the built task pane (what `scripts/build-wasm` makes); default: the pane built
    /// into the binary.
    #[arg(long)]
    web_dir: Option<PathBuf>,
}

const ADMIN: &str = "admin@example.com";
const EMPLOYEE: &str = "demo@example.com";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("warn"))
        .init();
    if cli.data_dir.exists() {
        std::fs::remove_dir_all(&cli.data_dir)
            .with_context(|| format!("while clearing {}", cli.data_dir.display()))?;
    }
    std::fs::create_dir_all(&cli.data_dir)?;

    let crm = RaynetSim::start(SimOptions {
        data: GenOptions {
            companies: cli.companies,
            ..SimOptions::default().data
        },
        ..SimOptions::default()
    })
    .await?;
    tests::sandbox::seed(&crm)?;
    let worker = crm.sim.add_user(EMPLOYEE, "FULL_THROTTLE", "Demo User");
    let entra = EntraSim::start(SocketAddr::from(([127, 0, 0, 1], 0)), DEFAULT_TENANT).await?;

    let base = format!("http://{}", cli.bind);
    let mut config = Config::default();
    config.server.bind = cli.bind;
    config.server.public_url = base.clone();
    config.server.data_dir = cli.data_dir.clone();
    config.server.web_dir = cli.web_dir.clone().unwrap_or_default();
    config.server.serve_sandbox = true;
    config.entra.authority = entra.authority();
    config.admin.secure_cookie = false;
    // The demo's CRM is raynet-sim on loopback.
    config.crm.allow_other_hosts = true;
    let state = server::build_state(config).await?;
    let store = state.store.as_ref();
    let key = &state.master_key;

    let admin_password = password::generate();
    store
        .create_employee(NewEmployee {
            identifier: ADMIN.into(),
            login_email: ADMIN.into(),
            password_hash: Some(password::hash(&admin_password)?),
            admin: true,
            o365_email: ADMIN.into(),
            ..NewEmployee::default()
        })
        .await?;
    let employee = store
        .create_employee(NewEmployee {
            identifier: "demo".into(),
            login_email: EMPLOYEE.into(),
            o365_email: EMPLOYEE.into(),
            crm_user_email: worker.username.clone(),
            ..NewEmployee::default()
        })
        .await?;
    let webhook = connect_crm(store, key, &crm).await?;
    office365_for(&entra, key, false).save(&state).await?;

    let listener = tokio::net::TcpListener::bind(cli.bind)
        .await
        .with_context(|| format!("cannot listen on {}; pass --bind", cli.bind))?;
    let server = tokio::spawn(server::serve(state.clone(), listener, async {
        let _ = tokio::signal::ctrl_c().await;
    }));

    register_webhook(store, &crm, &base, &webhook).await?;

    // The employee's own CRM key, through the admin API as the admin UI sets it.
    let admin = AdminClient::sign_in(&base, ADMIN, &admin_password).await?;
    admin
        .send_with_csrf(
            reqwest::Method::PUT,
            &format!("{base}/api/admin/employees/{}", employee.id),
        )
        .json(&json!({"crm_api_key": worker.api_key}))
        .send()
        .await?
        .error_for_status()
        .context("while storing the employee's CRM key")?;

    println!("importing the CRM's records …");
    admin.import(&base, Duration::from_secs(3600)).await?;

    let exp = chrono::Utc::now().timestamp() + 12 * 3600;
    let token = entra.mint(&json!({
        "oid": uuid::Uuid::new_v4().to_string(),
        "preferred_username": EMPLOYEE,
        "name": "Demo User",
        "exp": exp,
    }));
    println!(
        "
CRM Bridge demo is running.

  Outlook sandbox  {base}/sandbox.html#token={token}
                   (a sample mailbox with the real task pane; the token is valid for 12 hours)
  admin UI         {base}/admin        sign in as {ADMIN} / {admin_password}
  add-in manifest  {base}/manifest.xml  (served once the public URL is https://: Outlook loads add-ins only over HTTPS)
  API document     {base}/api/openapi.json
  raynet-sim       {crm_url}  instance {instance}, user {crm_user}, API key {crm_key}
  entra-sim        {authority}  tenant {tenant}, client id {client}
  data             {data}

Try: open the first e-mail (from Jan Novák) and save it; type \"vitk\" in the firm picker;
open the meeting and add the unknown attendee as a contact.
Press Ctrl-C to stop.",
        crm_url = crm.url,
        instance = crm.instance,
        crm_user = crm.admin.username,
        crm_key = crm.admin.api_key,
        authority = entra.authority(),
        tenant = entra.tenant(),
        client = entra.client_id(),
        data = cli.data_dir.display(),
    );
    server.await??;
    println!("stopped");
    Ok(())
}
