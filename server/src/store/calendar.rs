//! Calendar sync state: the link between a CRM activity and the Outlook event we wrote for an
//! employee (`calendar_links`), who is opted in (`calendar_employees`), and the per-item trace
//! of every sync decision (`calendar_trace`). Each table's rows map to one struct
//! (`sqlx::FromRow`) selected with one column list, the same in both dialects.

use async_trait::async_trait;

use super::{NewJob, StoreResult, for_both_backends, now_ms};

/// The event we wrote (or are writing) for one employee and CRM activity.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct CalendarLink {
    /// The CRM activity's key (`crm::ActivityRef::to_key`).
    pub activity_key: String,
    /// Employee.
    pub employee_id: String,
    /// Mailbox written to.
    pub mailbox: String,
    /// Graph's immutable id; `None` while a create is in flight.
    pub event_id: Option<String>,
    /// The event's iCalUId.
    pub ical_uid: Option<String>,
    /// Transaction id of the create.
    pub transaction_id: String,
    /// Hash of what was written.
    pub content_hash: String,
    /// Whether the event carries attendees.
    pub has_attendees: bool,
    /// Creation (Unix ms).
    pub created_at: i64,
    /// Last write (Unix ms).
    pub updated_at: i64,
}

/// A written event, to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenEvent {
    /// The CRM activity's key (`crm::ActivityRef::to_key`).
    pub activity_key: String,
    /// Employee.
    pub employee_id: String,
    /// Mailbox.
    pub mailbox: String,
    /// Graph id.
    pub event_id: String,
    /// iCalUId.
    pub ical_uid: String,
    /// Transaction id of the create.
    pub transaction_id: String,
    /// Hash of what was written.
    pub content_hash: String,
    /// Whether it carries attendees.
    pub has_attendees: bool,
}

/// An employee's calendar-sync state.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct CalendarEmployee {
    /// Employee.
    pub employee_id: String,
    /// Opted in.
    pub enabled: bool,
    /// The employee's person id in the CRM, once known.
    pub person_id: Option<i64>,
    /// Last successful write or check (Unix ms).
    pub last_sync_at: Option<i64>,
    /// The last error, cleared by a success.
    pub last_error: Option<String>,
    /// When the backfill finished (Unix ms).
    pub backfilled_at: Option<i64>,
    /// Where a backfill under way has got to (the calendar engine's JSON); `None` when none is.
    pub backfill_cursor: Option<String>,
    /// The admin chose `enabled` for this employee; otherwise they follow the admin's default.
    pub opt_in_set: bool,
    /// The employee's own sync start date (`YYYY-MM-DD`); `None`: the global one.
    pub start_date: Option<String>,
}

impl CalendarEmployee {
    /// Whether the employee is opted in, when employees nobody opted in or out follow
    /// `by_default`.
    pub fn opted_in(&self, by_default: bool) -> bool {
        if self.opt_in_set {
            self.enabled
        } else {
            by_default
        }
    }
}

/// One sync decision.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct TraceEntry {
    /// When (Unix ms).
    pub at: i64,
    /// The CRM activity's key (`crm::ActivityRef::to_key`).
    pub activity_key: String,
    /// Employee ('' when the decision concerns nobody's mailbox).
    pub employee_id: String,
    /// Mailbox ('' likewise).
    pub mailbox: String,
    /// `create`, `update`, `delete`, `skip`, `adopt` or `failed`.
    pub action: String,
    /// Why (a stable code).
    pub reason: String,
    /// Graph's request id.
    pub request_id: Option<String>,
    /// The error, when it failed.
    pub error: Option<String>,
    /// Which way the decision flowed: `crm_to_outlook` or `outlook_to_crm`.
    pub direction: String,
}

/// Calendar-sync persistence.
#[async_trait]
pub trait CalendarStore {
    /// The links of one activity.
    async fn calendar_links(&self, activity_key: &str) -> StoreResult<Vec<CalendarLink>>;
    /// The links of one employee.
    async fn calendar_links_of(&self, employee_id: &str) -> StoreResult<Vec<CalendarLink>>;
    /// Claims the creation of the event for this activity and employee (event id unknown yet):
    /// `false` when a link already exists (another worker is creating or created it).
    async fn begin_calendar_create(
        &self,
        activity_key: &str,
        employee_id: &str,
        mailbox: &str,
        transaction_id: &str,
    ) -> StoreResult<bool>;
    /// Records a written event.
    async fn record_calendar_write(&self, written: &WrittenEvent) -> StoreResult<()>;
    /// Forgets a link (the event was removed).
    async fn delete_calendar_link(&self, activity_key: &str, employee_id: &str) -> StoreResult<()>;
    /// Appends a trace entry.
    async fn add_calendar_trace(&self, entry: &TraceEntry) -> StoreResult<()>;
    /// Trace entries newest first, optionally of one employee and/or one activity: `limit`
    /// (1 to 1000) of them after skipping the `offset` newest.
    async fn calendar_trace(
        &self,
        employee_id: Option<&str>,
        activity_key: Option<&str>,
        offset: i64,
        limit: i64,
    ) -> StoreResult<Vec<TraceEntry>>;
    /// Opts an employee in or out (the admin's choice, overriding the default).
    async fn set_calendar_enabled(&self, employee_id: &str, enabled: bool) -> StoreResult<()>;
    /// Sets an employee's overrides: opt-in (`None`: follow the admin's default) and start date
    /// (`None`: the global one).
    async fn set_calendar_overrides(
        &self,
        employee_id: &str,
        opt_in: Option<bool>,
        start_date: Option<&str>,
    ) -> StoreResult<()>;
    /// Every employee's state (only those ever opted in or synced).
    async fn calendar_employees(&self) -> StoreResult<Vec<CalendarEmployee>>;
    /// Notes the outcome of a sync for an employee (`None`: success).
    async fn note_calendar_sync(&self, employee_id: &str, error: Option<&str>) -> StoreResult<()>;
    /// Remembers the employee's person id in the CRM.
    async fn set_calendar_person(&self, employee_id: &str, person_id: i64) -> StoreResult<()>;
    /// Notes that the employee's backfill finished (and forgets its cursor).
    async fn note_calendar_backfill(&self, employee_id: &str) -> StoreResult<()>;
    /// The key of every activity that has a link.
    async fn calendar_linked_keys(&self) -> StoreResult<Vec<String>>;
    /// Stores where the employee's backfill has got to (`None`: start from the beginning).
    async fn save_calendar_backfill_cursor(
        &self,
        employee_id: &str,
        cursor: Option<&str>,
    ) -> StoreResult<()>;
    /// Queues `jobs` (a page of the employee's backfill) and moves the backfill's cursor past
    /// them, in one transaction: a crash leaves either both or neither.
    async fn queue_calendar_backfill_page(
        &self,
        employee_id: &str,
        jobs: &[NewJob],
        cursor: &str,
    ) -> StoreResult<()>;
}

const LINK_COLUMNS: &str = "activity_key, employee_id, mailbox, event_id, ical_uid, \
     transaction_id, content_hash, has_attendees, created_at, updated_at";

const EMPLOYEE_COLUMNS: &str = "employee_id, enabled, person_id, last_sync_at, last_error, \
     backfilled_at, backfill_cursor, opt_in_set, start_date";

const TRACE_COLUMNS: &str =
    "at, activity_key, employee_id, mailbox, action, reason, request_id, error, direction";

for_both_backends! {
    #[async_trait]
    impl CalendarStore for Db {
        async fn calendar_links(&self, activity_key: &str) -> StoreResult<Vec<CalendarLink>> {
            Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {LINK_COLUMNS} FROM calendar_links WHERE activity_key = $1 \
                 ORDER BY employee_id"
            )))
            .bind(activity_key)
            .fetch_all(self.reader())
            .await?)
        }

        async fn calendar_links_of(&self, employee_id: &str) -> StoreResult<Vec<CalendarLink>> {
            Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {LINK_COLUMNS} FROM calendar_links WHERE employee_id = $1 \
                 ORDER BY activity_key"
            )))
            .bind(employee_id)
            .fetch_all(self.reader())
            .await?)
        }

        async fn begin_calendar_create(
            &self,
            activity_key: &str,
            employee_id: &str,
            mailbox: &str,
            transaction_id: &str,
        ) -> StoreResult<bool> {
            let now = now_ms();
            let done = sqlx::query(
                "INSERT INTO calendar_links (activity_key, employee_id, mailbox, event_id, \
                 transaction_id, created_at, updated_at) VALUES ($1, $2, $3, NULL, $4, $5, $5) \
                 ON CONFLICT (activity_key, employee_id) DO NOTHING",
            )
            .bind(activity_key)
            .bind(employee_id)
            .bind(mailbox)
            .bind(transaction_id)
            .bind(now)
            .execute(self.writer())
            .await?;
            Ok(done.rows_affected() == 1)
        }

        async fn record_calendar_write(&self, w: &WrittenEvent) -> StoreResult<()> {
            let now = now_ms();
            sqlx::query(
                "INSERT INTO calendar_links (activity_key, employee_id, mailbox, event_id, \
                 ical_uid, transaction_id, content_hash, has_attendees, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) \
                 ON CONFLICT (activity_key, employee_id) DO UPDATE SET mailbox = excluded.mailbox, \
                 event_id = excluded.event_id, ical_uid = excluded.ical_uid, \
                 transaction_id = excluded.transaction_id, content_hash = excluded.content_hash, \
                 has_attendees = excluded.has_attendees, updated_at = excluded.updated_at",
            )
            .bind(&w.activity_key)
            .bind(&w.employee_id)
            .bind(&w.mailbox)
            .bind(&w.event_id)
            .bind(&w.ical_uid)
            .bind(&w.transaction_id)
            .bind(&w.content_hash)
            .bind(w.has_attendees)
            .bind(now)
            .execute(self.writer())
            .await?;
            Ok(())
        }

        async fn delete_calendar_link(
            &self,
            activity_key: &str,
            employee_id: &str,
        ) -> StoreResult<()> {
            sqlx::query("DELETE FROM calendar_links WHERE activity_key = $1 AND employee_id = $2")
                .bind(activity_key)
                .bind(employee_id)
                .execute(self.writer())
                .await?;
            Ok(())
        }

        async fn add_calendar_trace(&self, e: &TraceEntry) -> StoreResult<()> {
            sqlx::query(
                "INSERT INTO calendar_trace (trace_id, at, activity_key, employee_id, mailbox, \
                 action, reason, request_id, error, direction) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            // Time-ordered, so entries of one millisecond page in a stable order.
            .bind(uuid::Uuid::now_v7().to_string())
            .bind(e.at)
            .bind(&e.activity_key)
            .bind(&e.employee_id)
            .bind(&e.mailbox)
            .bind(&e.action)
            .bind(&e.reason)
            .bind(&e.request_id)
            .bind(&e.error)
            .bind(&e.direction)
            .execute(self.writer())
            .await?;
            Ok(())
        }

        async fn calendar_trace(
            &self,
            employee_id: Option<&str>,
            activity_key: Option<&str>,
            offset: i64,
            limit: i64,
        ) -> StoreResult<Vec<TraceEntry>> {
            Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {TRACE_COLUMNS} FROM calendar_trace WHERE ($1 IS NULL OR employee_id = $1) \
                 AND ($2 IS NULL OR activity_key = $2) ORDER BY at DESC, trace_id DESC \
                 LIMIT $3 OFFSET $4"
            )))
            .bind(employee_id)
            .bind(activity_key)
            .bind(limit.clamp(1, 1000))
            .bind(offset.max(0))
            .fetch_all(self.reader())
            .await?)
        }

        async fn set_calendar_enabled(&self, employee_id: &str, enabled: bool) -> StoreResult<()> {
            sqlx::query(
                "INSERT INTO calendar_employees (employee_id, enabled, opt_in_set, updated_at) \
                 VALUES ($1, $2, TRUE, $3) ON CONFLICT (employee_id) DO UPDATE SET \
                 enabled = excluded.enabled, opt_in_set = TRUE, updated_at = excluded.updated_at",
            )
            .bind(employee_id)
            .bind(enabled)
            .bind(now_ms())
            .execute(self.writer())
            .await?;
            Ok(())
        }

        async fn set_calendar_overrides(
            &self,
            employee_id: &str,
            opt_in: Option<bool>,
            start_date: Option<&str>,
        ) -> StoreResult<()> {
            sqlx::query(
                "INSERT INTO calendar_employees (employee_id, enabled, opt_in_set, start_date, \
                 updated_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (employee_id) DO UPDATE SET \
                 enabled = excluded.enabled, opt_in_set = excluded.opt_in_set, \
                 start_date = excluded.start_date, updated_at = excluded.updated_at",
            )
            .bind(employee_id)
            .bind(opt_in.unwrap_or(false))
            .bind(opt_in.is_some())
            .bind(start_date)
            .bind(now_ms())
            .execute(self.writer())
            .await?;
            Ok(())
        }

        async fn calendar_employees(&self) -> StoreResult<Vec<CalendarEmployee>> {
            Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {EMPLOYEE_COLUMNS} FROM calendar_employees ORDER BY employee_id"
            )))
            .fetch_all(self.reader())
            .await?)
        }

        async fn note_calendar_sync(
            &self,
            employee_id: &str,
            error: Option<&str>,
        ) -> StoreResult<()> {
            let now = now_ms();
            sqlx::query(
                "INSERT INTO calendar_employees (employee_id, enabled, last_sync_at, last_error, \
                 updated_at) VALUES ($1, FALSE, $2, $3, $4) ON CONFLICT (employee_id) DO UPDATE SET \
                 last_sync_at = COALESCE(excluded.last_sync_at, calendar_employees.last_sync_at), \
                 last_error = excluded.last_error, updated_at = excluded.updated_at",
            )
            .bind(employee_id)
            .bind(error.is_none().then_some(now))
            .bind(error)
            .bind(now)
            .execute(self.writer())
            .await?;
            Ok(())
        }

        async fn set_calendar_person(&self, employee_id: &str, person_id: i64) -> StoreResult<()> {
            sqlx::query(
                "INSERT INTO calendar_employees (employee_id, enabled, person_id, updated_at) \
                 VALUES ($1, FALSE, $2, $3) ON CONFLICT (employee_id) DO UPDATE SET \
                 person_id = excluded.person_id, updated_at = excluded.updated_at",
            )
            .bind(employee_id)
            .bind(person_id)
            .bind(now_ms())
            .execute(self.writer())
            .await?;
            Ok(())
        }

        async fn note_calendar_backfill(&self, employee_id: &str) -> StoreResult<()> {
            let now = now_ms();
            sqlx::query(
                "UPDATE calendar_employees SET backfilled_at = $1, backfill_cursor = NULL, \
                 updated_at = $1 WHERE employee_id = $2",
            )
            .bind(now)
            .bind(employee_id)
            .execute(self.writer())
            .await?;
            Ok(())
        }

        async fn save_calendar_backfill_cursor(
            &self,
            employee_id: &str,
            cursor: Option<&str>,
        ) -> StoreResult<()> {
            sqlx::query(
                "UPDATE calendar_employees SET backfill_cursor = $1, updated_at = $2 \
                 WHERE employee_id = $3",
            )
            .bind(cursor)
            .bind(now_ms())
            .bind(employee_id)
            .execute(self.writer())
            .await?;
            Ok(())
        }

        async fn queue_calendar_backfill_page(
            &self,
            employee_id: &str,
            jobs: &[NewJob],
            cursor: &str,
        ) -> StoreResult<()> {
            let mut tx = self.writer().begin().await?;
            for job in jobs {
                Db::insert_job(&mut tx, job).await?;
            }
            sqlx::query(
                "UPDATE calendar_employees SET backfill_cursor = $1, updated_at = $2 \
                 WHERE employee_id = $3",
            )
            .bind(cursor)
            .bind(now_ms())
            .bind(employee_id)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(())
        }

        async fn calendar_linked_keys(&self) -> StoreResult<Vec<String>> {
            Ok(sqlx::query_scalar(
                "SELECT DISTINCT activity_key FROM calendar_links ORDER BY activity_key",
            )
            .fetch_all(self.reader())
            .await?)
        }
    }
}
