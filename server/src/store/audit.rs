//! The audit log of admin changes: who did what to which target, and when. Callers never pass
//! secret values; `detail` names changed fields only.

use async_trait::async_trait;
use serde::Serialize;

use super::{StoreResult, for_both_backends, now_ms};

/// One audit entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct AuditEntry {
    /// Entry id (UUID v7, so ids sort by time).
    pub audit_id: String,
    /// When (Unix ms).
    pub at: i64,
    /// The employee who acted, if any (none for the setup link).
    pub actor_id: Option<String>,
    /// Readable actor (login e-mail, or `setup-link`).
    pub actor: String,
    /// What was done, such as `employee.update`.
    pub action: String,
    /// What it was done to, such as `employee:<id>`.
    pub target: String,
    /// Extra facts (changed field names); never secret values.
    pub detail: String,
}

/// A new audit entry.
#[derive(Debug, Clone, Default)]
pub struct NewAudit {
    /// The employee who acted.
    pub actor_id: Option<String>,
    /// Readable actor.
    pub actor: String,
    /// What was done.
    pub action: String,
    /// What it was done to.
    pub target: String,
    /// Extra facts; never secret values.
    pub detail: String,
}

/// The audit log.
#[async_trait]
pub trait AuditStore {
    /// Appends an entry.
    async fn add_audit(&self, entry: NewAudit) -> StoreResult<()>;
    /// The newest `limit` entries, newest first.
    async fn list_audit(&self, limit: i64) -> StoreResult<Vec<AuditEntry>>;
}

for_both_backends! {
    #[async_trait]
    impl AuditStore for Db {
        async fn add_audit(&self, e: NewAudit) -> StoreResult<()> {
            sqlx::query(
                "INSERT INTO audit_log (audit_id, at, actor_id, actor, action, target, detail) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(uuid::Uuid::now_v7().to_string())
            .bind(now_ms())
            .bind(&e.actor_id)
            .bind(&e.actor)
            .bind(&e.action)
            .bind(&e.target)
            .bind(&e.detail)
            .execute(self.writer())
            .await?;
            Ok(())
        }

        async fn list_audit(&self, limit: i64) -> StoreResult<Vec<AuditEntry>> {
            Ok(sqlx::query_as::<_, AuditEntry>(
                "SELECT audit_id, at, actor_id, actor, action, target, detail FROM audit_log \
                 ORDER BY audit_id DESC LIMIT $1",
            )
            .bind(limit)
            .fetch_all(self.writer())
            .await?)
        }
    }
}
