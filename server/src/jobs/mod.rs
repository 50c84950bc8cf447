//! The background workers of the durable job queue (`store::jobs` keeps the jobs): leasing,
//! running a job with the handler registered for its kind, backoff with jitter that honours a
//! CRM's reset time, the retry limit, and the wake-up that starts a new job at once.

use std::{collections::HashMap, sync::Arc, time::Duration};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rand::Rng;
use tokio::sync::{Notify, watch};

use crate::{
    crm::CrmError,
    error::AppError,
    state::AppState,
    store::{Job, StoreError, now_ms},
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

impl From<AppError> for JobError {
    fn from(err: AppError) -> Self {
        match err {
            AppError::Unavailable(m) | AppError::TooManyRequests(m) | AppError::Upstream(m) => {
                Self::retry(m)
            }
            AppError::Internal(e) => Self::retry(format!("{e:#}")),
            other => Self::Fatal(other.to_string()),
        }
    }
}

/// Runs the jobs of one kind.
#[async_trait]
pub trait JobHandler: Send + Sync {
    /// One attempt at `job`.
    async fn run(&self, state: &AppState, job: &Job) -> Result<(), JobError>;
    /// Called once when `job` has failed for good with `reason`.
    async fn failed(&self, _state: &AppState, _job: &Job, _reason: &str) {}
    /// Called when an attempt at `job` failed with `reason` and it will be retried.
    async fn retrying(&self, _state: &AppState, _job: &Job, _reason: &str) {}
}

/// Job handlers by kind.
pub type Handlers = HashMap<&'static str, Arc<dyn JobHandler>>;

/// The queue's in-process side, shared through `AppState`: wakes idle workers.
#[derive(Debug, Default)]
pub struct JobQueue {
    wake: Notify,
}

impl JobQueue {
    /// A queue handle.
    pub fn new() -> Self {
        Self::default()
    }

    /// Tells idle workers that a job is due now.
    pub fn wake(&self) {
        self.wake.notify_waiters();
        // Keeps a permit for a worker that is between two looks at the queue.
        self.wake.notify_one();
    }
}

/// Delay before attempt `attempts + 1`: exponential from one second, capped at `max`, with
/// ±25 % jitter so retries of many jobs spread out.
pub fn backoff(attempts: i32, max: Duration) -> Duration {
    let exp = u32::try_from(attempts.saturating_sub(1).clamp(0, 20)).unwrap_or(20);
    let base = Duration::from_secs(1u64 << exp).min(max);
    let factor = rand::rng().random_range(0.75..=1.25);
    base.mul_f64(factor).min(max)
}

/// The running workers; stop them with [`Workers::stop`].
pub struct Workers {
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Workers {
    /// Lets every worker finish its current job and waits (at most `within`).
    pub async fn stop(self, within: Duration) {
        let _ = self.stop.send(true);
        let all = futures::future::join_all(self.tasks);
        if tokio::time::timeout(within, all).await.is_err() {
            tracing::warn!("job workers did not stop in time");
        }
    }
}

/// Starts `config.jobs.workers` workers running `handlers`.
pub fn start(state: AppState, handlers: Handlers) -> Workers {
    let (stop, stopped) = watch::channel(false);
    let handlers = Arc::new(handlers);
    let instance = uuid::Uuid::new_v4();
    let tasks = (0..state.config.jobs.workers.max(1))
        .map(|n| {
            let worker = Worker {
                state: state.clone(),
                handlers: handlers.clone(),
                owner: format!("{instance}/{n}"),
            };
            tokio::spawn(worker.run(stopped.clone()))
        })
        .collect();
    Workers { stop, tasks }
}

struct Worker {
    state: AppState,
    handlers: Arc<Handlers>,
    owner: String,
}

impl Worker {
    async fn run(self, mut stopped: watch::Receiver<bool>) {
        let config = &self.state.config.jobs;
        let poll = Duration::from_millis(config.poll_interval_ms.max(10));
        let lease_ms =
            i64::try_from(config.lease_secs.max(1).saturating_mul(1000)).unwrap_or(i64::MAX / 2);
        while !*stopped.borrow() {
            match self.state.store.lease_job(&self.owner, lease_ms).await {
                Ok(Some(job)) => self.attempt(job).await,
                Ok(None) => {
                    tokio::select! {
                        () = self.state.jobs.wake.notified() => {}
                        () = tokio::time::sleep(poll) => {}
                        _ = stopped.changed() => {}
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot lease a job");
                    tokio::select! {
                        () = tokio::time::sleep(poll * 4) => {}
                        _ = stopped.changed() => {}
                    }
                }
            }
        }
    }

    async fn attempt(&self, job: Job) {
        let store = self.state.store.as_ref();
        let Some(handler) = self.handlers.get(job.kind.as_str()).cloned() else {
            let reason = format!("no worker knows jobs of kind {:?}", job.kind);
            if let Err(e) = store.fail_job(&job.id, &self.owner, &reason).await {
                tracing::warn!(job = %job.id, error = %e, "cannot mark a job failed");
            }
            return;
        };
        let outcome = handler.run(&self.state, &job).await;
        let written = match outcome {
            Ok(()) => store.complete_job(&job.id, &self.owner).await,
            Err(JobError::Retry { reason, not_before })
                if job.attempts
                    < i32::try_from(self.state.config.jobs.max_attempts).unwrap_or(i32::MAX) =>
            {
                let max = Duration::from_secs(self.state.config.jobs.max_backoff_secs);
                let delay = i64::try_from(backoff(job.attempts, max).as_millis()).unwrap_or(0);
                let mut next = now_ms() + delay;
                if let Some(reset) = not_before {
                    next = next.max(reset.timestamp_millis());
                }
                tracing::info!(job = %job.id, attempts = job.attempts, %reason, "job will be retried");
                let written = store
                    .reschedule_job(&job.id, &self.owner, &reason, next)
                    .await;
                if matches!(written, Ok(true)) {
                    handler.retrying(&self.state, &job, &reason).await;
                }
                written
            }
            Err(JobError::Retry { reason, .. }) => {
                let reason = format!("gave up after {} attempts: {reason}", job.attempts);
                self.fail(handler.as_ref(), &job, &reason).await
            }
            Err(JobError::Fatal(reason)) => self.fail(handler.as_ref(), &job, &reason).await,
        };
        match written {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!(job = %job.id, "the job's lease ran out before it finished")
            }
            Err(e) => tracing::warn!(job = %job.id, error = %e, "cannot record a job's outcome"),
        }
    }

    async fn fail(
        &self,
        handler: &dyn JobHandler,
        job: &Job,
        reason: &str,
    ) -> Result<bool, StoreError> {
        tracing::warn!(job = %job.id, kind = %job.kind, %reason, "job failed");
        let held = self
            .state
            .store
            .fail_job(&job.id, &self.owner, reason)
            .await?;
        if held {
            handler.failed(&self.state, job, reason).await;
        }
        Ok(held)
    }
}
