//! Background work started with the server: keeping the in-memory caches in step with the
//! database, applying CRM events, running imports, the reconcile schedule, (with PostgreSQL)
//! following other instances' item changes, and the job
//! workers of the durable queue (saving activities to the CRM).

use std::time::Duration;

use tokio::{sync::watch, task::JoinHandle};

use crate::{activities, caches, items, jobs, state::AppState};

/// The running background tasks.
pub struct Background {
    tasks: Vec<JoinHandle<()>>,
    jobs: Option<jobs::Workers>,
}

/// Starts every background task; the item tasks stop when `stop` turns true, the job workers in
/// [`Background::stop`].
pub fn start(state: &AppState, stop: &watch::Receiver<bool>) -> Background {
    let mut tasks = vec![
        tokio::spawn(caches::run_listener(state.clone(), stop.clone())),
        tokio::spawn(items::sync::run_listener(state.clone(), stop.clone())),
    ];
    let mut job_workers = None;
    if state.config.jobs.enabled {
        tasks.push(tokio::spawn(items::events::run_worker(
            state.clone(),
            stop.clone(),
        )));
        tasks.push(tokio::spawn(activities::follow::run_worker(
            state.clone(),
            stop.clone(),
        )));
        tasks.push(tokio::spawn(items::import::run_worker(
            state.clone(),
            stop.clone(),
        )));
        tasks.push(tokio::spawn(items::reconcile::run_scheduler(
            state.clone(),
            stop.clone(),
        )));
        job_workers = Some(jobs::start(state.clone(), activities::job_handlers()));
    }
    Background {
        tasks,
        jobs: job_workers,
    }
}

impl Background {
    /// Waits (at most `within`) for every task to finish its current step.
    pub async fn stop(self, within: Duration) {
        if let Some(jobs) = self.jobs {
            jobs.stop(within).await;
        }
        let _ = tokio::time::timeout(within, futures::future::join_all(self.tasks)).await;
    }
}
