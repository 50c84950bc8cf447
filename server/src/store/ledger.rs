//! The ledger of e-mails and meetings saved to the CRM (`logged_items`): one row per employee
//! and internetMessageId / iCalUId, written together with its job in one transaction.

use async_trait::async_trait;

use super::{StoreResult, for_both_backends, jobs::NewJob, now_ms};

const ITEM_COLUMNS: &str = "entry_id, employee_id, kind, source_key, item_id, status, \
     crm_activity_id, crm_link, error, links, unmatched, content, revision, created_at, updated_at, \
     saved_by, crm_deleted_at, crm_links";

/// A ledger entry.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct LoggedItem {
    /// Our id (UUID), also the CRM activity's `extId`.
    #[sqlx(rename = "entry_id")]
    pub id: String,
    /// Who saved it.
    pub employee_id: String,
    /// `email` or `meeting`.
    pub kind: String,
    /// internetMessageId (e-mails) or iCalUId (meetings).
    pub source_key: String,
    /// Outlook's item id.
    pub item_id: Option<String>,
    /// `queued`, `saved`, `failed` or `unlinked`.
    pub status: String,
    /// The CRM activity, once created.
    pub crm_activity_id: Option<i64>,
    /// Its address in the CRM's web app.
    pub crm_link: Option<String>,
    /// Why saving failed.
    pub error: Option<String>,
    /// The picked links (JSON).
    pub links: String,
    /// Addresses that match no CRM person (JSON array).
    pub unmatched: String,
    /// What to write to the CRM (JSON).
    pub content: String,
    /// Incremented on every change of content or links.
    pub revision: i32,
    /// Creation (Unix ms).
    pub created_at: i64,
    /// Last change (Unix ms).
    pub updated_at: i64,
    /// Who saved the e-mail or meeting first, when this entry joined a colleague's activity.
    pub saved_by: Option<String>,
    /// When the CRM activity was deleted in the CRM (Unix ms).
    pub crm_deleted_at: Option<i64>,
    /// The links the activity has in the CRM, when they were changed there (JSON).
    pub crm_links: Option<String>,
}

/// A new ledger entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLoggedItem {
    /// Who saves it.
    pub employee_id: String,
    /// `email` or `meeting`.
    pub kind: String,
    /// internetMessageId or iCalUId.
    pub source_key: String,
    /// Outlook's item id.
    pub item_id: Option<String>,
    /// Picked links (JSON).
    pub links: String,
    /// Unmatched addresses (JSON array).
    pub unmatched: String,
    /// What to write (JSON).
    pub content: String,
}

/// New content of an existing entry (a re-saved meeting or a re-link).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedItemChanges {
    /// Picked links (JSON).
    pub links: String,
    /// Unmatched addresses (JSON array).
    pub unmatched: String,
    /// What to write (JSON).
    pub content: String,
    /// Outlook's item id, if it changed.
    pub item_id: Option<String>,
}

/// Which column [`LedgerStore::find_logged_item`] searches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LedgerKey {
    /// internetMessageId / iCalUId.
    Source,
    /// Outlook's item id.
    ItemId,
}

/// Persistence of the ledger.
#[async_trait]
pub trait LedgerStore {
    /// Inserts the entry and `job` (whose `entry_id` is filled in) in one transaction. When the
    /// employee already has an entry of this kind and key, nothing changes and it is returned
    /// with `false`.
    async fn log_item(&self, new: NewLoggedItem, job: NewJob) -> StoreResult<(LoggedItem, bool)>;
    /// Replaces the entry's content, queues it and adds `job` unless one is already waiting,
    /// in one transaction.
    async fn requeue_item(
        &self,
        id: &str,
        changes: LoggedItemChanges,
        job: NewJob,
    ) -> StoreResult<LoggedItem>;
    /// Marks the entry `queued` and adds `job` unless one is already waiting (unlink, retry).
    async fn queue_item_job(&self, id: &str, job: NewJob) -> StoreResult<()>;
    /// One entry.
    async fn logged_item(&self, id: &str) -> StoreResult<Option<LoggedItem>>;
    /// The employee's entry whose `key` column is `value` (the newest if several).
    async fn find_logged_item(
        &self,
        employee_id: &str,
        key: LedgerKey,
        value: &str,
    ) -> StoreResult<Option<LoggedItem>>;
    /// Records the CRM activity — the entry's own, or (with `saved_by`, the colleague who saved
    /// it first) a colleague's that the entry joined; the entry becomes `saved` unless it changed
    /// since `revision`.
    async fn mark_item_saved(
        &self,
        id: &str,
        revision: i32,
        activity_id: i64,
        link: &str,
        saved_by: Option<&str>,
    ) -> StoreResult<()>;
    /// Every entry of `kind` for this internetMessageId / iCalUId, by any employee, oldest first.
    async fn items_for_source(&self, kind: &str, source_key: &str) -> StoreResult<Vec<LoggedItem>>;
    /// Every entry linked to the CRM activity `activity_id` of `kind`.
    async fn items_for_activity(
        &self,
        kind: &str,
        activity_id: i64,
    ) -> StoreResult<Vec<LoggedItem>>;
    /// The CRM activity was deleted in the CRM: its entries say so (until saved again).
    async fn mark_activity_deleted_in_crm(&self, kind: &str, activity_id: i64) -> StoreResult<u64>;
    /// The CRM activity's links as they are in the CRM now (JSON), `None` when they are the
    /// ones picked.
    async fn set_entry_crm_links(&self, id: &str, crm_links: Option<&str>) -> StoreResult<()>;
    /// The entry failed for good, with a readable reason.
    async fn mark_item_failed(&self, id: &str, error: &str) -> StoreResult<()>;
    /// An attempt failed and will be retried: the entry stays `queued` but carries the reason,
    /// so the pane can say the CRM cannot be reached (cleared when it is saved).
    async fn note_item_retry(&self, id: &str, error: &str) -> StoreResult<()>;
    /// The CRM activity was deleted.
    async fn mark_item_unlinked(&self, id: &str) -> StoreResult<()>;
    /// Puts a failed entry back to `queued` (an admin retried its job).
    async fn mark_item_queued(&self, id: &str) -> StoreResult<()>;
}

for_both_backends! {
    impl Db {
        async fn add_job_unless_waiting(
            tx: &mut sqlx::Transaction<'_, Dialect>,
            entry_id: &str,
            mut job: NewJob,
        ) -> StoreResult<()> {
            // A job that is queued and not leased reads the entry when it runs, so it already
            // covers this change; a leased one may have read the old content.
            let waiting: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM jobs WHERE entry_id = $1 AND kind = $2 \
                 AND status = 'queued' AND lease_owner IS NULL",
            )
            .bind(entry_id)
            .bind(&job.kind)
            .fetch_one(&mut **tx)
            .await?;
            if waiting == 0 {
                job.entry_id = Some(entry_id.to_owned());
                Db::insert_job(tx, &job).await?;
            }
            Ok(())
        }
    }

    #[async_trait]
    impl LedgerStore for Db {
        async fn log_item(
            &self,
            new: NewLoggedItem,
            mut job: NewJob,
        ) -> StoreResult<(LoggedItem, bool)> {
            let id = uuid::Uuid::new_v4().to_string();
            let now = now_ms();
            let mut tx = self.writer().begin().await?;
            let inserted = sqlx::query(
                "INSERT INTO logged_items (entry_id, employee_id, kind, source_key, item_id, \
                 status, links, unmatched, content, revision, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, 'queued', $6, $7, $8, 1, $9, $9) \
                 ON CONFLICT (employee_id, kind, source_key) DO NOTHING",
            )
            .bind(&id)
            .bind(&new.employee_id)
            .bind(&new.kind)
            .bind(&new.source_key)
            .bind(&new.item_id)
            .bind(&new.links)
            .bind(&new.unmatched)
            .bind(&new.content)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1;
            if inserted {
                job.entry_id = Some(id.clone());
                Db::insert_job(&mut tx, &job).await?;
            }
            let sql = format!(
                "SELECT {ITEM_COLUMNS} FROM logged_items \
                 WHERE employee_id = $1 AND kind = $2 AND source_key = $3"
            );
            let item = sqlx::query_as::<_, LoggedItem>(sqlx::AssertSqlSafe(sql))
                .bind(&new.employee_id)
                .bind(&new.kind)
                .bind(&new.source_key)
                .fetch_one(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok((item, inserted))
        }

        async fn requeue_item(
            &self,
            id: &str,
            changes: LoggedItemChanges,
            job: NewJob,
        ) -> StoreResult<LoggedItem> {
            let mut tx = self.writer().begin().await?;
            let sql = format!(
                "UPDATE logged_items SET links = $2, unmatched = $3, content = $4, \
                 item_id = COALESCE($5, item_id), status = 'queued', error = NULL, \
                 crm_deleted_at = NULL, crm_links = NULL, \
                 revision = revision + 1, updated_at = $6 WHERE entry_id = $1 \
                 RETURNING {ITEM_COLUMNS}"
            );
            let item = sqlx::query_as::<_, LoggedItem>(sqlx::AssertSqlSafe(sql))
                .bind(id)
                .bind(&changes.links)
                .bind(&changes.unmatched)
                .bind(&changes.content)
                .bind(&changes.item_id)
                .bind(now_ms())
                .fetch_optional(&mut *tx)
                .await?
                .ok_or(crate::store::StoreError::NotFound)?;
            Db::add_job_unless_waiting(&mut tx, id, job).await?;
            tx.commit().await?;
            Ok(item)
        }

        async fn queue_item_job(&self, id: &str, job: NewJob) -> StoreResult<()> {
            let mut tx = self.writer().begin().await?;
            let found = sqlx::query(
                "UPDATE logged_items SET status = 'queued', error = NULL, \
                 revision = revision + 1, updated_at = $2 WHERE entry_id = $1",
            )
            .bind(id)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if found == 0 {
                return Err(crate::store::StoreError::NotFound);
            }
            Db::add_job_unless_waiting(&mut tx, id, job).await?;
            tx.commit().await?;
            Ok(())
        }

        async fn logged_item(&self, id: &str) -> StoreResult<Option<LoggedItem>> {
            let sql = format!("SELECT {ITEM_COLUMNS} FROM logged_items WHERE entry_id = $1");
            Ok(sqlx::query_as::<_, LoggedItem>(sqlx::AssertSqlSafe(sql))
                .bind(id)
                .fetch_optional(self.reader())
                .await?)
        }

        async fn find_logged_item(
            &self,
            employee_id: &str,
            key: LedgerKey,
            value: &str,
        ) -> StoreResult<Option<LoggedItem>> {
            let column = match key {
                LedgerKey::Source => "source_key",
                LedgerKey::ItemId => "item_id",
            };
            let sql = format!(
                "SELECT {ITEM_COLUMNS} FROM logged_items WHERE employee_id = $1 \
                 AND {column} = $2 ORDER BY updated_at DESC LIMIT 1"
            );
            Ok(sqlx::query_as::<_, LoggedItem>(sqlx::AssertSqlSafe(sql))
                .bind(employee_id)
                .bind(value)
                .fetch_optional(self.reader())
                .await?)
        }

        async fn mark_item_saved(
            &self,
            id: &str,
            revision: i32,
            activity_id: i64,
            link: &str,
            saved_by: Option<&str>,
        ) -> StoreResult<()> {
            sqlx::query(
                "UPDATE logged_items SET crm_activity_id = $3, crm_link = $4, error = NULL, \
                 saved_by = $5, crm_deleted_at = NULL, \
                 status = CASE WHEN revision = $2 AND status = 'queued' THEN 'saved' \
                 ELSE status END, updated_at = $6 WHERE entry_id = $1",
            )
            .bind(id)
            .bind(revision)
            .bind(activity_id)
            .bind(link)
            .bind(saved_by)
            .bind(now_ms())
            .execute(self.writer())
            .await?;
            Ok(())
        }

        async fn items_for_source(
            &self,
            kind: &str,
            source_key: &str,
        ) -> StoreResult<Vec<LoggedItem>> {
            let sql = format!(
                "SELECT {ITEM_COLUMNS} FROM logged_items WHERE kind = $1 AND source_key = $2 \
                 ORDER BY created_at, entry_id"
            );
            Ok(sqlx::query_as::<_, LoggedItem>(sqlx::AssertSqlSafe(sql))
                .bind(kind)
                .bind(source_key)
                .fetch_all(self.reader())
                .await?)
        }

        async fn items_for_activity(
            &self,
            kind: &str,
            activity_id: i64,
        ) -> StoreResult<Vec<LoggedItem>> {
            let sql = format!(
                "SELECT {ITEM_COLUMNS} FROM logged_items WHERE kind = $1 AND crm_activity_id = $2 \
                 ORDER BY created_at, entry_id"
            );
            Ok(sqlx::query_as::<_, LoggedItem>(sqlx::AssertSqlSafe(sql))
                .bind(kind)
                .bind(activity_id)
                .fetch_all(self.reader())
                .await?)
        }

        async fn mark_activity_deleted_in_crm(
            &self,
            kind: &str,
            activity_id: i64,
        ) -> StoreResult<u64> {
            Ok(sqlx::query(
                "UPDATE logged_items SET crm_deleted_at = $3, updated_at = $3 \
                 WHERE kind = $1 AND crm_activity_id = $2 AND status = 'saved' \
                 AND crm_deleted_at IS NULL",
            )
            .bind(kind)
            .bind(activity_id)
            .bind(now_ms())
            .execute(self.writer())
            .await?
            .rows_affected())
        }

        async fn set_entry_crm_links(&self, id: &str, crm_links: Option<&str>) -> StoreResult<()> {
            sqlx::query(
                "UPDATE logged_items SET crm_links = $2, updated_at = $3 WHERE entry_id = $1",
            )
            .bind(id)
            .bind(crm_links)
            .bind(now_ms())
            .execute(self.writer())
            .await?;
            Ok(())
        }

        async fn mark_item_failed(&self, id: &str, error: &str) -> StoreResult<()> {
            sqlx::query(
                "UPDATE logged_items SET status = 'failed', error = $2, updated_at = $3 \
                 WHERE entry_id = $1",
            )
            .bind(id)
            .bind(error)
            .bind(now_ms())
            .execute(self.writer())
            .await?;
            Ok(())
        }

        async fn note_item_retry(&self, id: &str, error: &str) -> StoreResult<()> {
            sqlx::query(
                "UPDATE logged_items SET error = $2, updated_at = $3 \
                 WHERE entry_id = $1 AND status = 'queued'",
            )
            .bind(id)
            .bind(error)
            .bind(now_ms())
            .execute(self.writer())
            .await?;
            Ok(())
        }

        async fn mark_item_unlinked(&self, id: &str) -> StoreResult<()> {
            sqlx::query(
                "UPDATE logged_items SET status = 'unlinked', crm_activity_id = NULL, \
                 crm_link = NULL, error = NULL, updated_at = $2 WHERE entry_id = $1",
            )
            .bind(id)
            .bind(now_ms())
            .execute(self.writer())
            .await?;
            Ok(())
        }

        async fn mark_item_queued(&self, id: &str) -> StoreResult<()> {
            sqlx::query(
                "UPDATE logged_items SET status = 'queued', error = NULL, updated_at = $2 \
                 WHERE entry_id = $1",
            )
            .bind(id)
            .bind(now_ms())
            .execute(self.writer())
            .await?;
            Ok(())
        }
    }
}
