//! `demo`: the whole product on one machine for a newcomer. Starts raynet-sim (sample data plus
//! the sandbox's records), entra-sim and the server on SQLite configured to them — admin account,
//! CRM connection, Office 365 app, webhook registered in the simulator, an employee with their own
//! CRM key, import run — and prints the URLs (admin UI, Outlook sandbox with a token) and the
//! credentials. Ctrl-C stops everything. `scripts/demo` builds and runs it.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use anyhow::Context;
use clap::Parser;
use serde_json::{Value, json};
use server::{
    config::Config,
    identity::{office365::Office365Settings, password},
    settings::{CrmConnectionSettings, Setting, WebhookSettings},
    store::NewEmployee,
};
use tests::{
    entra_sim::{DEFAULT_TENANT, EntraSim},
    raynet_sim::{GenOptions, RaynetSim, SimOptions},
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
    let mut connection = CrmConnectionSettings {
        base_url: crm.url.clone(),
        instance: crm.instance.clone(),
        user_email: crm.admin.username.clone(),
        api_key_enc: None,
        ..Default::default()
    };
    connection.set_api_key(key, &crm.admin.api_key);
    connection.save(store).await?;
    Office365Settings {
        client_id: entra.client_id(),
        tenant_id: entra.tenant(),
        ..Default::default()
    }
    .save(&state)
    .await?;

    let listener = tokio::net::TcpListener::bind(cli.bind)
        .await
        .with_context(|| format!("cannot listen on {}; pass --bind", cli.bind))?;
    let server = tokio::spawn(server::serve(state.clone(), listener, async {
        let _ = tokio::signal::ctrl_c().await;
    }));

    let webhook_id = format!("{:032x}", rand::random::<u128>());
    let webhook_token = format!("{:032x}", rand::random::<u128>());
    let mut webhook = WebhookSettings {
        webhook_id: webhook_id.clone(),
        ..Default::default()
    };
    webhook.set_secret_token(key, &webhook_token);
    let client = state
        .crm
        .admin(store, key)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let crm_webhook = client
        .create_webhook(
            &server::crm::webhook::url(&base, &webhook_id),
            &webhook_token,
            &server::crm::WEBHOOK_EVENTS,
        )
        .await
        .map_err(|e| anyhow::anyhow!("the webhook did not register: {e}"))?;
    webhook.crm_webhook_id = Some(crm_webhook);
    webhook.registered_at = Some(chrono::Utc::now().timestamp_millis());
    webhook.save(store).await?;

    // The employee's own CRM key, through the admin API as the admin UI sets it.
    let http = reqwest::Client::builder().cookie_store(true).build()?;
    let session: Value = http
        .post(format!("{base}/api/admin/session"))
        .json(&json!({"email": ADMIN, "password": admin_password}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let csrf = session["csrf_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    http.put(format!("{base}/api/admin/employees/{}", employee.id))
        .header("x-csrf-token", &csrf)
        .json(&json!({"crm_api_key": worker.api_key}))
        .send()
        .await?
        .error_for_status()
        .context("while storing the employee's CRM key")?;

    println!("importing the CRM's records …");
    let run: Value = http
        .post(format!("{base}/api/admin/import"))
        .header("x-csrf-token", &csrf)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let run_id = run["run_id"].as_str().unwrap_or_default().to_owned();
    loop {
        let run: Value = http
            .get(format!("{base}/api/admin/import/{run_id}"))
            .send()
            .await?
            .json()
            .await?;
        match run["status"].as_str() {
            Some("done") => break,
            Some("failed") => anyhow::bail!("the import failed: {}", run["error"]),
            _ => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }

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
