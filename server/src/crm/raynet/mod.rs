//! The Raynet CRM implementation of [`Crm`] on reqwest: HTTP Basic (user e-mail + API key) plus
//! `X-Instance-Name`, `dateFormat=ISO8601` on every call, `offset`/`limit` paging in id order,
//! `field[OP]=value` filters, create with `PUT`, update with `POST /…/{id}/`, and Raynet's limits
//! (4 concurrent connections per instance, a daily quota reported in `X-Ratelimit-*` headers,
//! 429/503 backed off with jitter; 401 never retried, since 20 bad logins block the address).

mod wire;

use std::{
    fmt,
    time::Duration,
};

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use reqwest::{Method, StatusCode, header::HeaderMap};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};
use url::Url;

use crate::{
    config::CrmConfig,
    crm::{
        ActivityKind, ActivityParticipant, ActivityStatus, ActivityUpdate, Connection,
        ConnectionReport, Crm, CrmActivity, CrmError, CrmIdentity, CrmRecord, CrmWebhook, Limits,
        MAX_PAGE, NewActivity, NewPerson, Page, PageRequest, ParticipantSpec, Quota, RecordKind,
    },
};

/// The default API address (Czech host); `.sk`, `.com` and `eu.raynetcrm.com` hosts also exist.
pub const DEFAULT_BASE_URL: &str = "https://app.raynet.cz/api/v2/";

/// Raynet's API addresses offered in the admin UI's list.
pub const KNOWN_BASE_URLS: [&str; 2] = [
    "https://app.raynet.cz/api/v2/",
    "https://eu.raynetcrm.com/api/v2/",
];

/// The domains Raynet serves its API from (the host itself or any subdomain).
pub const RAYNET_DOMAINS: [&str; 4] = ["raynet.cz", "raynetcrm.com", "raynetcrm.sk", "raynet.sk"];

/// Whether `base_url` is an HTTPS address on one of Raynet's domains, the only places an API key
/// is sent to unless the configuration allows others (`crm.allow_other_hosts`).
pub fn is_raynet_base_url(base_url: &str) -> bool {
    let Ok(url) = Url::parse(base_url.trim()) else {
        return false;
    };
    let host = url.host_str().unwrap_or("").to_ascii_lowercase();
    url.scheme() == "https"
        && url.username().is_empty()
        && url.password().is_none()
        && RAYNET_DOMAINS
            .iter()
            .any(|d| host == *d || host.strip_suffix(d).is_some_and(|h| h.ends_with('.')))
}

/// Ids per `id[IN]=…` request, so the URL stays short.
const IDS_PER_REQUEST: usize = 200;

/// First backoff step for 429/503 without a reset time; doubled per attempt.
const BASE_BACKOFF: Duration = Duration::from_millis(250);

/// Where and as whom to connect (the CRM-neutral [`Connection`]).
pub type RaynetConnection = Connection;

/// A Raynet API client for one user of one instance.
pub struct RaynetClient {
    http: reqwest::Client,
    base: Url,
    instance: String,
    user: String,
    key: SecretString,
    limits: Limits,
    max_retries: u32,
    max_backoff: Duration,
}

impl fmt::Debug for RaynetClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RaynetClient")
            .field("base", &self.base.as_str())
            .field("instance", &self.instance)
            .finish_non_exhaustive()
    }
}

impl RaynetClient {
    /// A client with its own limits (see [`RaynetClient::with_limits`] to share them).
    pub fn new(
        http: reqwest::Client,
        connection: RaynetConnection,
        config: &CrmConfig,
    ) -> Result<Self, CrmError> {
        Self::with_limits(
            http,
            connection,
            config,
            Limits::new(config.max_connections),
        )
    }

    /// A client that shares `limits` with the other clients of the same instance.
    pub fn with_limits(
        http: reqwest::Client,
        connection: RaynetConnection,
        config: &CrmConfig,
        limits: Limits,
    ) -> Result<Self, CrmError> {
        let mut base_text = connection.base_url.trim().to_owned();
        if !base_text.ends_with('/') {
            base_text.push('/');
        }
        let base = Url::parse(&base_text)
            .map_err(|e| CrmError::Invalid(format!("the CRM address `{base_text}`: {e}")))?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(CrmError::Invalid(format!(
                "the CRM address `{base_text}` is not an http(s) URL"
            )));
        }
        let instance = connection.instance.trim().to_owned();
        if instance.is_empty() {
            return Err(CrmError::Invalid("the CRM instance name is empty".into()));
        }
        Ok(Self {
            http,
            base,
            instance,
            user: connection.user_email.trim().to_owned(),
            key: connection.api_key,
            limits,
            max_retries: config.max_retries,
            max_backoff: Duration::from_secs(config.max_backoff_secs),
        })
    }

    /// The limits this client uses, to share with other clients of the instance.
    pub fn limits(&self) -> Limits {
        self.limits.clone()
    }

    /// `base` + segments + trailing slash; segments are percent-encoded.
    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty();
            path.extend(segments);
            path.push("");
        }
        url
    }

    fn note_quota(&self, headers: &HeaderMap) {
        let number = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<i64>().ok())
        };
        let limit = number("x-ratelimit-limit");
        let remaining = number("x-ratelimit-remaining");
        let reset = number("x-ratelimit-reset");
        if limit.is_none() && remaining.is_none() && reset.is_none() {
            return;
        }
        let quota = Quota {
            limit: limit.and_then(|v| u64::try_from(v).ok()),
            remaining: remaining.map(|v| u64::try_from(v).unwrap_or(0)),
            reset_at: reset.and_then(|s| Utc.timestamp_opt(s, 0).single()),
        };
        if let Ok(mut slot) = self.limits.quota.lock() {
            *slot = Some(quota);
        }
    }

    /// One call with the connection limit, quota tracking and 429/503 backoff.
    async fn call(
        &self,
        method: Method,
        url: Url,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<bytes::Bytes, CrmError> {
        let mut attempt: u32 = 0;
        loop {
            let permit = self
                .limits
                .permits
                .acquire()
                .await
                .map_err(|_| CrmError::Upstream("the CRM client is shut down".into()))?;
            let mut request = self
                .http
                .request(method.clone(), url.clone())
                .basic_auth(&self.user, Some(self.key.expose_secret()))
                .header("X-Instance-Name", &self.instance)
                .header(reqwest::header::ACCEPT, "application/json")
                .query(&[("dateFormat", "ISO8601")])
                .query(query);
            if let Some(body) = body {
                request = request.json(body);
            }
            let response = request.send().await.map_err(transport_error)?;
            let status = response.status();
            let headers = response.headers().clone();
            let bytes = response.bytes().await.map_err(transport_error)?;
            drop(permit);
            self.note_quota(&headers);
            if status.is_success() {
                return Ok(bytes);
            }
            let error: wire::ErrorBody = serde_json::from_slice(&bytes).unwrap_or_default();
            match status {
                // Raynet names the failure in `message` (`…Exception: …`).
                StatusCode::UNAUTHORIZED => {
                    return Err(
                        if error
                            .message
                            .as_deref()
                            .is_some_and(|m| m.contains("Instance"))
                        {
                            CrmError::UnknownInstance
                        } else {
                            CrmError::BadCredentials
                        },
                    );
                }
                StatusCode::FORBIDDEN => {
                    return Err(
                        if error
                            .message
                            .as_deref()
                            .is_some_and(|m| m.contains("Blocked"))
                        {
                            CrmError::Blocked
                        } else {
                            CrmError::AccessDenied(error.text())
                        },
                    );
                }
                StatusCode::NOT_FOUND => return Err(CrmError::NotFound),
                StatusCode::BAD_REQUEST => return Err(CrmError::Invalid(error.text())),
                StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE => {
                    let limit_reached = status == StatusCode::TOO_MANY_REQUESTS
                        || error.kind.as_deref() == Some("RequestLimitReached");
                    let reset = reset_if_exhausted(&headers);
                    let now = Utc::now();
                    let wait = match reset {
                        Some(at) => (at - now).to_std().unwrap_or_default() + crate::backoff::jitter(Duration::from_millis(250)),
                        None => backoff(attempt, self.max_backoff),
                    };
                    let until =
                        reset.or_else(|| chrono::Duration::from_std(wait).ok().map(|w| now + w));
                    if wait > self.max_backoff || attempt >= self.max_retries {
                        tracing::warn!(%status, attempts = attempt + 1, ?until, "the CRM keeps refusing; giving up for now");
                        return Err(if limit_reached {
                            CrmError::RateLimited { until }
                        } else {
                            CrmError::Upstream(format!(
                                "the CRM is unavailable (HTTP {status}) {}",
                                error.text()
                            ))
                        });
                    }
                    tracing::debug!(%status, ?wait, attempt, "the CRM asked us to slow down");
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                StatusCode::INTERNAL_SERVER_ERROR => {
                    let text = error.text();
                    return Err(
                        if error
                            .message
                            .as_deref()
                            .is_some_and(|m| m.contains("AccessDenied"))
                        {
                            CrmError::AccessDenied(text)
                        } else if text.is_empty() {
                            CrmError::Upstream("HTTP 500 without a message".into())
                        } else {
                            CrmError::Upstream(text)
                        },
                    );
                }
                other => {
                    return Err(CrmError::Upstream(format!(
                        "unexpected HTTP {other} {}",
                        error.text()
                    )));
                }
            }
        }
    }

    async fn get_json<T: DeserializeOwned>(
        &self,
        url: Url,
        query: &[(&str, String)],
    ) -> Result<wire::Envelope<T>, CrmError> {
        let bytes = self.call(Method::GET, url, query, None).await?;
        decode(&bytes)
    }

    async fn send_json<T: DeserializeOwned>(
        &self,
        method: Method,
        url: Url,
        body: &Value,
    ) -> Result<wire::Envelope<T>, CrmError> {
        let bytes = self.call(method, url, &[], Some(body)).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            // Updates may answer with an empty body.
            return Ok(wire::Envelope {
                success: Some(true),
                total_count: None,
                data: None,
                message: None,
            });
        }
        decode(&bytes)
    }

    async fn list_raw(
        &self,
        kind: RecordKind,
        query: Vec<(&str, String)>,
    ) -> Result<Page<CrmRecord>, CrmError> {
        let url = self.url(&[entity(kind)]);
        let (items, total) = match kind {
            RecordKind::Company => {
                let env = self.get_json::<Vec<wire::Company>>(url, &query).await?;
                let total = env.total_count;
                (
                    data(env)?
                        .into_iter()
                        .map(wire::Company::into_record)
                        .collect::<Vec<_>>(),
                    total,
                )
            }
            RecordKind::Person => {
                let env = self.get_json::<Vec<wire::Person>>(url, &query).await?;
                let total = env.total_count;
                (
                    data(env)?
                        .into_iter()
                        .map(wire::Person::into_record)
                        .collect(),
                    total,
                )
            }
            RecordKind::BusinessCase | RecordKind::Project => {
                let env = self.get_json::<Vec<wire::Deal>>(url, &query).await?;
                let total = env.total_count;
                (
                    data(env)?
                        .into_iter()
                        .map(|d| d.into_record(kind))
                        .collect(),
                    total,
                )
            }
        };
        let total = total.unwrap_or(items.len() as u64);
        Ok(Page { items, total })
    }

    async fn whoami(&self) -> Result<CrmIdentity, CrmError> {
        let query = [
            ("username", self.user.clone()),
            ("offset", "0".into()),
            ("limit", "1".into()),
        ];
        match self
            .get_json::<Vec<wire::UserAccount>>(self.url(&["userAccount"]), &query)
            .await
        {
            Ok(env) => {
                let mut account = data(env)?.into_iter().next().ok_or_else(|| {
                    CrmError::AccessDenied(format!("no user account has the login {}", self.user))
                })?;
                if account.security_levels.is_none() {
                    // The listing leaves the levels out; the account's detail has them.
                    let url = self.url(&["userAccount", &account.id.to_string()]);
                    account.security_levels =
                        match self.get_json::<wire::UserAccount>(url, &[]).await {
                            Ok(detail) => data(detail)?.security_levels,
                            Err(CrmError::AccessDenied(_)) => None,
                            Err(other) => return Err(other),
                        };
                }
                Ok(CrmIdentity {
                    user_account_id: Some(account.id),
                    full_name: account.person_name(),
                    person_id: account.person.as_ref().and_then(|p| p.id),
                    username: account.username.unwrap_or_else(|| self.user.clone()),
                    role: account.user_role,
                    security_levels: account
                        .security_levels
                        .map(|levels| levels.iter().filter_map(|l| l.id).collect()),
                })
            }
            // Users who may not list accounts can still be found as a person by their login.
            Err(CrmError::AccessDenied(_)) => {
                let person = self
                    .find_persons_by_email(&self.user)
                    .await?
                    .into_iter()
                    .next()
                    .ok_or_else(|| {
                        CrmError::AccessDenied(format!("no person has the e-mail {}", self.user))
                    })?;
                Ok(CrmIdentity {
                    user_account_id: None,
                    username: self.user.clone(),
                    person_id: Some(person.id),
                    full_name: Some(person.name),
                    role: None,
                    security_levels: None,
                })
            }
            Err(other) => Err(other),
        }
    }

    fn participants_body(wanted: &[ParticipantSpec]) -> Vec<Value> {
        wanted
            .iter()
            .map(|p| {
                let mut m = Map::new();
                if let Some(id) = p.person_id {
                    m.insert("person".into(), json!(id));
                }
                if let Some(id) = p.company_id {
                    m.insert("company".into(), json!(id));
                }
                Value::Object(m)
            })
            .collect()
    }
}

fn transport_error(e: reqwest::Error) -> CrmError {
    if e.is_timeout() {
        CrmError::Upstream("the CRM did not answer in time".into())
    } else if e.is_connect() {
        CrmError::Upstream(format!("cannot connect to the CRM: {}", e.without_url()))
    } else {
        CrmError::Upstream(format!("talking to the CRM failed: {}", e.without_url()))
    }
}

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<wire::Envelope<T>, CrmError> {
    let envelope: wire::Envelope<T> = serde_json::from_slice(bytes)
        .map_err(|e| CrmError::Upstream(format!("the CRM sent malformed JSON: {e}")))?;
    if envelope.success == Some(false) {
        return Err(CrmError::Upstream(
            envelope
                .message
                .unwrap_or_else(|| "the CRM answered success: false".into()),
        ));
    }
    Ok(envelope)
}

fn data<T>(envelope: wire::Envelope<T>) -> Result<T, CrmError> {
    envelope
        .data
        .ok_or_else(|| CrmError::Upstream("the CRM's answer has no data".into()))
}

/// The reset time, when the headers say the quota is used up.
fn reset_if_exhausted(headers: &HeaderMap) -> Option<DateTime<Utc>> {
    let remaining = headers
        .get("x-ratelimit-remaining")?
        .to_str()
        .ok()?
        .trim()
        .parse::<i64>()
        .ok()?;
    if remaining > 0 {
        return None;
    }
    let reset = headers
        .get("x-ratelimit-reset")?
        .to_str()
        .ok()?
        .trim()
        .parse::<i64>()
        .ok()?;
    Utc.timestamp_opt(reset, 0).single()
}

/// Exponential backoff with "equal jitter" from [`BASE_BACKOFF`], capped by `max`.
fn backoff(attempt: u32, max: Duration) -> Duration {
    crate::backoff::delay(attempt, BASE_BACKOFF, max)
}

/// A wanted participant is present when its person is (whatever company the CRM filled in), or,
/// for a company alone, when that company is there without a person.
fn same_participant(wanted: &ParticipantSpec, present: &ActivityParticipant) -> bool {
    match wanted.person_id {
        Some(person) => present.person_id == Some(person),
        None => present.person_id.is_none() && present.company_id == wanted.company_id,
    }
}

fn entity(kind: RecordKind) -> &'static str {
    match kind {
        RecordKind::Company => "company",
        RecordKind::Person => "person",
        RecordKind::BusinessCase => "businessCase",
        RecordKind::Project => "project",
    }
}

fn activity_entity(kind: ActivityKind) -> &'static str {
    match kind {
        ActivityKind::Email => "email",
        ActivityKind::Meeting => "meeting",
    }
}

/// The entity name Raynet's web app uses in links and webhooks.
fn activity_entity_name(kind: ActivityKind) -> &'static str {
    match kind {
        ActivityKind::Email => "Email",
        ActivityKind::Meeting => "Meeting",
    }
}

fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, false)
}

fn status_name(status: ActivityStatus) -> &'static str {
    match status {
        ActivityStatus::New => "NEW",
        ActivityStatus::Scheduled => "SCHEDULED",
        ActivityStatus::Completed => "COMPLETED",
        ActivityStatus::Cancelled => "CANCELLED",
    }
}

fn page_query(page: PageRequest) -> Vec<(&'static str, String)> {
    let mut query = vec![
        ("offset", page.offset.to_string()),
        ("limit", page.limit.clamp(1, MAX_PAGE).to_string()),
        ("sortColumn", "id".to_owned()),
        ("sortDirection", "ASC".to_owned()),
    ];
    if let Some(since) = page.changed_since {
        query.push(("rowInfo.lastModifiedAt[GT]", iso(since)));
    }
    query
}

#[async_trait]
impl Crm for RaynetClient {
    async fn test_connection(&self) -> Result<ConnectionReport, CrmError> {
        let identity = self.whoami().await?;
        Ok(ConnectionReport {
            identity,
            quota: self.quota(),
        })
    }

    fn quota(&self) -> Option<Quota> {
        self.limits.quota.lock().ok().and_then(|q| *q)
    }

    async fn list(&self, kind: RecordKind, page: PageRequest) -> Result<Page<CrmRecord>, CrmError> {
        self.list_raw(kind, page_query(page)).await
    }

    async fn list_ids(&self, kind: RecordKind, page: PageRequest) -> Result<Page<i64>, CrmError> {
        let mut query = page_query(page);
        query.push(("view", "rowInfo".to_owned()));
        let env = self
            .get_json::<Vec<wire::RowState>>(self.url(&[entity(kind)]), &query)
            .await?;
        let total = env.total_count;
        let items: Vec<i64> = data(env)?.into_iter().map(|r| r.id).collect();
        Ok(Page {
            total: total.unwrap_or(items.len() as u64),
            items,
        })
    }

    async fn get_many(&self, kind: RecordKind, ids: &[i64]) -> Result<Vec<CrmRecord>, CrmError> {
        let mut ids = ids.to_vec();
        ids.sort_unstable();
        ids.dedup();
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(IDS_PER_REQUEST) {
            let list = chunk
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(",");
            let mut query = page_query(PageRequest {
                offset: 0,
                limit: chunk.len() as u64,
                changed_since: None,
            });
            query.push(("id[IN]", list));
            out.extend(self.list_raw(kind, query).await?.items);
        }
        Ok(out)
    }

    async fn get(&self, kind: RecordKind, id: i64) -> Result<CrmRecord, CrmError> {
        let url = self.url(&[entity(kind), &id.to_string()]);
        Ok(match kind {
            RecordKind::Company => {
                data(self.get_json::<wire::Company>(url, &[]).await?)?.into_record()
            }
            RecordKind::Person => {
                data(self.get_json::<wire::Person>(url, &[]).await?)?.into_record()
            }
            RecordKind::BusinessCase | RecordKind::Project => {
                data(self.get_json::<wire::Deal>(url, &[]).await?)?.into_record(kind)
            }
        })
    }

    async fn find_persons_by_email(&self, email: &str) -> Result<Vec<CrmRecord>, CrmError> {
        let mut found: Vec<CrmRecord> = Vec::new();
        for field in ["contactInfo.email", "contactInfo.email2"] {
            let mut query = page_query(PageRequest::first(None));
            query.push((field, email.trim().to_owned()));
            for record in self.list_raw(RecordKind::Person, query).await?.items {
                if !found.iter().any(|r| r.id == record.id) {
                    found.push(record);
                }
            }
        }
        found.sort_by_key(|r| r.id);
        Ok(found)
    }

    async fn create_person(&self, person: &NewPerson) -> Result<i64, CrmError> {
        let mut body = Map::new();
        body.insert("lastName".into(), json!(person.last_name));
        if let Some(first) = &person.first_name {
            body.insert("firstName".into(), json!(first));
        }
        if let Some(email) = &person.email {
            body.insert("contactInfo".into(), json!({ "email": email }));
        }
        if let Some(company) = person.company_id {
            body.insert("relationship".into(), json!({ "company": company }));
        }
        if let Some(owner) = person.owner_id {
            body.insert("owner".into(), json!(owner));
        }
        let env = self
            .send_json::<wire::Inserted>(Method::PUT, self.url(&["person"]), &Value::Object(body))
            .await?;
        Ok(data(env)?.id)
    }

    async fn create_activity(&self, activity: &NewActivity) -> Result<i64, CrmError> {
        let mut body = Map::new();
        body.insert("title".into(), json!(activity.title));
        body.insert("priority".into(), json!("DEFAULT"));
        body.insert("owner".into(), json!(activity.owner_id));
        let links = &activity.links;
        for (key, value) in [
            ("company", links.company_id),
            ("person", links.person_id),
            ("businessCase", links.business_case_id),
            ("project", links.project_id),
        ] {
            if let Some(id) = value {
                body.insert(key.into(), json!(id));
            }
        }
        if let Some(from) = activity.from {
            body.insert("scheduledFrom".into(), json!(iso(from)));
        }
        if let Some(till) = activity.till {
            body.insert("scheduledTill".into(), json!(iso(till)));
        }
        body.insert("description".into(), json!(activity.description));
        if let Some(ext) = &activity.ext_id {
            body.insert("extId".into(), json!(ext));
        }
        let url = self.url(&[activity_entity(activity.kind)]);
        let id = data(
            self.send_json::<wire::Inserted>(Method::PUT, url, &Value::Object(body))
                .await?,
        )?
        .id;
        // Participants, the place and the state are only accepted by an update. The contact
        // person of the links stays a participant.
        let mut participants = activity.participants.clone();
        if let Some(person) = links.person_id
            && !participants.iter().any(|p| p.person_id == Some(person))
        {
            participants.insert(
                0,
                ParticipantSpec {
                    person_id: Some(person),
                    company_id: None,
                },
            );
        }
        let follow_up = ActivityUpdate {
            place: activity.place.clone(),
            status: activity.status,
            participants: (!activity.participants.is_empty()).then_some(participants),
            till: activity
                .till
                .filter(|_| activity.status == Some(ActivityStatus::Completed)),
            ..ActivityUpdate::default()
        };
        if follow_up != ActivityUpdate::default() {
            self.update_activity(activity.kind, id, &follow_up).await?;
        }
        Ok(id)
    }

    async fn update_activity(
        &self,
        kind: ActivityKind,
        id: i64,
        update: &ActivityUpdate,
    ) -> Result<(), CrmError> {
        let mut body = Map::new();
        if let Some(title) = &update.title {
            body.insert("title".into(), json!(title));
        }
        if let Some(from) = update.from {
            body.insert("scheduledFrom".into(), json!(iso(from)));
        }
        if let Some(till) = update.till {
            body.insert("scheduledTill".into(), json!(iso(till)));
        }
        if let Some(text) = &update.description {
            body.insert("description".into(), json!(text));
        }
        if let (Some(place), ActivityKind::Meeting) = (&update.place, kind) {
            body.insert("meetingPlace".into(), json!(place));
        }
        if let Some(status) = update.status {
            body.insert("status".into(), json!(status_name(status)));
            if status == ActivityStatus::Completed {
                let done = update.till.or(update.from).unwrap_or_else(Utc::now);
                body.insert("completed".into(), json!(iso(done)));
            }
        }
        if let Some(links) = &update.links {
            // The update takes no `person`: a contact is changed through participants.
            body.insert("company".into(), json!(links.company_id));
            body.insert("businessCase".into(), json!(links.business_case_id));
            body.insert("project".into(), json!(links.project_id));
        }
        if let Some(wanted) = &update.participants {
            let current = if body.is_empty() && wanted.is_empty() {
                Vec::new()
            } else {
                self.get_activity(kind, id).await?.participants
            };
            let mut diff: Vec<Value> = current
                .iter()
                .filter(|p| !p.owner)
                .filter(|p| !wanted.iter().any(|w| same_participant(w, p)))
                .filter_map(|p| p.id.map(|id| json!({ "id": -id })))
                .collect();
            let missing: Vec<ParticipantSpec> = wanted
                .iter()
                .filter(|w| !current.iter().any(|p| same_participant(w, p)))
                .cloned()
                .collect();
            diff.extend(Self::participants_body(&missing));
            if !diff.is_empty() {
                body.insert("participants".into(), Value::Array(diff));
            }
        }
        if body.is_empty() {
            return Ok(());
        }
        let url = self.url(&[activity_entity(kind), &id.to_string()]);
        self.send_json::<Value>(Method::POST, url, &Value::Object(body))
            .await?;
        Ok(())
    }

    async fn delete_activity(&self, kind: ActivityKind, id: i64) -> Result<(), CrmError> {
        let url = self.url(&[activity_entity(kind), &id.to_string()]);
        self.call(Method::DELETE, url, &[], None).await?;
        Ok(())
    }

    async fn get_activity(&self, kind: ActivityKind, id: i64) -> Result<CrmActivity, CrmError> {
        let url = self.url(&[activity_entity(kind), &id.to_string()]);
        Ok(data(self.get_json::<wire::Activity>(url, &[]).await?)?.into_activity(kind))
    }

    async fn find_activity_by_ext_id(
        &self,
        kind: ActivityKind,
        ext_id: &str,
    ) -> Result<Option<CrmActivity>, CrmError> {
        let url = self.url(&[activity_entity(kind), "ext", ext_id]);
        match self.get_json::<wire::Activity>(url, &[]).await {
            Ok(env) => Ok(Some(data(env)?.into_activity(kind))),
            Err(CrmError::NotFound) => Ok(None),
            Err(other) => Err(other),
        }
    }

    fn activity_link(&self, kind: ActivityKind, id: i64) -> String {
        let mut web = self.base.clone();
        web.set_path("/");
        web.set_query(None);
        if let Ok(mut path) = web.path_segments_mut() {
            path.clear();
            path.push(&self.instance);
            path.push("");
        }
        web.query_pairs_mut()
            .append_pair("view", "DetailView")
            .append_pair("en", activity_entity_name(kind))
            .append_pair("ei", &id.to_string());
        web.to_string()
    }

    async fn create_webhook(
        &self,
        url: &str,
        secret_token: &str,
        events: &[&str],
    ) -> Result<String, CrmError> {
        let body = json!({ "url": url, "secretToken": secret_token, "events": events });
        let env = self
            .send_json::<wire::WebhookInserted>(Method::PUT, self.url(&["webhook"]), &body)
            .await?;
        Ok(data(env)?.uuid)
    }

    async fn list_webhooks(&self) -> Result<Vec<CrmWebhook>, CrmError> {
        let env = self
            .get_json::<wire::WebhookList>(self.url(&["webhook"]), &[])
            .await?;
        Ok(data(env)?
            .webhooks
            .into_iter()
            .map(|w| CrmWebhook {
                id: w.webhook_id,
                url: w.url.unwrap_or_default(),
                events: w.events_filter,
            })
            .collect())
    }

    async fn delete_webhook(&self, id: &str) -> Result<(), CrmError> {
        self.call(Method::DELETE, self.url(&["webhook", id]), &[], None)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(base: &str) -> Result<RaynetClient, CrmError> {
        RaynetClient::new(
            reqwest::Client::new(),
            RaynetConnection {
                base_url: base.into(),
                instance: "demo".into(),
                user_email: "admin@firma.cz".into(),
                api_key: SecretString::from("very-secret-key"),
            },
            &CrmConfig::default(),
        )
    }

    #[test]
    fn only_https_addresses_on_raynet_domains_count_as_raynet() {
        for ok in [
            "https://app.raynet.cz/api/v2/",
            "https://eu.raynetcrm.com/api/v2/",
            "https://app.raynetcrm.sk/api/v2/",
            "https://raynet.cz/api/v2/",
        ] {
            assert!(is_raynet_base_url(ok), "{ok}");
        }
        for bad in [
            "http://app.raynet.cz/api/v2/",
            "https://evil.example/api/v2/",
            "https://app.raynet.cz.evil.example/api/v2/",
            "https://notraynet.cz/api/v2/",
            "https://user:pw@app.raynet.cz/api/v2/",
            "not a url",
        ] {
            assert!(!is_raynet_base_url(bad), "{bad}");
        }
    }

    #[test]
    fn the_api_key_never_appears_in_debug_output() {
        let c = client(DEFAULT_BASE_URL).unwrap();
        assert!(!format!("{c:?}").contains("very-secret-key"));
        let conn = RaynetConnection {
            base_url: DEFAULT_BASE_URL.into(),
            instance: "demo".into(),
            user_email: "a@b.cz".into(),
            api_key: SecretString::from("very-secret-key"),
        };
        assert!(!format!("{conn:?}").contains("very-secret-key"));
    }

    #[test]
    fn urls_keep_the_trailing_slash_and_encode_external_ids() {
        let c = client("https://app.raynet.cz/api/v2").unwrap();
        assert_eq!(
            c.url(&["company", "5"]).as_str(),
            "https://app.raynet.cz/api/v2/company/5/"
        );
        assert_eq!(
            c.url(&["email", "ext", "crm-bridge:a/b"]).as_str(),
            "https://app.raynet.cz/api/v2/email/ext/crm-bridge:a%2Fb/"
        );
    }

    #[test]
    fn the_activity_link_points_at_the_web_app_of_the_instance() {
        let c = client("https://eu.raynetcrm.com/api/v2/").unwrap();
        assert_eq!(
            c.activity_link(ActivityKind::Meeting, 81),
            "https://eu.raynetcrm.com/demo/?view=DetailView&en=Meeting&ei=81"
        );
    }

    #[test]
    fn a_base_url_that_is_not_http_is_refused() {
        assert!(matches!(client("ftp://x/"), Err(CrmError::Invalid(_))));
        assert!(matches!(client("not a url"), Err(CrmError::Invalid(_))));
    }

    #[test]
    fn backoff_grows_and_stays_under_the_cap() {
        let cap = Duration::from_secs(2);
        for attempt in 0..10 {
            assert!(backoff(attempt, cap) <= cap);
        }
        assert!(backoff(0, cap) <= BASE_BACKOFF);
        assert!(backoff(3, cap) >= BASE_BACKOFF * 4);
    }
}
