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
    /// Every stored item with when it was last written (`synced_at`), streamed (for building
    /// the in-memory index and its snapshot).
    fn stream_items_synced(&self) -> BoxStream<'_, StoreResult<(Item, i64)>>;
    /// The items last written at or after `since`, and per kind the number of those written
    /// before it with the sum of [`item_fingerprint`] over them; read in one transaction, so
    /// both see the same rows (the index snapshot's catch-up and validation).
    async fn items_written_since(
        &self,
        since: i64,
    ) -> StoreResult<(Vec<Item>, Vec<(ItemKind, i64, i64)>)>;
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

#[derive(sqlx::FromRow)]
struct SyncedItemRow {
    #[sqlx(flatten)]
    item: ItemRow,
    synced_at: i64,
}

/// The modulus of [`item_fingerprint`]: a prime, so sums over a million rows stay far below
/// `i64::MAX` on both backends.
const FINGERPRINT_MOD: i64 = 1_000_000_007;

/// One stored item's contribution to [`ItemStore::item_fingerprints`]: changes with its id and
/// with every write (`synced_at`). Computed the same way by the SQL below.
pub fn item_fingerprint(crm_id: i64, synced_at: i64) -> i64 {
    ((crm_id % FINGERPRINT_MOD) * 1_000_003 + synced_at % FINGERPRINT_MOD) % FINGERPRINT_MOD
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

        fn stream_items_synced(&self) -> BoxStream<'_, StoreResult<(Item, i64)>> {
            sqlx::query_as::<_, SyncedItemRow>(
                "SELECT kind, crm_id, name, subtitle, emails, company_id, is_open, \
                 crm_updated_at, security_level, synced_at FROM items",
            )
            .fetch(self.reader())
            .map_err(StoreError::from)
            .and_then(|row| async move { Ok((Item::try_from(row.item)?, row.synced_at)) })
            .boxed()
        }

        async fn items_written_since(
            &self,
            since: i64,
        ) -> StoreResult<(Vec<Item>, Vec<(ItemKind, i64, i64)>)> {
            let mut tx = self.reader().begin().await?;
            if <Dialect as sqlx::Database>::NAME == "PostgreSQL" {
                // One snapshot for both statements (SQLite's read transaction already is one).
                sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                    .execute(&mut *tx)
                    .await?;
            }
            let rows: Vec<ItemRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {ITEM_COLUMNS} FROM items WHERE synced_at >= $1"
            )))
            .bind(since)
            .fetch_all(&mut *tx)
            .await?;
            let sums: Vec<(i16, i64, i64)> = sqlx::query_as(
                "SELECT kind, COUNT(*), CAST(COALESCE(SUM(((crm_id % 1000000007) * 1000003 \
                 + synced_at % 1000000007) % 1000000007), 0) AS BIGINT) \
                 FROM items WHERE synced_at < $1 GROUP BY kind",
            )
            .bind(since)
            .fetch_all(&mut *tx)
            .await?;
            tx.commit().await?;
            let items = rows.into_iter().map(Item::try_from).collect::<StoreResult<_>>()?;
            let sums = sums
                .into_iter()
                .map(|(kind, count, sum)| {
                    let kind = ItemKind::from_code(kind)
                        .ok_or_else(|| StoreError::Corrupt(format!("unknown item kind {kind}")))?;
                    Ok((kind, count, sum))
                })
                .collect::<StoreResult<_>>()?;
            Ok((items, sums))
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
