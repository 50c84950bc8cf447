//! PostgreSQL backend: one sized pool; several server instances may share the database.

use std::time::Duration;

use async_trait::async_trait;
use sqlx::{PgPool, postgres::PgPoolOptions};

use super::{
    Backend, Store, StoreResult,
    changes::{self, Changed},
};

/// Store on a PostgreSQL database.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects to the database at `url`.
    pub async fn connect(url: &str, max_connections: u32) -> StoreResult<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(if max_connections == 0 {
                16
            } else {
                max_connections
            })
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await?;
        Ok(Self { pool })
    }

    /// The pool, for writes.
    pub fn writer(&self) -> &PgPool {
        &self.pool
    }

    /// The pool, for reads (the same pool as [`Self::writer`]).
    pub fn reader(&self) -> &PgPool {
        &self.pool
    }
}

#[async_trait]
impl Store for PgStore {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn migrate(&self) -> StoreResult<()> {
        sqlx::migrate!("./migrations/postgres")
            .run(&self.pool)
            .await?;
        Ok(())
    }

    async fn publish(&self, channel: &str, payload: &str) -> StoreResult<()> {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(channel)
            .bind(payload)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn subscribe(
        &self,
        channel: &str,
    ) -> StoreResult<Option<futures::stream::BoxStream<'static, String>>> {
        use futures::StreamExt;
        let mut listener = sqlx::postgres::PgListener::connect_with(&self.pool).await?;
        listener.listen(channel).await?;
        let stream = listener
            .into_stream()
            .take_while(|n| std::future::ready(n.is_ok()))
            .filter_map(|n| std::future::ready(n.ok().map(|n| n.payload().to_owned())));
        Ok(Some(stream.boxed()))
    }

    async fn changes(&self) -> StoreResult<futures::stream::BoxStream<'static, Changed>> {
        use futures::StreamExt;
        let mut listener = sqlx::postgres::PgListener::connect_with(&self.pool).await?;
        listener.listen(changes::CHANNEL).await?;
        // `try_recv` rather than the listener's stream: that one reconnects silently, and the
        // caller must learn that announcements may have been missed.
        let stream = futures::stream::unfold(listener, |mut listener| async move {
            match listener.try_recv().await {
                Ok(Some(notice)) => Some((notice.payload().to_owned(), listener)),
                _ => None,
            }
        })
        .filter_map(|payload| std::future::ready(Changed::parse(&payload)));
        Ok(stream.boxed())
    }
}
