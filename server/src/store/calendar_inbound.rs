//! Calendar sync Outlook → CRM state: where each employee's delta round of their mailbox got to
//! (`calendar_delta`), what both sides of a linked event last agreed it shows and when inbound
//! changes were applied (`calendar_inbound`), the items held for the admin (`calendar_held`),
//! and each synced mailbox's Graph subscription (`calendar_subscriptions`).

use async_trait::async_trait;

use super::{StoreResult, for_both_backends, now_ms};

/// What we keep about one linked event for the Outlook → CRM direction.
#[derive(Debug, Clone, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct InboundState {
    /// What both sides last agreed the event shows (the calendar engine's JSON); `None` before
    /// the first agreement is known.
    pub agreed: Option<String>,
    /// When inbound changes were applied (JSON array of Unix ms), for the flap quarantine.
    pub applied_at: String,
    /// The link was dropped on purpose (delete mode "unlink").
    pub unlinked: bool,
}

/// An item to hold for the admin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewHeld {
    /// Employee whose mailbox holds the event.
    pub employee_id: String,
    /// The CRM activity's key.
    pub activity_key: String,
    /// Why (a stable code: `conflict`, `flapping`, `mass_delete`).
    pub reason: String,
    /// The CRM's version (JSON), if any.
    pub crm_version: Option<String>,
    /// Outlook's version (JSON), if any.
    pub outlook_version: Option<String>,
}

/// An item held for the admin.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct HeldItem {
    /// Id.
    pub held_id: String,
    /// Employee whose mailbox holds the event.
    pub employee_id: String,
    /// The CRM activity's key.
    pub activity_key: String,
    /// Why it is held (a stable code).
    pub reason: String,
    /// The CRM's version (JSON).
    pub crm_version: Option<String>,
    /// Outlook's version (JSON).
    pub outlook_version: Option<String>,
    /// When it was held (Unix ms).
    pub created_at: i64,
    /// When the admin resolved it (Unix ms).
    pub resolved_at: Option<i64>,
    /// How the admin resolved it.
    pub resolution: Option<String>,
}

/// A Graph change-notification subscription of one employee's mailbox.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct CalendarSubscription {
    /// Employee.
    pub employee_id: String,
    /// Graph's subscription id.
    pub subscription_id: String,
    /// The mailbox it watches.
    pub mailbox: String,
    /// SHA-256 (hex) of the client state Graph echoes.
    pub client_state_hash: String,
    /// When it expires (Unix ms).
    pub expires_at: i64,
    /// Last change (Unix ms).
    pub updated_at: i64,
}

/// Outlook → CRM persistence.
#[async_trait]
pub trait InboundStore {
    /// The delta link the employee's last round ended with.
    async fn calendar_delta_link(&self, employee_id: &str) -> StoreResult<Option<String>>;
    /// Stores (or with `None` forgets) the employee's delta link.
    async fn save_calendar_delta_link(
        &self,
        employee_id: &str,
        mailbox: &str,
        delta_link: Option<&str>,
    ) -> StoreResult<()>;
    /// What we keep about a linked event (`None`: nothing yet).
    async fn inbound_state(
        &self,
        activity_key: &str,
        employee_id: &str,
    ) -> StoreResult<Option<InboundState>>;
    /// Stores what we keep about a linked event.
    async fn save_inbound_state(
        &self,
        activity_key: &str,
        employee_id: &str,
        state: &InboundState,
    ) -> StoreResult<()>;
    /// Stores what both sides agree the event shows (keeps the rest).
    async fn save_inbound_agreed(
        &self,
        activity_key: &str,
        employee_id: &str,
        agreed: &str,
    ) -> StoreResult<()>;
    /// The employees whose link of this activity was dropped on purpose.
    async fn calendar_unlinked(&self, activity_key: &str) -> StoreResult<Vec<String>>;
    /// Holds an item for the admin; its id.
    async fn hold_calendar_item(&self, item: &NewHeld) -> StoreResult<String>;
    /// Held items, newest first: the open ones, or all.
    async fn held_calendar_items(&self, open_only: bool) -> StoreResult<Vec<HeldItem>>;
    /// Marks a held item resolved; `false` when there is no such open item.
    async fn resolve_calendar_item(&self, held_id: &str, resolution: &str) -> StoreResult<bool>;
    /// Every mailbox subscription.
    async fn calendar_subscriptions(&self) -> StoreResult<Vec<CalendarSubscription>>;
    /// The subscription with Graph's id `subscription_id`.
    async fn calendar_subscription(
        &self,
        subscription_id: &str,
    ) -> StoreResult<Option<CalendarSubscription>>;
    /// Stores the employee's subscription (replacing theirs).
    async fn save_calendar_subscription(&self, sub: &CalendarSubscription) -> StoreResult<()>;
    /// Forgets the employee's subscription.
    async fn delete_calendar_subscription(&self, employee_id: &str) -> StoreResult<()>;
}

const SUBSCRIPTION_COLUMNS: &str =
    "employee_id, subscription_id, mailbox, client_state_hash, expires_at, updated_at";

const HELD_COLUMNS: &str = "held_id, employee_id, activity_key, reason, crm_version, \
     outlook_version, created_at, resolved_at, resolution";

for_both_backends! {
    #[async_trait]
    impl InboundStore for Db {
        async fn calendar_delta_link(&self, employee_id: &str) -> StoreResult<Option<String>> {
            let link: Option<Option<String>> = sqlx::query_scalar(
                "SELECT delta_link FROM calendar_delta WHERE employee_id = $1",
            )
            .bind(employee_id)
            .fetch_optional(self.reader())
            .await?;
            Ok(link.flatten())
        }

        async fn save_calendar_delta_link(
            &self,
            employee_id: &str,
            mailbox: &str,
            delta_link: Option<&str>,
        ) -> StoreResult<()> {
            sqlx::query(
                "INSERT INTO calendar_delta (employee_id, mailbox, delta_link, updated_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (employee_id) DO UPDATE SET \
                 mailbox = excluded.mailbox, delta_link = excluded.delta_link, \
                 updated_at = excluded.updated_at",
            )
            .bind(employee_id)
            .bind(mailbox)
            .bind(delta_link)
            .bind(now_ms())
            .execute(self.writer())
            .await?;
            Ok(())
        }

        async fn inbound_state(
            &self,
            activity_key: &str,
            employee_id: &str,
        ) -> StoreResult<Option<InboundState>> {
            Ok(sqlx::query_as(
                "SELECT agreed, applied_at, unlinked FROM calendar_inbound \
                 WHERE activity_key = $1 AND employee_id = $2",
            )
            .bind(activity_key)
            .bind(employee_id)
            .fetch_optional(self.reader())
            .await?)
        }

        async fn save_inbound_state(
            &self,
            activity_key: &str,
            employee_id: &str,
            state: &InboundState,
        ) -> StoreResult<()> {
            sqlx::query(
                "INSERT INTO calendar_inbound (activity_key, employee_id, agreed, applied_at, \
                 unlinked, updated_at) VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (activity_key, employee_id) DO UPDATE SET agreed = excluded.agreed, \
                 applied_at = excluded.applied_at, unlinked = excluded.unlinked, \
                 updated_at = excluded.updated_at",
            )
            .bind(activity_key)
            .bind(employee_id)
            .bind(&state.agreed)
            .bind(&state.applied_at)
            .bind(state.unlinked)
            .bind(now_ms())
            .execute(self.writer())
            .await?;
            Ok(())
        }

        async fn save_inbound_agreed(
            &self,
            activity_key: &str,
            employee_id: &str,
            agreed: &str,
        ) -> StoreResult<()> {
            sqlx::query(
                "INSERT INTO calendar_inbound (activity_key, employee_id, agreed, updated_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (activity_key, employee_id) DO UPDATE SET \
                 agreed = excluded.agreed, unlinked = FALSE, updated_at = excluded.updated_at",
            )
            .bind(activity_key)
            .bind(employee_id)
            .bind(agreed)
            .bind(now_ms())
            .execute(self.writer())
            .await?;
            Ok(())
        }

        async fn calendar_unlinked(&self, activity_key: &str) -> StoreResult<Vec<String>> {
            Ok(sqlx::query_scalar(
                "SELECT employee_id FROM calendar_inbound WHERE activity_key = $1 AND unlinked \
                 ORDER BY employee_id",
            )
            .bind(activity_key)
            .fetch_all(self.reader())
            .await?)
        }

        async fn hold_calendar_item(&self, item: &NewHeld) -> StoreResult<String> {
            let id = uuid::Uuid::new_v4().to_string();
            sqlx::query(
                "INSERT INTO calendar_held (held_id, employee_id, activity_key, reason, \
                 crm_version, outlook_version, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&id)
            .bind(&item.employee_id)
            .bind(&item.activity_key)
            .bind(&item.reason)
            .bind(&item.crm_version)
            .bind(&item.outlook_version)
            .bind(now_ms())
            .execute(self.writer())
            .await?;
            Ok(id)
        }

        async fn held_calendar_items(&self, open_only: bool) -> StoreResult<Vec<HeldItem>> {
            Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {HELD_COLUMNS} FROM calendar_held \
                 WHERE ($1 = FALSE OR resolved_at IS NULL) ORDER BY created_at DESC LIMIT 1000"
            )))
            .bind(open_only)
            .fetch_all(self.reader())
            .await?)
        }

        async fn resolve_calendar_item(&self, held_id: &str, resolution: &str) -> StoreResult<bool> {
            let done = sqlx::query(
                "UPDATE calendar_held SET resolved_at = $1, resolution = $2 \
                 WHERE held_id = $3 AND resolved_at IS NULL",
            )
            .bind(now_ms())
            .bind(resolution)
            .bind(held_id)
            .execute(self.writer())
            .await?;
            Ok(done.rows_affected() == 1)
        }

        async fn calendar_subscriptions(&self) -> StoreResult<Vec<CalendarSubscription>> {
            Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {SUBSCRIPTION_COLUMNS} FROM calendar_subscriptions ORDER BY employee_id"
            )))
            .fetch_all(self.reader())
            .await?)
        }

        async fn calendar_subscription(
            &self,
            subscription_id: &str,
        ) -> StoreResult<Option<CalendarSubscription>> {
            Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {SUBSCRIPTION_COLUMNS} FROM calendar_subscriptions \
                 WHERE subscription_id = $1"
            )))
            .bind(subscription_id)
            .fetch_optional(self.reader())
            .await?)
        }

        async fn save_calendar_subscription(&self, s: &CalendarSubscription) -> StoreResult<()> {
            sqlx::query(
                "INSERT INTO calendar_subscriptions (employee_id, subscription_id, mailbox, \
                 client_state_hash, expires_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (employee_id) DO UPDATE SET subscription_id = excluded.subscription_id, \
                 mailbox = excluded.mailbox, client_state_hash = excluded.client_state_hash, \
                 expires_at = excluded.expires_at, updated_at = excluded.updated_at",
            )
            .bind(&s.employee_id)
            .bind(&s.subscription_id)
            .bind(&s.mailbox)
            .bind(&s.client_state_hash)
            .bind(s.expires_at)
            .bind(now_ms())
            .execute(self.writer())
            .await?;
            Ok(())
        }

        async fn delete_calendar_subscription(&self, employee_id: &str) -> StoreResult<()> {
            sqlx::query("DELETE FROM calendar_subscriptions WHERE employee_id = $1")
                .bind(employee_id)
                .execute(self.writer())
                .await?;
            Ok(())
        }
    }
}
