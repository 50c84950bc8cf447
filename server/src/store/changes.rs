//! Announcements that rows the in-memory caches copy have changed: employees, settings and
//! recent picks. Each is sent after its transaction commits, to every instance: on PostgreSQL by
//! triggers (`NOTIFY`, see the `announce_changes` migration), on SQLite by hooks on the one
//! writer connection (there is no other instance).

use std::sync::Arc;

use futures::{StreamExt, stream::BoxStream};
use parking_lot::Mutex;
use tokio::sync::broadcast;

/// The PostgreSQL notification channel the triggers announce on.
pub(super) const CHANNEL: &str = "crm_bridge_changes";

/// What changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Changed {
    /// One or more employees.
    Employees,
    /// One or more settings.
    Settings,
    /// The recent picks of this employee.
    Picks(String),
    /// Unknown: announcements may have been missed (the feed fell behind).
    Everything,
}

impl Changed {
    /// Parses a trigger's payload: the table name, for `recent_picks` with `:<employee id>`.
    pub(crate) fn parse(payload: &str) -> Option<Self> {
        match payload.split_once(':') {
            Some(("recent_picks", employee)) => Some(Self::Picks(employee.to_owned())),
            Some(_) => None,
            None => Self::for_table(payload),
        }
    }

    fn for_table(table: &str) -> Option<Self> {
        match table {
            "employees" => Some(Self::Employees),
            "settings" => Some(Self::Settings),
            _ => None,
        }
    }
}

/// The SQLite writer's announcements: tables touched by the open transaction, then (after the
/// commit, when the connection is back in the pool and readers see the new rows) broadcast.
#[derive(Debug)]
pub(crate) struct WriterFeed {
    touched: Mutex<Vec<Changed>>,
    committed: Mutex<Vec<Changed>>,
    sender: broadcast::Sender<Changed>,
}

impl WriterFeed {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self {
            touched: Mutex::new(Vec::new()),
            committed: Mutex::new(Vec::new()),
            sender: broadcast::channel(256).0,
        })
    }

    /// Update hook: a row of `table` changed in the open transaction.
    pub(crate) fn touch(&self, table: &str) {
        if let Some(change) = Changed::for_table(table) {
            let mut touched = self.touched.lock();
            if !touched.contains(&change) {
                touched.push(change);
            }
        }
    }

    /// Commit hook: the open transaction's changes are about to be committed.
    pub(crate) fn commit(&self) {
        let touched = std::mem::take(&mut *self.touched.lock());
        let mut committed = self.committed.lock();
        for change in touched {
            if !committed.contains(&change) {
                committed.push(change);
            }
        }
    }

    /// Rollback hook: the open transaction's changes are gone.
    pub(crate) fn rollback(&self) {
        self.touched.lock().clear();
    }

    /// The connection is back in the pool: committed changes are visible, so announce them.
    pub(crate) fn released(&self) {
        for change in std::mem::take(&mut *self.committed.lock()) {
            // No receiver means no cache to keep fresh.
            let _ = self.sender.send(change);
        }
    }

    /// The announcements from now on.
    pub(crate) fn subscribe(&self) -> BoxStream<'static, Changed> {
        futures::stream::unfold(self.sender.subscribe(), |mut receiver| async move {
            match receiver.recv().await {
                Ok(change) => Some((change, receiver)),
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    Some((Changed::Everything, receiver))
                }
                Err(broadcast::error::RecvError::Closed) => None,
            }
        })
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trigger_payloads_name_the_table_and_for_picks_the_employee() {
        assert_eq!(Changed::parse("employees"), Some(Changed::Employees));
        assert_eq!(Changed::parse("settings"), Some(Changed::Settings));
        assert_eq!(
            Changed::parse("recent_picks:e-1"),
            Some(Changed::Picks("e-1".into()))
        );
        assert_eq!(Changed::parse("items"), None);
    }

    #[tokio::test]
    async fn the_writer_announces_only_committed_changes_and_only_after_release() {
        let feed = WriterFeed::new();
        let mut changes = feed.subscribe();
        feed.touch("items");
        feed.touch("settings");
        feed.rollback();
        feed.touch("employees");
        feed.touch("employees");
        feed.commit();
        assert!(
            feed.sender.is_empty(),
            "nothing before the connection is released"
        );
        feed.released();
        assert_eq!(changes.next().await, Some(Changed::Employees));
        assert!(feed.sender.is_empty());
    }
}
