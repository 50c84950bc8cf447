//! Received CRM webhooks (taken in batches by the event drains) and import runs with resumable
//! progress. (Singleton work is a scheduled job, leased like every job; migration
//! `20261203006000` drops the `leases` table of earlier versions.)

use async_trait::async_trait;

use super::{StoreResult, for_both_backends, now_ms};

/// A webhook to store.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// The CRM's event id.
    pub event_id: String,
    /// `created`, `updated` or `deleted`.
    pub action: String,
    /// The CRM's entity name.
    pub entity_name: String,
    /// Our item kind code, if we cache that entity.
    pub item_kind: Option<i16>,
    /// The record's id.
    pub entity_id: i64,
    /// When the CRM made the event (Unix ms).
    pub created_at: Option<i64>,
    /// Whether a worker applies it (a cached record, or an activity the ledger follows); the
    /// others are kept as `ignored`.
    pub to_apply: bool,
}

/// A stored, leased webhook.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredEvent {
    /// The CRM's event id.
    pub event_id: String,
    /// `created`, `updated` or `deleted`.
    pub action: String,
    /// The CRM's entity name.
    pub entity_name: String,
    /// Our item kind code.
    pub item_kind: Option<i16>,
    /// The record's id.
    pub entity_id: i64,
    /// Earlier attempts.
    pub attempts: i32,
}

/// Webhook figures for the admin UI.
#[derive(Debug, Clone, Copy, Default, serde::Serialize, utoipa::ToSchema)]
pub struct EventStats {
    /// Last event received (Unix ms).
    pub last_received_at: Option<i64>,
    /// Events received since `since`.
    pub today: i64,
    /// Waiting to be applied.
    pub pending: i64,
    /// Given up on.
    pub failed: i64,
    /// Deliveries refused for a missing or wrong token (401): the CRM's webhook no longer
    /// matches our token, and changes are being lost.
    pub rejected: i64,
    /// The last refused delivery (Unix ms).
    pub last_rejected_at: Option<i64>,
}

/// A stored import run.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ImportRunRow {
    /// Run id.
    pub run_id: String,
    /// `queued`, `running`, `done` or `failed`.
    pub status: String,
    /// Employee id of the admin who started it.
    pub requested_by: Option<String>,
    /// Unix ms.
    pub started_at: i64,
    /// Unix ms.
    pub finished_at: Option<i64>,
    /// JSON progress per kind.
    pub progress: String,
    /// Why it failed.
    pub error: Option<String>,
}

/// Webhooks and import runs.
#[async_trait]
pub trait EventStore {
    /// Stores a webhook; `false` when an event with that id was stored before.
    async fn insert_event(&self, event: &NewEvent) -> StoreResult<bool>;
    /// Leases up to `limit` pending events whose time has come, for `lease_ms`: events of cached
    /// records, or (`activities`) events of activities, which have no item kind.
    async fn lease_events(
        &self,
        limit: i64,
        lease_ms: i64,
        activities: bool,
    ) -> StoreResult<Vec<StoredEvent>>;
    /// Marks events done (`applied` or `ignored`).
    async fn finish_events(&self, ids: &[String], status: &str) -> StoreResult<()>;
    /// Puts events back for another attempt at `retry_at`, or marks them `failed` after
    /// `max_attempts`.
    async fn retry_events(
        &self,
        ids: &[String],
        error: &str,
        retry_at: i64,
        max_attempts: i32,
    ) -> StoreResult<()>;
    /// Figures for the admin UI; `since` starts "today".
    async fn event_stats(&self, since: i64) -> StoreResult<EventStats>;
    /// Counts a delivery refused for a missing or wrong token.
    async fn note_webhook_rejection(&self) -> StoreResult<()>;
    /// Forgets refused deliveries (after the webhook was registered again).
    async fn clear_webhook_rejections(&self) -> StoreResult<()>;
    /// Deletes applied and ignored events received before `before`.
    async fn prune_events(&self, before: i64) -> StoreResult<u64>;

    /// Creates a queued import run and, in the same transaction, the one-off job of `job_kind`
    /// that runs it (the job has the run's id; its lease is the run's only sign of life).
    async fn create_import_run(
        &self,
        run_id: &str,
        by: Option<&str>,
        progress: &str,
        job_kind: &str,
    ) -> StoreResult<()>;
    /// Marks the run `running` unless it has ended; `None` when it has ended or does not exist.
    async fn start_import_run(&self, run_id: &str) -> StoreResult<Option<ImportRunRow>>;
    /// Saves a run's progress.
    async fn save_import_progress(&self, run_id: &str, progress: &str) -> StoreResult<()>;
    /// Ends a run as `done` or `failed`.
    async fn finish_import_run(
        &self,
        run_id: &str,
        status: &str,
        progress: &str,
        error: Option<&str>,
    ) -> StoreResult<()>;
    /// One run.
    async fn import_run(&self, run_id: &str) -> StoreResult<Option<ImportRunRow>>;
    /// The newest runs first.
    async fn import_runs(&self, limit: i64) -> StoreResult<Vec<ImportRunRow>>;
}

const RUN_COLUMNS: &str = "run_id, status, requested_by, started_at, finished_at, progress, error";

for_both_backends! {
    #[async_trait]
    impl EventStore for Db {
        async fn insert_event(&self, e: &NewEvent) -> StoreResult<bool> {
            let done = sqlx::query(
                "INSERT INTO crm_events (event_id, action, entity_name, item_kind, entity_id, \
                 created_at, received_at, status) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                 ON CONFLICT (event_id) DO NOTHING",
            )
            .bind(&e.event_id)
            .bind(&e.action)
            .bind(&e.entity_name)
            .bind(e.item_kind)
            .bind(e.entity_id)
            .bind(e.created_at)
            .bind(now_ms())
            .bind(if e.to_apply { "pending" } else { "ignored" })
            .execute(self.writer())
            .await?;
            Ok(done.rows_affected() == 1)
        }

        async fn lease_events(
            &self,
            limit: i64,
            lease_ms: i64,
            activities: bool,
        ) -> StoreResult<Vec<StoredEvent>> {
            let now = now_ms();
            let which = if activities { "item_kind IS NULL" } else { "item_kind IS NOT NULL" };
            let sql = sqlx::AssertSqlSafe(format!(
                "UPDATE crm_events SET lease_until = $1 WHERE event_id IN (SELECT event_id FROM \
                 crm_events WHERE status = 'pending' AND {which} \
                 AND (lease_until IS NULL OR lease_until < $2) \
                 ORDER BY received_at LIMIT $3{SKIP_LOCKED}) \
                 RETURNING event_id, action, entity_name, item_kind, entity_id, attempts"
            ));
            Ok(sqlx::query_as::<_, StoredEvent>(sql)
                .bind(now + lease_ms)
                .bind(now)
                .bind(limit)
                .fetch_all(self.writer())
                .await?)
        }

        async fn finish_events(&self, ids: &[String], status: &str) -> StoreResult<()> {
            for chunk in ids.chunks(500) {
                let mut q = sqlx::QueryBuilder::<Dialect>::new("UPDATE crm_events SET status = ");
                q.push_bind(status.to_owned()).push(", lease_until = NULL WHERE event_id IN (");
                let mut list = q.separated(", ");
                for id in chunk {
                    list.push_bind(id.clone());
                }
                q.push(")");
                q.build().execute(self.writer()).await?;
            }
            Ok(())
        }

        async fn retry_events(
            &self,
            ids: &[String],
            error: &str,
            retry_at: i64,
            max_attempts: i32,
        ) -> StoreResult<()> {
            for chunk in ids.chunks(500) {
                let mut q = sqlx::QueryBuilder::<Dialect>::new(
                    "UPDATE crm_events SET attempts = attempts + 1, error = ",
                );
                q.push_bind(error.chars().take(500).collect::<String>())
                    .push(", lease_until = ")
                    .push_bind(retry_at)
                    .push(", status = CASE WHEN attempts + 1 >= ")
                    .push_bind(max_attempts)
                    .push(" THEN 'failed' ELSE 'pending' END WHERE event_id IN (");
                let mut list = q.separated(", ");
                for id in chunk {
                    list.push_bind(id.clone());
                }
                q.push(")");
                q.build().execute(self.writer()).await?;
            }
            Ok(())
        }

        async fn event_stats(&self, since: i64) -> StoreResult<EventStats> {
            let (last, today, pending, failed): (Option<i64>, i64, i64, i64) = sqlx::query_as(
                "SELECT MAX(received_at), \
                 COALESCE(SUM(CASE WHEN received_at >= $1 THEN 1 ELSE 0 END), 0), \
                 COALESCE(SUM(CASE WHEN status = 'pending' THEN 1 ELSE 0 END), 0), \
                 COALESCE(SUM(CASE WHEN status = 'failed' THEN 1 ELSE 0 END), 0) \
                 FROM crm_events",
            )
            .bind(since)
            .fetch_one(self.reader())
            .await?;
            let rejections: Option<(i64, i64)> =
                sqlx::query_as("SELECT total, last_at FROM webhook_rejections WHERE id = 1")
                    .fetch_optional(self.reader())
                    .await?;
            Ok(EventStats {
                last_received_at: last,
                today,
                pending,
                failed,
                rejected: rejections.map_or(0, |r| r.0),
                last_rejected_at: rejections.map(|r| r.1),
            })
        }

        async fn note_webhook_rejection(&self) -> StoreResult<()> {
            sqlx::query(
                "INSERT INTO webhook_rejections (id, total, last_at) VALUES (1, 1, $1) \
                 ON CONFLICT (id) DO UPDATE SET total = webhook_rejections.total + 1, last_at = $1",
            )
            .bind(now_ms())
            .execute(self.writer())
            .await?;
            Ok(())
        }

        async fn clear_webhook_rejections(&self) -> StoreResult<()> {
            sqlx::query("DELETE FROM webhook_rejections")
                .execute(self.writer())
                .await?;
            Ok(())
        }

        async fn prune_events(&self, before: i64) -> StoreResult<u64> {
            Ok(sqlx::query(
                "DELETE FROM crm_events WHERE status IN ('applied', 'ignored') AND received_at < $1",
            )
            .bind(before)
            .execute(self.writer())
            .await?
            .rows_affected())
        }

        async fn create_import_run(
            &self,
            run_id: &str,
            by: Option<&str>,
            progress: &str,
            job_kind: &str,
        ) -> StoreResult<()> {
            let now = now_ms();
            let mut tx = self.writer().begin().await?;
            sqlx::query(
                "INSERT INTO import_runs (run_id, status, requested_by, started_at, progress) \
                 VALUES ($1, 'queued', $2, $3, $4)",
            )
            .bind(run_id)
            .bind(by)
            .bind(now)
            .bind(progress)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO jobs (job_id, kind, payload, status, attempts, next_attempt_at, \
                 created_at, updated_at) VALUES ($1, $2, '{}', 'queued', 0, $3, $3, $3)",
            )
            .bind(run_id)
            .bind(job_kind)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(())
        }

        async fn start_import_run(&self, run_id: &str) -> StoreResult<Option<ImportRunRow>> {
            let sql = sqlx::AssertSqlSafe(format!(
                "UPDATE import_runs SET status = 'running' WHERE run_id = $1 \
                 AND status IN ('queued', 'running') RETURNING {RUN_COLUMNS}"
            ));
            Ok(sqlx::query_as::<_, ImportRunRow>(sql)
                .bind(run_id)
                .fetch_optional(self.writer())
                .await?)
        }

        async fn save_import_progress(&self, run_id: &str, progress: &str) -> StoreResult<()> {
            sqlx::query("UPDATE import_runs SET progress = $1 WHERE run_id = $2")
                .bind(progress)
                .bind(run_id)
                .execute(self.writer())
                .await?;
            Ok(())
        }

        async fn finish_import_run(
            &self,
            run_id: &str,
            status: &str,
            progress: &str,
            error: Option<&str>,
        ) -> StoreResult<()> {
            let now = now_ms();
            sqlx::query(
                "UPDATE import_runs SET status = $1, progress = $2, error = $3, finished_at = $4 \
                 WHERE run_id = $5",
            )
            .bind(status)
            .bind(progress)
            .bind(error)
            .bind(now)
            .bind(run_id)
            .execute(self.writer())
            .await?;
            Ok(())
        }

        async fn import_run(&self, run_id: &str) -> StoreResult<Option<ImportRunRow>> {
            let sql = sqlx::AssertSqlSafe(format!(
                "SELECT {RUN_COLUMNS} FROM import_runs WHERE run_id = $1"
            ));
            Ok(sqlx::query_as::<_, ImportRunRow>(sql)
                .bind(run_id)
                .fetch_optional(self.reader())
                .await?)
        }

        async fn import_runs(&self, limit: i64) -> StoreResult<Vec<ImportRunRow>> {
            let sql = sqlx::AssertSqlSafe(format!(
                "SELECT {RUN_COLUMNS} FROM import_runs ORDER BY started_at DESC LIMIT $1"
            ));
            Ok(sqlx::query_as::<_, ImportRunRow>(sql).bind(limit).fetch_all(self.reader()).await?)
        }
    }
}
