//! Graph change notifications for synced mailboxes: the public endpoints Graph posts to
//! ([`NOTIFY_ROUTE`], [`LIFECYCLE_ROUTE`]) and the scheduled kind [`JOB_KIND`] that keeps one
//! subscription per opted-in mailbox. Subscriptions exist only when the server's public URL is
//! HTTPS (Graph posts nowhere else); the delta rounds of the reconcile are the safety net.
//!
//! Each subscription has its own random `clientState`, kept only as a SHA-256 hash; a
//! notification is believed when its client state hashes to the stored one (compared in
//! constant time), and then only queues the employee's delta round, so the answer (202) is
//! fast. A batch with a wrong client state is refused (403) and queues nothing. Lifecycle
//! events: `reauthorizationRequired` renews, `subscriptionRemoved` makes a new subscription,
//! `missed` queues a delta round; each also queues one.

use std::{collections::BTreeSet, time::Duration};

use async_trait::async_trait;
use axum::{
    body::Bytes,
    extract::{Query, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    CalendarCtx,
    engine::{GraphConnector, SyncScope},
    outlook_delta::queue_outlook_delta,
};
use crate::{
    error::AppError,
    graph::{GraphError, NewSubscription},
    jobs::{JobError, JobKind, Schedule, Signal},
    store::{CalendarSubscription, Job, now_ms},
};

/// Where Graph posts change notifications.
pub const NOTIFY_ROUTE: &str = "/api/graph-notify";
/// Where Graph posts lifecycle events.
pub const LIFECYCLE_ROUTE: &str = "/api/graph-lifecycle";
/// The scheduled kind that creates and renews subscriptions.
pub const JOB_KIND: &str = "calendar.subscriptions";
/// Makes [`JOB_KIND`] run now (a lifecycle event asked for a new or renewed subscription).
pub const SUBSCRIPTIONS_DUE: Signal = Signal("calendar.subscriptions_due");

/// How long a subscription is asked for (Outlook allows under 7 days).
const LIFETIME: jiff::SignedDuration = jiff::SignedDuration::from_hours(72);
/// Renewed when less than this is left (about half the lifetime).
const RENEW_BEFORE: jiff::SignedDuration = jiff::SignedDuration::from_hours(36);
/// How often the kind looks at the subscriptions.
const PERIOD: Duration = Duration::from_secs(3600);

/// The routes (public: Graph has no session).
pub fn router<S>() -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    CalendarCtx: axum::extract::FromRef<S>,
{
    OpenApiRouter::new()
        .routes(routes!(notify))
        .routes(routes!(lifecycle))
}

/// The validation handshake's query.
#[derive(Debug, Deserialize, IntoParams)]
pub struct Handshake {
    /// Sent by Graph when a subscription is created: echoed as text/plain.
    #[serde(rename = "validationToken")]
    pub validation_token: Option<String>,
}

/// The hash of a client state as stored.
fn hash(client_state: &str) -> String {
    Sha256::digest(client_state.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The handshake's answer: 200, text/plain, the token as Graph sent it (URL-decoded).
fn echo(token: String) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        token,
    )
        .into_response()
}

/// One entry of a notification batch (change or lifecycle).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Entry {
    subscription_id: String,
    client_state: Option<String>,
    lifecycle_event: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Batch {
    value: Vec<Entry>,
}

/// The batch's entries with their stored subscription, or the refusal: 400 for a body that is
/// not a batch, 403 when any entry's subscription or client state is not ours.
async fn believed(
    state: &CalendarCtx,
    body: &[u8],
) -> Result<Vec<(Entry, CalendarSubscription)>, AppError> {
    let batch: Batch = serde_json::from_slice(body)
        .map_err(|e| AppError::BadRequest(format!("not a notification batch: {e}")))?;
    let mut out = Vec::new();
    for entry in batch.value {
        let stored = state
            .store
            .calendar_subscription(&entry.subscription_id)
            .await?;
        let sent = hash(entry.client_state.as_deref().unwrap_or_default());
        let ok = stored
            .as_ref()
            .is_some_and(|s| bool::from(s.client_state_hash.as_bytes().ct_eq(sent.as_bytes())));
        match (ok, stored) {
            (true, Some(s)) => out.push((entry, s)),
            _ => {
                return Err(AppError::Forbidden(
                    "unknown subscription or wrong clientState".into(),
                ));
            }
        }
    }
    Ok(out)
}

/// Receives Graph change notifications (and answers the validation handshake).
#[utoipa::path(post, path = NOTIFY_ROUTE, tag = "graph", params(Handshake),
    request_body(content = String, description = "Graph's notification batch"),
    responses((status = 200, description = "The validation token, as text/plain"),
        (status = 202, description = "Accepted; the mailbox's delta round is queued"),
        crate::api_responses::BadRequest, crate::api_responses::Forbidden))]
pub async fn notify(
    State(state): State<CalendarCtx>,
    Query(handshake): Query<Handshake>,
    body: Bytes,
) -> Result<Response, AppError> {
    if let Some(token) = handshake.validation_token {
        return Ok(echo(token));
    }
    let entries = believed(&state, &body).await?;
    let employees: BTreeSet<String> = entries.into_iter().map(|(_, s)| s.employee_id).collect();
    for employee in employees {
        queue_outlook_delta(state.store.as_ref(), &state.jobs, &employee).await?;
    }
    Ok(StatusCode::ACCEPTED.into_response())
}

/// Receives Graph lifecycle events (and answers the validation handshake).
#[utoipa::path(post, path = LIFECYCLE_ROUTE, tag = "graph", params(Handshake),
    request_body(content = String, description = "Graph's lifecycle batch"),
    responses((status = 200, description = "The validation token, as text/plain"),
        (status = 202, description = "Accepted"),
        crate::api_responses::BadRequest, crate::api_responses::Forbidden))]
pub async fn lifecycle(
    State(state): State<CalendarCtx>,
    Query(handshake): Query<Handshake>,
    body: Bytes,
) -> Result<Response, AppError> {
    if let Some(token) = handshake.validation_token {
        return Ok(echo(token));
    }
    let store = state.store.as_ref();
    for (entry, sub) in believed(&state, &body).await? {
        match entry.lifecycle_event.as_deref() {
            Some("subscriptionRemoved") => {
                store.delete_calendar_subscription(&sub.employee_id).await?;
                state.jobs.signal(SUBSCRIPTIONS_DUE);
            }
            Some("reauthorizationRequired") => {
                // Renewed at once by the next pass.
                store
                    .save_calendar_subscription(&CalendarSubscription {
                        expires_at: 0,
                        ..sub.clone()
                    })
                    .await?;
                state.jobs.signal(SUBSCRIPTIONS_DUE);
            }
            _ => {}
        }
        // Whatever happened, changes may have been missed: a delta round catches up.
        queue_outlook_delta(store, &state.jobs, &sub.employee_id).await?;
    }
    Ok(StatusCode::ACCEPTED.into_response())
}

/// The `calendar.subscriptions` job kind.
pub struct SubscriptionsJob {
    state: CalendarCtx,
    graph: GraphConnector,
}

impl SubscriptionsJob {
    /// The kind, working with `state`.
    pub fn new(state: CalendarCtx) -> Self {
        Self {
            state,
            graph: GraphConnector::default(),
        }
    }
}

#[async_trait]
impl JobKind for SubscriptionsJob {
    fn name(&self) -> &'static str {
        JOB_KIND
    }

    fn schedule(&self) -> Schedule {
        if self.state.config.server.public_url.starts_with("https://") {
            Schedule::Every(PERIOD)
        } else {
            Schedule::Off
        }
    }

    fn woken_by(&self) -> &'static [Signal] {
        &[SUBSCRIPTIONS_DUE]
    }

    async fn run(&self, _job: &Job) -> Result<(), JobError> {
        keep_subscriptions(&self.state, &self.graph).await
    }
}

/// One pass: every synced mailbox has a subscription that does not expire soon; mailboxes no
/// longer synced have none.
async fn keep_subscriptions(
    state: &CalendarCtx,
    connector: &GraphConnector,
) -> Result<(), JobError> {
    let store = state.store.as_ref();
    let base = state
        .config
        .server
        .public_url
        .trim_end_matches('/')
        .to_owned();
    if !base.starts_with("https://") {
        // Another instance of the deployment scheduled this; one that Graph can reach takes it.
        return Err(JobError::retry(
            "this instance has no HTTPS public URL for Graph notifications",
        ));
    }
    let graph = connector.get(state).await?;
    let synced = match SyncScope::load(state).await? {
        Some(scope) => scope.employees().to_vec(),
        None => Vec::new(),
    };
    let existing = store.calendar_subscriptions().await?;
    for sub in &existing {
        if !synced.iter().any(|e| e.employee_id == sub.employee_id) {
            graph
                .delete_subscription(&sub.mailbox, &sub.subscription_id)
                .await
                .map_err(|e| JobError::retry(e.to_string()))?;
            store.delete_calendar_subscription(&sub.employee_id).await?;
        }
    }
    let now = jiff::Timestamp::now();
    let notify = format!("{base}{NOTIFY_ROUTE}");
    let lifecycle = format!("{base}{LIFECYCLE_ROUTE}");
    let mut transient = None;
    for employee in &synced {
        let current = existing
            .iter()
            .find(|s| s.employee_id == employee.employee_id && s.mailbox == employee.mailbox);
        let expires = now.checked_add(LIFETIME).unwrap_or(now);
        let outcome = match current {
            Some(sub)
                if sub.expires_at
                    > now
                        .checked_add(RENEW_BEFORE)
                        .unwrap_or(now)
                        .as_millisecond() =>
            {
                continue;
            }
            Some(sub) => match graph
                .renew_subscription(&employee.mailbox, &sub.subscription_id, expires)
                .await
            {
                Ok((id, until)) => Ok((id, until, sub.client_state_hash.clone())),
                // Graph forgot it: a new one.
                Err(GraphError::Gone) => {
                    create(&graph, &employee.mailbox, &notify, &lifecycle, expires).await
                }
                Err(e) => Err(e),
            },
            None => create(&graph, &employee.mailbox, &notify, &lifecycle, expires).await,
        };
        match outcome {
            Ok((id, until, client_state_hash)) => {
                store
                    .save_calendar_subscription(&CalendarSubscription {
                        employee_id: employee.employee_id.clone(),
                        subscription_id: id,
                        mailbox: employee.mailbox.clone(),
                        client_state_hash,
                        expires_at: until.as_millisecond(),
                        updated_at: now_ms(),
                    })
                    .await?;
            }
            Err(e) => {
                tracing::warn!(error = %e, employee = %employee.employee_id, "no Graph subscription");
                store
                    .note_calendar_sync(&employee.employee_id, Some(&e.to_string()))
                    .await?;
                if e.is_transient() {
                    transient = Some(e);
                }
            }
        }
    }
    match transient {
        Some(e) => Err(JobError::retry(e.to_string())),
        None => Ok(()),
    }
}

/// A new subscription with a fresh random client state; (id, expiry, client state hash).
async fn create(
    graph: &crate::graph::GraphClient,
    mailbox: &str,
    notify: &str,
    lifecycle: &str,
    expires: jiff::Timestamp,
) -> Result<(String, jiff::Timestamp, String), GraphError> {
    let client_state = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let (id, until) = graph
        .create_subscription(
            mailbox,
            &NewSubscription {
                notification_url: notify,
                lifecycle_url: lifecycle,
                client_state: &client_state,
                expires,
            },
        )
        .await?;
    Ok((id, until, hash(&client_state)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_state_is_kept_as_a_hash_that_tells_it_from_any_other() {
        let a = hash("secret-one");
        assert_eq!(a.len(), 64);
        assert_eq!(a, hash("secret-one"));
        assert_ne!(a, hash("secret-two"));
        assert!(!a.contains("secret"));
    }
}
