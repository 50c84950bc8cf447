//! Calls to Graph's calendar API for one app registration: every request carries an app-only
//! token and `Prefer: IdType="ImmutableId"`, at most [`GraphLimits::per_mailbox`] run at once per
//! mailbox, and 429/503/504 are retried after `Retry-After` (or a growing pause).

use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use parking_lot::Mutex;
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use tokio::sync::Semaphore;

use super::{EventDraft, GraphError, TokenSource, crm_property_id, parse_graph_time};

/// Where Graph and the token endpoint are, and the app's credentials.
#[derive(Clone)]
pub struct GraphConnection {
    /// Graph base URL, e.g. `https://graph.microsoft.com/v1.0`.
    pub graph_url: String,
    /// `{authority}/{tenant}/oauth2/v2.0/token`.
    pub token_url: String,
    /// Application (client) id.
    pub client_id: String,
    /// Client secret.
    pub client_secret: SecretString,
}

/// Limits of the connector.
#[derive(Debug, Clone, Copy)]
pub struct GraphLimits {
    /// Concurrent requests per mailbox (Outlook allows 4).
    pub per_mailbox: usize,
    /// Retries of a throttled or failed request before giving up.
    pub max_retries: u32,
    /// Longest pause before one retry.
    pub max_wait: Duration,
}

impl Default for GraphLimits {
    fn default() -> Self {
        Self {
            per_mailbox: 4,
            max_retries: 4,
            max_wait: Duration::from_secs(30),
        }
    }
}

/// An event as Graph returned it.
#[derive(Debug, Clone)]
pub struct GraphEvent {
    /// Immutable item id.
    pub id: String,
    /// iCalendar UID (the same in every attendee's copy).
    pub ical_uid: String,
    /// Our CRM id, when the extended property was expanded.
    pub crm_id: Option<String>,
    /// Start instant.
    pub start: Option<jiff::Timestamp>,
    /// End instant.
    pub end: Option<jiff::Timestamp>,
    /// Graph's `request-id` of the call that returned it.
    pub request_id: Option<String>,
    /// The whole JSON.
    pub raw: Value,
}

impl GraphEvent {
    fn from_json(raw: Value, request_id: Option<String>) -> Result<Self, GraphError> {
        let id = raw["id"]
            .as_str()
            .ok_or_else(|| GraphError::Unavailable("an event without an id".into()))?
            .to_owned();
        let property = crm_property_id();
        let crm_id = raw["singleValueExtendedProperties"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| {
                p["id"]
                    .as_str()
                    .is_some_and(|i| i.eq_ignore_ascii_case(&property))
            })
            .and_then(|p| p["value"].as_str())
            .map(str::to_owned);
        Ok(Self {
            id,
            ical_uid: raw["iCalUId"].as_str().unwrap_or_default().to_owned(),
            crm_id,
            start: parse_graph_time(&raw["start"]),
            end: parse_graph_time(&raw["end"]),
            request_id,
            raw,
        })
    }
}

/// One entry of a delta round.
#[derive(Debug, Clone)]
pub enum DeltaChange {
    /// The event is new or changed (as Graph shows it now).
    Changed(GraphEvent),
    /// The event was deleted (or left the window).
    Removed {
        /// Immutable item id.
        id: String,
    },
}

/// Where a delta round starts.
#[derive(Debug, Clone)]
pub enum DeltaFrom {
    /// A first round over a window: every event in it is listed.
    Window {
        /// Window start.
        start: jiff::Timestamp,
        /// Window end.
        end: jiff::Timestamp,
    },
    /// The `@odata.deltaLink` a previous round ended with.
    Link(String),
}

/// What one delta round found, and the link the next round starts from.
#[derive(Debug, Clone)]
pub struct DeltaRound {
    /// Changes in Graph's order.
    pub changes: Vec<DeltaChange>,
    /// The whole `@odata.deltaLink` (it encodes the window and the state).
    pub delta_link: String,
}

/// A change-notification subscription to create.
#[derive(Debug, Clone)]
pub struct NewSubscription<'a> {
    /// Where Graph posts change notifications (HTTPS).
    pub notification_url: &'a str,
    /// Where Graph posts lifecycle events (HTTPS).
    pub lifecycle_url: &'a str,
    /// The secret Graph echoes in every notification.
    pub client_state: &'a str,
    /// When it expires (at most about 7 days ahead).
    pub expires: jiff::Timestamp,
}

/// The id and expiry of a subscription Graph answered with.
fn subscription_of(body: Option<Value>) -> Result<(String, jiff::Timestamp), GraphError> {
    let body = body.unwrap_or_default();
    let id = body["id"]
        .as_str()
        .ok_or_else(|| GraphError::Unavailable("a subscription without an id".into()))?;
    let expires = body["expirationDateTime"]
        .as_str()
        .and_then(|t| t.parse::<jiff::Timestamp>().ok())
        .ok_or_else(|| GraphError::Unavailable("a subscription without an expiry".into()))?;
    Ok((id.to_owned(), expires))
}

/// An answer: status, JSON body (if any), Graph's request id.
struct Answer {
    body: Option<Value>,
    request_id: Option<String>,
}

/// The Graph connector for one app registration.
pub struct GraphClient {
    http: reqwest::Client,
    base: String,
    tokens: TokenSource,
    limits: GraphLimits,
    mailboxes: Mutex<HashMap<String, Arc<Semaphore>>>,
    calls: AtomicU64,
}

impl GraphClient {
    /// A connector for `connection`.
    pub fn new(http: reqwest::Client, connection: GraphConnection, limits: GraphLimits) -> Self {
        let base = connection.graph_url.trim_end_matches('/').to_owned();
        let origin = url::Url::parse(&base)
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_else(|_| "https://graph.microsoft.com".to_owned());
        let tokens = TokenSource::new(
            http.clone(),
            connection.token_url,
            connection.client_id,
            connection.client_secret,
            &origin,
        );
        Self {
            http,
            base,
            tokens,
            limits,
            mailboxes: Mutex::default(),
            calls: AtomicU64::new(0),
        }
    }

    /// How many HTTP requests to Graph this connector made (retries included).
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// Obtains a token (proves the client id, tenant and secret).
    pub async fn check_credentials(&self) -> Result<(), GraphError> {
        self.tokens.token().await.map(|_| ())
    }

    /// Reads one event of `mailbox`'s calendar: proves consent and that the mailbox exists.
    pub async fn check_mailbox(&self, mailbox: &str) -> Result<(), GraphError> {
        let url = self.url(mailbox, &["events"], &[("$top", "1"), ("$select", "id")])?;
        self.call(Method::GET, mailbox, url, None).await.map(|_| ())
    }

    /// Creates an event in `mailbox`; a retry with the same `transaction_id` returns the event the
    /// first call made.
    pub async fn create_event(
        &self,
        mailbox: &str,
        draft: &EventDraft,
        crm_id: &str,
        transaction_id: &str,
    ) -> Result<GraphEvent, GraphError> {
        let url = self.url(mailbox, &["events"], &[])?;
        let body = draft.create_json(crm_id, transaction_id);
        let answer = self.call(Method::POST, mailbox, url, Some(&body)).await?;
        GraphEvent::from_json(answer.body.unwrap_or_default(), answer.request_id)
    }

    /// Writes `draft` over event `id`.
    pub async fn update_event(
        &self,
        mailbox: &str,
        id: &str,
        draft: &EventDraft,
    ) -> Result<GraphEvent, GraphError> {
        let url = self.url(mailbox, &["events", id], &[])?;
        let answer = self
            .call(Method::PATCH, mailbox, url, Some(&draft.to_json()))
            .await?;
        GraphEvent::from_json(answer.body.unwrap_or_default(), answer.request_id)
    }

    /// Deletes event `id` (for a meeting we organize, Exchange sends cancellations).
    pub async fn delete_event(
        &self,
        mailbox: &str,
        id: &str,
    ) -> Result<Option<String>, GraphError> {
        let url = self.url(mailbox, &["events", id], &[])?;
        Ok(self
            .call(Method::DELETE, mailbox, url, None)
            .await?
            .request_id)
    }

    /// Cancels meeting `id` with `comment` (organizer only).
    pub async fn cancel_event(
        &self,
        mailbox: &str,
        id: &str,
        comment: &str,
    ) -> Result<Option<String>, GraphError> {
        let url = self.url(mailbox, &["events", id, "cancel"], &[])?;
        let body = json!({ "comment": comment });
        Ok(self
            .call(Method::POST, mailbox, url, Some(&body))
            .await?
            .request_id)
    }

    /// Reads event `id` with our CRM id expanded.
    pub async fn get_event(&self, mailbox: &str, id: &str) -> Result<GraphEvent, GraphError> {
        let expand = expand_crm_id();
        let url = self.url(mailbox, &["events", id], &[("$expand", &expand)])?;
        let answer = self.call(Method::GET, mailbox, url, None).await?;
        GraphEvent::from_json(answer.body.unwrap_or_default(), answer.request_id)
    }

    /// The events of `mailbox` stamped with `crm_id` (normally none or one).
    pub async fn find_by_crm_id(
        &self,
        mailbox: &str,
        crm_id: &str,
    ) -> Result<Vec<GraphEvent>, GraphError> {
        let filter = format!(
            "singleValueExtendedProperties/Any(ep: ep/id eq '{}' and ep/value eq '{}')",
            crm_property_id(),
            crm_id.replace('\'', "''")
        );
        let expand = expand_crm_id();
        let url = self.url(
            mailbox,
            &["events"],
            &[("$filter", &filter), ("$expand", &expand)],
        )?;
        self.list(mailbox, url).await
    }

    /// Every event of `mailbox` stamped by us, following `@odata.nextLink`.
    pub async fn list_events(&self, mailbox: &str) -> Result<Vec<GraphEvent>, GraphError> {
        let expand = expand_crm_id();
        let url = self.url(
            mailbox,
            &["events"],
            &[("$top", "100"), ("$expand", &expand)],
        )?;
        self.list(mailbox, url).await
    }

    /// One delta round of `mailbox`'s calendar view: follows `@odata.nextLink` until the
    /// `@odata.deltaLink`. A token Graph no longer knows is [`GraphError::ResyncRequired`].
    pub async fn delta(&self, mailbox: &str, from: &DeltaFrom) -> Result<DeltaRound, GraphError> {
        let first = match from {
            DeltaFrom::Window { start, end } => self.url(
                mailbox,
                &["calendarView", "delta"],
                &[
                    ("startDateTime", &start.to_string()),
                    ("endDateTime", &end.to_string()),
                ],
            )?,
            DeltaFrom::Link(link) => self.own_link(link).ok_or_else(|| {
                GraphError::Unavailable("a stored delta link that is not this Graph's".into())
            })?,
        };
        let mut changes = Vec::new();
        let mut next = first;
        loop {
            let answer = self.call(Method::GET, mailbox, next, None).await?;
            let body = answer.body.unwrap_or_default();
            for raw in body["value"].as_array().cloned().unwrap_or_default() {
                if raw.get("@removed").is_some() {
                    if let Some(id) = raw["id"].as_str() {
                        changes.push(DeltaChange::Removed { id: id.to_owned() });
                    }
                } else {
                    changes.push(DeltaChange::Changed(GraphEvent::from_json(
                        raw,
                        answer.request_id.clone(),
                    )?));
                }
            }
            if let Some(link) = body["@odata.deltaLink"].as_str() {
                return Ok(DeltaRound {
                    changes,
                    delta_link: link.to_owned(),
                });
            }
            next = body["@odata.nextLink"]
                .as_str()
                .and_then(|l| self.own_link(l))
                .ok_or_else(|| {
                    GraphError::Unavailable("a delta page without a next or delta link".into())
                })?;
        }
    }

    /// Subscribes to changes of the events in `mailbox`: Graph first checks both URLs with
    /// the validation handshake. Returns the subscription's id and expiry.
    pub async fn create_subscription(
        &self,
        mailbox: &str,
        subscription: &NewSubscription<'_>,
    ) -> Result<(String, jiff::Timestamp), GraphError> {
        let url = self.subscriptions_url(None)?;
        let body = json!({
            "changeType": "created,updated,deleted",
            "notificationUrl": subscription.notification_url,
            "lifecycleNotificationUrl": subscription.lifecycle_url,
            "resource": format!("/users/{mailbox}/events"),
            "expirationDateTime": subscription.expires.to_string(),
            "clientState": subscription.client_state,
        });
        let answer = self.call(Method::POST, mailbox, url, Some(&body)).await?;
        subscription_of(answer.body)
    }

    /// Moves a subscription's expiry; [`GraphError::Gone`] when Graph no longer has it.
    pub async fn renew_subscription(
        &self,
        mailbox: &str,
        id: &str,
        expires: jiff::Timestamp,
    ) -> Result<(String, jiff::Timestamp), GraphError> {
        let url = self.subscriptions_url(Some(id))?;
        let body = json!({ "expirationDateTime": expires.to_string() });
        let answer = self.call(Method::PATCH, mailbox, url, Some(&body)).await?;
        subscription_of(answer.body)
    }

    /// Removes a subscription (one Graph no longer has is fine).
    pub async fn delete_subscription(&self, mailbox: &str, id: &str) -> Result<(), GraphError> {
        let url = self.subscriptions_url(Some(id))?;
        match self.call(Method::DELETE, mailbox, url, None).await {
            Ok(_) | Err(GraphError::Gone) => Ok(()),
            Err(e) => Err(e),
        }
    }

    fn subscriptions_url(&self, id: Option<&str>) -> Result<url::Url, GraphError> {
        let mut url = url::Url::parse(&self.base)
            .map_err(|e| GraphError::Unavailable(format!("bad Graph URL: {e}")))?;
        {
            let mut segments = url
                .path_segments_mut()
                .map_err(|()| GraphError::Unavailable("bad Graph URL".into()))?;
            segments.push("subscriptions");
            if let Some(id) = id {
                segments.push(id);
            }
        }
        Ok(url)
    }

    /// `link` when it points to the Graph we were configured with (links are followed only there).
    fn own_link(&self, link: &str) -> Option<url::Url> {
        url::Url::parse(link)
            .ok()
            .filter(|l| l.as_str().starts_with(&self.base))
    }

    async fn list(&self, mailbox: &str, first: url::Url) -> Result<Vec<GraphEvent>, GraphError> {
        let mut out = Vec::new();
        let mut next = Some(first);
        while let Some(url) = next.take() {
            let answer = self.call(Method::GET, mailbox, url, None).await?;
            let body = answer.body.unwrap_or_default();
            for raw in body["value"].as_array().cloned().unwrap_or_default() {
                out.push(GraphEvent::from_json(raw, answer.request_id.clone())?);
            }
            next = body["@odata.nextLink"]
                .as_str()
                .and_then(|l| url::Url::parse(l).ok())
                // Follow links only to the Graph we were configured with.
                .filter(|l| l.as_str().starts_with(&self.base));
        }
        Ok(out)
    }

    fn url(
        &self,
        mailbox: &str,
        segments: &[&str],
        query: &[(&str, &str)],
    ) -> Result<url::Url, GraphError> {
        let mut url = url::Url::parse(&self.base)
            .map_err(|e| GraphError::Unavailable(format!("bad Graph URL: {e}")))?;
        url.path_segments_mut()
            .map_err(|()| GraphError::Unavailable("bad Graph URL".into()))?
            .push("users")
            .push(mailbox)
            .extend(segments);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(url)
    }

    fn permits(&self, mailbox: &str) -> Arc<Semaphore> {
        self.mailboxes
            .lock()
            .entry(mailbox.to_lowercase())
            .or_insert_with(|| Arc::new(Semaphore::new(self.limits.per_mailbox.max(1))))
            .clone()
    }

    /// One Graph call with the retries the limits allow.
    async fn call(
        &self,
        method: Method,
        mailbox: &str,
        url: url::Url,
        body: Option<&Value>,
    ) -> Result<Answer, GraphError> {
        let permits = self.permits(mailbox);
        let mut attempt: u32 = 0;
        let mut refreshed = false;
        loop {
            let token = self.tokens.token().await?;
            let outcome = {
                let _permit = permits
                    .acquire()
                    .await
                    .map_err(|_| GraphError::Unavailable("shutting down".into()))?;
                self.calls.fetch_add(1, Ordering::Relaxed);
                let mut request = self
                    .http
                    .request(method.clone(), url.clone())
                    .bearer_auth(token.expose_secret())
                    .header("Prefer", "IdType=\"ImmutableId\", outlook.timezone=\"UTC\"");
                if let Some(body) = body {
                    request = request.json(body);
                }
                request.send().await
            };
            let response = match outcome {
                Ok(r) => r,
                Err(e) => {
                    let reason = e.without_url().to_string();
                    if attempt >= self.limits.max_retries {
                        return Err(GraphError::Unavailable(reason));
                    }
                    attempt += 1;
                    tokio::time::sleep(self.backoff(attempt)).await;
                    continue;
                }
            };
            let status = response.status();
            let request_id = response
                .headers()
                .get("request-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let retry_after = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            let text = response.text().await.unwrap_or_default();
            let json: Option<Value> = serde_json::from_str(&text).ok();
            if status.is_success() {
                return Ok(Answer {
                    body: json,
                    request_id,
                });
            }
            let code = json
                .as_ref()
                .and_then(|j| j["error"]["code"].as_str())
                .unwrap_or_default()
                .to_owned();
            let message: String = json
                .as_ref()
                .and_then(|j| j["error"]["message"].as_str())
                .unwrap_or_default()
                .chars()
                .take(300)
                .collect();
            let transient = matches!(
                status,
                StatusCode::TOO_MANY_REQUESTS
                    | StatusCode::SERVICE_UNAVAILABLE
                    | StatusCode::GATEWAY_TIMEOUT
                    | StatusCode::BAD_GATEWAY
                    | StatusCode::INTERNAL_SERVER_ERROR
            );
            if transient {
                let wait = retry_after
                    .unwrap_or_else(|| self.backoff(attempt + 1))
                    .min(self.limits.max_wait);
                if attempt >= self.limits.max_retries {
                    return Err(if status == StatusCode::TOO_MANY_REQUESTS {
                        GraphError::Throttled(wait)
                    } else {
                        GraphError::Unavailable(format!("{status} {code}: {message}"))
                    });
                }
                attempt += 1;
                tracing::debug!(%status, ?wait, attempt, "Graph asked us to wait");
                tokio::time::sleep(wait).await;
                continue;
            }
            if status == StatusCode::UNAUTHORIZED && !refreshed {
                // The cached token may have been revoked early: one fresh try.
                refreshed = true;
                self.tokens.forget().await;
                continue;
            }
            return Err(match (status, code.as_str()) {
                (StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN, _) => {
                    GraphError::NoConsent(format!("{code}: {message}"))
                }
                (
                    StatusCode::NOT_FOUND,
                    "ErrorInvalidUser"
                    | "MailboxNotEnabledForRESTAPI"
                    | "ResourceNotFound"
                    | "ErrorNonExistentMailbox",
                ) => GraphError::MailboxNotFound(mailbox.to_owned()),
                (
                    StatusCode::GONE,
                    "SyncStateNotFound" | "syncStateNotFound" | "resyncRequired"
                    | "SyncStateInvalid",
                ) => GraphError::ResyncRequired,
                (StatusCode::NOT_FOUND | StatusCode::GONE, _) => GraphError::Gone,
                _ => GraphError::Rejected {
                    status: status.as_u16(),
                    code,
                    message,
                },
            });
        }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let base = Duration::from_millis(250) * 2u32.saturating_pow(attempt.min(8));
        let jitter = Duration::from_millis(rand::random::<u64>() % 250);
        (base + jitter).min(self.limits.max_wait)
    }
}

/// `$expand` of our CRM id property.
fn expand_crm_id() -> String {
    format!(
        "singleValueExtendedProperties($filter=id eq '{}')",
        crm_property_id()
    )
}
