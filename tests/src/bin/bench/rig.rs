//! The release server under test as its own process (so its RSS is its own), on a fresh SQLite
//! database that is prepared first as an admin would have set it up: the CRM connection to
//! raynet-sim with the webhook registered there, the Office 365 app of entra-sim, an admin
//! account and employees. Composed of the test stack's steps (`tests::stack`,
//! `tests::process`, `tests::server::AdminClient`).

use std::{
    path::Path,
    time::{Duration, Instant},
};

use anyhow::bail;
use serde_json::Value;
use server::{
    config::DatabaseUrl,
    secrets::MasterKey,
    store::{Employee, NewEmployee, Store},
};
use tests::{
    entra_sim::EntraSim,
    process::{Launch, ServerProcess, free_port},
    raynet_sim::{RaynetSim, SimUser},
    server::AdminClient,
    stack::{WebhookSecret, connect_crm, office365_for, register_webhook},
};

const ADMIN_EMAIL: &str = "bench-admin@example.cz";
const ADMIN_PASSWORD: &str = "bench password 123";

/// What the rig is prepared with.
pub(crate) struct Setup<'a> {
    /// The release `crm-bridge`.
    pub(crate) bin: &'a Path,
    /// Its data directory.
    pub(crate) dir: &'a Path,
    /// The simulated CRM.
    pub(crate) raynet: &'a RaynetSim,
    /// The simulated Microsoft 365.
    pub(crate) entra: &'a EntraSim,
    /// Calendar sync: Graph at entra-sim and the Office 365 app's client secret stored.
    pub(crate) graph: bool,
}

/// The server, its database (before start), and the signed-in admin.
pub(crate) struct Rig {
    /// The running process.
    pub(crate) process: ServerProcess,
    launch: Launch,
    /// The admin, signed in.
    pub(crate) admin: AdminClient,
    /// The webhook as stored (id and secret).
    pub(crate) webhook: WebhookSecret,
}

/// The database before the server starts: add employees here.
pub(crate) struct Prepared {
    store: std::sync::Arc<dyn Store>,
    master: MasterKey,
    launch: Launch,
    webhook: WebhookSecret,
    crm_base_url: String,
}

impl Prepared {
    /// Creates the database and stores what an admin would have entered.
    pub(crate) async fn new(setup: &Setup<'_>) -> anyhow::Result<Self> {
        let master = MasterKey::generate();
        let key_text = {
            use secrecy::ExposeSecret;
            master.to_base64().expose_secret().to_owned()
        };
        let db_url = DatabaseUrl::new(format!(
            "sqlite://{}?mode=rwc",
            setup.dir.join("crm-bridge.db").display()
        ));
        let store = server::store::connect_and_migrate(&db_url, 1).await?;
        let webhook = connect_crm(store.as_ref(), &master, setup.raynet).await?;
        let office = office365_for(setup.entra, &master, setup.graph);
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
        let mut env = vec![
            ("CRM_BRIDGE_MASTER_KEY", key_text),
            ("CRM_BRIDGE_ENTRA__AUTHORITY", setup.entra.authority()),
            ("CRM_BRIDGE_ADMIN__SECURE_COOKIE", "false".into()),
            ("CRM_BRIDGE_CRM__ALLOW_OTHER_HOSTS", "true".into()),
            ("CRM_BRIDGE_JOBS__POLL_INTERVAL_MS", "50".into()),
        ];
        if setup.graph {
            env.push(("CRM_BRIDGE_ENTRA__GRAPH_URL", setup.entra.graph_url()));
        }
        let launch = Launch {
            bin: setup.bin.to_owned(),
            data_dir: setup.dir.to_owned(),
            port: free_port(),
            env: env.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
        };
        register_webhook(store.as_ref(), setup.raynet, &launch.base_url(), &webhook).await?;
        Ok(Self {
            store,
            master,
            launch,
            webhook,
            crm_base_url: setup.raynet.url.clone(),
        })
    }

    /// Adds an employee whose Office 365 mailbox is `email`; with `crm_user`, the CRM user's
    /// own API key is stored as the admin UI stores it.
    pub(crate) async fn employee(
        &self,
        email: &str,
        crm_user: Option<&SimUser>,
    ) -> anyhow::Result<Employee> {
        let employee = self
            .store
            .create_employee(NewEmployee {
                identifier: email.into(),
                login_email: email.into(),
                o365_email: email.into(),
                ..Default::default()
            })
            .await?;
        if let Some(user) = crm_user {
            let sealed = self.master.seal(
                &server::secrets::employee_crm_key_aad(&employee.id),
                &user.api_key,
            );
            self.store
                .set_crm_api_key_enc(&employee.id, Some(&sealed), Some(&self.crm_base_url))
                .await?;
        }
        Ok(employee)
    }

    /// Starts the server and signs the admin in.
    pub(crate) async fn start(self) -> anyhow::Result<Rig> {
        drop(self.store);
        let process = ServerProcess::launch(&self.launch, Duration::from_secs(60)).await?;
        let admin =
            AdminClient::sign_in(&self.launch.base_url(), ADMIN_EMAIL, ADMIN_PASSWORD).await?;
        Ok(Rig {
            process,
            launch: self.launch,
            admin,
            webhook: self.webhook,
        })
    }
}

impl Rig {
    /// `http://127.0.0.1:PORT` + `path`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.process.base_url)
    }

    /// The base URL.
    pub(crate) fn base(&self) -> &str {
        &self.process.base_url
    }

    /// Stops the server.
    pub(crate) async fn stop(self) {
        self.process.kill().await;
    }

    /// Kills the server, starts it again on the same data, and measures the time from the start
    /// until a lookup with `token` answers with results. `token` is the one used so far: a new
    /// one would carry another object id, which the employee (bound at the first sign-in) does
    /// not have.
    pub(crate) async fn restart(&mut self, token: &str) -> anyhow::Result<Duration> {
        self.process.child.kill().await?;
        let client = reqwest::Client::new();
        let url = self.url("/api/addin/lookup?kind=company&q=a&limit=1");
        let started = Instant::now();
        self.process.child = self.launch.spawn()?;
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

    /// Posts a webhook body to the server as the CRM would (with the secret token).
    pub(crate) async fn post_webhook(&self, body: &Value) -> anyhow::Result<reqwest::StatusCode> {
        Ok(reqwest::Client::new()
            .post(server::crm::webhook::url(self.base(), &self.webhook.id))
            .header("X-RAYNETCRM-Token", &self.webhook.token)
            .json(body)
            .send()
            .await?
            .status())
    }
}
