//! The queue's in-process side: the one wake-up mechanism of background work. New work calls
//! [`JobQueue::wake`] (a one-off job was enqueued) or [`JobQueue::signal`] (something a
//! scheduled job waits for happened, e.g. a CRM webhook was stored); idle workers start at once
//! instead of at the next poll.

use std::{
    collections::{HashMap, HashSet},
    sync::Mutex,
};

use tokio::sync::Notify;

/// Something that happened which scheduled jobs may wait for (see `JobKind::woken_by`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Signal(pub &'static str);

/// Wakes idle workers; shared through the server's state.
#[derive(Debug, Default)]
pub struct JobQueue {
    wake: Notify,
    inner: Mutex<Pending>,
}

#[derive(Debug, Default)]
struct Pending {
    /// Signal → the scheduled jobs it makes due.
    listeners: HashMap<Signal, Vec<String>>,
    /// Scheduled jobs signalled and not yet taken by a worker.
    due: Vec<String>,
    /// Scheduled jobs signalled while running: they run again right after.
    again: HashSet<String>,
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

    /// Makes the scheduled jobs waiting for `signal` run now.
    pub fn signal(&self, signal: Signal) {
        if let Ok(mut inner) = self.inner.lock() {
            let Some(jobs) = inner.listeners.get(&signal).cloned() else {
                return;
            };
            for job in jobs {
                if !inner.due.contains(&job) {
                    inner.due.push(job);
                }
            }
        }
        self.wake();
    }

    /// Makes the scheduled job `job_id` run now (it was signalled during its last run).
    pub(crate) fn make_due(&self, job_id: &str) {
        if let Ok(mut inner) = self.inner.lock()
            && !inner.due.iter().any(|j| j == job_id)
        {
            inner.due.push(job_id.to_owned());
        }
        self.wake();
    }

    /// Resolves when [`wake`](Self::wake) or [`signal`](Self::signal) is called.
    pub(crate) async fn woken(&self) {
        self.wake.notified().await;
    }

    /// Lets `signal` make the scheduled job `job_id` due.
    pub(crate) fn listen(&self, signal: Signal, job_id: &str) {
        if let Ok(mut inner) = self.inner.lock() {
            let jobs = inner.listeners.entry(signal).or_default();
            if !jobs.iter().any(|j| j == job_id) {
                jobs.push(job_id.to_owned());
            }
        }
    }

    /// A signalled scheduled job to run now, if any.
    pub(crate) fn take_due(&self) -> Option<String> {
        let mut inner = self.inner.lock().ok()?;
        if inner.due.is_empty() {
            None
        } else {
            Some(inner.due.remove(0))
        }
    }

    /// Notes that `job_id` was signalled while another worker held it.
    pub(crate) fn run_again(&self, job_id: &str) {
        if let Ok(mut inner) = self.inner.lock() {
            inner.again.insert(job_id.to_owned());
        }
    }

    /// Whether `job_id` was signalled during its run (and forgets it).
    pub(crate) fn take_again(&self, job_id: &str) -> bool {
        self.inner
            .lock()
            .is_ok_and(|mut inner| inner.again.remove(job_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signal_makes_every_job_listening_to_it_due_once() {
        let queue = JobQueue::new();
        let stored = Signal("stored");
        queue.listen(stored, "schedule:a");
        queue.listen(stored, "schedule:b");
        queue.listen(Signal("other"), "schedule:c");
        queue.signal(stored);
        queue.signal(stored);
        assert_eq!(queue.take_due().as_deref(), Some("schedule:a"));
        assert_eq!(queue.take_due().as_deref(), Some("schedule:b"));
        assert_eq!(queue.take_due(), None);
    }

    #[test]
    fn a_job_signalled_while_running_runs_again_once() {
        let queue = JobQueue::new();
        queue.run_again("schedule:a");
        assert!(queue.take_again("schedule:a"));
        assert!(!queue.take_again("schedule:a"));
    }
}
