//! Graph change-notification subscriptions of the simulator, following the Graph webhook docs:
//! `POST /v1.0/subscriptions` validates the notification URL (and the lifecycle URL) by POSTing
//! `?validationToken=…` to it and requires the token echoed as `text/plain` within 10 s (else
//! 400 `ValidationError` and no subscription); `PATCH /v1.0/subscriptions/{id}` renews,
//! `DELETE` removes. Every change of an event in a subscribed mailbox is POSTed to the
//! notification URL as `{"value":[{subscriptionId, subscriptionExpirationDateTime, clientState,
//! changeType, resource, resourceData, tenantId}]}`. `POST /_sim/subscriptions/{id}/lifecycle
//! {"event"}` sends a lifecycle event (`reauthorizationRequired`, `subscriptionRemoved`,
//! `missed`) to the lifecycle URL; `subscriptionRemoved` also removes the subscription.
//! `GET /_sim/subscriptions` lists them with the answers their deliveries got.
//!
//! Certificates of HTTPS notification URLs are verified unless the simulator's own
//! configuration says otherwise (`POST /_sim/notification-tls {"accept_invalid_certs": true}`),
//! as a test with a self-signed server certificate needs.

// The checks return the finished answer as their error so handlers can send it as it is.
#![allow(clippy::result_large_err)]

use std::{
    collections::BTreeMap,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use axum::{
    Json,
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::graph::{GraphState, odata_error};

/// Longest lifetime of an Outlook event subscription (10,080 minutes, under 7 days).
const MAX_LIFETIME: jiff::SignedDuration = jiff::SignedDuration::from_mins(10_080);

/// A subscription as the simulator keeps it.
#[derive(Debug, Clone, Serialize)]
pub struct SimSubscription {
    /// Id.
    pub id: String,
    /// The subscribed resource (`/users/{mail}/events`).
    pub resource: String,
    /// The mailbox it watches (lower case).
    pub mailbox: String,
    /// `created,updated,deleted` or a part of it.
    pub change_type: String,
    /// Where notifications go.
    pub notification_url: String,
    /// Where lifecycle events go.
    pub lifecycle_url: Option<String>,
    /// The client's secret, echoed in every notification.
    pub client_state: Option<String>,
    /// Expiry.
    #[serde(skip)]
    pub expiration: jiff::Timestamp,
    /// HTTP statuses the deliveries got (0: no answer).
    pub delivered: Vec<u16>,
}

impl SimSubscription {
    fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "resource": self.resource,
            "changeType": self.change_type,
            "notificationUrl": self.notification_url,
            "lifecycleNotificationUrl": self.lifecycle_url,
            "clientState": self.client_state,
            "expirationDateTime": self.expiration.to_string(),
            "applicationId": super::DEFAULT_CLIENT_ID,
            "creatorId": uuid::Uuid::nil().to_string(),
            "includeResourceData": false,
            "latestSupportedTlsVersion": "v1_2",
            "notificationUrlAppId": null,
        })
    }
}

/// The subscriptions and how their deliveries are made.
#[derive(Default)]
pub struct Subscriptions {
    list: Mutex<BTreeMap<String, SimSubscription>>,
    accept_invalid_certs: AtomicBool,
    tenant: Mutex<String>,
}

impl Subscriptions {
    /// Every subscription.
    pub fn all(&self) -> Vec<SimSubscription> {
        self.list.lock().values().cloned().collect()
    }

    /// Whether HTTPS notification URLs with certificates nobody vouches for are accepted.
    pub fn set_accept_invalid_certs(&self, accept: bool) {
        self.accept_invalid_certs.store(accept, Ordering::SeqCst);
    }

    pub(super) fn set_tenant(&self, tenant: &str) {
        *self.tenant.lock() = tenant.to_owned();
    }

    fn client(&self) -> Option<reqwest::Client> {
        reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .danger_accept_invalid_certs(self.accept_invalid_certs.load(Ordering::SeqCst))
            .build()
            .ok()
    }

    /// Notifies every subscription of `mailbox` that event `id` was `change` (`created`,
    /// `updated`, `deleted`); deliveries run in the background.
    pub fn changed(self: &Arc<Self>, mailbox: &str, id: &str, change: &str) {
        let targets: Vec<SimSubscription> = self
            .list
            .lock()
            .values()
            .filter(|s| s.mailbox == mailbox && s.change_type.split(',').any(|c| c == change))
            .cloned()
            .collect();
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let tenant = self.tenant.lock().clone();
        for sub in targets {
            let body = json!({"value": [{
                "subscriptionId": sub.id,
                "subscriptionExpirationDateTime": sub.expiration.to_string(),
                "clientState": sub.client_state,
                "changeType": change,
                "resource": format!("Users/{}/Events/{id}", sub.mailbox),
                "resourceData": {
                    "@odata.type": "#Microsoft.Graph.Event",
                    "@odata.id": format!("Users/{}/Events/{id}", sub.mailbox),
                    "@odata.etag": format!("W/\"{}\"", uuid::Uuid::new_v4().simple()),
                    "id": id,
                },
                "tenantId": tenant,
            }]});
            let this = self.clone();
            runtime.spawn(async move { this.deliver(&sub.id, &sub.notification_url, &body).await });
        }
    }

    async fn deliver(&self, sub_id: &str, url: &str, body: &Value) {
        let status = match self.client() {
            Some(client) => client
                .post(url)
                .json(body)
                .send()
                .await
                .map_or(0, |r| r.status().as_u16()),
            None => 0,
        };
        if let Some(sub) = self.list.lock().get_mut(sub_id) {
            sub.delivered.push(status);
        }
    }

    /// The validation handshake: `true` when `url` echoed the token in time as text/plain.
    async fn validate(&self, url: &str) -> bool {
        let Some(client) = self.client() else {
            return false;
        };
        let token = format!(
            "Validation: Testing client application reachability {}",
            uuid::Uuid::new_v4()
        );
        let Ok(mut target) = url::Url::parse(url) else {
            return false;
        };
        target
            .query_pairs_mut()
            .append_pair("validationToken", &token);
        let Ok(answer) = client
            .post(target)
            .header("content-type", "text/plain")
            .send()
            .await
        else {
            return false;
        };
        let plain = answer
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/plain"));
        answer.status() == StatusCode::OK
            && plain
            && answer.text().await.ok().as_deref() == Some(token.as_str())
    }

    /// Sends lifecycle event `event` of subscription `id`; `false` when there is no such
    /// subscription or it has no lifecycle URL.
    pub async fn lifecycle(&self, id: &str, event: &str) -> bool {
        let sub = {
            let mut list = self.list.lock();
            let Some(sub) = list.get(id).cloned() else {
                return false;
            };
            if event == "subscriptionRemoved" {
                list.remove(id);
            }
            sub
        };
        let Some(url) = &sub.lifecycle_url else {
            return false;
        };
        let body = json!({"value": [{
            "subscriptionId": sub.id,
            "subscriptionExpirationDateTime": sub.expiration.to_string(),
            "tenantId": self.tenant.lock().clone(),
            "clientState": sub.client_state,
            "lifecycleEvent": event,
        }]});
        self.deliver(id, url, &body).await;
        true
    }
}

fn bad_request(message: &str) -> Response {
    odata_error(StatusCode::BAD_REQUEST, "BadRequest", message)
}

fn expiration_of(body: &Value) -> Result<jiff::Timestamp, Response> {
    let text = body["expirationDateTime"]
        .as_str()
        .ok_or_else(|| bad_request("expirationDateTime is required."))?;
    let at: jiff::Timestamp = text
        .parse()
        .map_err(|_| bad_request("expirationDateTime is not a valid date time."))?;
    let now = jiff::Timestamp::now();
    if at <= now {
        return Err(bad_request(
            "Subscription expiration can only be in the future.",
        ));
    }
    if at > now.checked_add(MAX_LIFETIME).unwrap_or(now) {
        return Err(bad_request(
            "Subscription expiration can only be 10070 minutes in the future.",
        ));
    }
    Ok(at)
}

pub(super) async fn create(
    State(state): State<Arc<GraphState>>,
    body: Option<Json<Value>>,
) -> Response {
    let Some(Json(body)) = body else {
        return bad_request("Empty Payload. JSON content expected.");
    };
    let subs = state.subscriptions();
    let expiration = match expiration_of(&body) {
        Ok(e) => e,
        Err(r) => return r,
    };
    let resource = body["resource"].as_str().unwrap_or_default().to_owned();
    let mailbox = resource
        .trim_start_matches('/')
        .strip_prefix("users/")
        .or_else(|| resource.trim_start_matches('/').strip_prefix("Users/"))
        .and_then(|r| {
            r.strip_suffix("/events")
                .or_else(|| r.strip_suffix("/Events"))
        })
        .map(str::to_lowercase);
    let Some(mailbox) = mailbox.filter(|m| state.has_mailbox(m)) else {
        return bad_request("Resource is not supported or the mailbox does not exist.");
    };
    let change_type = body["changeType"].as_str().unwrap_or_default().to_owned();
    if change_type.is_empty()
        || !change_type
            .split(',')
            .all(|c| matches!(c, "created" | "updated" | "deleted"))
    {
        return bad_request("changeType must list created, updated or deleted.");
    }
    let notification_url = body["notificationUrl"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    if !notification_url.starts_with("https://") {
        return bad_request("The notificationUrl must use https.");
    }
    let lifecycle_url = body["lifecycleNotificationUrl"].as_str().map(str::to_owned);
    if lifecycle_url
        .as_ref()
        .is_some_and(|u| !u.starts_with("https://"))
    {
        return bad_request("The lifecycleNotificationUrl must use https.");
    }
    let client_state = body["clientState"].as_str().map(str::to_owned);
    if client_state.as_ref().is_some_and(|c| c.len() > 128) {
        return bad_request("clientState must be at most 128 characters.");
    }
    for url in std::iter::once(&notification_url).chain(lifecycle_url.iter()) {
        if !subs.validate(url).await {
            return odata_error(
                StatusCode::BAD_REQUEST,
                "ValidationError",
                "Subscription validation request failed. Response must exactly match validationToken query parameter.",
            );
        }
    }
    let sub = SimSubscription {
        id: uuid::Uuid::new_v4().to_string(),
        resource,
        mailbox,
        change_type,
        notification_url,
        lifecycle_url,
        client_state,
        expiration,
        delivered: Vec::new(),
    };
    let answer = sub.to_json();
    subs.list.lock().insert(sub.id.clone(), sub);
    (StatusCode::CREATED, Json(answer)).into_response()
}

pub(super) async fn renew(
    State(state): State<Arc<GraphState>>,
    Path(id): Path<String>,
    body: Option<Json<Value>>,
) -> Response {
    let Some(Json(body)) = body else {
        return bad_request("Empty Payload. JSON content expected.");
    };
    let expiration = match expiration_of(&body) {
        Ok(e) => e,
        Err(r) => return r,
    };
    let subs = state.subscriptions();
    let mut list = subs.list.lock();
    match list.get_mut(&id) {
        Some(sub) => {
            sub.expiration = expiration;
            Json(sub.to_json()).into_response()
        }
        None => not_found(),
    }
}

pub(super) async fn remove(
    State(state): State<Arc<GraphState>>,
    Path(id): Path<String>,
) -> Response {
    match state.subscriptions().list.lock().remove(&id) {
        Some(_) => StatusCode::NO_CONTENT.into_response(),
        None => not_found(),
    }
}

fn not_found() -> Response {
    odata_error(
        StatusCode::NOT_FOUND,
        "ResourceNotFound",
        "The object was not found.",
    )
}

#[derive(Deserialize)]
pub(super) struct LifecycleRequest {
    event: String,
}

pub(super) async fn sim_lifecycle(
    State(state): State<Arc<GraphState>>,
    Path(id): Path<String>,
    Json(r): Json<LifecycleRequest>,
) -> StatusCode {
    if !matches!(
        r.event.as_str(),
        "reauthorizationRequired" | "subscriptionRemoved" | "missed"
    ) {
        return StatusCode::BAD_REQUEST;
    }
    if state.subscriptions().lifecycle(&id, &r.event).await {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::NOT_FOUND
    }
}

pub(super) async fn sim_list(State(state): State<Arc<GraphState>>) -> Json<Value> {
    Json(json!({"value": state.subscriptions().all()}))
}

#[derive(Deserialize)]
pub(super) struct TlsRequest {
    accept_invalid_certs: bool,
}

pub(super) async fn sim_tls(
    State(state): State<Arc<GraphState>>,
    Json(r): Json<TlsRequest>,
) -> StatusCode {
    state
        .subscriptions()
        .set_accept_invalid_certs(r.accept_invalid_certs);
    StatusCode::NO_CONTENT
}
