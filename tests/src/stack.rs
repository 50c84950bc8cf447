//! The whole product against its simulated services: a server trusting entra-sim and connected
//! to raynet-sim, with the CRM connection and the webhook stored as an admin would store them.

use std::time::{Duration, Instant};

use server::settings::{CrmConnectionSettings, Setting, WebhookSettings};

use crate::{
    TestApp,
    db::TestDb,
    entra_sim::EntraSim,
    raynet_sim::{RaynetSim, SimOptions},
    server::{AdminClient, mint_token_for, spawn_app_with_entra_adjusted},
};

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
    let key = &app.state.master_key;
    let mut crm = CrmConnectionSettings {
        base_url: raynet.url.clone(),
        instance: raynet.instance.clone(),
        user_email: raynet.admin.username.clone(),
        api_key_enc: None,
        ..Default::default()
    };
    crm.set_api_key(key, &raynet.admin.api_key);
    crm.save(store).await.expect("CRM connection saved");
    let webhook_id = format!("{:032x}", rand::random::<u128>());
    let webhook_token = format!("{:032x}", rand::random::<u128>());
    let mut webhook = WebhookSettings {
        webhook_id: webhook_id.clone(),
        ..Default::default()
    };
    webhook.set_secret_token(key, &webhook_token);
    webhook.save(store).await.expect("webhook saved");
    if register_webhook {
        let client = app.state.crm.admin(store, key).await.expect("a CRM client");
        client
            .create_webhook(
                &app.url(&format!("/api/raynet-event/{webhook_id}")),
                &webhook_token,
                &server::crm::WEBHOOK_EVENTS,
            )
            .await
            .expect("the webhook registers in the simulator");
    }
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
        let response = self
            .admin
            .send_with_csrf(reqwest::Method::POST, &self.app.url("/api/admin/import"))
            .send()
            .await
            .expect("the import starts");
        assert_eq!(response.status(), reqwest::StatusCode::ACCEPTED);
        let run: serde_json::Value = response.json().await.expect("a run id");
        let id = run["run_id"].as_str().expect("a run id").to_owned();
        self.wait_for_run(&id, within).await
    }

    /// Polls run `id` until it is done or failed.
    pub async fn wait_for_run(&self, id: &str, within: Duration) -> serde_json::Value {
        let deadline = Instant::now() + within;
        loop {
            let run: serde_json::Value = self
                .admin
                .client
                .get(self.app.url(&format!("/api/admin/import/{id}")))
                .send()
                .await
                .expect("the run answers")
                .json()
                .await
                .expect("a run");
            match run["status"].as_str() {
                Some("done") => return run,
                Some("failed") => panic!("the import failed: {run}"),
                _ if Instant::now() > deadline => panic!("the import did not finish: {run}"),
                _ => tokio::time::sleep(Duration::from_millis(50)).await,
            }
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
