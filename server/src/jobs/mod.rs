//! The one background-work runtime: every kind of background work is a kind of the durable job
//! queue (`store::jobs` keeps the jobs). One-off jobs (saving an activity, an import run) and
//! scheduled jobs (the CRM event drains, the reconcile, the id sweep) share one lease scheme
//! (leases renewed while a job runs, so a dead worker's job is taken over), one backoff rule
//! (`crate::backoff`), one wake-up ([`JobQueue`]) and one shutdown path ([`Workers::stop`]).
//!
//! Adding a kind is one module implementing [`JobKind`] and one [`Registry::with`] line where
//! the server starts its background work; a drain of stored CRM events only implements
//! [`drain::EventHandler`] (what to do with a batch) and is registered as a [`drain::Drain`].

pub mod drain;
mod queue;
mod runtime;

use std::{collections::HashMap, sync::Arc, time::Duration};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

pub use queue::{JobQueue, Signal};
pub use runtime::{Settings, Workers, run_job, start};

use crate::{
    crm::{ConnectError, CrmError},
    settings::SettingsError,
    store::{Job, StoreError},
};

/// Why a job attempt did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobError {
    /// Try again later, not before `not_before` when given (a CRM's reset time).
    Retry {
        /// Readable reason, kept as the job's last error.
        reason: String,
        /// The earliest sensible next attempt.
        not_before: Option<DateTime<Utc>>,
    },
    /// Retrying cannot help; the job fails with this readable reason.
    Fatal(String),
}

impl JobError {
    /// A retryable error with `reason`.
    pub fn retry(reason: impl Into<String>) -> Self {
        Self::Retry {
            reason: reason.into(),
            not_before: None,
        }
    }
}

impl From<CrmError> for JobError {
    fn from(err: CrmError) -> Self {
        match err {
            CrmError::RateLimited { until } => Self::Retry {
                reason: err.to_string(),
                not_before: until,
            },
            CrmError::Upstream(_) => Self::retry(err.to_string()),
            other => Self::Fatal(other.to_string()),
        }
    }
}

impl From<StoreError> for JobError {
    fn from(err: StoreError) -> Self {
        Self::retry(err.to_string())
    }
}

impl From<SettingsError> for JobError {
    fn from(err: SettingsError) -> Self {
        match err {
            SettingsError::Store(e) => e.into(),
            other => Self::Fatal(other.to_string()),
        }
    }
}

impl From<ConnectError> for JobError {
    fn from(err: ConnectError) -> Self {
        match err {
            // The admin may configure it meanwhile.
            ConnectError::NotConfigured | ConnectError::KeyForOtherAddress => {
                Self::retry(err.to_string())
            }
            ConnectError::Settings(e) => e.into(),
            other => Self::Fatal(other.to_string()),
        }
    }
}

/// What background work (and the services it shares with the HTTP side) fails with: the domain
/// errors it meets, plus its own few cases. The runtime retries what may pass (`JobError`), the
/// HTTP edge answers with a status (`error.rs`).
#[derive(Debug, thiserror::Error)]
pub enum WorkError {
    /// The CRM failed.
    #[error("{}", .0.describe())]
    Crm(#[from] CrmError),
    /// No CRM client could be built.
    #[error(transparent)]
    Connect(#[from] ConnectError),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A setting could not be read or written.
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// The same work is already running.
    #[error("{0}")]
    Busy(String),
    /// What the work is about no longer exists.
    #[error("{0}")]
    Gone(String),
    /// Stored data this version cannot read or write.
    #[error("{0}")]
    Broken(String),
}

impl From<WorkError> for JobError {
    fn from(err: WorkError) -> Self {
        match err {
            WorkError::Crm(e) => e.into(),
            WorkError::Connect(e) => e.into(),
            WorkError::Store(e) => e.into(),
            WorkError::Settings(e) => e.into(),
            WorkError::Busy(m) => Self::retry(m),
            WorkError::Gone(m) | WorkError::Broken(m) => Self::Fatal(m),
        }
    }
}

/// When a kind's jobs run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schedule {
    /// A job is enqueued for each piece of work (`store.enqueue_job`).
    OneOff,
    /// One job, run again this long after each run (and at once when signalled).
    Every(Duration),
    /// A scheduled kind turned off by the configuration: its job is removed.
    Off,
}

/// One kind of background work.
#[async_trait]
pub trait JobKind: Send + Sync {
    /// The name stored in the job's `kind` column, e.g. `activity.sync`.
    fn name(&self) -> &'static str;
    /// When its jobs run; one-off by default.
    fn schedule(&self) -> Schedule {
        Schedule::OneOff
    }
    /// Signals that make the scheduled job run at once.
    fn woken_by(&self) -> &'static [Signal] {
        &[]
    }
    /// How long an attempt holds its lease without renewing it (the runtime renews it while the
    /// attempt runs); `None` for `jobs.lease_secs`. Short leases let another instance take over
    /// a dead one's work sooner.
    fn lease(&self) -> Option<Duration> {
        None
    }
    /// One attempt at `job`.
    async fn run(&self, job: &Job) -> Result<(), JobError>;
    /// Called once when `job` has failed for good with `reason`.
    async fn failed(&self, _job: &Job, _reason: &str) {}
    /// Called when an attempt at `job` failed with `reason` and it will be retried.
    async fn retrying(&self, _job: &Job, _reason: &str) {}
}

/// The job id of a scheduled kind's one job.
pub fn schedule_id(kind: &str) -> String {
    format!("schedule:{kind}")
}

/// The kinds a server runs, by name.
#[derive(Default, Clone)]
pub struct Registry {
    kinds: HashMap<&'static str, Arc<dyn JobKind>>,
}

impl Registry {
    /// No kinds yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `kind` (a later kind of the same name replaces an earlier one).
    #[must_use]
    pub fn with(mut self, kind: impl JobKind + 'static) -> Self {
        self.kinds.insert(kind.name(), Arc::new(kind));
        self
    }

    /// The kind called `name`.
    pub fn get(&self, name: &str) -> Option<Arc<dyn JobKind>> {
        self.kinds.get(name).cloned()
    }

    /// Every kind.
    pub fn kinds(&self) -> impl Iterator<Item = &Arc<dyn JobKind>> {
        self.kinds.values()
    }
}
