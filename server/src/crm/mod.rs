//! The CRM as the rest of the server sees it: the [`Crm`] trait in our own terms (companies,
//! persons, business cases, projects, activities, webhooks), its domain types and [`CrmError`].
//! Only the implementations below this module (today [`raynet`]) know a CRM's wire format.

pub mod activity_ref;
pub mod hub;
pub mod raynet;
pub mod webhook;

use std::{
    fmt,
    sync::{Arc, Mutex},
};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;

use crate::config::CrmConfig;

pub use activity_ref::{ActivityRef, TimedActivityKind};
pub use hub::{ConnectError, CrmHub};
pub use raynet::{RaynetClient, RaynetConnection};

/// The CRM's name as users know it, e.g. the label of a link into its web app.
pub const DISPLAY_NAME: &str = raynet::DISPLAY_NAME;

/// The CRM API address offered first (and the command line's default).
pub const DEFAULT_BASE_URL: &str = raynet::DEFAULT_BASE_URL;

/// The CRM's own API addresses, offered in the admin UI's list.
pub fn known_base_urls() -> &'static [&'static str] {
    &raynet::KNOWN_BASE_URLS
}

/// Whether `base_url` is an HTTPS address of the CRM itself, the only places an API key is sent
/// to unless the configuration allows others (`crm.allow_other_hosts`).
pub fn is_known_base_url(base_url: &str) -> bool {
    raynet::is_raynet_base_url(base_url)
}

/// Where and as whom to connect to a CRM.
#[derive(Debug, Clone)]
pub struct Connection {
    /// API base, e.g. `https://app.raynet.cz/api/v2/`.
    pub base_url: String,
    /// Instance (account) name.
    pub instance: String,
    /// The user's login e-mail.
    pub user_email: String,
    /// The user's API key.
    pub api_key: SecretString,
}

/// What the clients of one CRM instance share: the connection permits and the last quota seen.
/// Clone it into every client of the same instance (e.g. one per employee key).
#[derive(Clone)]
pub struct Limits {
    pub(crate) permits: Arc<Semaphore>,
    pub(crate) quota: Arc<Mutex<Option<Quota>>>,
}

impl Limits {
    /// Limits allowing `max_connections` requests at a time (at least one).
    pub fn new(max_connections: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(max_connections.max(1))),
            quota: Arc::new(Mutex::new(None)),
        }
    }
}

impl fmt::Debug for Limits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Limits")
            .field("available_permits", &self.permits.available_permits())
            .finish_non_exhaustive()
    }
}

/// A client for `connection` that shares `limits` with the other clients of its instance: the
/// one place that chooses the CRM implementation.
pub fn connect(
    http: reqwest::Client,
    connection: Connection,
    config: &CrmConfig,
    limits: &Limits,
) -> Result<Arc<dyn Crm>, CrmError> {
    Ok(Arc::new(RaynetClient::with_limits(
        http,
        connection,
        config,
        limits.clone(),
    )?))
}

/// Why a CRM call failed, in terms the caller can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CrmError {
    /// The user e-mail, API key or instance name was rejected. Never retried: the CRM blocks an
    /// address after 20 bad logins.
    #[error("the CRM rejected the credentials")]
    BadCredentials,
    /// The CRM does not know the instance name (`X-Instance-Name`).
    #[error("the CRM has no instance of this name")]
    UnknownInstance,
    /// The CRM blocks this address for a while after too many bad logins.
    #[error("the CRM blocks this address after too many failed logins; try again in an hour")]
    Blocked,
    /// The credentials are valid but the user may not do this.
    #[error("the CRM user is not allowed to do this: {0}")]
    AccessDenied(String),
    /// The record does not exist (or is not visible to this user).
    #[error("not found in the CRM")]
    NotFound,
    /// The CRM's limits were hit; try again after `until` (unknown when `None`).
    #[error("the CRM's request limit is reached{}", until.map(|u| format!(" until {u}")).unwrap_or_default())]
    RateLimited {
        /// When the limit resets, if the CRM said so.
        until: Option<DateTime<Utc>>,
    },
    /// The CRM failed: an error answer, malformed JSON, a timeout or no connection.
    #[error("the CRM failed: {0}")]
    Upstream(String),
    /// The CRM refused the request as invalid (HTTP 400).
    #[error("the CRM refused the request: {0}")]
    Invalid(String),
}

impl CrmError {
    /// Whether trying the same call later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::RateLimited { .. } | Self::Upstream(_))
    }

    /// What went wrong, in the words the people who see it (admins, employees) read.
    pub fn describe(&self) -> String {
        match self {
            Self::BadCredentials => "the CRM rejected the API key or user e-mail".into(),
            Self::UnknownInstance => "the CRM has no instance of this name".into(),
            Self::Blocked => self.to_string(),
            Self::AccessDenied(m) => format!("the CRM denied access: {m}"),
            Self::NotFound => "the CRM has no such record".into(),
            Self::RateLimited { until } => match until {
                Some(t) => format!(
                    "the CRM's request limit is reached until {}",
                    t.format("%H:%M UTC")
                ),
                None => "the CRM's request limit is reached; try again later".into(),
            },
            Self::Invalid(m) => format!("crm: {m}"),
            other => format!("the CRM failed: {other}"),
        }
    }
}

/// The kinds of CRM records the item cache keeps: the item model's kind, the one record-kind
/// enum of the server (each CRM implementation maps it to its own entity names).
pub use crate::model::ItemKind as RecordKind;

/// One CRM record in the uniform shape the item cache stores.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrmRecord {
    /// What it is.
    pub kind: RecordKind,
    /// The CRM's id (unique per kind).
    pub id: i64,
    /// Display name: firm name, a person's full name, a case's or project's name.
    pub name: String,
    /// A second line for pickers: IČO of a company, company of a person, code of a case/project.
    pub subtitle: Option<String>,
    /// Every e-mail address of a company or person, lowercase, without duplicates.
    pub emails: Vec<String>,
    /// The company the record belongs to (a person's primary company, a case's client).
    pub company_id: Option<i64>,
    /// That company's name.
    pub company_name: Option<String>,
    /// A company's registration number (IČO).
    pub reg_number: Option<String>,
    /// Cases and projects: not closed (won, lost, done, cancelled); all kinds: not invalidated.
    pub open: bool,
    /// When the record last changed (creation time if never updated).
    pub updated_at: Option<DateTime<Utc>>,
    /// The CRM's security level of the record; `None` when the CRM did not say (visible to all).
    pub security_level: Option<i64>,
}

/// Which page of a listing to fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    /// Index of the first record (0-based).
    pub offset: u64,
    /// Page size; the CRM allows at most [`MAX_PAGE`].
    pub limit: u64,
    /// Only records created or changed after this instant.
    pub changed_since: Option<DateTime<Utc>>,
}

/// The largest page the CRM returns.
pub const MAX_PAGE: u64 = 1000;

impl PageRequest {
    /// The first full page, optionally of changes since `since`.
    pub fn first(changed_since: Option<DateTime<Utc>>) -> Self {
        Self {
            offset: 0,
            limit: MAX_PAGE,
            changed_since,
        }
    }

    /// The page after this one.
    pub fn next(self) -> Self {
        Self {
            offset: self.offset + self.limit,
            ..self
        }
    }
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// The records on this page.
    pub items: Vec<T>,
    /// How many records match in total (over all pages).
    pub total: u64,
}

/// The activity types we write (the wire crate's, shared with the ledger and the task pane).
pub use crm_bridge_wire::ActivityKind;

/// An activity's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActivityStatus {
    /// New, not planned.
    New,
    /// Planned.
    Scheduled,
    /// Done.
    Completed,
    /// Called off.
    Cancelled,
}

/// A participant of an activity, as we ask for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParticipantSpec {
    /// A contact person.
    pub person_id: Option<i64>,
    /// A company (alone, or the person's company).
    pub company_id: Option<i64>,
}

/// The CRM records an activity is linked to (its "context").
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityLinks {
    /// The client.
    pub company_id: Option<i64>,
    /// The main contact person (the CRM takes one here; more go to participants).
    pub person_id: Option<i64>,
    /// A business case.
    pub business_case_id: Option<i64>,
    /// A project.
    pub project_id: Option<i64>,
}

/// An e-mail or meeting to create in the CRM.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewActivity {
    /// E-mail or meeting.
    pub kind: ActivityKind,
    /// Our id for it, stored as the CRM's external id so a retry finds it instead of duplicating.
    pub ext_id: Option<String>,
    /// The owner: the CRM person id of the employee (a person with a user account).
    pub owner_id: i64,
    /// Subject.
    pub title: String,
    /// Start (e-mail: when it was sent/received).
    pub from: Option<DateTime<Utc>>,
    /// End.
    pub till: Option<DateTime<Utc>>,
    /// Body (HTML or text).
    pub description: String,
    /// Meeting place (meetings only).
    pub place: Option<String>,
    /// Context links.
    pub links: ActivityLinks,
    /// Attendees (set by a follow-up update: the CRM ignores them on create).
    pub participants: Vec<ParticipantSpec>,
    /// State; the CRM's default when `None`.
    pub status: Option<ActivityStatus>,
}

/// A partial update of an activity; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityUpdate {
    /// New subject.
    pub title: Option<String>,
    /// New start.
    pub from: Option<DateTime<Utc>>,
    /// New end.
    pub till: Option<DateTime<Utc>>,
    /// New body.
    pub description: Option<String>,
    /// New place (meetings only).
    pub place: Option<String>,
    /// New context links (all four are written when given).
    pub links: Option<ActivityLinks>,
    /// New set of participants besides the owner (replaces the current set).
    pub participants: Option<Vec<ParticipantSpec>>,
    /// New state.
    pub status: Option<ActivityStatus>,
}

/// A participant of an activity, as the CRM has it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityParticipant {
    /// The participant row's id.
    pub id: Option<i64>,
    /// Whether this is the owner.
    pub owner: bool,
    /// A contact person.
    pub person_id: Option<i64>,
    /// A company.
    pub company_id: Option<i64>,
    /// Display name.
    pub name: Option<String>,
    /// E-mail address (e-mails only).
    pub email: Option<String>,
}

/// An activity as read back from the CRM.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrmActivity {
    /// E-mail or meeting.
    pub kind: ActivityKind,
    /// The CRM's id.
    pub id: i64,
    /// Subject.
    pub title: String,
    /// Owner's person id.
    pub owner_id: Option<i64>,
    /// Start.
    pub from: Option<DateTime<Utc>>,
    /// End.
    pub till: Option<DateTime<Utc>>,
    /// Body.
    pub description: Option<String>,
    /// Meeting place.
    pub place: Option<String>,
    /// Context links.
    pub links: ActivityLinks,
    /// All participants, the owner included.
    pub participants: Vec<ActivityParticipant>,
    /// External ids.
    pub ext_ids: Vec<String>,
}

/// An activity that can carry a time (meeting, event, task, phone call, letter), as calendar
/// sync reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimedActivity {
    /// Type.
    pub kind: TimedActivityKind,
    /// The CRM's id (unique per type).
    pub id: i64,
    /// Subject.
    pub title: String,
    /// Owner's person id.
    pub owner_id: Option<i64>,
    /// Scheduled start.
    pub from: Option<DateTime<Utc>>,
    /// Scheduled end.
    pub till: Option<DateTime<Utc>>,
    /// Due time (tasks).
    pub deadline: Option<DateTime<Utc>>,
    /// State; `None` when the CRM did not say.
    pub status: Option<ActivityStatus>,
    /// Body.
    pub description: Option<String>,
    /// Place (meetings and events).
    pub place: Option<String>,
    /// All participants, the owner included.
    pub participants: Vec<ActivityParticipant>,
    /// External ids.
    pub ext_ids: Vec<String>,
    /// When it last changed (creation time if never updated).
    pub changed_at: Option<DateTime<Utc>>,
}

/// A task's two times: Raynet plans a task by its scheduled start, its deadline, or both, and
/// filters on one at a time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TaskTime {
    /// The scheduled start (`scheduledFrom`).
    #[default]
    Scheduled,
    /// The deadline.
    Due,
}

/// A change of an activity that can carry a time, as a calendar edit carries it; `None` leaves
/// a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimedUpdate {
    /// New title.
    pub title: Option<String>,
    /// New scheduled start.
    pub from: Option<DateTime<Utc>>,
    /// New scheduled end.
    pub till: Option<DateTime<Utc>>,
    /// New place (`Some(None)` clears it; meetings and events only).
    pub place: Option<Option<String>>,
    /// New state.
    pub status: Option<ActivityStatus>,
}

/// Which timed activities of one type to list (every condition given must hold).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimedFilter {
    /// The person owns the activity or takes part in it.
    pub person_id: Option<i64>,
    /// Placed at or after this instant: scheduled to start, or for tasks the time `task_time`
    /// names.
    pub from: Option<DateTime<Utc>>,
    /// Which of a task's two times `from` applies to (other types have only the scheduled start).
    pub task_time: TaskTime,
    /// Id at least this.
    pub min_id: Option<i64>,
}

/// A contact person to create.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewPerson {
    /// Given name.
    pub first_name: Option<String>,
    /// Family name (required by the CRM).
    pub last_name: String,
    /// E-mail address.
    pub email: Option<String>,
    /// The company the person works for.
    pub company_id: Option<i64>,
    /// Owner (CRM person id of a user); the CRM's default when `None`.
    pub owner_id: Option<i64>,
}

/// Change notifications a webhook can carry.
pub const WEBHOOK_EVENTS: [&str; 3] = ["record.created", "record.updated", "record.deleted"];

/// A webhook registered in the CRM.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrmWebhook {
    /// The CRM's id of the webhook.
    pub id: String,
    /// Where the CRM posts events.
    pub url: String,
    /// Events it carries.
    pub events: Vec<String>,
}

impl fmt::Debug for CrmWebhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL may carry a secret in its path or query.
        f.debug_struct("CrmWebhook")
            .field("id", &self.id)
            .field("events", &self.events)
            .finish_non_exhaustive()
    }
}

/// Who an API key belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrmIdentity {
    /// The user account's id (unknown when the user may not list accounts).
    pub user_account_id: Option<i64>,
    /// The login (e-mail).
    pub username: String,
    /// The user's person id (what activities take as `owner`).
    pub person_id: Option<i64>,
    /// The user's full name.
    pub full_name: Option<String>,
    /// The user's role, e.g. `ADMIN` or `READONLY`.
    pub role: Option<String>,
    /// The security levels whose records the user may open; `None` when the CRM did not say.
    pub security_levels: Option<Vec<i64>>,
}

/// The daily request budget, as last reported by the CRM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quota {
    /// Requests allowed in the current window.
    pub limit: Option<u64>,
    /// Requests left in the current window.
    pub remaining: Option<u64>,
    /// When the window resets.
    pub reset_at: Option<DateTime<Utc>>,
}

/// The result of a connection test.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionReport {
    /// Who the key belongs to.
    pub identity: CrmIdentity,
    /// The quota after the test call.
    pub quota: Option<Quota>,
}

/// A connection report in words, one sentence per line, in the translator's language (for
/// `crm-bridge crm test` and the admin UI's test buttons).
pub fn describe_connection(report: &ConnectionReport, tr: &crate::i18n::Tr) -> Vec<String> {
    let who = &report.identity;
    let name = who
        .full_name
        .clone()
        .unwrap_or_else(|| who.username.clone());
    let mut lines = vec![tr.ta(
        "crm-test-ok",
        &[
            ("name", name.into()),
            ("user", who.username.as_str().into()),
        ],
    )];
    if let Some(role) = &who.role {
        lines.push(tr.ta("crm-test-role", &[("role", role.as_str().into())]));
    }
    let count = |n: u64| tr.number(i64::try_from(n).unwrap_or(i64::MAX));
    lines.push(
        match report.quota.and_then(|q| q.remaining.map(|r| (r, q.limit))) {
            Some((remaining, Some(limit))) => tr.ta(
                "crm-test-quota",
                &[
                    ("remaining", count(remaining).into()),
                    ("limit", count(limit).into()),
                ],
            ),
            Some((remaining, None)) => tr.ta(
                "crm-test-quota-nolimit",
                &[("remaining", count(remaining).into())],
            ),
            None => tr.t("crm-test-no-quota"),
        },
    );
    lines
}

/// The CRM, in our terms. Object safe: used as `Arc<dyn Crm>`.
#[async_trait]
pub trait Crm: Send + Sync {
    /// Checks the credentials: who the key belongs to and the remaining quota.
    async fn test_connection(&self) -> Result<ConnectionReport, CrmError>;

    /// The quota as of the last answer, if any answer carried it.
    fn quota(&self) -> Option<Quota>;

    /// One page of records of `kind`, in id order.
    async fn list(&self, kind: RecordKind, page: PageRequest) -> Result<Page<CrmRecord>, CrmError>;

    /// One page of the ids of `kind`, in id order: the cheap listing for finding deletions.
    async fn list_ids(&self, kind: RecordKind, page: PageRequest) -> Result<Page<i64>, CrmError>;

    /// The records of `kind` with these ids (missing ones are left out), in id order.
    async fn get_many(&self, kind: RecordKind, ids: &[i64]) -> Result<Vec<CrmRecord>, CrmError>;

    /// One record; [`CrmError::NotFound`] when it does not exist.
    async fn get(&self, kind: RecordKind, id: i64) -> Result<CrmRecord, CrmError>;

    /// Persons whose primary or secondary e-mail is `email`.
    async fn find_persons_by_email(&self, email: &str) -> Result<Vec<CrmRecord>, CrmError>;

    /// Creates a contact person; returns its id.
    async fn create_person(&self, person: &NewPerson) -> Result<i64, CrmError>;

    /// Creates an activity and then sets its participants and place; returns its id.
    async fn create_activity(&self, activity: &NewActivity) -> Result<i64, CrmError>;

    /// Changes an activity.
    async fn update_activity(
        &self,
        kind: ActivityKind,
        id: i64,
        update: &ActivityUpdate,
    ) -> Result<(), CrmError>;

    /// Deletes an activity; deleting one that is gone is [`CrmError::NotFound`].
    async fn delete_activity(&self, kind: ActivityKind, id: i64) -> Result<(), CrmError>;

    /// Reads an activity.
    async fn get_activity(&self, kind: ActivityKind, id: i64) -> Result<CrmActivity, CrmError>;

    /// Finds an activity by one of its external ids.
    async fn find_activity_by_ext_id(
        &self,
        kind: ActivityKind,
        ext_id: &str,
    ) -> Result<Option<CrmActivity>, CrmError>;

    /// The address of the activity in the CRM's web app.
    fn activity_link(&self, kind: ActivityKind, id: i64) -> String;

    /// Changes an activity that can carry a time (what a calendar edit carries).
    async fn update_timed_activity(
        &self,
        kind: TimedActivityKind,
        id: i64,
        update: &TimedUpdate,
    ) -> Result<(), CrmError>;

    /// Deletes an activity that can carry a time; one that is gone is [`CrmError::NotFound`].
    async fn delete_timed_activity(&self, kind: TimedActivityKind, id: i64)
    -> Result<(), CrmError>;

    /// Reads an activity that can carry a time; [`CrmError::NotFound`] when it does not exist.
    async fn get_timed_activity(
        &self,
        kind: TimedActivityKind,
        id: i64,
    ) -> Result<TimedActivity, CrmError>;

    /// One page of the activities of `kind` that match `filter` (and changed since
    /// `page.changed_since`), in id order.
    async fn list_timed_activities(
        &self,
        kind: TimedActivityKind,
        filter: &TimedFilter,
        page: PageRequest,
    ) -> Result<Page<TimedActivity>, CrmError>;

    /// One page of the ids of the activities of `kind` that match `filter`, in id order: the
    /// cheap listing for finding deletions.
    async fn list_timed_activity_ids(
        &self,
        kind: TimedActivityKind,
        filter: &TimedFilter,
        page: PageRequest,
    ) -> Result<Page<i64>, CrmError>;

    /// The address of a timed activity in the CRM's web app.
    fn timed_activity_link(&self, kind: TimedActivityKind, id: i64) -> String;

    /// Registers a webhook for `events`; returns its id.
    async fn create_webhook(
        &self,
        url: &str,
        secret_token: &str,
        events: &[&str],
    ) -> Result<String, CrmError>;

    /// The webhooks registered in the CRM.
    async fn list_webhooks(&self) -> Result<Vec<CrmWebhook>, CrmError>;

    /// Removes a webhook.
    async fn delete_webhook(&self, id: &str) -> Result<(), CrmError>;
}
