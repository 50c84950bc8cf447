//! The one drain of stored CRM events: a scheduled job kind that leases a batch of the events
//! the webhook receiver stored (`store::events`), hands it to an [`EventHandler`], and goes on
//! while events are left. The receiver wakes it with [`EVENT_STORED`]. Its uses differ only in
//! what they do with a batch: `items.apply_events` refreshes cached records,
//! `activities.follow` brings ledger entries in line with the CRM's activities.

use std::time::Duration;

use async_trait::async_trait;

use super::{JobError, JobKind, Schedule, Signal, WorkError};
use crate::store::{Job, Store, StoredEvent};

/// Given by the receiver when it stored a new event.
pub const EVENT_STORED: Signal = Signal("crm-event-stored");

/// How long a lease protects a batch from other workers.
const LEASE_MS: i64 = 60_000;

/// Attempts before an event is given up (passed to `Store::retry_events`).
pub const MAX_ATTEMPTS: i32 = 20;

/// Which stored events a drain takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Events {
    /// Events of cached records (companies, persons, projects, business cases).
    Records,
    /// Events of activities (e-mails, meetings), which have no item kind.
    Activities,
}

/// What a drain does with a leased batch.
#[async_trait]
pub trait EventHandler: Send + Sync {
    /// The job kind's name, such as `items.apply_events`.
    fn name(&self) -> &'static str;
    /// Which events it takes.
    fn events(&self) -> Events;
    /// Events leased per batch.
    fn batch_size(&self) -> i64;
    /// Where the events are stored.
    fn store(&self) -> &dyn Store;
    /// Handles a leased batch: finishes each event (`Store::finish_events`) or puts it back for
    /// another attempt (`Store::retry_events`). Returns how many it handled; 0 ends this run
    /// (such as when the CRM cannot be reached at all). An error leaves the rest leased until
    /// the lease ends, and the runtime retries the job.
    async fn handle(&self, events: &[StoredEvent]) -> Result<usize, WorkError>;
}

/// The job kind draining events with `H`, run every `every` and on [`EVENT_STORED`].
pub struct Drain<H> {
    handler: H,
    every: Duration,
}

impl<H: EventHandler> Drain<H> {
    /// A drain handing batches to `handler`, run every `every` (at least 10 ms).
    pub fn new(handler: H, every: Duration) -> Self {
        Self {
            handler,
            every: every.max(Duration::from_millis(10)),
        }
    }

    /// One round: leases a batch and handles it. Returns the number of events handled.
    pub async fn round(&self) -> Result<usize, WorkError> {
        let handler = &self.handler;
        let activities = handler.events() == Events::Activities;
        let events = handler
            .store()
            .lease_events(handler.batch_size(), LEASE_MS, activities)
            .await?;
        if events.is_empty() {
            return Ok(0);
        }
        handler.handle(&events).await
    }
}

#[async_trait]
impl<H: EventHandler> JobKind for Drain<H> {
    fn name(&self) -> &'static str {
        self.handler.name()
    }

    fn schedule(&self) -> Schedule {
        Schedule::Every(self.every)
    }

    fn woken_by(&self) -> &'static [Signal] {
        &[EVENT_STORED]
    }

    async fn run(&self, _job: &Job) -> Result<(), JobError> {
        while self.round().await? > 0 {}
        Ok(())
    }
}
