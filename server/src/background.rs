//! Background work started with the server: applying CRM events, running imports, the
//! reconcile schedule, and (with PostgreSQL) following other instances' item changes.

use tokio::{sync::watch, task::JoinHandle};

use crate::{items, state::AppState};

/// Starts every background task; each stops when `stop` turns true.
pub fn start(state: &AppState, stop: &watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
    let mut tasks = vec![tokio::spawn(items::sync::run_listener(
        state.clone(),
        stop.clone(),
    ))];
    if state.config.jobs.enabled {
        tasks.push(tokio::spawn(items::events::run_worker(
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
    }
    tasks
}
