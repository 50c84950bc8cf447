//! The Raynet CRM implementation of [`Crm`] on reqwest: the client, reading records
//! (`offset`/`limit` paging in id order, `field[OP]=value` filters, `id[IN]` batches), who a key
//! belongs to, and the [`Crm`] trait. `transport` makes the calls within Raynet's limits (4
//! concurrent connections per instance, a daily quota in `X-Ratelimit-*` headers, 429/503 backed
//! off with jitter; 401 never retried, since 20 bad logins block the address); `activities`
//! writes persons, activities and webhooks with typed request bodies (create with `PUT`, update
//! with `POST /…/{id}/`); `wire` types the answers.

mod activities;
mod transport;
mod wire;

use std::{fmt, time::Duration};

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::Method;
use secrecy::SecretString;
use url::Url;

use transport::data;

use crate::{
    config::CrmConfig,
    crm::{
        ActivityKind, ActivityUpdate, Connection, ConnectionReport, Crm, CrmActivity, CrmError,
        CrmIdentity, CrmRecord, CrmWebhook, Limits, MAX_PAGE, NewActivity, NewPerson, Page,
        PageRequest, Quota, RecordKind, TaskTime, TimedActivity, TimedActivityKind, TimedFilter,
        TimedUpdate,
    },
};

/// The CRM's name as users know it (the label of links into its web app).
pub const DISPLAY_NAME: &str = "Raynet";

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

    /// The web app's detail view of record `entity_name`/`id`.
    fn web_link(&self, entity_name: &str, id: i64) -> String {
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
            .append_pair("en", entity_name)
            .append_pair("ei", &id.to_string());
        web.to_string()
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

/// The entity name Raynet's web app uses in links and webhooks for a timed activity type.
fn timed_entity_name(kind: TimedActivityKind) -> &'static str {
    match kind {
        TimedActivityKind::Meeting => "Meeting",
        TimedActivityKind::Event => "Event",
        TimedActivityKind::Task => "Task",
        TimedActivityKind::PhoneCall => "PhoneCall",
        TimedActivityKind::Letter => "Letter",
    }
}

/// The listing query of timed activities: paging, then the filter. `personFilter` takes no
/// operator; it matches participants, and the owner is always one (the `owner: true` row).
/// Every type is placed by `scheduledFrom`; a task, when the filter asks, by its deadline.
fn timed_query(
    kind: TimedActivityKind,
    filter: &TimedFilter,
    page: PageRequest,
) -> Vec<(&'static str, String)> {
    let mut query = page_query(page);
    if let Some(person) = filter.person_id {
        query.push(("personFilter", person.to_string()));
    }
    if let Some(from) = filter.from {
        let field = if kind == TimedActivityKind::Task && filter.task_time == TaskTime::Due {
            "deadline[GE]"
        } else {
            "scheduledFrom[GE]"
        };
        query.push((field, iso(from)));
    }
    if let Some(min) = filter.min_id {
        query.push(("id[GE]", min.to_string()));
    }
    query
}

fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, false)
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
        self.insert_person(person).await
    }

    async fn create_activity(&self, activity: &NewActivity) -> Result<i64, CrmError> {
        self.insert_activity(activity).await
    }

    async fn update_activity(
        &self,
        kind: ActivityKind,
        id: i64,
        update: &ActivityUpdate,
    ) -> Result<(), CrmError> {
        self.patch_activity(kind, id, update).await
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
        self.web_link(activity_entity_name(kind), id)
    }

    async fn update_timed_activity(
        &self,
        kind: TimedActivityKind,
        id: i64,
        update: &TimedUpdate,
    ) -> Result<(), CrmError> {
        self.patch_timed(kind, id, update).await
    }

    async fn delete_timed_activity(
        &self,
        kind: TimedActivityKind,
        id: i64,
    ) -> Result<(), CrmError> {
        let url = self.url(&[kind.entity(), &id.to_string()]);
        self.call(Method::DELETE, url, &[], None).await?;
        Ok(())
    }

    async fn get_timed_activity(
        &self,
        kind: TimedActivityKind,
        id: i64,
    ) -> Result<TimedActivity, CrmError> {
        let url = self.url(&[kind.entity(), &id.to_string()]);
        Ok(data(self.get_json::<wire::Activity>(url, &[]).await?)?.into_timed(kind))
    }

    async fn list_timed_activities(
        &self,
        kind: TimedActivityKind,
        filter: &TimedFilter,
        page: PageRequest,
    ) -> Result<Page<TimedActivity>, CrmError> {
        let query = timed_query(kind, filter, page);
        let env = self
            .get_json::<Vec<wire::Activity>>(self.url(&[kind.entity()]), &query)
            .await?;
        let total = env.total_count;
        let items: Vec<TimedActivity> =
            data(env)?.into_iter().map(|a| a.into_timed(kind)).collect();
        Ok(Page {
            total: total.unwrap_or(items.len() as u64),
            items,
        })
    }

    async fn list_timed_activity_ids(
        &self,
        kind: TimedActivityKind,
        filter: &TimedFilter,
        page: PageRequest,
    ) -> Result<Page<i64>, CrmError> {
        let mut query = timed_query(kind, filter, page);
        query.push(("view", "rowInfo".to_owned()));
        let env = self
            .get_json::<Vec<wire::RowState>>(self.url(&[kind.entity()]), &query)
            .await?;
        let total = env.total_count;
        let items: Vec<i64> = data(env)?.into_iter().map(|r| r.id).collect();
        Ok(Page {
            total: total.unwrap_or(items.len() as u64),
            items,
        })
    }

    fn timed_activity_link(&self, kind: TimedActivityKind, id: i64) -> String {
        self.web_link(timed_entity_name(kind), id)
    }

    async fn create_webhook(
        &self,
        url: &str,
        secret_token: &str,
        events: &[&str],
    ) -> Result<String, CrmError> {
        self.insert_webhook(url, secret_token, events).await
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
    use super::{
        transport::{BASE_BACKOFF, backoff},
        *,
    };

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
