//! The workers: lease a due job (or a signalled scheduled one), run it with its kind while
//! renewing the lease, then record the outcome — done, retried after [`backoff`](crate::backoff),
//! failed, or (scheduled) due again after its period.

use std::{sync::Arc, time::Duration};

use tokio::sync::watch;

use super::{JobError, JobKind, JobQueue, Registry, Schedule, schedule_id};
use crate::{
    backoff,
    config::JobsConfig,
    store::{Job, Store, StoreError, now_ms},
};

/// The runtime's settings, from `[jobs]`.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Workers in this process.
    pub workers: usize,
    /// How often an idle worker looks for due work.
    pub poll: Duration,
    /// Default lease of an attempt.
    pub lease: Duration,
    /// Attempts before a one-off job fails.
    pub max_attempts: i32,
    /// Longest wait between two attempts.
    pub max_backoff: Duration,
}

impl From<&JobsConfig> for Settings {
    fn from(config: &JobsConfig) -> Self {
        Self {
            workers: config.workers.max(1),
            poll: Duration::from_millis(config.poll_interval_ms.max(10)),
            lease: Duration::from_secs(config.lease_secs.max(1)),
            max_attempts: i32::try_from(config.max_attempts).unwrap_or(i32::MAX),
            max_backoff: Duration::from_secs(config.max_backoff_secs),
        }
    }
}

/// The running workers; stop them with [`Workers::stop`].
pub struct Workers {
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Workers {
    /// Waits (at most `within`) for every worker to finish its current job once `stop` (given to
    /// [`start`]) has turned true.
    pub async fn stop(self, within: Duration) {
        let all = futures::future::join_all(self.tasks);
        if tokio::time::timeout(within, all).await.is_err() {
            tracing::warn!("job workers did not stop in time");
        }
    }
}

/// Starts `settings.workers` workers running the kinds of `registry` until `stop` turns true;
/// first creates (or removes) the scheduled kinds' jobs.
pub fn start(
    store: Arc<dyn Store>,
    queue: Arc<JobQueue>,
    settings: Settings,
    registry: Registry,
    stop: watch::Receiver<bool>,
) -> Workers {
    for kind in registry.kinds() {
        for signal in kind.woken_by() {
            queue.listen(*signal, &schedule_id(kind.name()));
        }
    }
    let instance = uuid::Uuid::new_v4();
    let shared = Arc::new(Shared {
        store,
        queue,
        settings,
        registry,
    });
    let setup = {
        let shared = shared.clone();
        tokio::spawn(async move { shared.set_up_schedules().await })
    };
    let mut tasks: Vec<_> = (0..shared.settings.workers)
        .map(|n| {
            let worker = Worker {
                shared: shared.clone(),
                owner: format!("{instance}/{n}"),
            };
            tokio::spawn(worker.run(stop.clone()))
        })
        .collect();
    tasks.push(setup);
    Workers { tasks }
}

/// Runs the job `id` here and now with its kind from `registry`, holding and renewing its
/// lease like a worker does (for a command that does one piece of background work in its own
/// process); `false` when the job has finished, does not exist or another worker holds it.
pub async fn run_job(
    store: Arc<dyn Store>,
    queue: Arc<JobQueue>,
    settings: Settings,
    registry: Registry,
    id: &str,
) -> Result<bool, StoreError> {
    let lease = ms(settings.lease);
    let worker = Worker {
        shared: Arc::new(Shared {
            store,
            queue,
            settings,
            registry,
        }),
        owner: format!("{}/command", uuid::Uuid::new_v4()),
    };
    let Some(job) = worker
        .shared
        .store
        .lease_job_now(id, &worker.owner, lease)
        .await?
    else {
        return Ok(false);
    };
    worker.attempt(job).await;
    Ok(true)
}

struct Shared {
    store: Arc<dyn Store>,
    queue: Arc<JobQueue>,
    settings: Settings,
    registry: Registry,
}

impl Shared {
    async fn set_up_schedules(&self) {
        for kind in self.registry.kinds() {
            let id = schedule_id(kind.name());
            let written = match kind.schedule() {
                Schedule::OneOff => continue,
                Schedule::Every(every) => {
                    let every_ms = i64::try_from(every.as_millis()).unwrap_or(i64::MAX / 4);
                    self.store
                        .schedule_job(&id, kind.name(), every_ms.max(1))
                        .await
                }
                Schedule::Off => self.store.unschedule_job(&id).await,
            };
            if let Err(e) = written {
                tracing::warn!(job = %id, error = %e, "cannot set up a scheduled job");
            }
        }
        // Work that arrived before the schedules existed.
        self.queue.wake();
    }
}

struct Worker {
    shared: Arc<Shared>,
    owner: String,
}

fn ms(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX / 4)
}

impl Worker {
    async fn run(self, mut stopped: watch::Receiver<bool>) {
        let settings = &self.shared.settings;
        let store = self.shared.store.as_ref();
        while !*stopped.borrow() {
            if let Some(id) = self.shared.queue.take_due() {
                match store
                    .lease_job_now(&id, &self.owner, ms(settings.lease))
                    .await
                {
                    Ok(Some(job)) => self.attempt(job).await,
                    Ok(None) => {
                        // Another worker runs it: it runs once more when done. That worker may
                        // have finished between our look and this note, so look once more.
                        self.shared.queue.run_again(&id);
                        if let Ok(Some(job)) = store
                            .lease_job_now(&id, &self.owner, ms(settings.lease))
                            .await
                        {
                            self.shared.queue.take_again(&id);
                            self.attempt(job).await;
                        }
                    }
                    Err(e) => tracing::warn!(job = %id, error = %e, "cannot lease a job"),
                }
                continue;
            }
            match store.lease_job(&self.owner, ms(settings.lease)).await {
                Ok(Some(job)) => self.attempt(job).await,
                Ok(None) => {
                    tokio::select! {
                        () = self.shared.queue.woken() => {}
                        () = tokio::time::sleep(settings.poll) => {}
                        _ = stopped.changed() => {}
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot lease a job");
                    tokio::select! {
                        () = tokio::time::sleep(settings.poll * 4) => {}
                        _ = stopped.changed() => {}
                    }
                }
            }
        }
    }

    /// Renews the lease on `job` every third of `lease` until dropped.
    fn keep_leased(&self, job: &Job, lease: Duration) -> tokio::task::JoinHandle<()> {
        let store = self.shared.store.clone();
        let owner = self.owner.clone();
        let id = job.id.clone();
        tokio::spawn(async move {
            loop {
                match store.renew_lease(&id, &owner, now_ms() + ms(lease)).await {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::warn!(job = %id, "lost the lease of a running job");
                        return;
                    }
                    Err(e) => tracing::warn!(job = %id, error = %e, "cannot renew a job's lease"),
                }
                tokio::time::sleep(lease / 3).await;
            }
        })
    }

    async fn attempt(&self, job: Job) {
        let store = self.shared.store.as_ref();
        let Some(kind) = self.shared.registry.get(&job.kind) else {
            let reason = format!("no worker knows jobs of kind {:?}", job.kind);
            let written = match job.every_ms {
                // Another instance's scheduled kind: leave it to that instance.
                Some(every) => {
                    store
                        .repeat_job(&job.id, &self.owner, Some(&reason), now_ms() + every)
                        .await
                }
                None => store.fail_job(&job.id, &self.owner, &reason).await,
            };
            if let Err(e) = written {
                tracing::warn!(job = %job.id, error = %e, "cannot record a job's outcome");
            }
            return;
        };
        let lease = kind.lease().unwrap_or(self.shared.settings.lease);
        let renewer = self.keep_leased(&job, lease);
        let outcome = kind.run(&job).await;
        renewer.abort();
        let written = match job.every_ms {
            Some(every) => self.repeat(&job, every, outcome).await,
            None => self.finish(kind.as_ref(), &job, outcome).await,
        };
        if job.serial_key.is_some() {
            // A job of the same key may be waiting for this one: the workers that skipped it
            // look again now rather than at their next poll.
            self.shared.queue.wake();
        }
        match written {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!(job = %job.id, "the job's lease ran out before it finished")
            }
            Err(e) => tracing::warn!(job = %job.id, error = %e, "cannot record a job's outcome"),
        }
    }

    /// A scheduled job is due again after its period (not before a CRM's reset time after a
    /// failure), and a successful run signalled meanwhile runs again at once.
    async fn repeat(
        &self,
        job: &Job,
        every_ms: i64,
        outcome: Result<(), JobError>,
    ) -> Result<bool, StoreError> {
        let now = now_ms();
        let (error, next) = match outcome {
            Ok(()) => (None, now + every_ms),
            Err(JobError::Retry { reason, not_before }) => {
                let next = not_before.map_or(0, |t| t.timestamp_millis());
                (Some(reason), next.max(now + every_ms))
            }
            Err(JobError::Fatal(reason)) => (Some(reason), now + every_ms),
        };
        if let Some(reason) = &error {
            tracing::warn!(job = %job.id, %reason, "a scheduled job failed; it runs again later");
        }
        let written = self
            .shared
            .store
            .repeat_job(&job.id, &self.owner, error.as_deref(), next)
            .await;
        // Looked at only once the lease is released: a signal noted before then is seen here,
        // one after it leases the job itself.
        // A failed run keeps its wait (a CRM's reset time).
        if self.shared.queue.take_again(&job.id) && error.is_none() {
            self.shared.queue.make_due(&job.id);
        } else if next <= now {
            self.shared.queue.wake();
        }
        written
    }

    /// A one-off job is done, retried after a backoff, or failed.
    async fn finish(
        &self,
        kind: &dyn JobKind,
        job: &Job,
        outcome: Result<(), JobError>,
    ) -> Result<bool, StoreError> {
        let store = self.shared.store.as_ref();
        let settings = &self.shared.settings;
        match outcome {
            Ok(()) => store.complete_job(&job.id, &self.owner).await,
            Err(JobError::Retry { reason, not_before }) if job.attempts < settings.max_attempts => {
                let attempt = u32::try_from(job.attempts.saturating_sub(1)).unwrap_or(0);
                let delay =
                    backoff::delay_ms(attempt, Duration::from_secs(1), settings.max_backoff);
                let mut next = now_ms() + delay;
                if let Some(reset) = not_before {
                    next = next.max(reset.timestamp_millis());
                }
                tracing::info!(job = %job.id, attempts = job.attempts, %reason, "job will be retried");
                let written = store
                    .reschedule_job(&job.id, &self.owner, &reason, next)
                    .await;
                if matches!(written, Ok(true)) {
                    kind.retrying(job, &reason).await;
                }
                written
            }
            Err(JobError::Retry { reason, .. }) => {
                let reason = format!("gave up after {} attempts: {reason}", job.attempts);
                self.fail(kind, job, &reason).await
            }
            Err(JobError::Fatal(reason)) => self.fail(kind, job, &reason).await,
        }
    }

    async fn fail(&self, kind: &dyn JobKind, job: &Job, reason: &str) -> Result<bool, StoreError> {
        tracing::warn!(job = %job.id, kind = %job.kind, %reason, "job failed");
        let held = self
            .shared
            .store
            .fail_job(&job.id, &self.owner, reason)
            .await?;
        if held {
            kind.failed(job, reason).await;
        }
        Ok(held)
    }
}
