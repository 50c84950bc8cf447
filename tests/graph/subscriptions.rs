//! The simulator's change-notification subscriptions against an HTTPS receiver with a
//! self-signed certificate (trusted only through the simulator's own configuration): the
//! validation handshake, renewal, removal, notifications of event changes and lifecycle events.

use std::{collections::HashMap, sync::Arc, time::Duration};

use axum::{
    Router,
    extract::{Query, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
    routing::post,
};
use parking_lot::Mutex;
use serde_json::{Value, json};
use tests::{calendar_rig::app_token, entra_sim::EntraSim, stack::eventually};

use crate::{connector, draft, start_sim};

/// An HTTPS endpoint that answers the validation handshake (`echo`: with the token; otherwise
/// with something else) and keeps every notification it receives.
pub(crate) struct Receiver {
    /// `https://127.0.0.1:PORT`.
    pub base: String,
    /// Notification bodies received, in order.
    pub received: Arc<Mutex<Vec<Value>>>,
    _dir: tempfile::TempDir,
}

#[derive(Clone)]
struct Echo {
    echo: bool,
    received: Arc<Mutex<Vec<Value>>>,
}

async fn receive(
    State(state): State<Echo>,
    Query(q): Query<HashMap<String, String>>,
    body: String,
) -> Response {
    if let Some(token) = q.get("validationToken") {
        let text = if state.echo {
            token.clone()
        } else {
            "not the token".to_owned()
        };
        return ([(header::CONTENT_TYPE, "text/plain")], text).into_response();
    }
    if let Ok(v) = serde_json::from_str::<Value>(&body) {
        state.received.lock().push(v);
    }
    StatusCode::ACCEPTED.into_response()
}

pub(crate) async fn https_receiver(echo: bool) -> Receiver {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let config = server::config::Config {
        server: server::config::ServerConfig {
            data_dir: dir.path().to_path_buf(),
            ..server::config::ServerConfig::default()
        },
        tls: server::config::TlsConfig {
            self_signed: true,
            ..server::config::TlsConfig::default()
        },
        ..server::config::Config::default()
    };
    let tls = server::tls::rustls_config(&config)
        .await
        .expect("a TLS configuration")
        .expect("TLS on");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    listener.set_nonblocking(true).expect("non-blocking");
    let addr = listener.local_addr().expect("an address");
    let received = Arc::new(Mutex::new(Vec::new()));
    let app = Router::new()
        .route("/notify", post(receive))
        .route("/lifecycle", post(receive))
        .with_state(Echo {
            echo,
            received: received.clone(),
        });
    let server = axum_server::from_tcp_rustls(listener, tls).expect("an HTTPS server");
    tokio::spawn(async move { server.serve(app.into_make_service()).await });
    Receiver {
        base: format!("https://127.0.0.1:{}", addr.port()),
        received,
        _dir: dir,
    }
}

/// Subscription calls straight over HTTP; returns the created subscription's id.
pub(crate) async fn subscription_calls(sim: &EntraSim) -> String {
    sim.graph().subscriptions().set_accept_invalid_certs(true);
    let good = https_receiver(true).await;
    let bad = https_receiver(false).await;
    let http = reqwest::Client::new();
    let base = sim.graph_url();
    let token = app_token(sim).await;
    let expires = jiff::Timestamp::now()
        .checked_add(jiff::SignedDuration::from_hours(48))
        .expect("a time")
        .to_string();
    let body = |receiver: &Receiver| {
        json!({"changeType": "created,updated,deleted",
               "notificationUrl": format!("{}/notify", receiver.base),
               "lifecycleNotificationUrl": format!("{}/lifecycle", receiver.base),
               "resource": "/users/anna@firm.cz/events",
               "expirationDateTime": expires,
               "clientState": "a-secret-of-ours"})
    };
    let refused = http
        .post(format!("{base}/subscriptions"))
        .bearer_auth(&token)
        .json(&body(&bad))
        .send()
        .await
        .expect("answer");
    assert_eq!(refused.status(), 400, "a wrong echo fails the handshake");
    let created = http
        .post(format!("{base}/subscriptions"))
        .bearer_auth(&token)
        .json(&body(&good))
        .send()
        .await
        .expect("answer");
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.expect("JSON");
    let id = created["id"].as_str().expect("an id").to_owned();
    let later = jiff::Timestamp::now()
        .checked_add(jiff::SignedDuration::from_hours(72))
        .expect("a time")
        .to_string();
    let renewed = http
        .patch(format!("{base}/subscriptions/{id}"))
        .bearer_auth(&token)
        .json(&json!({"expirationDateTime": later}))
        .send()
        .await
        .expect("answer");
    assert_eq!(renewed.status(), 200);
    let too_long = http
        .patch(format!("{base}/subscriptions/{id}"))
        .bearer_auth(&token)
        .json(&json!({"expirationDateTime": "2099-01-01T00:00:00Z"}))
        .send()
        .await
        .expect("answer");
    assert_eq!(too_long.status(), 400);
    // A change in the mailbox is notified with the client state.
    let event = connector(sim)
        .create_event(
            "anna@firm.cz",
            &draft("Watched", 9, &[]),
            "raynet:task:77",
            "tx-77",
        )
        .await
        .expect("create");
    let seen = eventually(Duration::from_secs(10), || async {
        good.received.lock().iter().any(|n| {
            n["value"][0]["resourceData"]["id"] == event.id.as_str()
                && n["value"][0]["clientState"] == "a-secret-of-ours"
                && n["value"][0]["changeType"] == "created"
        })
    })
    .await;
    assert!(seen.is_some(), "{:?}", good.received.lock());
    assert!(sim.graph().subscriptions().lifecycle(&id, "missed").await);
    assert!(
        good.received
            .lock()
            .iter()
            .any(|n| n["value"][0]["lifecycleEvent"] == "missed")
    );
    let other = http
        .post(format!("{base}/subscriptions"))
        .bearer_auth(&token)
        .json(&body(&good))
        .send()
        .await
        .expect("answer");
    let other: Value = other.json().await.expect("JSON");
    let deleted = http
        .delete(format!(
            "{base}/subscriptions/{}",
            other["id"].as_str().expect("an id")
        ))
        .bearer_auth(&token)
        .send()
        .await
        .expect("answer");
    assert_eq!(deleted.status(), 204);
    id
}

#[tokio::test]
async fn a_subscription_needs_the_echoed_token_and_then_hears_of_every_change_and_lifecycle_event()
{
    let sim = start_sim().await;
    let id = subscription_calls(&sim).await;
    assert!(
        sim.graph()
            .subscriptions()
            .lifecycle(&id, "subscriptionRemoved")
            .await
    );
    assert!(
        sim.graph().subscriptions().all().is_empty(),
        "a removed subscription is gone"
    );
}
