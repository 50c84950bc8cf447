//! The durable item cache: batched upserts, deletes, the sweep after an import, the stream the
//! in-memory index is built from, and employees' recent picks.

use async_trait::async_trait;
use futures::{StreamExt, TryStreamExt, stream::BoxStream};

use super::{StoreError, StoreResult, for_both_backends, now_ms};
use crate::model::{Item, ItemKind};

/// Rows per INSERT statement: well under both backends' bind-parameter limits.
const BATCH: usize = 500;

/// Persistence of cached CRM items.
#[async_trait]
pub trait ItemStore {
    /// Inserts or replaces `items`, marking them seen by import run `run` if given.
    async fn upsert_items(&self, items: &[Item], run: Option<&str>) -> StoreResult<()>;
    /// Removes items; returns how many existed.
    async fn delete_items(&self, keys: &[(ItemKind, i64)]) -> StoreResult<u64>;
    /// The stored items among `keys`.
    async fn items_by_keys(&self, keys: &[(ItemKind, i64)]) -> StoreResult<Vec<Item>>;
    /// Removes items of `kind` that import run `run` did not see and that no webhook touched
    /// since `run_started_at`; returns their keys.
    async fn sweep_items(
        &self,
        kind: ItemKind,
        run: &str,
        run_started_at: i64,
    ) -> StoreResult<Vec<(ItemKind, i64)>>;
    /// Number of stored items of `kind`.
    async fn count_items(&self, kind: ItemKind) -> StoreResult<i64>;
    /// The CRM ids of every stored item of `kind`, ascending.
    async fn item_ids(&self, kind: ItemKind) -> StoreResult<Vec<i64>>;
    /// Every stored item, streamed (for building the in-memory index).
    fn stream_items(&self) -> BoxStream<'_, StoreResult<Item>>;
    /// Remembers that `employee` picked an item now.
    async fn record_pick(&self, employee: &str, kind: ItemKind, id: i64) -> StoreResult<()>;
    /// The employee's most recent picks of `kind`, most recent first.
    async fn recent_picks(
        &self,
        employee: &str,
        kind: ItemKind,
        limit: i64,
    ) -> StoreResult<Vec<i64>>;
}

#[derive(sqlx::FromRow)]
struct ItemRow {
    kind: i16,
    crm_id: i64,
    name: String,
    subtitle: String,
    emails: String,
    company_id: Option<i64>,
    is_open: bool,
    crm_updated_at: Option<i64>,
    security_level: Option<i64>,
}

impl TryFrom<ItemRow> for Item {
    type Error = StoreError;

    fn try_from(r: ItemRow) -> StoreResult<Self> {
        Ok(Item {
            kind: ItemKind::from_code(r.kind)
                .ok_or_else(|| StoreError::Corrupt(format!("unknown item kind {}", r.kind)))?,
            id: r.crm_id,
            name: r.name,
            subtitle: r.subtitle,
            emails: r
                .emails
                .split(' ')
                .filter(|e| !e.is_empty())
                .map(str::to_owned)
                .collect(),
            company_id: r.company_id,
            open: r.is_open,
            updated_at: r.crm_updated_at,
            security_level: r.security_level,
        })
    }
}

const ITEM_COLUMNS: &str =
    "kind, crm_id, name, subtitle, emails, company_id, is_open, crm_updated_at, security_level";

for_both_backends! {
    #[async_trait]
    impl ItemStore for Db {
        async fn upsert_items(&self, items: &[Item], run: Option<&str>) -> StoreResult<()> {
            let now = now_ms();
            let mut tx = self.writer().begin().await?;
            for chunk in items.chunks(BATCH) {
                let mut q = sqlx::QueryBuilder::<Dialect>::new(
                    "INSERT INTO items (kind, crm_id, name, subtitle, emails, company_id, \
                     is_open, crm_updated_at, security_level, seen_run, synced_at) ",
                );
                q.push_values(chunk, |mut b, item| {
                    b.push_bind(item.kind.code())
                        .push_bind(item.id)
                        .push_bind(&item.name)
                        .push_bind(&item.subtitle)
                        .push_bind(item.emails.join(" "))
                        .push_bind(item.company_id)
                        .push_bind(item.open)
                        .push_bind(item.updated_at)
                        .push_bind(item.security_level)
                        .push_bind(run)
                        .push_bind(now);
                });
                q.push(
                    " ON CONFLICT (kind, crm_id) DO UPDATE SET name = excluded.name, \
                     subtitle = excluded.subtitle, emails = excluded.emails, \
                     company_id = excluded.company_id, is_open = excluded.is_open, \
                     crm_updated_at = excluded.crm_updated_at, \
                     security_level = excluded.security_level, \
                     seen_run = COALESCE(excluded.seen_run, items.seen_run), \
                     synced_at = excluded.synced_at",
                );
                q.build().execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok(())
        }

        async fn delete_items(&self, keys: &[(ItemKind, i64)]) -> StoreResult<u64> {
            let mut deleted = 0;
            let mut tx = self.writer().begin().await?;
            for chunk in keys.chunks(BATCH) {
                let mut q = sqlx::QueryBuilder::<Dialect>::new("DELETE FROM items WHERE ");
                push_key_filter(&mut q, chunk);
                deleted += q.build().execute(&mut *tx).await?.rows_affected();
            }
            tx.commit().await?;
            Ok(deleted)
        }

        async fn items_by_keys(&self, keys: &[(ItemKind, i64)]) -> StoreResult<Vec<Item>> {
            let mut out = Vec::with_capacity(keys.len());
            for chunk in keys.chunks(BATCH) {
                let mut q = sqlx::QueryBuilder::<Dialect>::new(format!(
                    "SELECT {ITEM_COLUMNS} FROM items WHERE "
                ));
                push_key_filter(&mut q, chunk);
                let rows: Vec<ItemRow> = q.build_query_as().fetch_all(self.reader()).await?;
                for row in rows {
                    out.push(Item::try_from(row)?);
                }
            }
            Ok(out)
        }

        async fn sweep_items(
            &self,
            kind: ItemKind,
            run: &str,
            run_started_at: i64,
        ) -> StoreResult<Vec<(ItemKind, i64)>> {
            let ids: Vec<i64> = sqlx::query_scalar(
                "DELETE FROM items WHERE kind = $1 AND (seen_run IS NULL OR seen_run <> $2) \
                 AND synced_at < $3 RETURNING crm_id",
            )
            .bind(kind.code())
            .bind(run)
            .bind(run_started_at)
            .fetch_all(self.writer())
            .await?;
            Ok(ids.into_iter().map(|id| (kind, id)).collect())
        }

        async fn item_ids(&self, kind: ItemKind) -> StoreResult<Vec<i64>> {
            Ok(sqlx::query_scalar("SELECT crm_id FROM items WHERE kind = $1 ORDER BY crm_id")
                .bind(kind.code())
                .fetch_all(self.reader())
                .await?)
        }

        async fn count_items(&self, kind: ItemKind) -> StoreResult<i64> {
            Ok(sqlx::query_scalar("SELECT COUNT(*) FROM items WHERE kind = $1")
                .bind(kind.code())
                .fetch_one(self.reader())
                .await?)
        }

        fn stream_items(&self) -> BoxStream<'_, StoreResult<Item>> {
            sqlx::query_as::<_, ItemRow>(
                "SELECT kind, crm_id, name, subtitle, emails, company_id, is_open, \
                 crm_updated_at, security_level FROM items",
            )
            .fetch(self.reader())
            .map_err(StoreError::from)
            .and_then(|row| async move { Item::try_from(row) })
            .boxed()
        }

        async fn record_pick(&self, employee: &str, kind: ItemKind, id: i64) -> StoreResult<()> {
            sqlx::query(
                "INSERT INTO recent_picks (employee_id, kind, crm_id, used_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (employee_id, kind, crm_id) \
                 DO UPDATE SET used_at = excluded.used_at",
            )
            .bind(employee)
            .bind(kind.code())
            .bind(id)
            .bind(now_ms())
            .execute(self.writer())
            .await?;
            Ok(())
        }

        async fn recent_picks(
            &self,
            employee: &str,
            kind: ItemKind,
            limit: i64,
        ) -> StoreResult<Vec<i64>> {
            Ok(sqlx::query_scalar(
                "SELECT crm_id FROM recent_picks WHERE employee_id = $1 AND kind = $2 \
                 ORDER BY used_at DESC LIMIT $3",
            )
            .bind(employee)
            .bind(kind.code())
            .bind(limit)
            .fetch_all(self.reader())
            .await?)
        }
    }

    fn push_key_filter(q: &mut sqlx::QueryBuilder<Dialect>, keys: &[(ItemKind, i64)]) {
        // (kind = $ AND crm_id = $) OR …: portable, and each pair uses the primary key.
        let mut first = true;
        for (kind, id) in keys {
            if !first {
                q.push(" OR ");
            }
            first = false;
            q.push("(kind = ").push_bind(kind.code()).push(" AND crm_id = ").push_bind(*id).push(")");
        }
        if first {
            q.push("FALSE");
        }
    }
}
