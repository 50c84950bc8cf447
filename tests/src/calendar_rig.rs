//! What calendar-sync tests share: the Microsoft 365 simulator with the usual mailboxes, a Graph
//! connector and an app-only token for it, and a server that trusts the simulator's app (its
//! client secret stored), so the connector tests and the end-to-end tests do not each build
//! these by hand.

use std::time::Duration;

use secrecy::SecretString;
use serde_json::Value;
use server::{
    graph::{GraphClient, GraphConnection, GraphLimits},
    identity::office365::Office365Settings,
};

use crate::{
    TestApp,
    entra_sim::{DEFAULT_TENANT, EntraSim},
};

/// A simulator on a loopback port with a mailbox for each `(mail, display name)`.
pub async fn start_graph_sim(mailboxes: &[(&str, &str)]) -> EntraSim {
    let sim = EntraSim::start(
        "127.0.0.1:0".parse().expect("a socket address"),
        DEFAULT_TENANT,
    )
    .await
    .expect("the simulator starts");
    for (mail, name) in mailboxes {
        sim.graph().add_mailbox(mail, name);
    }
    sim
}

/// A Graph connector for the simulator's app with client secret `secret`.
pub fn graph_connector(sim: &EntraSim, secret: &str, limits: GraphLimits) -> GraphClient {
    let http = server::http_client::build(Duration::from_secs(10)).expect("an HTTP client");
    GraphClient::new(
        http,
        GraphConnection {
            graph_url: sim.graph_url(),
            token_url: format!("{}/{}/oauth2/v2.0/token", sim.authority(), sim.tenant()),
            client_id: sim.client_id(),
            client_secret: SecretString::from(secret.to_owned()),
        },
        limits,
    )
}

/// An app-only Graph token from the simulator, by client credentials, as the connector gets it.
pub async fn app_token(sim: &EntraSim) -> String {
    let answer: Value = reqwest::Client::new()
        .post(format!(
            "{}/{}/oauth2/v2.0/token",
            sim.authority(),
            sim.tenant()
        ))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(
            url::form_urlencoded::Serializer::new(String::new())
                .append_pair("grant_type", "client_credentials")
                .append_pair("client_id", &sim.client_id())
                .append_pair("client_secret", &sim.client_secret())
                .append_pair("scope", &format!("{}/.default", sim.authority()))
                .finish(),
        )
        .send()
        .await
        .expect("the simulator answers")
        .json()
        .await
        .expect("JSON");
    answer["access_token"]
        .as_str()
        .expect("an access token")
        .to_owned()
}

/// Stores `secret` as the client secret of the server's Office 365 app (the simulator's app
/// already is, see `spawn_app_with_entra`).
pub async fn store_client_secret(app: &TestApp, secret: &str) {
    let state = &app.state;
    let mut o365 = Office365Settings::load(state).await.expect("settings");
    o365.set_client_secret(&state.master_key, Some(secret));
    o365.save(state).await.expect("saved");
}
