//! The Microsoft Graph part of entra-sim: the calendar subset CRM Bridge calls, following
//! `specs/graph-calendar-openapi.json` and the Graph REST docs.
//!
//! Under `/v1.0`: `POST /subscriptions`, `PATCH|DELETE /subscriptions/{id}` (see
//! [`subscriptions`]), `GET|POST /users/{mail}/events`, `GET|PATCH|DELETE /users/{mail}/events/{id}`,
//! `POST /users/{mail}/events/{id}/cancel` (also `microsoft.graph.cancel`),
//! `GET /users/{mail}/calendarView` and `GET /users/{mail}/calendarView/delta`. Every call needs
//! an app-only token from the simulator's client-credentials endpoint whose `roles` hold
//! `Calendars.ReadWrite` (401 without a valid token, 403 without the role). Answers use Graph's
//! shapes: `@odata.nextLink` paging (`$top`/`$skip`), `@odata.deltaLink`, OData error bodies,
//! `transactionId` de-duplication per mailbox, the extended-property `$filter` and `$expand`,
//! `Prefer: outlook.timezone`. Exchange's side effects are simulated too: attendees who have a
//! mailbox here get a copy of the meeting (and lose it on cancellation), and every e-mail Exchange
//! would send to an attendee is kept as an invitation.
//!
//! Control endpoints: `POST /_sim/mailboxes {"mail","display_name"}`,
//! `GET /_sim/mailboxes/{mail}/events`, `PATCH|DELETE /_sim/mailboxes/{mail}/events/{id}` (the
//! user edits or deletes an event in Outlook), `POST /_sim/mailboxes/{mail}/delta-expire` (the
//! mailbox's delta tokens expire: the next delta call answers 410), `GET /_sim/invitations`,
//! `POST /_sim/graph-faults {"latency_ms","outage_secs","throttle_next"}`,
//! `POST /_sim/app-roles {"roles":[…]}` (the application permissions admin consent granted),
//! `GET /_sim/graph-stats` (`{"calls","max_mailbox_concurrency"}`: Graph API calls answered so
//! far, faults included, and the most concurrent requests one mailbox saw).

// The checks return the finished answer as their error so handlers can send it as it is.
#![allow(clippy::result_large_err)]

use std::{
    collections::{BTreeMap, HashMap},
    sync::{
        Arc,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use axum::{
    Json, Router,
    body::Body,
    extract::{Path, Query, Request, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use jsonwebtoken::{DecodingKey, Validation, jwk::Jwk};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::subscriptions::{self, Subscriptions};

/// The application permission every calendar call needs.
pub const CALENDARS_READ_WRITE: &str = "Calendars.ReadWrite";
/// Page size of event lists when the client sends no `$top` (Graph's default).
const DEFAULT_PAGE: usize = 10;
/// Concurrent requests per mailbox before Graph answers 429 (Outlook service limit).
pub const MAILBOX_CONCURRENCY: usize = 4;

/// One request and its answer, kept for the conformance test.
#[derive(Debug, Clone, Serialize)]
pub struct GraphExchange {
    /// HTTP method.
    pub method: String,
    /// Path under the server root (with `/v1.0`), without the query.
    pub path: String,
    /// The query string.
    pub query: String,
    /// Answer status.
    pub status: u16,
    /// The `Prefer` header of the request.
    pub prefer: Option<String>,
    /// The answer as JSON (None when empty or not JSON).
    pub body: Option<Value>,
    /// Whether the answer was a simulated fault (outage, throttling).
    pub injected: bool,
}

/// An e-mail Exchange sent to an attendee because of an event change.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Invitation {
    /// Recipient address (lower case).
    pub recipient: String,
    /// `invitation`, `update` or `cancellation`.
    pub reason: String,
    /// The organizer's mailbox.
    pub organizer: String,
    /// The event's subject at the time.
    pub subject: String,
    /// The event's iCalUId.
    #[serde(rename = "iCalUId")]
    pub ical_uid: String,
}

/// Faults the next requests meet.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct GraphFaults {
    /// Delay before every answer.
    pub latency_ms: u64,
    /// From now on, every Graph call answers 503 for this many seconds.
    pub outage_secs: u64,
    /// The next N Graph calls answer 429.
    pub throttle_next: u64,
}

struct StoredEvent {
    /// The full event as Graph keeps it (times as sent, extended properties included).
    event: Value,
    /// Change sequence number (for delta).
    seq: u64,
}

#[derive(Default)]
struct Mailbox {
    mail: String,
    display_name: String,
    events: BTreeMap<String, StoredEvent>,
    /// transactionId → event id.
    transactions: HashMap<String, String>,
    /// Deleted event ids with their change sequence number.
    removed: Vec<(String, u64)>,
    /// Generation of this mailbox's delta tokens: tokens of an older one answer 410.
    delta_epoch: u64,
}

#[derive(Default)]
struct Faults {
    latency_ms: u64,
    outage_until: Option<Instant>,
    throttle_next: u64,
}

/// The Graph simulator's state.
pub struct GraphState {
    authority: String,
    decoding: Box<dyn Fn() -> Vec<(String, Value)> + Send + Sync>,
    mailboxes: Mutex<BTreeMap<String, Mailbox>>,
    invitations: Mutex<Vec<Invitation>>,
    faults: Mutex<Faults>,
    recorded: Mutex<Vec<GraphExchange>>,
    inflight: Mutex<HashMap<String, usize>>,
    max_inflight: AtomicUsize,
    calls: AtomicUsize,
    seq: AtomicU64,
    /// Application permissions granted by admin consent (put into app-only tokens for Graph).
    pub(super) app_roles: Mutex<Vec<String>>,
    subscriptions: Arc<Subscriptions>,
}

impl GraphState {
    /// New state; `keys` lists the simulator's public signing keys as (kid, JWK).
    pub(super) fn new(
        authority: String,
        keys: impl Fn() -> Vec<(String, Value)> + Send + Sync + 'static,
    ) -> Self {
        Self {
            authority,
            decoding: Box::new(keys),
            mailboxes: Mutex::default(),
            invitations: Mutex::default(),
            faults: Mutex::default(),
            recorded: Mutex::default(),
            inflight: Mutex::default(),
            max_inflight: AtomicUsize::new(0),
            calls: AtomicUsize::new(0),
            seq: AtomicU64::new(0),
            app_roles: Mutex::new(vec![CALENDARS_READ_WRITE.to_owned()]),
            subscriptions: Arc::default(),
        }
    }

    /// The change-notification subscriptions.
    pub fn subscriptions(&self) -> &Arc<Subscriptions> {
        &self.subscriptions
    }

    /// Whether mailbox `mail` exists.
    pub(super) fn has_mailbox(&self, mail: &str) -> bool {
        self.mailboxes
            .lock()
            .contains_key(&mail.trim().to_lowercase())
    }

    /// Whether `scope` (without `/.default`) names this Graph: tokens for it carry the roles.
    pub(super) fn is_graph_audience(&self, audience: &str) -> bool {
        audience == self.authority || audience == "https://graph.microsoft.com"
    }

    /// Adds a mailbox (idempotent; updates the display name).
    pub fn add_mailbox(&self, mail: &str, display_name: &str) {
        let key = mail.trim().to_lowercase();
        let mut boxes = self.mailboxes.lock();
        let mailbox = boxes.entry(key.clone()).or_default();
        mailbox.mail = key;
        mailbox.display_name = display_name.to_owned();
    }

    /// Every event in `mail`'s calendar, as Graph would return them with extended properties
    /// expanded (None when there is no such mailbox).
    pub fn events(&self, mail: &str) -> Option<Vec<Value>> {
        let boxes = self.mailboxes.lock();
        let mailbox = boxes.get(&mail.trim().to_lowercase())?;
        Some(
            mailbox
                .events
                .values()
                .map(|e| render(&e.event, true, None, None))
                .collect(),
        )
    }

    /// Every e-mail Exchange sent to attendees so far.
    pub fn invitations(&self) -> Vec<Invitation> {
        self.invitations.lock().clone()
    }

    /// Sets the faults.
    pub fn set_faults(&self, f: &GraphFaults) {
        let mut faults = self.faults.lock();
        faults.latency_ms = f.latency_ms;
        faults.outage_until =
            (f.outage_secs > 0).then(|| Instant::now() + Duration::from_secs(f.outage_secs));
        faults.throttle_next = f.throttle_next;
    }

    /// Sets the application permissions admin consent granted.
    pub fn set_app_roles(&self, roles: &[&str]) {
        *self.app_roles.lock() = roles.iter().map(|r| (*r).to_owned()).collect();
    }

    /// Everything recorded so far.
    pub fn recorded(&self) -> Vec<GraphExchange> {
        self.recorded.lock().clone()
    }

    /// How many Graph API calls (not control calls) were answered.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    /// The most concurrent requests one mailbox saw.
    pub fn max_concurrency(&self) -> usize {
        self.max_inflight.load(Ordering::SeqCst)
    }

    /// Changes event `id` of `mail` as the user would in Outlook: `changes` (subject, start,
    /// end, location, sensitivity, isCancelled, …) are merged in, and `lastModifiedDateTime`,
    /// `changeKey` and the delta sequence move on. `false` when there is no such event.
    pub fn user_edit(&self, mail: &str, id: &str, changes: &Value) -> bool {
        let seq = self.next_seq();
        let mut boxes = self.mailboxes.lock();
        let Some(stored) = boxes
            .get_mut(&mail.trim().to_lowercase())
            .and_then(|m| m.events.get_mut(id))
        else {
            return false;
        };
        let Some(obj) = stored.event.as_object_mut() else {
            return false;
        };
        if let Some(changes) = changes.as_object() {
            for (k, v) in changes {
                obj.insert(k.clone(), v.clone());
            }
        }
        obj.insert("lastModifiedDateTime".into(), json!(now_text()));
        obj.insert(
            "changeKey".into(),
            json!(uuid::Uuid::new_v4().simple().to_string()),
        );
        stored.seq = seq;
        drop(boxes);
        self.subscriptions
            .changed(&mail.trim().to_lowercase(), id, "updated");
        true
    }

    /// Deletes event `id` of `mail` as the user would in Outlook (`false` when there is none).
    pub fn user_delete(&self, mail: &str, id: &str) -> bool {
        remove_event(self, mail, id).is_ok()
    }

    /// Makes every delta token of `mail` handed out so far unusable: the next delta call with
    /// one answers 410 Gone (`SyncStateNotFound`), as Exchange does when its sync state expired.
    pub fn expire_delta_tokens(&self, mail: &str) -> bool {
        let mut boxes = self.mailboxes.lock();
        match boxes.get_mut(&mail.trim().to_lowercase()) {
            Some(m) => {
                m.delta_epoch += 1;
                true
            }
            None => false,
        }
    }

    fn next_seq(&self) -> u64 {
        self.seq.fetch_add(1, Ordering::SeqCst) + 1
    }
}

/// The Graph routes and the control endpoints, for the entra-sim router.
pub(super) fn router(state: Arc<GraphState>) -> Router {
    let api = Router::new()
        .route("/users/{user}/events", get(list_events).post(create_event))
        .route(
            "/users/{user}/events/{id}",
            get(get_event).patch(update_event).delete(delete_event),
        )
        .route("/users/{user}/events/{id}/cancel", post(cancel_event))
        .route(
            "/users/{user}/events/{id}/microsoft.graph.cancel",
            post(cancel_event),
        )
        .route("/users/{user}/calendarView", get(calendar_view))
        .route("/users/{user}/calendarView/delta", get(delta))
        .route("/users/{user}/calendarView/delta()", get(delta))
        .route(
            "/users/{user}/calendarView/microsoft.graph.delta()",
            get(delta),
        )
        .route("/subscriptions", post(subscriptions::create))
        .route(
            "/subscriptions/{id}",
            axum::routing::patch(subscriptions::renew).delete(subscriptions::remove),
        )
        .fallback(not_found_route)
        .layer(middleware::from_fn_with_state(state.clone(), graph_gate));
    Router::new()
        .nest("/v1.0", api)
        .route("/_sim/mailboxes", post(sim_add_mailbox))
        .route("/_sim/mailboxes/{mail}/events", get(sim_events))
        .route(
            "/_sim/mailboxes/{mail}/events/{id}",
            axum::routing::patch(sim_user_edit).delete(sim_user_delete),
        )
        .route(
            "/_sim/mailboxes/{mail}/delta-expire",
            post(sim_delta_expire),
        )
        .route("/_sim/invitations", get(sim_invitations))
        .route("/_sim/subscriptions", get(subscriptions::sim_list))
        .route(
            "/_sim/subscriptions/{id}/lifecycle",
            post(subscriptions::sim_lifecycle),
        )
        .route("/_sim/notification-tls", post(subscriptions::sim_tls))
        .route("/_sim/graph-faults", post(sim_faults))
        .route("/_sim/app-roles", post(sim_app_roles))
        .route("/_sim/graph-stats", get(sim_stats))
        .with_state(state)
}

// ---------------------------------------------------------------------------------------------
// Errors, token check, faults, recording

pub(super) fn odata_error(status: StatusCode, code: &str, message: &str) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let body = json!({
        "error": {
            "code": code,
            "message": message,
            "innerError": {
                "date": chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string(),
                "request-id": request_id,
                "client-request-id": request_id,
            }
        }
    });
    (status, Json(body)).into_response()
}

fn item_not_found() -> Response {
    odata_error(
        StatusCode::NOT_FOUND,
        "ErrorItemNotFound",
        "The specified object was not found in the store.",
    )
}

fn invalid_user(user: &str) -> Response {
    odata_error(
        StatusCode::NOT_FOUND,
        "ErrorInvalidUser",
        &format!("The requested user '{user}' is invalid."),
    )
}

async fn not_found_route() -> Response {
    odata_error(
        StatusCode::BAD_REQUEST,
        "BadRequest",
        "Resource not found for the segment.",
    )
}

/// The mailbox a Graph path names (`/users/{mail}/…`), lower case.
fn mailbox_of(path: &str) -> Option<String> {
    let rest = path.split("/users/").nth(1)?;
    let raw = rest.split('/').next()?;
    let decoded = percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .ok()?;
    Some(decoded.to_lowercase())
}

/// Checks the bearer token: signed by the simulator, audience Graph, not expired, with the
/// `Calendars.ReadWrite` application role. `Err` is the answer to give.
fn check_token(state: &GraphState, headers: &HeaderMap) -> Result<(), Response> {
    let unauthorized = |message: &str| {
        let mut r = odata_error(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            message,
        );
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"\", error=\"invalid_token\""),
        );
        r
    };
    let Some(token) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return Err(unauthorized("Access token is empty."));
    };
    let Ok(head) = jsonwebtoken::decode_header(token) else {
        return Err(unauthorized("IDX14100: JWT is not well formed."));
    };
    let keys = (state.decoding)();
    let Some(jwk) = keys
        .iter()
        .find(|(kid, _)| Some(kid) == head.kid.as_ref())
        .and_then(|(_, jwk)| serde_json::from_value::<Jwk>(jwk.clone()).ok())
        .and_then(|jwk| DecodingKey::from_jwk(&jwk).ok())
    else {
        return Err(unauthorized(
            "Access token validation failure: unknown key.",
        ));
    };
    let mut validation = Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(&[state.authority.as_str(), "https://graph.microsoft.com"]);
    let claims = match jsonwebtoken::decode::<Value>(token, &jwk, &validation) {
        Ok(data) => data.claims,
        Err(e) => {
            return Err(unauthorized(&format!(
                "Access token validation failure. {e}"
            )));
        }
    };
    let has_role = claims["roles"]
        .as_array()
        .is_some_and(|roles| roles.iter().any(|r| r == CALENDARS_READ_WRITE));
    if !has_role {
        return Err(odata_error(
            StatusCode::FORBIDDEN,
            "ErrorAccessDenied",
            "Access is denied. Check credentials and try again.",
        ));
    }
    Ok(())
}

/// Decrements a mailbox's in-flight count when the request ends.
struct InflightGuard {
    state: Arc<GraphState>,
    mailbox: String,
}

impl Drop for InflightGuard {
    fn drop(&mut self) {
        if let Some(n) = self.state.inflight.lock().get_mut(&self.mailbox) {
            *n = n.saturating_sub(1);
        }
    }
}

/// Around every Graph call: latency, outage, throttling, the per-mailbox concurrency limit, the
/// token check, and recording of the answer.
async fn graph_gate(
    State(state): State<Arc<GraphState>>,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method().clone();
    let path = format!("/v1.0{}", request.uri().path());
    let query = request.uri().query().unwrap_or_default().to_owned();
    let prefer = request
        .headers()
        .get("prefer")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mailbox = mailbox_of(&path).unwrap_or_default();
    let _guard = {
        let mut inflight = state.inflight.lock();
        let n = inflight.entry(mailbox.clone()).or_default();
        *n += 1;
        state.max_inflight.fetch_max(*n, Ordering::SeqCst);
        InflightGuard {
            state: state.clone(),
            mailbox: mailbox.clone(),
        }
    };
    let over_limit = state
        .inflight
        .lock()
        .get(&mailbox)
        .is_some_and(|n| *n > MAILBOX_CONCURRENCY);
    let (latency, fault) = {
        let mut faults = state.faults.lock();
        let fault = if let Some(until) = faults.outage_until.filter(|u| *u > Instant::now()) {
            let left = until.saturating_duration_since(Instant::now()).as_secs() + 1;
            let mut r = odata_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceNotAvailable",
                "The service is temporarily unavailable. Please retry later.",
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(left.min(5)));
            Some(r)
        } else if faults.throttle_next > 0 || over_limit {
            if faults.throttle_next > 0 {
                faults.throttle_next -= 1;
            }
            let message = if over_limit {
                "Application is over its MailboxConcurrency limit."
            } else {
                "Application is over its IncomingBytes limit."
            };
            let mut r = odata_error(
                StatusCode::TOO_MANY_REQUESTS,
                "ApplicationThrottled",
                message,
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(1));
            Some(r)
        } else {
            None
        };
        (faults.latency_ms, fault)
    };
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    let (response, injected) = match fault {
        Some(r) => (r, true),
        None => match check_token(&state, request.headers()) {
            Err(r) => (r, false),
            Ok(()) => (next.run(request).await, false),
        },
    };
    state.calls.fetch_add(1, Ordering::SeqCst);
    let (mut parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, 16 * 1024 * 1024)
        .await
        .unwrap_or_default();
    let json_body = serde_json::from_slice::<Value>(&bytes).ok();
    state.recorded.lock().push(GraphExchange {
        method: method.to_string(),
        path,
        query,
        status: parts.status.as_u16(),
        prefer,
        body: json_body,
        injected,
    });
    let request_id = uuid::Uuid::new_v4().to_string();
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        parts.headers.insert("request-id", v.clone());
        parts.headers.insert("client-request-id", v);
    }
    Response::from_parts(parts, Body::from(bytes))
}

// ---------------------------------------------------------------------------------------------
// Rendering

/// Graph's `dateTime` form: seven fractional digits.
fn graph_datetime(dt: jiff::civil::DateTime) -> String {
    format!("{}.0000000", dt.strftime("%Y-%m-%dT%H:%M:%S"))
}

/// Parses a `dateTimeTimeZone` into an instant; `None` when the zone or time is not understood.
fn instant_of(dtz: &Value) -> Option<jiff::Timestamp> {
    let text = dtz["dateTime"].as_str()?;
    let zone_name = dtz["timeZone"].as_str().unwrap_or("UTC");
    let civil: jiff::civil::DateTime = text.trim_end_matches('Z').parse().ok()?;
    let zone = zone_by_name(zone_name)?;
    civil.to_zoned(zone).ok().map(|z| z.timestamp())
}

/// IANA names, `UTC`, and the few Windows names a Czech company meets.
fn zone_by_name(name: &str) -> Option<jiff::tz::TimeZone> {
    let iana = match name {
        "UTC" | "Coordinated Universal Time" => "UTC",
        "Central Europe Standard Time" => "Europe/Prague",
        "Central European Standard Time" => "Europe/Warsaw",
        "W. Europe Standard Time" => "Europe/Berlin",
        "GMT Standard Time" => "Europe/London",
        "Pacific Standard Time" => "America/Los_Angeles",
        "Eastern Standard Time" => "America/New_York",
        other => other,
    };
    jiff::tz::TimeZone::get(iana).ok()
}

/// The `dateTimeTimeZone` of `dtz` in the zone the client prefers (UTC by default, as Graph).
fn in_zone(dtz: &Value, prefer_zone: Option<&str>) -> Value {
    let zone_name = prefer_zone.unwrap_or("UTC");
    match (instant_of(dtz), zone_by_name(zone_name)) {
        (Some(ts), Some(zone)) => json!({
            "dateTime": graph_datetime(ts.to_zoned(zone).datetime()),
            "timeZone": zone_name,
        }),
        _ => dtz.clone(),
    }
}

/// The event as an answer: times in the preferred zone; extended properties only when expanded
/// (and only those the `$expand` filter names, when it names one).
fn render(
    event: &Value,
    expand_all: bool,
    expand_id: Option<&str>,
    prefer_zone: Option<&str>,
) -> Value {
    let mut out = event.clone();
    if let Some(obj) = out.as_object_mut() {
        for key in ["start", "end"] {
            if let Some(dtz) = obj.get(key).cloned() {
                obj.insert(key.to_owned(), in_zone(&dtz, prefer_zone));
            }
        }
        let props = obj.remove("singleValueExtendedProperties");
        if expand_all || expand_id.is_some() {
            let kept: Vec<Value> = props
                .and_then(|p| p.as_array().cloned())
                .unwrap_or_default()
                .into_iter()
                .filter(|p| {
                    expand_id.is_none_or(|id| {
                        p["id"]
                            .as_str()
                            .is_some_and(|pid| pid.eq_ignore_ascii_case(id))
                    })
                })
                .collect();
            obj.insert("singleValueExtendedProperties".into(), Value::Array(kept));
        }
    }
    out
}

/// Parameters of list calls.
#[derive(Debug, Default, Deserialize)]
struct ListQuery {
    #[serde(rename = "$top")]
    top: Option<usize>,
    #[serde(rename = "$skip")]
    skip: Option<usize>,
    #[serde(rename = "$filter")]
    filter: Option<String>,
    #[serde(rename = "$expand")]
    expand: Option<String>,
    #[serde(rename = "startDateTime")]
    start: Option<String>,
    #[serde(rename = "endDateTime")]
    end: Option<String>,
    #[serde(rename = "$deltatoken")]
    deltatoken: Option<String>,
    #[serde(rename = "$skiptoken")]
    skiptoken: Option<String>,
}

/// What `$expand` asks for: `Ok(None)` nothing, `Ok(Some(None))` every extended property,
/// `Ok(Some(Some(id)))` the one with that id.
fn parse_expand(expand: Option<&str>) -> Result<Option<Option<String>>, Response> {
    let Some(expand) = expand.map(str::trim).filter(|e| !e.is_empty()) else {
        return Ok(None);
    };
    let lower = expand.to_lowercase();
    if lower == "singlevalueextendedproperties" {
        return Ok(Some(None));
    }
    let shaped =
        lower.starts_with("singlevalueextendedproperties($filter=") && lower.ends_with(')');
    match quoted_after(&lower, expand, "id eq").filter(|_| shaped) {
        Some(id) => Ok(Some(Some(id))),
        None => Err(odata_error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            &format!("Parsing OData Select and Expand failed: {expand}"),
        )),
    }
}

/// The quoted literal after `keyword` in `original` (searched case-insensitively in `lower`).
fn quoted_after(lower: &str, original: &str, keyword: &str) -> Option<String> {
    if lower.len() != original.len() {
        return None;
    }
    let at = lower.find(keyword)? + keyword.len();
    let rest = original.get(at..)?.trim_start();
    let rest = rest.strip_prefix('\'')?;
    let end = rest.find('\'')?;
    Some(rest[..end].to_owned())
}

/// The `$filter`s the simulator understands.
enum Filter {
    /// `singleValueExtendedProperties/Any(ep: ep/id eq '…' and ep/value eq '…')`.
    Extended { id: String, value: String },
    /// `iCalUId eq '…'`.
    ICalUId(String),
}

fn parse_filter(filter: &str) -> Result<Filter, Response> {
    let lower = filter.to_lowercase();
    let bad = || {
        odata_error(
            StatusCode::BAD_REQUEST,
            "ErrorInvalidUrlQueryFilter",
            "The query filter contains one or more invalid nodes.",
        )
    };
    if lower.starts_with("singlevalueextendedproperties/any(") {
        let id = quoted_after(&lower, filter, "/id eq").ok_or_else(bad)?;
        let value = quoted_after(&lower, filter, "/value eq").ok_or_else(bad)?;
        return Ok(Filter::Extended { id, value });
    }
    if lower.starts_with("icaluid eq") {
        return quoted_after(&lower, filter, "icaluid eq")
            .map(Filter::ICalUId)
            .ok_or_else(bad);
    }
    Err(bad())
}

fn matches(filter: &Filter, event: &Value) -> bool {
    match filter {
        Filter::Extended { id, value } => event["singleValueExtendedProperties"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|p| {
                p["id"]
                    .as_str()
                    .is_some_and(|pid| pid.eq_ignore_ascii_case(id))
                    && p["value"].as_str() == Some(value.as_str())
            }),
        Filter::ICalUId(uid) => event["iCalUId"].as_str() == Some(uid.as_str()),
    }
}

/// `outlook.timezone="…"` of a `Prefer` header.
fn preferred_zone(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all("prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find_map(|part| {
            let part = part.trim();
            part.strip_prefix("outlook.timezone=")
                .map(|z| z.trim_matches('"').to_owned())
        })
}

/// `https://host/v1.0/users/{user}/events?…&$skip=N`: the link to the next page.
fn next_link(state: &GraphState, path: &str, raw_query: &str, skip: usize) -> String {
    let mut pairs: Vec<(String, String)> = url::form_urlencoded::parse(raw_query.as_bytes())
        .filter(|(k, _)| k != "$skip")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    pairs.push(("$skip".into(), skip.to_string()));
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    format!("{}{path}?{query}", state.authority)
}

// ---------------------------------------------------------------------------------------------
// Graph handlers

fn raw_query(uri: &axum::http::Uri) -> String {
    uri.query().unwrap_or_default().to_owned()
}

async fn list_events(
    State(state): State<Arc<GraphState>>,
    Path(user): Path<String>,
    Query(q): Query<ListQuery>,
    headers: HeaderMap,
    uri: axum::http::Uri,
) -> Response {
    let filter = match q.filter.as_deref().map(parse_filter).transpose() {
        Ok(f) => f,
        Err(r) => return r,
    };
    let expand = match parse_expand(q.expand.as_deref()) {
        Ok(e) => e,
        Err(r) => return r,
    };
    let zone = preferred_zone(&headers);
    let boxes = state.mailboxes.lock();
    let Some(mailbox) = boxes.get(&user.to_lowercase()) else {
        return invalid_user(&user);
    };
    let all: Vec<&Value> = mailbox
        .events
        .values()
        .map(|e| &e.event)
        .filter(|e| filter.as_ref().is_none_or(|f| matches(f, e)))
        .collect();
    page(
        &state,
        &format!("/v1.0/users/{user}/events"),
        &raw_query(&uri),
        &all,
        q.top,
        q.skip,
        expand,
        zone.as_deref(),
    )
}

#[allow(clippy::too_many_arguments)]
fn page(
    state: &GraphState,
    path: &str,
    raw_query: &str,
    all: &[&Value],
    top: Option<usize>,
    skip: Option<usize>,
    expand: Option<Option<String>>,
    zone: Option<&str>,
) -> Response {
    let top = top.unwrap_or(DEFAULT_PAGE).clamp(1, 1000);
    let skip = skip.unwrap_or(0);
    let (expand_all, expand_id) = match &expand {
        None => (false, None),
        Some(None) => (true, None),
        Some(Some(id)) => (false, Some(id.as_str())),
    };
    let value: Vec<Value> = all
        .iter()
        .skip(skip)
        .take(top)
        .map(|e| render(e, expand_all, expand_id, zone))
        .collect();
    let mut body = json!({
        "@odata.context": format!("{}/v1.0/$metadata#users('…')/events", state.authority),
        "value": value,
    });
    if skip + top < all.len() {
        body["@odata.nextLink"] = json!(next_link(state, path, raw_query, skip + top));
    }
    Json(body).into_response()
}

async fn get_event(
    State(state): State<Arc<GraphState>>,
    Path((user, id)): Path<(String, String)>,
    Query(q): Query<ListQuery>,
    headers: HeaderMap,
) -> Response {
    let expand = match parse_expand(q.expand.as_deref()) {
        Ok(e) => e,
        Err(r) => return r,
    };
    let zone = preferred_zone(&headers);
    let boxes = state.mailboxes.lock();
    let Some(mailbox) = boxes.get(&user.to_lowercase()) else {
        return invalid_user(&user);
    };
    let Some(stored) = mailbox.events.get(&id) else {
        return item_not_found();
    };
    let (all, one) = match &expand {
        None => (false, None),
        Some(None) => (true, None),
        Some(Some(id)) => (false, Some(id.as_str())),
    };
    Json(render(&stored.event, all, one, zone.as_deref())).into_response()
}

/// The fields of a create or update body the simulator keeps.
const WRITABLE: &[&str] = &[
    "subject",
    "body",
    "start",
    "end",
    "location",
    "attendees",
    "categories",
    "isAllDay",
    "showAs",
    "isReminderOn",
    "reminderMinutesBeforeStart",
    "sensitivity",
    "importance",
    "responseRequested",
    "allowNewTimeProposals",
];

/// Checks the parts of an event body Graph validates; `Err` is the 400 to answer.
fn validate_event(body: &Value, creating: bool) -> Result<(), Response> {
    let bad = |message: &str| {
        Err(odata_error(
            StatusCode::BAD_REQUEST,
            "ErrorInvalidRequest",
            message,
        ))
    };
    let Some(obj) = body.as_object() else {
        return bad("Empty Payload. JSON content expected.");
    };
    for key in ["start", "end"] {
        match obj.get(key) {
            None if creating => {
                return bad(&format!(
                    "Your request can't be completed. {key} is required."
                ));
            }
            None => {}
            Some(dtz) if instant_of(dtz).is_none() => {
                return bad(&format!(
                    "Your request can't be completed. The {key} date time or time zone is invalid."
                ));
            }
            Some(_) => {}
        }
    }
    if let (Some(start), Some(end)) = (
        obj.get("start").and_then(instant_of),
        obj.get("end").and_then(instant_of),
    ) && end < start
    {
        return bad("Your request can't be completed. The end time must be after the start time.");
    }
    if let Some(attendees) = obj.get("attendees") {
        let Some(list) = attendees.as_array() else {
            return bad("Invalid attendees.");
        };
        if list.len() > 500 {
            return bad("Your request can't be completed. Too many attendees.");
        }
        for a in list {
            if a["emailAddress"]["address"]
                .as_str()
                .is_none_or(str::is_empty)
            {
                return bad("Your request can't be completed. An attendee has no address.");
            }
        }
    }
    if let Some(props) = obj.get("singleValueExtendedProperties") {
        let ok = props.as_array().is_some_and(|list| {
            list.iter().all(|p| {
                p["id"].as_str().is_some_and(|id| id.starts_with("String "))
                    && p["value"].is_string()
            })
        });
        if !ok {
            return bad("Invalid singleValueExtendedProperties.");
        }
    }
    Ok(())
}

/// Attendee addresses (lower case) of an event.
fn attendee_addresses(event: &Value) -> Vec<String> {
    event["attendees"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a["emailAddress"]["address"].as_str())
        .map(str::to_lowercase)
        .collect()
}

/// A fresh immutable-looking item id.
fn new_item_id() -> String {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    let raw = uuid::Uuid::new_v4();
    format!(
        "AAkALgAAAAAAHYQDEapmEc2byACqAC-EWg0A{}",
        URL_SAFE_NO_PAD.encode(raw.as_bytes())
    )
}

fn now_text() -> String {
    let now = chrono::Utc::now();
    format!(
        "{}.{:07}Z",
        now.format("%Y-%m-%dT%H:%M:%S"),
        now.timestamp_subsec_nanos() / 100
    )
}

/// Sends `reason` e-mails to `recipients` (never to the organizer) and keeps them.
fn send(state: &GraphState, organizer: &str, event: &Value, reason: &str, recipients: &[String]) {
    let subject = event["subject"].as_str().unwrap_or_default().to_owned();
    let ical_uid = event["iCalUId"].as_str().unwrap_or_default().to_owned();
    let mut out = state.invitations.lock();
    for r in recipients.iter().filter(|r| r.as_str() != organizer) {
        out.push(Invitation {
            recipient: r.clone(),
            reason: reason.to_owned(),
            organizer: organizer.to_owned(),
            subject: subject.clone(),
            ical_uid: ical_uid.clone(),
        });
    }
}

/// Exchange's delivery to attendees who have a mailbox here: a copy of the organizer's event
/// (created or brought up to date), and removal for those no longer invited.
fn deliver(
    state: &GraphState,
    boxes: &mut BTreeMap<String, Mailbox>,
    organizer: &str,
    event: &Value,
    removed: &[String],
) {
    let ical_uid = event["iCalUId"].as_str().unwrap_or_default().to_owned();
    for address in attendee_addresses(event) {
        if address == organizer {
            continue;
        }
        let seq = state.next_seq();
        let Some(mailbox) = boxes.get_mut(&address) else {
            continue;
        };
        let existing = mailbox
            .events
            .iter()
            .find(|(_, e)| e.event["iCalUId"].as_str() == Some(ical_uid.as_str()))
            .map(|(id, _)| id.clone());
        let mut copy = Map::new();
        for key in WRITABLE {
            if let Some(v) = event.get(*key) {
                copy.insert((*key).to_owned(), v.clone());
            }
        }
        for key in ["iCalUId", "organizer", "type", "isCancelled", "webLink"] {
            if let Some(v) = event.get(key) {
                copy.insert(key.to_owned(), v.clone());
            }
        }
        copy.insert("isOrganizer".into(), json!(false));
        copy.insert("responseRequested".into(), json!(true));
        copy.insert(
            "responseStatus".into(),
            json!({"response": "notResponded", "time": "0001-01-01T00:00:00Z"}),
        );
        copy.insert("lastModifiedDateTime".into(), json!(now_text()));
        copy.insert(
            "changeKey".into(),
            json!(uuid::Uuid::new_v4().simple().to_string()),
        );
        match existing {
            Some(id) => {
                if let Some(stored) = mailbox.events.get_mut(&id) {
                    copy.insert("id".into(), json!(id));
                    if let Some(created) = stored.event.get("createdDateTime") {
                        copy.insert("createdDateTime".into(), created.clone());
                    }
                    stored.event = Value::Object(copy);
                    stored.seq = seq;
                }
            }
            None => {
                let id = new_item_id();
                copy.insert("id".into(), json!(id));
                copy.insert("createdDateTime".into(), json!(now_text()));
                mailbox.events.insert(
                    id,
                    StoredEvent {
                        event: Value::Object(copy),
                        seq,
                    },
                );
            }
        }
    }
    for address in removed {
        remove_copy(state, boxes, address, &ical_uid);
    }
}

/// Removes the copy of meeting `ical_uid` from `address`'s calendar (a processed cancellation).
fn remove_copy(
    state: &GraphState,
    boxes: &mut BTreeMap<String, Mailbox>,
    address: &str,
    ical_uid: &str,
) {
    let seq = state.next_seq();
    if let Some(mailbox) = boxes.get_mut(address) {
        let ids: Vec<String> = mailbox
            .events
            .iter()
            .filter(|(_, e)| e.event["iCalUId"].as_str() == Some(ical_uid))
            .map(|(id, _)| id.clone())
            .collect();
        for id in ids {
            mailbox.events.remove(&id);
            mailbox.removed.push((id, seq));
        }
    }
}

async fn create_event(
    State(state): State<Arc<GraphState>>,
    Path(user): Path<String>,
    headers: HeaderMap,
    body: Option<Json<Value>>,
) -> Response {
    let Some(Json(body)) = body else {
        return odata_error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "Empty Payload. JSON content expected.",
        );
    };
    if let Err(r) = validate_event(&body, true) {
        return r;
    }
    let zone = preferred_zone(&headers);
    let key = user.to_lowercase();
    let mut boxes = state.mailboxes.lock();
    let Some(mailbox) = boxes.get_mut(&key) else {
        return invalid_user(&user);
    };
    let transaction = body["transactionId"].as_str().map(str::to_owned);
    if let Some(tx) = &transaction
        && let Some(id) = mailbox.transactions.get(tx)
        && let Some(existing) = mailbox.events.get(id)
    {
        // A retried create: the event made the first time, no second one and no new e-mail.
        return (
            StatusCode::CREATED,
            Json(render(&existing.event, false, None, zone.as_deref())),
        )
            .into_response();
    }
    let id = new_item_id();
    let mut event = Map::new();
    for key in WRITABLE {
        if let Some(v) = body.get(*key) {
            event.insert((*key).to_owned(), v.clone());
        }
    }
    let attendees: Vec<Value> = body["attendees"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|mut a| {
            if a["type"].is_null() {
                a["type"] = json!("required");
            }
            a["status"] = json!({"response": "none", "time": "0001-01-01T00:00:00Z"});
            a
        })
        .collect();
    let now = now_text();
    let organizer =
        json!({"emailAddress": {"name": mailbox.display_name, "address": mailbox.mail}});
    let extra = json!({
        "id": id,
        "createdDateTime": now,
        "lastModifiedDateTime": now,
        "changeKey": uuid::Uuid::new_v4().simple().to_string(),
        "iCalUId": format!("040000008200E00074C5B7101A82E008{}", uuid::Uuid::new_v4().simple().to_string().to_uppercase()),
        "isOrganizer": true,
        "isCancelled": false,
        "isDraft": false,
        "type": "singleInstance",
        "organizer": organizer,
        "attendees": attendees,
        "responseStatus": {"response": "organizer", "time": "0001-01-01T00:00:00Z"},
        "webLink": format!("https://outlook.office365.com/owa/?itemid={id}&exvsurl=1&path=/calendar/item"),
        "categories": body.get("categories").cloned().unwrap_or_else(|| json!([])),
        "subject": body.get("subject").cloned().unwrap_or_else(|| json!("")),
        "bodyPreview": body["body"]["content"].as_str().unwrap_or_default().chars().take(255).collect::<String>(),
    });
    if let Some(obj) = extra.as_object() {
        for (k, v) in obj {
            event.insert(k.clone(), v.clone());
        }
    }
    if let Some(tx) = &transaction {
        event.insert("transactionId".into(), json!(tx));
        mailbox.transactions.insert(tx.clone(), id.clone());
    }
    if let Some(props) = body.get("singleValueExtendedProperties") {
        event.insert("singleValueExtendedProperties".into(), props.clone());
    }
    let event = Value::Object(event);
    let seq = state.next_seq();
    state.subscriptions.changed(&mailbox.mail, &id, "created");
    mailbox.events.insert(
        id,
        StoredEvent {
            event: event.clone(),
            seq,
        },
    );
    let organizer_mail = mailbox.mail.clone();
    let recipients = attendee_addresses(&event);
    send(&state, &organizer_mail, &event, "invitation", &recipients);
    deliver(&state, &mut boxes, &organizer_mail, &event, &[]);
    (
        StatusCode::CREATED,
        Json(render(&event, false, None, zone.as_deref())),
    )
        .into_response()
}

async fn update_event(
    State(state): State<Arc<GraphState>>,
    Path((user, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Option<Json<Value>>,
) -> Response {
    let Some(Json(body)) = body else {
        return odata_error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "Empty Payload. JSON content expected.",
        );
    };
    if let Err(r) = validate_event(&body, false) {
        return r;
    }
    let zone = preferred_zone(&headers);
    let key = user.to_lowercase();
    let mut boxes = state.mailboxes.lock();
    let Some(mailbox) = boxes.get_mut(&key) else {
        return invalid_user(&user);
    };
    let seq = state.next_seq();
    let Some(stored) = mailbox.events.get_mut(&id) else {
        return item_not_found();
    };
    if let Some(tx) = body.get("transactionId")
        && stored.event.get("transactionId") != Some(tx)
    {
        return odata_error(
            StatusCode::BAD_REQUEST,
            "ErrorInvalidRequest",
            "The transactionId of an event cannot be changed.",
        );
    }
    let before = stored.event.clone();
    let Some(obj) = stored.event.as_object_mut() else {
        return item_not_found();
    };
    for key in WRITABLE {
        if let Some(v) = body.get(*key) {
            obj.insert((*key).to_owned(), v.clone());
        }
    }
    if let Some(list) = body.get("attendees").and_then(Value::as_array) {
        let old = before["attendees"].as_array().cloned().unwrap_or_default();
        let merged: Vec<Value> = list
            .iter()
            .map(|a| {
                let address = a["emailAddress"]["address"]
                    .as_str()
                    .unwrap_or_default()
                    .to_lowercase();
                let mut a = a.clone();
                if a["type"].is_null() {
                    a["type"] = json!("required");
                }
                a["status"] = old
                    .iter()
                    .find(|o| {
                        o["emailAddress"]["address"].as_str().map(str::to_lowercase)
                            == Some(address.clone())
                    })
                    .map(|o| o["status"].clone())
                    .unwrap_or_else(|| json!({"response": "none", "time": "0001-01-01T00:00:00Z"}));
                a
            })
            .collect();
        obj.insert("attendees".into(), Value::Array(merged));
    }
    if let Some(props) = body
        .get("singleValueExtendedProperties")
        .and_then(Value::as_array)
    {
        let mut current = obj
            .get("singleValueExtendedProperties")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for p in props {
            current.retain(|c| c["id"] != p["id"]);
            current.push(p.clone());
        }
        obj.insert(
            "singleValueExtendedProperties".into(),
            Value::Array(current),
        );
    }
    if let Some(content) = body["body"]["content"].as_str() {
        obj.insert(
            "bodyPreview".into(),
            json!(content.chars().take(255).collect::<String>()),
        );
    }
    obj.insert("lastModifiedDateTime".into(), json!(now_text()));
    obj.insert(
        "changeKey".into(),
        json!(uuid::Uuid::new_v4().simple().to_string()),
    );
    stored.seq = seq;
    let after = stored.event.clone();
    let organizer_mail = mailbox.mail.clone();
    state.subscriptions.changed(&organizer_mail, &id, "updated");
    // Exchange's e-mails: new attendees are invited, dropped ones get a cancellation, the rest an
    // update when something they see changed.
    let old_attendees = attendee_addresses(&before);
    let new_attendees = attendee_addresses(&after);
    let added: Vec<String> = new_attendees
        .iter()
        .filter(|a| !old_attendees.contains(a))
        .cloned()
        .collect();
    let dropped: Vec<String> = old_attendees
        .iter()
        .filter(|a| !new_attendees.contains(a))
        .cloned()
        .collect();
    let kept: Vec<String> = new_attendees
        .iter()
        .filter(|a| old_attendees.contains(a))
        .cloned()
        .collect();
    let visible_change = ["subject", "body", "start", "end", "location", "isAllDay"]
        .iter()
        .any(|k| body.get(*k).is_some() && before.get(*k) != after.get(*k));
    send(&state, &organizer_mail, &after, "invitation", &added);
    send(&state, &organizer_mail, &before, "cancellation", &dropped);
    if visible_change {
        send(&state, &organizer_mail, &after, "update", &kept);
    }
    deliver(&state, &mut boxes, &organizer_mail, &after, &dropped);
    Json(render(&after, false, None, zone.as_deref())).into_response()
}

/// Removes an event; as organizer of a meeting, Exchange sends cancellations to the attendees.
fn remove_event(state: &GraphState, user: &str, id: &str) -> Result<(), Response> {
    let key = user.to_lowercase();
    let mut boxes = state.mailboxes.lock();
    let seq = state.next_seq();
    let Some(mailbox) = boxes.get_mut(&key) else {
        return Err(invalid_user(user));
    };
    let Some(stored) = mailbox.events.remove(id) else {
        return Err(item_not_found());
    };
    mailbox.removed.push((id.to_owned(), seq));
    let organizer_mail = mailbox.mail.clone();
    state.subscriptions.changed(&organizer_mail, id, "deleted");
    if stored.event["isOrganizer"].as_bool() == Some(true) {
        let attendees = attendee_addresses(&stored.event);
        send(
            state,
            &organizer_mail,
            &stored.event,
            "cancellation",
            &attendees,
        );
        let ical_uid = stored.event["iCalUId"].as_str().unwrap_or_default();
        for a in attendees.iter().filter(|a| **a != organizer_mail) {
            remove_copy(state, &mut boxes, a, ical_uid);
        }
    }
    Ok(())
}

async fn delete_event(
    State(state): State<Arc<GraphState>>,
    Path((user, id)): Path<(String, String)>,
) -> Response {
    match remove_event(&state, &user, &id) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(r) => r,
    }
}

async fn cancel_event(
    State(state): State<Arc<GraphState>>,
    Path((user, id)): Path<(String, String)>,
    body: Option<Json<Value>>,
) -> Response {
    if body.is_none() {
        return odata_error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "Empty Payload. JSON content expected.",
        );
    }
    let is_organizer = {
        let boxes = state.mailboxes.lock();
        let Some(mailbox) = boxes.get(&user.to_lowercase()) else {
            return invalid_user(&user);
        };
        let Some(stored) = mailbox.events.get(&id) else {
            return item_not_found();
        };
        stored.event["isOrganizer"].as_bool() == Some(true)
    };
    if !is_organizer {
        return odata_error(
            StatusCode::BAD_REQUEST,
            "ErrorInvalidRequest",
            "Your request can't be completed. You need to be an organizer to cancel a meeting.",
        );
    }
    match remove_event(&state, &user, &id) {
        Ok(()) => StatusCode::ACCEPTED.into_response(),
        Err(r) => r,
    }
}

fn in_window(event: &Value, start: Option<jiff::Timestamp>, end: Option<jiff::Timestamp>) -> bool {
    let (Some(s), Some(e)) = (instant_of(&event["start"]), instant_of(&event["end"])) else {
        return false;
    };
    start.is_none_or(|ws| e > ws) && end.is_none_or(|we| s < we)
}

fn parse_window(q: &ListQuery) -> Result<(jiff::Timestamp, jiff::Timestamp), Response> {
    let parse = |v: Option<&String>, name: &str| -> Result<jiff::Timestamp, Response> {
        let Some(text) = v else {
            return Err(odata_error(
                StatusCode::BAD_REQUEST,
                "ErrorInvalidParameter",
                &format!(
                    "This request requires a time window specified by the query string parameters StartDateTime and EndDateTime. {name} is missing."
                ),
            ));
        };
        let parsed = text.parse::<jiff::Timestamp>().ok().or_else(|| {
            text.parse::<jiff::civil::DateTime>()
                .ok()
                .and_then(|dt| dt.to_zoned(jiff::tz::TimeZone::UTC).ok())
                .map(|z| z.timestamp())
        });
        parsed.ok_or_else(|| {
            odata_error(
                StatusCode::BAD_REQUEST,
                "ErrorInvalidParameter",
                &format!("The value of {name} is not a valid date time."),
            )
        })
    };
    Ok((
        parse(q.start.as_ref(), "StartDateTime")?,
        parse(q.end.as_ref(), "EndDateTime")?,
    ))
}

async fn calendar_view(
    State(state): State<Arc<GraphState>>,
    Path(user): Path<String>,
    Query(q): Query<ListQuery>,
    headers: HeaderMap,
    uri: axum::http::Uri,
) -> Response {
    let (start, end) = match parse_window(&q) {
        Ok(w) => w,
        Err(r) => return r,
    };
    let filter = match q.filter.as_deref().map(parse_filter).transpose() {
        Ok(f) => f,
        Err(r) => return r,
    };
    let expand = match parse_expand(q.expand.as_deref()) {
        Ok(e) => e,
        Err(r) => return r,
    };
    let zone = preferred_zone(&headers);
    let boxes = state.mailboxes.lock();
    let Some(mailbox) = boxes.get(&user.to_lowercase()) else {
        return invalid_user(&user);
    };
    let mut all: Vec<&Value> = mailbox
        .events
        .values()
        .map(|e| &e.event)
        .filter(|e| in_window(e, Some(start), Some(end)))
        .filter(|e| filter.as_ref().is_none_or(|f| matches(f, e)))
        .collect();
    all.sort_by_key(|e| instant_of(&e["start"]));
    page(
        &state,
        &format!("/v1.0/users/{user}/calendarView"),
        &raw_query(&uri),
        &all,
        q.top,
        q.skip,
        expand,
        zone.as_deref(),
    )
}

/// Delta of the calendar view: the first round lists every event in the window (paged by
/// `$skiptoken`) and ends with a `@odata.deltaLink`; following that link lists what changed since,
/// deleted events as `@removed`.
async fn delta(
    State(state): State<Arc<GraphState>>,
    Path(user): Path<String>,
    Query(q): Query<ListQuery>,
    headers: HeaderMap,
) -> Response {
    if q.filter.is_some() || q.expand.is_some() {
        return odata_error(
            StatusCode::BAD_REQUEST,
            "ErrorInvalidUrlQuery",
            "The following parameters are not supported with change tracking over the 'CalendarView' resource: '$orderby, $filter, $select, $expand, $search, $top'.",
        );
    }
    // Tokens carry the window, the position and the mailbox's token generation:
    // `{since}.{skip}.{start}.{end}.{epoch}`.
    let token = q.deltatoken.as_deref().or(q.skiptoken.as_deref());
    let epoch = {
        let boxes = state.mailboxes.lock();
        match boxes.get(&user.to_lowercase()) {
            Some(m) => m.delta_epoch,
            None => return invalid_user(&user),
        }
    };
    let (since, skip, start, end) = match token {
        Some(t) => {
            let parts: Vec<&str> = t.split('.').collect();
            let parsed = (|| {
                Some((
                    parts.first()?.parse::<u64>().ok()?,
                    parts.get(1)?.parse::<usize>().ok()?,
                    parts.get(2)?.parse::<i64>().ok()?,
                    parts.get(3)?.parse::<i64>().ok()?,
                    parts.get(4)?.parse::<u64>().ok()?,
                ))
            })();
            let window = parsed.and_then(|(since, skip, s, e, token_epoch)| {
                let s = jiff::Timestamp::from_second(s).ok()?;
                let e = jiff::Timestamp::from_second(e).ok()?;
                (token_epoch == epoch).then_some((since, skip, s, e))
            });
            let Some((since, skip, s, e)) = window else {
                return sync_state_gone(&state, &user, parsed.map(|p| (p.2, p.3)));
            };
            (since, if q.deltatoken.is_some() { 0 } else { skip }, s, e)
        }
        None => match parse_window(&q) {
            Ok((s, e)) => (0, 0, s, e),
            Err(r) => return r,
        },
    };
    let zone = preferred_zone(&headers);
    let boxes = state.mailboxes.lock();
    let Some(mailbox) = boxes.get(&user.to_lowercase()) else {
        return invalid_user(&user);
    };
    let now_seq = state.seq.load(Ordering::SeqCst);
    let mut changes: Vec<(u64, Value)> = mailbox
        .events
        .values()
        .filter(|e| e.seq > since && e.seq <= now_seq)
        .filter(|e| in_window(&e.event, Some(start), Some(end)))
        .map(|e| (e.seq, render(&e.event, false, None, zone.as_deref())))
        .collect();
    if since > 0 {
        changes.extend(
            mailbox
                .removed
                .iter()
                .filter(|(_, seq)| *seq > since && *seq <= now_seq)
                .map(|(id, seq)| (*seq, json!({"id": id, "@removed": {"reason": "deleted"}}))),
        );
    }
    changes.sort_by_key(|(seq, _)| *seq);
    let page_size = DEFAULT_PAGE;
    let page: Vec<Value> = changes
        .iter()
        .skip(skip)
        .take(page_size)
        .map(|(_, v)| v.clone())
        .collect();
    let base = format!("{}/v1.0/users/{user}/calendarView/delta", state.authority);
    let mut body = json!({
        "@odata.context": format!("{}/v1.0/$metadata#Collection(event)", state.authority),
        "value": page,
    });
    let window = format!("{}.{}.{epoch}", start.as_second(), end.as_second());
    if skip + page_size < changes.len() {
        body["@odata.nextLink"] = json!(format!(
            "{base}?$skiptoken={since}.{}.{window}",
            skip + page_size
        ));
    } else {
        body["@odata.deltaLink"] = json!(format!("{base}?$deltatoken={now_seq}.0.{window}"));
    }
    Json(body).into_response()
}

/// The answer to a delta token Exchange no longer knows: 410 Gone with `SyncStateNotFound`
/// (the client must start over; `Location` names a fresh delta over the same window).
fn sync_state_gone(state: &GraphState, user: &str, window: Option<(i64, i64)>) -> Response {
    let mut r = odata_error(
        StatusCode::GONE,
        "SyncStateNotFound",
        "The sync state generation is not found. resyncRequired",
    );
    if let Some((s, e)) = window
        && let (Ok(s), Ok(e)) = (
            jiff::Timestamp::from_second(s),
            jiff::Timestamp::from_second(e),
        )
    {
        let fresh = format!(
            "{}/v1.0/users/{user}/calendarView/delta?startDateTime={s}&endDateTime={e}",
            state.authority
        );
        if let Ok(v) = HeaderValue::from_str(&fresh) {
            r.headers_mut().insert(header::LOCATION, v);
        }
    }
    r
}

// ---------------------------------------------------------------------------------------------
// Control endpoints

#[derive(Deserialize)]
struct NewMailbox {
    mail: String,
    #[serde(default)]
    display_name: String,
}

async fn sim_add_mailbox(
    State(state): State<Arc<GraphState>>,
    Json(m): Json<NewMailbox>,
) -> Response {
    if !m.mail.contains('@') {
        return (StatusCode::BAD_REQUEST, "mail must be an e-mail address").into_response();
    }
    state.add_mailbox(&m.mail, &m.display_name);
    StatusCode::CREATED.into_response()
}

async fn sim_events(State(state): State<Arc<GraphState>>, Path(mail): Path<String>) -> Response {
    match state.events(&mail) {
        Some(events) => Json(json!({ "value": events })).into_response(),
        None => (StatusCode::NOT_FOUND, "no such mailbox").into_response(),
    }
}

async fn sim_user_edit(
    State(state): State<Arc<GraphState>>,
    Path((mail, id)): Path<(String, String)>,
    Json(changes): Json<Value>,
) -> StatusCode {
    if !changes.is_object() {
        return StatusCode::BAD_REQUEST;
    }
    if state.user_edit(&mail, &id, &changes) {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::NOT_FOUND
    }
}

async fn sim_user_delete(
    State(state): State<Arc<GraphState>>,
    Path((mail, id)): Path<(String, String)>,
) -> StatusCode {
    if state.user_delete(&mail, &id) {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::NOT_FOUND
    }
}

async fn sim_delta_expire(
    State(state): State<Arc<GraphState>>,
    Path(mail): Path<String>,
) -> StatusCode {
    if state.expire_delta_tokens(&mail) {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::NOT_FOUND
    }
}

async fn sim_invitations(State(state): State<Arc<GraphState>>) -> Json<Value> {
    Json(json!({ "value": state.invitations() }))
}

async fn sim_faults(
    State(state): State<Arc<GraphState>>,
    Json(f): Json<GraphFaults>,
) -> StatusCode {
    state.set_faults(&f);
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct AppRoles {
    roles: Vec<String>,
}

async fn sim_app_roles(
    State(state): State<Arc<GraphState>>,
    Json(r): Json<AppRoles>,
) -> StatusCode {
    *state.app_roles.lock() = r.roles;
    StatusCode::NO_CONTENT
}

async fn sim_stats(State(state): State<Arc<GraphState>>) -> Json<Value> {
    Json(json!({ "calls": state.calls(), "max_mailbox_concurrency": state.max_concurrency() }))
}
