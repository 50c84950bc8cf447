//! The whole product against its simulated services: a server trusting entra-sim and connected
//! to raynet-sim, with the CRM connection and the webhook stored as an admin would store them.
//! The steps (`connect_crm`, `register_webhook`, `office365_for`) are shared with the `demo` and
//! `bench` binaries, which run the server in their own way (a fixed port, a release process).

use std::time::{Duration, Instant};

use server::{
    crm::{Crm, RaynetClient},
    identity::office365::Office365Settings,
    secrets::MasterKey,
    settings::{CrmConnectionSettings, Setting, WebhookSettings},
    store::Store,
};

use crate::{
    TestApp,
    db::TestDb,
    entra_sim::EntraSim,
    raynet_sim::{RaynetSim, SimOptions},
    server::{AdminClient, mint_token_for, spawn_app_with_entra_adjusted},
};

/// The webhook an admin set up: its id (last segment of `/api/raynet-event/{id}`) and secret.
#[derive(Debug, Clone)]
pub struct WebhookSecret {
    /// The webhook's id.
    pub id: String,
    /// Sent by the CRM as `X-RAYNETCRM-Token`.
    pub token: String,
}

/// Stores what an admin enters to connect the server to `raynet`: the CRM connection (admin
/// user and API key) and a webhook with a fresh id and secret token (not yet registered in the
/// CRM: see [`register_webhook`]).
pub async fn connect_crm(
    store: &dyn Store,
    key: &MasterKey,
    raynet: &RaynetSim,
) -> anyhow::Result<WebhookSecret> {
    let mut crm = CrmConnectionSettings {
        base_url: raynet.url.clone(),
        instance: raynet.instance.clone(),
        user_email: raynet.admin.username.clone(),
        api_key_enc: None,
        ..Default::default()
    };
    crm.set_api_key(key, &raynet.admin.api_key);
    crm.save(store).await?;
    let secret = WebhookSecret {
        id: format!("{:032x}", rand::random::<u128>()),
        token: format!("{:032x}", rand::random::<u128>()),
    };
    let mut webhook = WebhookSettings {
        webhook_id: secret.id.clone(),
        ..Default::default()
    };
    webhook.set_secret_token(key, &secret.token);
    webhook.save(store).await?;
    Ok(secret)
}

/// Registers the webhook in `raynet` (pointing at the server at `base_url`) as the admin UI's
/// button does, and records the CRM's webhook id with the stored settings.
pub async fn register_webhook(
    store: &dyn Store,
    raynet: &RaynetSim,
    base_url: &str,
    secret: &WebhookSecret,
) -> anyhow::Result<()> {
    let crm_webhook = crm_admin_client(raynet)?
        .create_webhook(
            &server::crm::webhook::url(base_url, &secret.id),
            &secret.token,
            &server::crm::WEBHOOK_EVENTS,
        )
        .await
        .map_err(|e| anyhow::anyhow!("the webhook did not register: {e}"))?;
    let mut webhook = WebhookSettings::load(store).await?;
    webhook.crm_webhook_id = Some(crm_webhook);
    webhook.registered_at = Some(chrono::Utc::now().timestamp_millis());
    webhook.save(store).await?;
    Ok(())
}

/// A CRM client for `raynet`'s admin user, as the server would build it.
pub fn crm_admin_client(raynet: &RaynetSim) -> anyhow::Result<RaynetClient> {
    let config = server::config::CrmConfig::default();
    Ok(RaynetClient::new(
        server::http_client::for_crm(&config)?,
        server::crm::RaynetConnection {
            base_url: raynet.url.clone(),
            instance: raynet.instance.clone(),
            user_email: raynet.admin.username.clone(),
            api_key: raynet.admin.api_key.clone().into(),
        },
        &config,
    )?)
}

/// Office 365 settings trusting `entra` (its client id and tenant); with its client secret
/// sealed under `key` when `with_secret` (what calendar sync's Graph calls need).
pub fn office365_for(entra: &EntraSim, key: &MasterKey, with_secret: bool) -> Office365Settings {
    let mut settings = Office365Settings {
        client_id: entra.client_id(),
        tenant_id: entra.tenant(),
        ..Default::default()
    };
    if with_secret {
        settings.set_client_secret(key, Some(&entra.client_secret()));
    }
    settings
}

/// Server + entra-sim + raynet-sim.
pub struct Stack {
    /// The server.
    pub app: TestApp,
    /// Microsoft identity simulator.
    pub entra: EntraSim,
    /// Raynet simulator.
    pub raynet: RaynetSim,
    /// Signed-in admin.
    pub admin: AdminClient,
    /// The webhook's secret token.
    pub webhook_token: String,
    /// The webhook's id (last segment of `/api/raynet-event/{id}`).
    pub webhook_id: String,
}

/// Starts the stack on this run's database with `options` for the simulated CRM, stores the
/// CRM connection and a webhook (registered in the simulator when `register_webhook`).
pub async fn spawn_stack(options: SimOptions, register_webhook: bool) -> Stack {
    spawn_stack_on(TestDb::for_this_run().await, options, register_webhook).await
}

/// Like [`spawn_stack`] on a given database.
pub async fn spawn_stack_on(db: TestDb, options: SimOptions, register_webhook: bool) -> Stack {
    spawn_stack_with(db, options, register_webhook, |_| {}).await
}

/// Like [`spawn_stack_on`], letting `adjust` change the server's configuration first.
pub async fn spawn_stack_with(
    db: TestDb,
    options: SimOptions,
    register_webhook: bool,
    adjust: impl FnOnce(&mut server::config::Config),
) -> Stack {
    let raynet = RaynetSim::start(options).await.expect("raynet-sim starts");
    let (app, entra) = spawn_app_with_entra_adjusted(db, adjust).await;
    let admin = app.login_as_admin().await;
    let store = app.state.store.as_ref();
    let webhook = connect_crm(store, &app.state.master_key, &raynet)
        .await
        .expect("CRM connection and webhook saved");
    if register_webhook {
        self::register_webhook(store, &raynet, &app.base_url, &webhook)
            .await
            .expect("the webhook registers in the simulator");
    }
    let (webhook_token, webhook_id) = (webhook.token, webhook.id);
    Stack {
        app,
        entra,
        raynet,
        admin,
        webhook_token,
        webhook_id,
    }
}

impl Stack {
    /// Starts an import through the admin API and waits (≤ `within`) until it is done.
    pub async fn import(&self, within: Duration) -> serde_json::Value {
        match self.admin.import(&self.app.base_url, within).await {
            Ok(run) => run,
            Err(e) => panic!("{e:#}"),
        }
    }

    /// A bearer token of a (new) employee with the given e-mail.
    pub async fn employee_token(&self, email: &str) -> String {
        let employee = match self.app.state.store.employee_by_login_email(email).await {
            Ok(Some(e)) => e,
            _ => self.app.create_employee(email, false).await,
        };
        mint_token_for(&self.entra, &employee)
    }

    /// `GET /api/addin/lookup` as the employee with `token`.
    pub async fn lookup(&self, token: &str, query: &str) -> serde_json::Value {
        let response = self
            .app
            .client
            .get(self.app.url(&format!("/api/addin/lookup?{query}")))
            .bearer_auth(token)
            .send()
            .await
            .expect("lookup answers");
        assert_eq!(response.status(), reqwest::StatusCode::OK, "lookup {query}");
        response.json().await.expect("lookup JSON")
    }

    /// Posts a raw webhook body with the right token; returns the status.
    pub async fn post_event(&self, body: &serde_json::Value) -> reqwest::StatusCode {
        self.app
            .client
            .post(
                self.app
                    .url(&format!("/api/raynet-event/{}", self.webhook_id)),
            )
            .header("X-RAYNETCRM-Token", &self.webhook_token)
            .json(body)
            .send()
            .await
            .expect("the receiver answers")
            .status()
    }
}

/// Polls `check` every 20 ms until it returns true or `within` passes; returns the time taken.
pub async fn eventually<F, Fut>(within: Duration, mut check: F) -> Option<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while start.elapsed() < within {
        if check().await {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}
