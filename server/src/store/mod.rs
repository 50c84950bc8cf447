//! Persistence: the [`Store`] trait and its SQLite and PostgreSQL implementations.
//!
//! This module is the only code that writes SQL. Each concern has its own trait and file
//! (`settings`, `employees`, …); the SQL that both dialects share is written once in that file and
//! implemented for both backends by a small macro, and what differs lives in `sqlite`/`postgres`.
//! Timestamps are stored as Unix milliseconds (`BIGINT`) so both dialects agree.

mod audit;
mod calendar;
mod calendar_inbound;
mod changes;
mod employees;
mod events;
mod identity;
mod items;
mod jobs;
mod ledger;
mod postgres;
mod sessions;
mod settings;
mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;

pub use audit::{AuditEntry, AuditStore, NewAudit};
pub use calendar::{CalendarEmployee, CalendarLink, CalendarStore, TraceEntry, WrittenEvent};
pub use calendar_inbound::{CalendarSubscription, HeldItem, InboundState, InboundStore, NewHeld};
pub use changes::Changed;
pub use employees::{Employee, EmployeeStore, NewEmployee, Role};
pub use events::{EventStats, EventStore, ImportRunRow, NewEvent, StoredEvent};
pub use identity::{EmployeeChanges, IdentityStore};
pub use items::{ItemStore, item_fingerprint};
pub use jobs::{Job, JobStore, NewJob};
pub use ledger::{LedgerKey, LedgerStore, LoggedItem, LoggedItemChanges, NewLoggedItem};
pub use postgres::PgStore;
pub use sessions::{AdminSessionRow, SessionStore, ThrottleCounter};
pub use settings::SettingsStore;
pub use sqlite::SqliteStore;

use crate::config::DatabaseUrl;

/// Errors from the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The row does not exist.
    #[error("not found")]
    NotFound,
    /// A unique constraint was violated; the text says which thing already exists.
    #[error("{0}")]
    Conflict(String),
    /// The database could not be reached or answered with an error.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Migrations failed.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A stored value could not be decoded.
    #[error("corrupt stored value: {0}")]
    Corrupt(String),
}

/// Result of a store operation.
pub type StoreResult<T> = Result<T, StoreError>;

/// Which SQL dialect a store speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite file.
    Sqlite,
    /// PostgreSQL server (several instances may share it).
    Postgres,
}

/// Everything the server persists; one object shared through `AppState`.
#[async_trait]
pub trait Store:
    SettingsStore
    + EmployeeStore
    + IdentityStore
    + SessionStore
    + AuditStore
    + ItemStore
    + EventStore
    + JobStore
    + LedgerStore
    + CalendarStore
    + InboundStore
    + Send
    + Sync
    + 'static
{
    /// Which backend this is.
    fn backend(&self) -> Backend;
    /// Checks that the database answers (for `/readyz`).
    async fn ping(&self) -> StoreResult<()>;
    /// Applies pending migrations.
    async fn migrate(&self) -> StoreResult<()>;
    /// Sends `payload` to every instance subscribed to `channel` (no-op on SQLite).
    async fn publish(&self, channel: &str, payload: &str) -> StoreResult<()>;
    /// Messages on `channel` from all instances; `None` where there are no other instances.
    async fn subscribe(
        &self,
        channel: &str,
    ) -> StoreResult<Option<futures::stream::BoxStream<'static, String>>>;
    /// Committed changes to the rows in-memory caches copy (employees, settings, recent picks),
    /// from every instance. The stream ends when announcements may have been lost (connection
    /// lost); subscribe again and forget every copy.
    async fn changes(&self) -> StoreResult<futures::stream::BoxStream<'static, Changed>>;
}

/// Connects to the database named by `url` (the scheme picks the backend) without migrating.
pub async fn connect(url: &DatabaseUrl, max_connections: u32) -> StoreResult<Arc<dyn Store>> {
    if url.expose().starts_with("postgres") {
        Ok(Arc::new(
            PgStore::connect(url.expose(), max_connections).await?,
        ))
    } else {
        Ok(Arc::new(
            SqliteStore::connect(url.expose(), max_connections).await?,
        ))
    }
}

/// Connects and applies pending migrations.
pub async fn connect_and_migrate(
    url: &DatabaseUrl,
    max_connections: u32,
) -> StoreResult<Arc<dyn Store>> {
    let store = connect(url, max_connections).await?;
    store.migrate().await?;
    Ok(store)
}

/// Now as Unix milliseconds, the timestamp format of every table.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Maps a unique-constraint violation to [`StoreError::Conflict`] with `what` as the message.
pub(crate) fn on_unique(err: sqlx::Error, what: &str) -> StoreError {
    match &err {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StoreError::Conflict(what.to_owned())
        }
        _ => StoreError::Database(err),
    }
}

/// `Ok(())` when a write touched a row, `NotFound` when it touched none: an UPDATE or DELETE of a
/// row that does not exist.
pub(crate) fn found(rows_affected: u64) -> StoreResult<()> {
    if rows_affected == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}

/// Implements a trait for both backends from one body; `$store` names the backend type inside.
macro_rules! for_both_backends {
    ($($body:tt)*) => {
        mod __sqlite_impl {
            #[allow(unused_imports)]
            use super::*;
            type Db = $crate::store::SqliteStore;
            #[allow(dead_code)]
            type Dialect = sqlx::Sqlite;
            /// SQLite has one writer, so a conditional UPDATE already leases exclusively.
            #[allow(dead_code)]
            const SKIP_LOCKED: &str = "";
            /// Nothing to take turns on: one writer at a time already.
            #[allow(dead_code)]
            const LEASE_TURN: &str = "";
            $($body)*
        }
        mod __postgres_impl {
            #[allow(unused_imports)]
            use super::*;
            type Db = $crate::store::PgStore;
            #[allow(dead_code)]
            type Dialect = sqlx::Postgres;
            /// Concurrent instances lease different rows instead of waiting for each other.
            #[allow(dead_code)]
            const SKIP_LOCKED: &str = " FOR UPDATE SKIP LOCKED";
            /// Makes job leases take turns until the transaction ends (the key is arbitrary
            /// but fixed: "crmjobs" in ASCII).
            #[allow(dead_code)]
            const LEASE_TURN: &str = "SELECT pg_advisory_xact_lock(27991836957041267)";
            $($body)*
        }
    };
}
pub(crate) use for_both_backends;
