//! The durable job queue: enqueue, lease (safe with several instances), finish, reschedule,
//! fail, retry and the admin listing. A job is due when it is `queued` and its `next_attempt_at`
//! has passed; a lease moves `next_attempt_at` to the lease's end, so the job of a worker that
//! died becomes due again by itself, and a worker that runs long renews its lease. Jobs of one
//! ledger entry never run at the same time, nor do jobs sharing a serial key, on any instance; a
//! job with a serial key is not added again while an identical one still waits. A scheduled job (`every_ms` set) is one row that
//! stays `queued` and is due again `every_ms` after each run; the admin listing leaves it out.

use async_trait::async_trait;

use super::{StoreResult, for_both_backends, now_ms};

/// The columns every job query returns, in [`JobRow`] order.
pub(super) const JOB_COLUMNS: &str = "job_id, kind, payload, status, attempts, last_error, \
     next_attempt_at, lease_owner, entry_id, created_at, updated_at, every_ms, serial_key";

/// A job to add to the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewJob {
    /// What to do (the worker's handler name), e.g. `activity.save`.
    pub kind: String,
    /// The handler's input as JSON text.
    pub payload: String,
    /// The ledger entry the job works on, if any.
    pub entry_id: Option<String>,
    /// Jobs sharing this key run one at a time, across instances, and an identical job (kind,
    /// payload, key) still waiting for its first attempt absorbs a new one.
    pub serial_key: Option<String>,
}

impl NewJob {
    /// A job of `kind` for the ledger entry `entry_id`, with an empty payload.
    pub fn for_entry(kind: &str, entry_id: &str) -> Self {
        Self {
            kind: kind.to_owned(),
            payload: "{}".into(),
            entry_id: Some(entry_id.to_owned()),
            serial_key: None,
        }
    }
}

/// A stored job.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Job {
    /// Our id (UUID v7, so ids sort by creation).
    #[sqlx(rename = "job_id")]
    pub id: String,
    /// The handler's name.
    pub kind: String,
    /// The handler's input (JSON text).
    pub payload: String,
    /// `queued`, `done` or `failed`.
    pub status: String,
    /// Attempts started so far.
    pub attempts: i32,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When the job is due (Unix ms); the end of the lease while a worker holds it.
    pub next_attempt_at: i64,
    /// The worker that leased it last.
    pub lease_owner: Option<String>,
    /// The ledger entry it works on.
    pub entry_id: Option<String>,
    /// Creation (Unix ms).
    pub created_at: i64,
    /// Last change (Unix ms).
    pub updated_at: i64,
    /// For a scheduled job, the time between runs (ms); `None` for a one-off job.
    pub every_ms: Option<i64>,
    /// Jobs sharing it run one at a time.
    pub serial_key: Option<String>,
}

/// The job queue's persistence.
#[async_trait]
pub trait JobStore {
    /// Adds a job, due now; returns its id (an identical waiting job's id when `job` has a
    /// serial key and one waits).
    async fn enqueue_job(&self, job: NewJob) -> StoreResult<String>;
    /// Leases the most overdue job for `lease_ms` to `owner`, counting an attempt.
    async fn lease_job(&self, owner: &str, lease_ms: i64) -> StoreResult<Option<Job>>;
    /// Leases the job `id` for `lease_ms` to `owner` whether or not it is due (a wake-up for a
    /// scheduled job); `None` when it does not exist, is finished or another worker holds it.
    async fn lease_job_now(&self, id: &str, owner: &str, lease_ms: i64)
    -> StoreResult<Option<Job>>;
    /// Moves the end of `owner`'s lease on `id` to `until`; `false` when `owner` lost it.
    async fn renew_lease(&self, id: &str, owner: &str, until: i64) -> StoreResult<bool>;
    /// Creates the scheduled job `id` of `kind`, first due `every_ms` from now, or sets the
    /// period of the existing one.
    async fn schedule_job(&self, id: &str, kind: &str, every_ms: i64) -> StoreResult<()>;
    /// Removes the scheduled job `id` (its schedule was turned off).
    async fn unschedule_job(&self, id: &str) -> StoreResult<()>;
    /// Releases a leased scheduled job, due again at `next_attempt_at`; a run that failed keeps
    /// `error`, one that succeeded clears the error and the attempt count. `false` when `owner`
    /// lost it.
    async fn repeat_job(
        &self,
        id: &str,
        owner: &str,
        error: Option<&str>,
        next_attempt_at: i64,
    ) -> StoreResult<bool>;
    /// Marks a leased job done; `false` when `owner` no longer holds it.
    async fn complete_job(&self, id: &str, owner: &str) -> StoreResult<bool>;
    /// Releases a leased job to run again at `next_attempt_at`; `false` when `owner` lost it.
    async fn reschedule_job(
        &self,
        id: &str,
        owner: &str,
        error: &str,
        next_attempt_at: i64,
    ) -> StoreResult<bool>;
    /// Marks a leased job failed for good; `false` when `owner` no longer holds it.
    async fn fail_job(&self, id: &str, owner: &str, error: &str) -> StoreResult<bool>;
    /// Queues a failed job again with a fresh attempt count; `None` if there is no failed job
    /// with this id.
    async fn retry_job(&self, id: &str) -> StoreResult<Option<Job>>;
    /// One job.
    async fn job(&self, id: &str) -> StoreResult<Option<Job>>;
    /// One-off jobs with `status` (all when `None`), newest first.
    async fn list_jobs(&self, status: Option<&str>, limit: i64) -> StoreResult<Vec<Job>>;
    /// How many one-off jobs have `status`.
    async fn count_jobs(&self, status: &str) -> StoreResult<i64>;
}

for_both_backends! {
    #[async_trait]
    impl JobStore for Db {
        async fn enqueue_job(&self, job: NewJob) -> StoreResult<String> {
            let mut tx = self.writer().begin().await?;
            let id = Db::insert_job(&mut tx, &job).await?;
            tx.commit().await?;
            Ok(id)
        }

        async fn lease_job(&self, owner: &str, lease_ms: i64) -> StoreResult<Option<Job>> {
            // SQLite has one writer, so the conditional UPDATE alone is atomic. On PostgreSQL
            // instances skip the rows another transaction is leasing, and leases take turns:
            // two concurrent leases would not see each other's uncommitted lease of another job
            // with the same entry or serial key, and both would run.
            let now = now_ms();
            let mut tx = self.writer().begin().await?;
            if !LEASE_TURN.is_empty() {
                sqlx::query(LEASE_TURN).execute(&mut *tx).await?;
            }
            let sql = format!(
                "UPDATE jobs SET lease_owner = $1, next_attempt_at = $2, \
                 attempts = attempts + 1, updated_at = $3 \
                 WHERE job_id = (SELECT j.job_id FROM jobs j \
                   WHERE j.status = 'queued' AND j.next_attempt_at <= $3 \
                   AND (j.entry_id IS NULL OR NOT EXISTS (SELECT 1 FROM jobs o \
                     WHERE o.entry_id = j.entry_id AND o.job_id <> j.job_id \
                     AND o.status = 'queued' AND o.lease_owner IS NOT NULL \
                     AND o.next_attempt_at > $3)) \
                   AND (j.serial_key IS NULL OR NOT EXISTS (SELECT 1 FROM jobs o \
                     WHERE o.serial_key = j.serial_key AND o.job_id <> j.job_id \
                     AND o.status = 'queued' AND o.lease_owner IS NOT NULL \
                     AND o.next_attempt_at > $3)) \
                   ORDER BY j.next_attempt_at, j.job_id LIMIT 1{SKIP_LOCKED}) \
                 RETURNING {JOB_COLUMNS}"
            );
            let job = sqlx::query_as::<_, Job>(sqlx::AssertSqlSafe(sql))
                .bind(owner)
                .bind(now + lease_ms)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(job)
        }

        async fn lease_job_now(
            &self,
            id: &str,
            owner: &str,
            lease_ms: i64,
        ) -> StoreResult<Option<Job>> {
            let now = now_ms();
            let sql = format!(
                "UPDATE jobs SET lease_owner = $2, next_attempt_at = $3, \
                 attempts = attempts + 1, updated_at = $4 \
                 WHERE job_id = $1 AND status = 'queued' \
                 AND (lease_owner IS NULL OR next_attempt_at <= $4) \
                 RETURNING {JOB_COLUMNS}"
            );
            Ok(sqlx::query_as::<_, Job>(sqlx::AssertSqlSafe(sql))
                .bind(id)
                .bind(owner)
                .bind(now + lease_ms)
                .bind(now)
                .fetch_optional(self.writer())
                .await?)
        }

        async fn renew_lease(&self, id: &str, owner: &str, until: i64) -> StoreResult<bool> {
            let done = sqlx::query(
                "UPDATE jobs SET next_attempt_at = $3 \
                 WHERE job_id = $1 AND lease_owner = $2 AND status = 'queued'",
            )
            .bind(id)
            .bind(owner)
            .bind(until)
            .execute(self.writer())
            .await?;
            Ok(done.rows_affected() == 1)
        }

        async fn schedule_job(&self, id: &str, kind: &str, every_ms: i64) -> StoreResult<()> {
            let now = now_ms();
            sqlx::query(
                "INSERT INTO jobs (job_id, kind, payload, status, attempts, next_attempt_at, \
                 created_at, updated_at, every_ms) VALUES ($1, $2, '{}', 'queued', 0, $3, $4, $4, $5) \
                 ON CONFLICT (job_id) DO UPDATE SET kind = excluded.kind, \
                 every_ms = excluded.every_ms, status = 'queued'",
            )
            .bind(id)
            .bind(kind)
            .bind(now + every_ms)
            .bind(now)
            .bind(every_ms)
            .execute(self.writer())
            .await?;
            Ok(())
        }

        async fn unschedule_job(&self, id: &str) -> StoreResult<()> {
            sqlx::query("DELETE FROM jobs WHERE job_id = $1 AND every_ms IS NOT NULL")
                .bind(id)
                .execute(self.writer())
                .await?;
            Ok(())
        }

        async fn repeat_job(
            &self,
            id: &str,
            owner: &str,
            error: Option<&str>,
            next_attempt_at: i64,
        ) -> StoreResult<bool> {
            let done = sqlx::query(
                "UPDATE jobs SET lease_owner = NULL, last_error = $3, next_attempt_at = $4, \
                 attempts = CASE WHEN CAST($3 AS TEXT) IS NULL THEN 0 ELSE attempts END, updated_at = $5 \
                 WHERE job_id = $1 AND lease_owner = $2 AND status = 'queued'",
            )
            .bind(id)
            .bind(owner)
            .bind(error)
            .bind(next_attempt_at)
            .bind(now_ms())
            .execute(self.writer())
            .await?;
            Ok(done.rows_affected() == 1)
        }

        async fn complete_job(&self, id: &str, owner: &str) -> StoreResult<bool> {
            let done = sqlx::query(
                "UPDATE jobs SET status = 'done', last_error = NULL, updated_at = $3 \
                 WHERE job_id = $1 AND lease_owner = $2 AND status = 'queued'",
            )
            .bind(id)
            .bind(owner)
            .bind(now_ms())
            .execute(self.writer())
            .await?;
            Ok(done.rows_affected() == 1)
        }

        async fn reschedule_job(
            &self,
            id: &str,
            owner: &str,
            error: &str,
            next_attempt_at: i64,
        ) -> StoreResult<bool> {
            let done = sqlx::query(
                "UPDATE jobs SET lease_owner = NULL, last_error = $3, next_attempt_at = $4, \
                 updated_at = $5 WHERE job_id = $1 AND lease_owner = $2 AND status = 'queued'",
            )
            .bind(id)
            .bind(owner)
            .bind(error)
            .bind(next_attempt_at)
            .bind(now_ms())
            .execute(self.writer())
            .await?;
            Ok(done.rows_affected() == 1)
        }

        async fn fail_job(&self, id: &str, owner: &str, error: &str) -> StoreResult<bool> {
            let done = sqlx::query(
                "UPDATE jobs SET status = 'failed', lease_owner = NULL, last_error = $3, \
                 updated_at = $4 WHERE job_id = $1 AND lease_owner = $2 AND status = 'queued'",
            )
            .bind(id)
            .bind(owner)
            .bind(error)
            .bind(now_ms())
            .execute(self.writer())
            .await?;
            Ok(done.rows_affected() == 1)
        }

        async fn retry_job(&self, id: &str) -> StoreResult<Option<Job>> {
            let now = now_ms();
            let sql = format!(
                "UPDATE jobs SET status = 'queued', attempts = 0, lease_owner = NULL, \
                 next_attempt_at = $2, updated_at = $2 WHERE job_id = $1 AND status = 'failed' \
                 RETURNING {JOB_COLUMNS}"
            );
            Ok(sqlx::query_as::<_, Job>(sqlx::AssertSqlSafe(sql))
                .bind(id)
                .bind(now)
                .fetch_optional(self.writer())
                .await?)
        }

        async fn job(&self, id: &str) -> StoreResult<Option<Job>> {
            let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE job_id = $1");
            Ok(sqlx::query_as::<_, Job>(sqlx::AssertSqlSafe(sql))
                .bind(id)
                .fetch_optional(self.reader())
                .await?)
        }

        async fn list_jobs(&self, status: Option<&str>, limit: i64) -> StoreResult<Vec<Job>> {
            let sql = format!(
                "SELECT {JOB_COLUMNS} FROM jobs WHERE (CAST($1 AS TEXT) IS NULL OR status = $1) \
                 AND every_ms IS NULL ORDER BY job_id DESC LIMIT $2"
            );
            Ok(sqlx::query_as::<_, Job>(sqlx::AssertSqlSafe(sql))
                .bind(status)
                .bind(limit)
                .fetch_all(self.reader())
                .await?)
        }

        async fn count_jobs(&self, status: &str) -> StoreResult<i64> {
            Ok(sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE status = $1 AND every_ms IS NULL")
                .bind(status)
                .fetch_one(self.reader())
                .await?)
        }
    }

    impl Db {
    /// Inserts `job` inside `tx`; returns its id.
    pub(crate) async fn insert_job(
        tx: &mut sqlx::Transaction<'_, Dialect>,
        job: &NewJob,
    ) -> StoreResult<String> {
        if let Some(key) = &job.serial_key {
            // A waiting duplicate will read the world after this change anyway.
            let waiting: Option<String> = sqlx::query_scalar(
                "SELECT job_id FROM jobs WHERE serial_key = $1 AND kind = $2 AND payload = $3 \
                 AND status = 'queued' AND lease_owner IS NULL AND attempts = 0 \
                 AND every_ms IS NULL ORDER BY job_id LIMIT 1",
            )
            .bind(key)
            .bind(&job.kind)
            .bind(&job.payload)
            .fetch_optional(&mut **tx)
            .await?;
            if let Some(id) = waiting {
                return Ok(id);
            }
        }
        let id = uuid::Uuid::now_v7().to_string();
        let now = now_ms();
        sqlx::query(
            "INSERT INTO jobs (job_id, kind, payload, status, attempts, next_attempt_at, \
             entry_id, created_at, updated_at, serial_key) \
             VALUES ($1, $2, $3, 'queued', 0, $4, $5, $4, $4, $6)",
        )
        .bind(&id)
        .bind(&job.kind)
        .bind(&job.payload)
        .bind(now)
        .bind(&job.entry_id)
        .bind(&job.serial_key)
        .execute(&mut **tx)
        .await?;
        Ok(id)
    }
    }
}
