//! SQLite backend: one writer connection (SQLite serialises writers anyway) and a reader pool,
//! WAL journal, foreign keys and a busy timeout on every connection. The writer's hooks announce
//! committed changes to cached tables (see `changes`).

use std::{str::FromStr, sync::Arc, time::Duration};

use async_trait::async_trait;
use sqlx::{
    SqlitePool,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};

use super::{
    Backend, Store, StoreResult,
    changes::{Changed, WriterFeed},
};

/// Store on an SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
    feed: Arc<WriterFeed>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `url`.
    pub async fn connect(url: &str, max_connections: u32) -> StoreResult<Self> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // WAL with NORMAL is durable across process crashes; only power loss may drop the
            // last transactions.
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        if let Some(path) = sqlite_path(url) {
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent).map_err(sqlx::Error::Io)?;
            }
            create_private(&path).map_err(sqlx::Error::Io)?;
        }
        let feed = WriterFeed::new();
        let (hooks, released) = (feed.clone(), feed.clone());
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            .after_connect(move |conn, _| {
                let feed = hooks.clone();
                Box::pin(async move {
                    let mut handle = conn.lock_handle().await?;
                    let (touched, committed) = (feed.clone(), feed.clone());
                    handle.set_update_hook(move |change| touched.touch(change.table));
                    handle.set_commit_hook(move || {
                        committed.commit();
                        true
                    });
                    handle.set_rollback_hook(move || feed.rollback());
                    Ok(())
                })
            })
            .after_release(move |_, _| {
                released.released();
                Box::pin(async { Ok(true) })
            })
            .connect_with(options.clone())
            .await?;
        let readers = if max_connections == 0 {
            4
        } else {
            max_connections
        };
        let reader = SqlitePoolOptions::new()
            .max_connections(readers)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options.read_only(true))
            .await?;
        Ok(Self {
            writer,
            reader,
            feed,
        })
    }

    /// The single writing connection.
    pub fn writer(&self) -> &SqlitePool {
        &self.writer
    }

    /// The read-only pool.
    pub fn reader(&self) -> &SqlitePool {
        &self.reader
    }
}

fn sqlite_path(url: &str) -> Option<std::path::PathBuf> {
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = path.split('?').next()?;
    if path.is_empty() || path == ":memory:" {
        return None;
    }
    Some(path.into())
}

/// Creates the database file readable by its owner only (mode 0600, like `master.key`) before
/// SQLite does; SQLite gives its `-wal` and `-shm` files the mode of the database file.
fn create_private(path: &std::path::Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.reader).await?;
        Ok(())
    }

    async fn migrate(&self) -> StoreResult<()> {
        sqlx::migrate!("./migrations/sqlite")
            .run(&self.writer)
            .await?;
        Ok(())
    }

    async fn publish(&self, _channel: &str, _payload: &str) -> StoreResult<()> {
        Ok(())
    }

    async fn subscribe(
        &self,
        _channel: &str,
    ) -> StoreResult<Option<futures::stream::BoxStream<'static, String>>> {
        Ok(None)
    }

    async fn changes(&self) -> StoreResult<futures::stream::BoxStream<'static, Changed>> {
        Ok(self.feed.subscribe())
    }
}
