//! The Raynet connector against the Raynet simulator: contract tests for every operation, quirk
//! and error; the spec conformance check of everything the simulator answered; and the sample
//! data generator.

mod conformance;
mod contract;
mod generator;

use std::{sync::Arc, time::Duration};

use axum::{Router, extract::State, http::HeaderMap, routing::post};
use parking_lot::Mutex;
use secrecy::SecretString;
use serde_json::Value;
use server::{
    config::CrmConfig,
    crm::{RaynetClient, RaynetConnection},
};
use tests::raynet_sim::{GenOptions, RaynetSim, SimOptions, SimUser};

/// A simulator with a small data set (20 companies, 2 persons, 1 case and 1 project each).
pub(crate) async fn start_sim(record: bool) -> RaynetSim {
    RaynetSim::start(SimOptions {
        record,
        data: GenOptions {
            companies: 20,
            persons_per_company: 2,
            business_cases_per_company: 1,
            projects_per_company: 1,
            seed: 7,
        },
        ..SimOptions::default()
    })
    .await
    .expect("the simulator starts")
}

/// Limits that keep fault tests short: 1 s timeout, 3 retries, at most 3 s of backoff.
pub(crate) fn quick_config() -> CrmConfig {
    CrmConfig {
        request_timeout_secs: 1,
        max_connections: 4,
        max_retries: 3,
        max_backoff_secs: 3,
        allow_other_hosts: true,
    }
}

/// A connector for `user` on `sim`.
pub(crate) fn connector_for(sim: &RaynetSim, user: &SimUser, config: &CrmConfig) -> RaynetClient {
    let http = server::http_client::for_crm(config).expect("an HTTP client");
    RaynetClient::new(
        http,
        RaynetConnection {
            base_url: sim.url.clone(),
            instance: sim.instance.clone(),
            user_email: user.username.clone(),
            api_key: SecretString::from(user.api_key.clone()),
        },
        config,
    )
    .expect("a client")
}

/// A connector for the simulator's admin.
pub(crate) fn connector(sim: &RaynetSim) -> RaynetClient {
    connector_for(sim, &sim.admin, &quick_config())
}

/// What a [`Receiver`] got: (X-RAYNETCRM-Token, body) per delivery.
pub(crate) type Inbox = Arc<Mutex<Vec<(Option<String>, Value)>>>;

/// A webhook receiver on loopback that keeps what it gets: (X-RAYNETCRM-Token, body).
pub(crate) struct Receiver {
    pub(crate) url: String,
    pub(crate) got: Inbox,
}

impl Receiver {
    pub(crate) async fn start() -> Self {
        let got: Inbox = Arc::default();
        let app = Router::new()
            .route(
                "/hook",
                post(
                    |State(got): State<Inbox>,
                     headers: HeaderMap,
                     axum::Json(body): axum::Json<Value>| async move {
                        let token = headers
                            .get("x-raynetcrm-token")
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_owned);
                        got.lock().push((token, body));
                    },
                ),
            )
            .with_state(got.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            url: format!("http://{addr}/hook"),
            got,
        }
    }

    /// Waits until `n` events arrived (at most 5 s).
    pub(crate) async fn wait_for(&self, n: usize) -> Vec<(Option<String>, Value)> {
        for _ in 0..100 {
            if self.got.lock().len() >= n {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.got.lock().clone()
    }
}
