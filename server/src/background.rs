//! Background work started with the server: keeping the in-memory caches in step with the
//! database, applying CRM events, running imports, the reconcile schedule, (with PostgreSQL)
//! following other instances' item changes, and the job
//! workers of the durable queue (saving activities to the CRM).

use std::time::Duration;

use tokio::{sync::watch, task::JoinHandle};

use futures::StreamExt;

use crate::{activities, items, jobs, state::AppState, store::Changed};

/// The running background tasks.
pub struct Background {
    tasks: Vec<JoinHandle<()>>,
    jobs: Option<jobs::Workers>,
}

/// Starts every background task; the item tasks stop when `stop` turns true, the job workers in
/// [`Background::stop`].
pub fn start(state: &AppState, stop: &watch::Receiver<bool>) -> Background {
    let mut tasks = vec![
        tokio::spawn(follow_changes(state.clone(), stop.clone())),
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
        let mut handlers = activities::job_handlers();
        handlers.extend(crate::calendar::job_handlers());
        job_workers = Some(jobs::start(state.clone(), handlers));
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

/// Keeps the in-memory copies (caches, validated tokens, recent picks) in step with the
/// database until `stop` turns true.
async fn follow_changes(state: AppState, mut stop: tokio::sync::watch::Receiver<bool>) {
    loop {
        let mut changes = match state.store.changes().await {
            Ok(changes) => changes,
            Err(e) => {
                tracing::warn!(error = %e, "cannot follow database changes; caches are bypassed");
                tokio::select! {
                    _ = stop.changed() => return,
                    () = tokio::time::sleep(Duration::from_secs(1)) => continue,
                }
            }
        };
        // Whatever changed before this subscription was not announced to it.
        apply_change(&state, &Changed::Everything).await;
        state.caches.set_live(true);
        loop {
            tokio::select! {
                _ = stop.changed() => return,
                next = changes.next() => match next {
                    Some(change) => apply_change(&state, &change).await,
                    None => break,
                },
            }
        }
        state.caches.set_live(false);
        tracing::warn!("lost the database's change announcements; caches are bypassed until back");
    }
}

async fn apply_change(state: &AppState, change: &Changed) {
    state.caches.forget(change);
    match change {
        Changed::Employees => {}
        // Tokens were validated against the Office 365 settings of the time.
        Changed::Settings => state.entra.forget_tokens(),
        Changed::Picks(employee) => state.items.forget_picks(employee).await,
        Changed::Everything => {
            state.entra.forget_tokens();
            state.items.forget_all_picks();
        }
    }
}
