//! `raynet-sim`: an in-memory Raynet CRM that answers as Raynet's official OpenAPI spec
//! (`specs/raynet-openapi.json`) describes — envelopes, field names, status codes, error bodies,
//! `success` as `"true"` on detail answers, flat `rowInfo.*` keys — with the limits (daily quota
//! with `X-Ratelimit-*` headers, 4 concurrent connections, 20 bad logins block for 60 minutes),
//! webhooks delivered with `X-RAYNETCRM-Token`, fault injection, and `/_sim/` control endpoints
//! to change data as a CRM user would. Start it in-process with [`RaynetSim::start`].

mod api;
pub mod data;

use std::{
    collections::HashMap,
    net::{IpAddr, SocketAddr},
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use axum::{
    Router,
    body::Bytes,
    extract::{ConnectInfo, Path, Query, State},
    http::{HeaderMap, Method, StatusCode, Uri},
    response::{IntoResponse, Response},
    routing::{any, get, post},
};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};

pub use data::{Activity, Company, Deal, GenOptions, Participant, Person, SimUser, Webhook};

/// Concurrent connections Raynet allows per client.
pub const MAX_CONNECTIONS: usize = 4;
/// Bad logins after which an address is blocked.
pub const MAX_BAD_LOGINS: u32 = 20;
/// How long a blocked address stays blocked.
pub const BLOCK_FOR: Duration = Duration::from_secs(60 * 60);

/// How to start the simulator.
#[derive(Debug, Clone)]
pub struct SimOptions {
    /// Address to listen on (port 0: any).
    pub bind: SocketAddr,
    /// Instance name expected in `X-Instance-Name`.
    pub instance: String,
    /// Sample data to generate.
    pub data: GenOptions,
    /// Requests per day.
    pub daily_limit: u64,
    /// Record every API exchange (for the spec conformance test).
    pub record: bool,
}

impl Default for SimOptions {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            instance: "demo".into(),
            data: GenOptions {
                companies: 20,
                persons_per_company: 2,
                business_cases_per_company: 1,
                projects_per_company: 1,
                seed: 1,
            },
            daily_limit: 24_000,
            record: false,
        }
    }
}

/// A fault to inject into the next API answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fault {
    /// 429 `RequestLimitReached`; with `reset_in_secs`, `X-Ratelimit-Remaining: 0` and
    /// `X-Ratelimit-Reset` that far ahead, otherwise no `X-Ratelimit-*` headers at all.
    RateLimit {
        /// Seconds until the reset the headers announce.
        reset_in_secs: Option<u64>,
    },
    /// 503, as during maintenance (or the older API's limit answer).
    Unavailable,
    /// 500 with `{message, translatedMessage}`.
    ServerError {
        /// Technical message.
        message: String,
        /// Message for people.
        translated_message: String,
    },
    /// 200 with a body that is not JSON.
    Malformed,
    /// Answers only after this many seconds.
    Hang {
        /// Delay.
        secs: u64,
    },
}

/// Standing faults and a queue of one-shot faults.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Faults {
    /// Added to every API answer.
    pub latency_ms: u64,
    /// Share of API requests answered 500 (0.0–1.0).
    pub error_rate: f64,
    /// Every API request answers 503 for this many seconds from now.
    pub outage_secs: u64,
    /// Faults for the next requests, one each.
    pub next: Vec<Fault>,
}

/// One API request and its answer, as recorded for the conformance test.
#[derive(Debug, Clone, Serialize)]
pub struct Exchange {
    /// HTTP method.
    pub method: String,
    /// Path below the API base, e.g. `/company/5/`.
    pub path: String,
    /// Answer status.
    pub status: u16,
    /// Answer body as JSON (`None` when it is not JSON).
    pub body: Option<Value>,
    /// Whether the answer was an injected fault.
    pub injected: bool,
}

/// A webhook delivery as the simulator made it.
#[derive(Debug, Clone, Serialize)]
pub struct Delivery {
    /// Target URL.
    pub url: String,
    /// The payload.
    pub payload: Value,
    /// Status the receiver answered (None: no answer).
    pub status: Option<u16>,
}

pub(crate) struct Quota {
    limit: u64,
    remaining: u64,
    reset_at: i64,
}

pub(crate) struct Limits {
    faults: Faults,
    outage_until: Option<Instant>,
    quota: Quota,
    bad_logins: HashMap<IpAddr, (u32, Instant)>,
}

/// The simulator's state behind its locks.
pub struct Sim {
    pub(crate) instance: String,
    pub(crate) db: Mutex<api::Db>,
    pub(crate) limits: Mutex<Limits>,
    in_flight: AtomicUsize,
    record: std::sync::atomic::AtomicBool,
    recorded: Mutex<Vec<Exchange>>,
    deliveries: Mutex<Vec<Delivery>>,
    events: mpsc::UnboundedSender<Value>,
    pub(crate) rng: Mutex<rand::rngs::StdRng>,
}

/// A running simulator.
pub struct RaynetSim {
    /// API base URL, e.g. `http://127.0.0.1:PORT/api/v2/`.
    pub url: String,
    /// Root URL (where `/_sim/` lives), e.g. `http://127.0.0.1:PORT`.
    pub root: String,
    /// Instance name.
    pub instance: String,
    /// The admin user (login and API key).
    pub admin: SimUser,
    /// State, to inspect and change from tests.
    pub sim: Arc<Sim>,
    /// How long generating the sample data took.
    pub generated_in: Duration,
    stop: Option<oneshot::Sender<()>>,
}

impl Drop for RaynetSim {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn next_utc_midnight() -> i64 {
    let day = 86_400;
    (chrono::Utc::now().timestamp() / day + 1) * day
}

impl RaynetSim {
    /// Generates the data, binds, and serves in the background until dropped.
    pub async fn start(options: SimOptions) -> anyhow::Result<Self> {
        use rand::SeedableRng;
        let started = Instant::now();
        let generated = data::generate(&options.data);
        let generated_in = started.elapsed();
        let (events, receiver) = mpsc::unbounded_channel();
        let mut db = api::Db::new(generated);
        let admin = db.add_user(
            &format!("admin@{}.example.cz", data::slug(&options.instance)),
            "ADMIN",
            "Správce Simulátoru",
            options.data.seed,
        );
        let sim = Arc::new(Sim {
            instance: options.instance.clone(),
            db: Mutex::new(db),
            limits: Mutex::new(Limits {
                faults: Faults::default(),
                outage_until: None,
                quota: Quota {
                    limit: options.daily_limit,
                    remaining: options.daily_limit,
                    reset_at: next_utc_midnight(),
                },
                bad_logins: HashMap::new(),
            }),
            in_flight: AtomicUsize::new(0),
            record: std::sync::atomic::AtomicBool::new(options.record),
            recorded: Mutex::new(Vec::new()),
            deliveries: Mutex::new(Vec::new()),
            events,
            rng: Mutex::new(rand::rngs::StdRng::seed_from_u64(options.data.seed)),
        });
        tokio::spawn(deliver_webhooks(sim.clone(), receiver));
        let listener = tokio::net::TcpListener::bind(options.bind).await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let app = router(sim.clone()).into_make_service_with_connect_info::<SocketAddr>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        let root = format!("http://{addr}");
        Ok(Self {
            url: format!("{root}/api/v2/"),
            root,
            instance: options.instance,
            admin,
            sim,
            generated_in,
            stop: Some(stop),
        })
    }
}

impl Sim {
    /// Replaces the standing faults and the queue of one-shot faults.
    pub fn set_faults(&self, faults: Faults) {
        let mut limits = self.limits.lock();
        limits.outage_until = (faults.outage_secs > 0)
            .then(|| Instant::now() + Duration::from_secs(faults.outage_secs));
        limits.faults = faults;
    }

    /// Queues a one-shot fault for the next API request.
    pub fn push_fault(&self, fault: Fault) {
        self.limits.lock().faults.next.push(fault);
    }

    /// Sets the daily quota (and what is left of it).
    pub fn set_quota(&self, limit: u64, remaining: u64) {
        let mut limits = self.limits.lock();
        limits.quota.limit = limit;
        limits.quota.remaining = remaining.min(limit);
        limits.quota.reset_at = next_utc_midnight();
    }

    /// Requests left today.
    pub fn quota_remaining(&self) -> u64 {
        self.limits.lock().quota.remaining
    }

    /// Forgets bad logins (lifts blocks).
    pub fn clear_bad_logins(&self) {
        self.limits.lock().bad_logins.clear();
    }

    /// Adds a user with an API key; `role` is ADMIN, FULL_THROTTLE or READONLY.
    pub fn add_user(&self, username: &str, role: &str, full_name: &str) -> SimUser {
        use rand::Rng;
        let salt = self.rng.lock().random();
        self.db.lock().add_user(username, role, full_name, salt)
    }

    /// Adds a security level (`/securityLevel/`); returns its id.
    pub fn add_security_level(&self, name: &str) -> i64 {
        self.db.lock().add_level(name)
    }

    /// Puts a record on a security level, as an admin would in the browser (fires
    /// `record.updated`); `false` for an unknown entity.
    pub fn set_security_level(&self, entity: &str, id: i64, level: i64) -> bool {
        let (known, name) = {
            let mut db = self.db.lock();
            (
                db.set_record_level(entity, id, level),
                api::entity_name_of(entity),
            )
        };
        if known && let Some(name) = name {
            let actor = api::Actor {
                username: "admin@raynet.cz".into(),
                source: json!({"name": "user", "description": "browser"}),
                role: "ADMIN".into(),
            };
            self.emit("record.updated", name, id, &[], &actor);
        }
        known
    }

    /// Limits a user account to these security levels (others see every level).
    pub fn set_user_security_levels(&self, account_id: i64, levels: Vec<i64>) {
        self.db.lock().set_user_levels(account_id, levels);
    }

    /// Every activity (e-mails, meetings, events, tasks, phone calls, letters), with owner and
    /// participants.
    pub fn activities(&self) -> Vec<Activity> {
        let db = self.db.lock();
        db.emails
            .iter()
            .chain(db.meetings.iter())
            .chain(db.events.iter())
            .chain(db.tasks.iter())
            .chain(db.phone_calls.iter())
            .chain(db.letters.iter())
            .cloned()
            .collect()
    }

    /// A company by id.
    pub fn company(&self, id: i64) -> Option<Company> {
        let db = self.db.lock();
        db.companies.get(id).cloned()
    }

    /// A person by id.
    pub fn person(&self, id: i64) -> Option<Person> {
        self.db.lock().persons.get(id).cloned()
    }

    /// How many records of an entity (`company`, `person`, `businessCase`, `project`, `email`,
    /// `meeting`, `event`, `task`, `phoneCall`, `letter`) exist.
    pub fn count(&self, entity: &str) -> usize {
        self.db.lock().count(entity)
    }

    /// The registered webhooks.
    pub fn webhooks(&self) -> Vec<Webhook> {
        self.db.lock().webhooks.clone()
    }

    /// Turns recording of API exchanges on or off.
    pub fn set_recording(&self, on: bool) {
        self.record.store(on, Ordering::SeqCst);
    }

    /// The recorded API exchanges.
    pub fn recorded(&self) -> Vec<Exchange> {
        self.recorded.lock().clone()
    }

    /// Webhook deliveries made so far.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.deliveries.lock().clone()
    }

    /// Changes data as a CRM user in the browser would (fires webhooks): `PUT` creates
    /// (body as the API's create), `POST` with an id updates, `DELETE` with an id deletes.
    /// Returns the status and body the API would answer.
    pub fn user_change(
        &self,
        method: &Method,
        entity: &str,
        id: Option<i64>,
        body: &Value,
    ) -> (StatusCode, Value) {
        let actor = api::Actor {
            username: "admin@raynet.cz".into(),
            source: json!({"name": "user", "description": "browser"}),
            role: "ADMIN".into(),
        };
        let (status, body) = api::write(self, &actor, method, entity, id, body);
        (status, body)
    }

    pub(crate) fn emit(
        &self,
        kind: &str,
        entity_name: &str,
        id: i64,
        ext_ids: &[String],
        actor: &api::Actor,
    ) {
        use rand::Rng;
        let event_id = format!("{:032x}", self.rng.lock().random::<u128>());
        let payload = json!({
            "eventId": event_id,
            "createdAt": api::iso(now_ms()),
            "type": kind,
            "author": actor.username,
            "source": actor.source,
            "data": {
                "entityName": entity_name,
                "entityId": id,
                "extIds": if ext_ids.is_empty() { Value::Null } else { json!(ext_ids) },
            }
        });
        let _ = self.events.send(payload);
    }
}

async fn deliver_webhooks(sim: Arc<Sim>, mut events: mpsc::UnboundedReceiver<Value>) {
    let Ok(client) = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
    else {
        return;
    };
    while let Some(payload) = events.recv().await {
        let kind = payload["type"].as_str().unwrap_or_default().to_owned();
        let hooks: Vec<Webhook> = sim
            .db
            .lock()
            .webhooks
            .iter()
            .filter(|w| w.events.contains(&kind))
            .cloned()
            .collect();
        for hook in hooks {
            let mut status = None;
            // Raynet retries failed deliveries; a few quick tries keep tests honest and short.
            for attempt in 0..5u32 {
                let mut request = client.post(&hook.url).json(&payload);
                if let Some(token) = &hook.secret_token {
                    request = request.header("X-RAYNETCRM-Token", token);
                }
                match request.send().await {
                    Ok(r) if r.status().is_success() => {
                        status = Some(r.status().as_u16());
                        break;
                    }
                    Ok(r) => status = Some(r.status().as_u16()),
                    Err(_) => status = None,
                }
                tokio::time::sleep(Duration::from_millis(50 * u64::from(attempt + 1))).await;
            }
            sim.deliveries.lock().push(Delivery {
                url: hook.url.clone(),
                payload: payload.clone(),
                status,
            });
        }
    }
}

fn router(sim: Arc<Sim>) -> Router {
    Router::new()
        .route("/api/v2/{*rest}", any(api_entry))
        .route("/_sim/faults", post(set_faults_http).get(get_faults_http))
        .route("/_sim/quota", post(set_quota_http))
        .route("/_sim/activities", get(activities_http))
        .route("/_sim/deliveries", get(deliveries_http))
        .route("/_sim/users", post(add_user_http))
        .route(
            "/_sim/bad-logins",
            axum::routing::delete(clear_bad_logins_http),
        )
        .route("/_sim/records/{entity}", any(user_change_http))
        .route("/_sim/records/{entity}/{id}", any(user_change_id_http))
        .route("/{instance}/", get(detail_view_http))
        .with_state(sim)
}

/// Query of Raynet's web app links: `/{instance}/?view=DetailView&en=Email&ei=42`.
#[derive(Deserialize)]
struct DetailQuery {
    view: Option<String>,
    en: Option<String>,
    ei: Option<i64>,
}

/// Raynet's web app at the address its record links use (the product's "Open in Raynet"):
/// a minimal detail card naming the record, or 404 for an unknown instance or record.
async fn detail_view_http(
    State(sim): State<Arc<Sim>>,
    Path(instance): Path<String>,
    Query(q): Query<DetailQuery>,
) -> axum::response::Response {
    use axum::response::{Html, IntoResponse};
    let not_found = || {
        (
            StatusCode::NOT_FOUND,
            Html("<h1>Record not found</h1>".to_owned()),
        )
            .into_response()
    };
    if instance != sim.instance || q.view.as_deref() != Some("DetailView") {
        return not_found();
    }
    let (Some(entity), Some(id)) = (q.en, q.ei) else {
        return not_found();
    };
    let title = {
        let db = sim.db.lock();
        match entity.as_str() {
            "Company" => db.companies.get(id).map(|c| c.name.to_string()),
            "Person" => db
                .persons
                .get(id)
                .map(|p| format!("{} {}", p.first, p.last)),
            "BusinessCase" => db.business_cases.get(id).map(|d| d.name.to_string()),
            "Project" => db.projects.get(id).map(|d| d.name.to_string()),
            "Email" => db.emails.get(id).map(|a| a.title.clone()),
            "Meeting" => db.meetings.get(id).map(|a| a.title.clone()),
            "Event" => db.events.get(id).map(|a| a.title.clone()),
            "Task" => db.tasks.get(id).map(|a| a.title.clone()),
            "PhoneCall" => db.phone_calls.get(id).map(|a| a.title.clone()),
            "Letter" => db.letters.get(id).map(|a| a.title.clone()),
            _ => None,
        }
    };
    let Some(title) = title else {
        return not_found();
    };
    let escaped = title
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    Html(format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{escaped} · RAYNET CRM (simulated)</title>\
         </head><body><p>RAYNET CRM (simulated) · {instance}</p><h1 data-entity=\"{entity}\" \
         data-id=\"{id}\">{escaped}</h1></body></html>"
    ))
    .into_response()
}

async fn set_faults_http(
    State(sim): State<Arc<Sim>>,
    axum::Json(faults): axum::Json<Faults>,
) -> StatusCode {
    sim.set_faults(faults);
    StatusCode::NO_CONTENT
}

async fn get_faults_http(State(sim): State<Arc<Sim>>) -> axum::Json<Faults> {
    axum::Json(sim.limits.lock().faults.clone())
}

#[derive(Deserialize)]
struct QuotaBody {
    limit: Option<u64>,
    remaining: Option<u64>,
}

async fn set_quota_http(
    State(sim): State<Arc<Sim>>,
    axum::Json(body): axum::Json<QuotaBody>,
) -> StatusCode {
    let limit = body.limit.unwrap_or_else(|| sim.limits.lock().quota.limit);
    sim.set_quota(limit, body.remaining.unwrap_or(limit));
    StatusCode::NO_CONTENT
}

async fn activities_http(State(sim): State<Arc<Sim>>) -> axum::Json<Vec<Activity>> {
    axum::Json(sim.activities())
}

async fn deliveries_http(State(sim): State<Arc<Sim>>) -> axum::Json<Vec<Delivery>> {
    axum::Json(sim.deliveries())
}

#[derive(Deserialize)]
struct NewUserBody {
    username: String,
    role: Option<String>,
    full_name: Option<String>,
}

async fn add_user_http(
    State(sim): State<Arc<Sim>>,
    axum::Json(body): axum::Json<NewUserBody>,
) -> axum::Json<SimUser> {
    axum::Json(sim.add_user(
        &body.username,
        body.role.as_deref().unwrap_or("FULL_THROTTLE"),
        body.full_name.as_deref().unwrap_or("Nový Uživatel"),
    ))
}

async fn clear_bad_logins_http(State(sim): State<Arc<Sim>>) -> StatusCode {
    sim.clear_bad_logins();
    StatusCode::NO_CONTENT
}

fn json_body(bytes: &Bytes) -> Value {
    if bytes.is_empty() {
        json!({})
    } else {
        serde_json::from_slice(bytes).unwrap_or(Value::Null)
    }
}

async fn user_change_http(
    State(sim): State<Arc<Sim>>,
    Path(entity): Path<String>,
    method: Method,
    body: Bytes,
) -> Response {
    let (status, body) = sim.user_change(&method, &entity, None, &json_body(&body));
    (status, axum::Json(body)).into_response()
}

async fn user_change_id_http(
    State(sim): State<Arc<Sim>>,
    Path((entity, id)): Path<(String, i64)>,
    method: Method,
    body: Bytes,
) -> Response {
    let (status, body) = sim.user_change(&method, &entity, Some(id), &json_body(&body));
    (status, axum::Json(body)).into_response()
}

struct InFlight<'a>(&'a AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A finished answer: status, extra headers, body text, and whether it was injected.
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) body: String,
    pub(crate) injected: bool,
    pub(crate) rate_headers: RateHeaders,
}

#[derive(Clone, Copy)]
pub(crate) enum RateHeaders {
    Quota,
    Exhausted { reset_at: i64 },
    None,
}

impl Answer {
    pub(crate) fn json(status: StatusCode, body: &Value) -> Self {
        Self {
            status,
            body: body.to_string(),
            injected: false,
            rate_headers: RateHeaders::Quota,
        }
    }

    fn injected(status: StatusCode, body: &Value, rate_headers: RateHeaders) -> Self {
        Self {
            status,
            body: body.to_string(),
            injected: true,
            rate_headers,
        }
    }
}

pub(crate) fn message(status: StatusCode, text: &str) -> Answer {
    Answer::json(status, &json!({ "message": text }))
}

async fn api_entry(
    State(sim): State<Arc<Sim>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri
        .path()
        .strip_prefix("/api/v2")
        .unwrap_or(uri.path())
        .to_owned();
    let answer = answer(
        &sim,
        peer.ip(),
        &method,
        &path,
        uri.query().unwrap_or(""),
        &headers,
        &body,
    )
    .await;
    if sim.record.load(Ordering::SeqCst) {
        sim.recorded.lock().push(Exchange {
            method: method.to_string(),
            path: path.clone(),
            status: answer.status.as_u16(),
            body: serde_json::from_str(&answer.body).ok(),
            injected: answer.injected,
        });
    }
    let mut response = (answer.status, answer.body).into_response();
    let h = response.headers_mut();
    h.insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/json;charset=UTF-8"),
    );
    let (limit, remaining, reset) = {
        let limits = sim.limits.lock();
        (
            limits.quota.limit,
            limits.quota.remaining,
            limits.quota.reset_at,
        )
    };
    let mut put = |name: &'static str, value: String| {
        if let Ok(v) = axum::http::HeaderValue::from_str(&value) {
            h.insert(name, v);
        }
    };
    match answer.rate_headers {
        RateHeaders::Quota => {
            put("X-Ratelimit-Limit", limit.to_string());
            put("X-Ratelimit-Remaining", remaining.to_string());
            put("X-Ratelimit-Reset", reset.to_string());
        }
        RateHeaders::Exhausted { reset_at } => {
            put("X-Ratelimit-Limit", limit.to_string());
            put("X-Ratelimit-Remaining", "0".into());
            put("X-Ratelimit-Reset", reset_at.to_string());
        }
        RateHeaders::None => {}
    }
    response
}

fn limit_reached_body() -> Value {
    json!({
        "type": "RequestLimitReached",
        "message": "API request limit reached. See the X-RateLimit-* headers and check out the API documentation for more details."
    })
}

async fn answer(
    sim: &Arc<Sim>,
    ip: IpAddr,
    method: &Method,
    path: &str,
    query: &str,
    headers: &HeaderMap,
    body: &Bytes,
) -> Answer {
    let count = sim.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    let _guard = InFlight(&sim.in_flight);
    if count > MAX_CONNECTIONS {
        return Answer::injected(
            StatusCode::TOO_MANY_REQUESTS,
            &json!({
                "type": "TooManyConcurrentRequests",
                "message": "At most 4 concurrently active connections are allowed."
            }),
            RateHeaders::Quota,
        );
    }
    // Standing and one-shot faults.
    let (latency, fault, error_hit, outage) = {
        use rand::Rng;
        let mut limits = sim.limits.lock();
        let fault = if limits.faults.next.is_empty() {
            None
        } else {
            Some(limits.faults.next.remove(0))
        };
        let rate = limits.faults.error_rate;
        let error_hit = rate > 0.0 && sim.rng.lock().random_bool(rate.clamp(0.0, 1.0));
        let outage = limits.outage_until.is_some_and(|t| Instant::now() < t);
        (limits.faults.latency_ms, fault, error_hit, outage)
    };
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    if outage {
        return Answer::injected(
            StatusCode::SERVICE_UNAVAILABLE,
            &json!({"message": "Service temporarily unavailable"}),
            RateHeaders::None,
        );
    }
    match fault {
        Some(Fault::RateLimit { reset_in_secs }) => {
            let rate_headers = match reset_in_secs {
                Some(s) => RateHeaders::Exhausted {
                    reset_at: chrono::Utc::now().timestamp() + i64::try_from(s).unwrap_or(0),
                },
                None => RateHeaders::None,
            };
            return Answer::injected(
                StatusCode::TOO_MANY_REQUESTS,
                &limit_reached_body(),
                rate_headers,
            );
        }
        Some(Fault::Unavailable) => {
            return Answer::injected(
                StatusCode::SERVICE_UNAVAILABLE,
                &json!({"message": "Service temporarily unavailable"}),
                RateHeaders::None,
            );
        }
        Some(Fault::ServerError {
            message,
            translated_message,
        }) => {
            return Answer::injected(
                StatusCode::INTERNAL_SERVER_ERROR,
                &json!({"message": message, "translatedMessage": translated_message}),
                RateHeaders::Quota,
            );
        }
        Some(Fault::Malformed) => {
            return Answer {
                status: StatusCode::OK,
                body: "{\"success\": true, \"data\": [{\"id\": 1,".into(),
                injected: true,
                rate_headers: RateHeaders::Quota,
            };
        }
        Some(Fault::Hang { secs }) => tokio::time::sleep(Duration::from_secs(secs)).await,
        None => {}
    }
    if error_hit {
        return Answer::injected(
            StatusCode::INTERNAL_SERVER_ERROR,
            &json!({"message": "TranslatedApplicationException: exception.simulated", "translatedMessage": "Simulovaná chyba serveru."}),
            RateHeaders::Quota,
        );
    }
    // 20 bad logins block the address for 60 minutes.
    {
        let limits = sim.limits.lock();
        if let Some((n, since)) = limits.bad_logins.get(&ip)
            && *n >= MAX_BAD_LOGINS
            && since.elapsed() < BLOCK_FOR
        {
            return message(
                StatusCode::FORBIDDEN,
                "IpAddressBlockedException: Access from this IP address is blocked for 60 minutes after too many failed logins.",
            );
        }
    }
    let unknown_instance = headers
        .get("x-instance-name")
        .and_then(|v| v.to_str().ok())
        .is_none_or(|name| name != sim.instance);
    let Some(user) = authenticate(sim, headers) else {
        let mut limits = sim.limits.lock();
        let entry = limits.bad_logins.entry(ip).or_insert((0, Instant::now()));
        if entry.1.elapsed() >= BLOCK_FOR {
            *entry = (0, Instant::now());
        }
        entry.0 += 1;
        entry.1 = Instant::now();
        // Raynet's answers name the failure as `<Exception>: <text>`; which exception a wrong
        // instance and a wrong key give is not documented (inferred, see research notes).
        return message(
            StatusCode::UNAUTHORIZED,
            if unknown_instance {
                "InstanceNotFoundException: No instance of this name exists."
            } else {
                "InvalidCredentialsException: Invalid user name or API key."
            },
        );
    };
    {
        let mut limits = sim.limits.lock();
        if chrono::Utc::now().timestamp() >= limits.quota.reset_at {
            limits.quota.remaining = limits.quota.limit;
            limits.quota.reset_at = next_utc_midnight();
        }
        if limits.quota.remaining == 0 {
            let reset_at = limits.quota.reset_at;
            return Answer::injected(
                StatusCode::TOO_MANY_REQUESTS,
                &limit_reached_body(),
                RateHeaders::Exhausted { reset_at },
            );
        }
        limits.quota.remaining -= 1;
    }
    let actor = api::Actor {
        username: user.username.clone(),
        source: json!({"name": "api", "description": user.key_name}),
        role: user.role.clone(),
    };
    api::handle(sim, &actor, &user, method, path, query, body)
}

fn authenticate(sim: &Sim, headers: &HeaderMap) -> Option<SimUser> {
    use base64::Engine;
    let instance = headers.get("x-instance-name")?.to_str().ok()?;
    if instance != sim.instance {
        return None;
    }
    let auth = headers.get("authorization")?.to_str().ok()?;
    let encoded = auth.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, key) = text.split_once(':')?;
    let db = sim.db.lock();
    db.users
        .iter()
        .find(|u| u.username.eq_ignore_ascii_case(user) && u.api_key == key)
        .cloned()
}

/// Formats a queue of faults as the `/_sim/faults` body, for scripts.
pub fn faults_json(faults: &Faults) -> String {
    serde_json::to_string(faults).unwrap_or_default()
}

/// The event types webhooks can subscribe to.
pub const EVENTS: [&str; 3] = ["record.created", "record.updated", "record.deleted"];
