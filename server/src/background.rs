//! Background work started with the server. The work itself — saving activities to the CRM,
//! applying CRM events, following activities, imports, the reconcile and the id sweep — runs as
//! kinds of the durable job queue ([`jobs`]), registered in [`job_kinds`]. Beside it run this
//! instance's own followers: the in-memory caches kept in step with the database, (with
//! PostgreSQL) other instances' item changes, and the index rebuild when live changes piled up.
//! Everything stops on one signal and is awaited in [`Background::stop`].

use std::time::Duration;

use tokio::{sync::watch, task::JoinHandle};

use futures::StreamExt;

use crate::{
    activities, items,
    jobs::{self, Registry, drain::Drain},
    state::AppState,
    store::Changed,
};

/// How often the index checks whether live changes piled up enough for a rebuild.
const REBUILD_CHECK: Duration = Duration::from_secs(30);

/// The running background tasks.
pub struct Background {
    tasks: Vec<JoinHandle<()>>,
    jobs: Option<jobs::Workers>,
}

/// Every kind of background work the server runs. A new kind is one line here.
pub fn job_kinds(state: &AppState) -> Registry {
    let poll = Duration::from_millis(state.config.jobs.poll_interval_ms);
    Registry::new()
        .with(activities::worker::SyncActivity::new(state.clone()))
        .with(Drain::new(
            activities::follow::FollowActivities::new(state.clone()),
            poll,
        ))
        .with(Drain::new(
            items::events::ApplyEvents::new(state.items_ctx()),
            poll,
        ))
        .with(items::import::RunImports::new(state.items_ctx()))
        .with(items::reconcile::Reconcile::new(state.items_ctx()))
        .with(items::reconcile::Sweep::new(state.items_ctx()))
        .with(crate::calendar::CalendarJob::new(state.calendar_ctx()))
        .with(crate::calendar::BackfillJob::new(state.calendar_ctx()))
        .with(crate::calendar::ReconcileJob::new(state.calendar_ctx()))
        .with(crate::calendar::OutlookDeltaJob::new(state.calendar_ctx()))
        .with(crate::calendar::SubscriptionsJob::new(state.calendar_ctx()))
}

/// Starts every background task; all of them stop when `stop` turns true (then await them
/// with [`Background::stop`]).
pub fn start(state: &AppState, stop: &watch::Receiver<bool>) -> Background {
    let tasks = vec![
        tokio::spawn(follow_changes(state.clone(), stop.clone())),
        tokio::spawn(items::sync::run_listener(state.items_ctx(), stop.clone())),
        tokio::spawn(rebuild_index_when_wanted(state.clone(), stop.clone())),
    ];
    let jobs = state.config.jobs.enabled.then(|| {
        jobs::start(
            state.store.clone(),
            state.jobs.clone(),
            jobs::Settings::from(&state.config.jobs),
            job_kinds(state),
            stop.clone(),
        )
    });
    Background { tasks, jobs }
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

/// Rebuilds the in-memory index when live changes have piled up, until `stop` turns true.
async fn rebuild_index_when_wanted(state: AppState, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            () = tokio::time::sleep(REBUILD_CHECK) => {}
        }
        if *stop.borrow() {
            return;
        }
        if state.items.wants_rebuild()
            && let Err(e) = state.items.rebuild(state.store.as_ref()).await
        {
            tracing::warn!(error = %e, "rebuilding the item index failed");
        }
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
