//! Key/value settings that admins change at run time (company data, CRM connection, …).
//! Values are JSON text; secret values are stored already encrypted by the caller.

use async_trait::async_trait;

use super::{StoreResult, for_both_backends, now_ms};

/// Run-time settings, one JSON document per key.
#[async_trait]
pub trait SettingsStore {
    /// The JSON text stored under `key`.
    async fn get_setting(&self, key: &str) -> StoreResult<Option<String>>;
    /// Stores `value` (JSON text) under `key`, replacing any earlier value.
    async fn put_setting(&self, key: &str, value: &str) -> StoreResult<()>;
    /// Removes `key`.
    async fn delete_setting(&self, key: &str) -> StoreResult<()>;
}

for_both_backends! {
    #[async_trait]
    impl SettingsStore for Db {
        async fn get_setting(&self, key: &str) -> StoreResult<Option<String>> {
            Ok(sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
                .bind(key)
                .fetch_optional(self.reader())
                .await?)
        }

        async fn put_setting(&self, key: &str, value: &str) -> StoreResult<()> {
            sqlx::query(
                "INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value, \
                 updated_at = excluded.updated_at",
            )
            .bind(key)
            .bind(value)
            .bind(now_ms())
            .execute(self.writer())
            .await?;
            Ok(())
        }

        async fn delete_setting(&self, key: &str) -> StoreResult<()> {
            sqlx::query("DELETE FROM settings WHERE key = $1")
                .bind(key)
                .execute(self.writer())
                .await?;
            Ok(())
        }
    }
}
