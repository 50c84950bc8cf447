//! Admin UI sessions, sign-in throttle counters, and one-time setup tokens.
//! Session ids, CSRF tokens and setup tokens are stored only as hashes (the caller hashes them).

use async_trait::async_trait;

use super::{StoreResult, for_both_backends};

/// A stored admin session.
#[derive(Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AdminSessionRow {
    /// SHA-256 (hex) of the session id in the cookie.
    pub session_hash: String,
    /// Whose session it is.
    pub employee_id: String,
    /// SHA-256 (hex) of the synchronizer token required on state-changing requests.
    pub csrf_hash: String,
    /// Sign-in time (Unix ms).
    pub created_at: i64,
    /// Last request (Unix ms).
    pub last_seen_at: i64,
}

impl std::fmt::Debug for AdminSessionRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminSessionRow")
            .field("employee_id", &self.employee_id)
            .field("created_at", &self.created_at)
            .field("last_seen_at", &self.last_seen_at)
            .finish_non_exhaustive()
    }
}

/// One sign-in throttle counter: attempts not (yet) proven right, and when the last one began.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct ThrottleCounter {
    /// Attempts counted under the key.
    pub failures: i64,
    /// When the last counted attempt began (Unix ms).
    pub last_at: i64,
}

/// Sessions, sign-in throttling and setup tokens.
#[async_trait]
pub trait SessionStore {
    /// Stores a new session.
    async fn create_session(&self, session: &AdminSessionRow) -> StoreResult<()>;
    /// The session with this hash.
    async fn session(&self, session_hash: &str) -> StoreResult<Option<AdminSessionRow>>;
    /// Records activity on a session.
    async fn touch_session(&self, session_hash: &str, now: i64) -> StoreResult<()>;
    /// Ends one session.
    async fn delete_session(&self, session_hash: &str) -> StoreResult<()>;
    /// Ends every session of `employee_id` except `keep` (a session hash), if given.
    async fn delete_sessions_of(&self, employee_id: &str, keep: Option<&str>) -> StoreResult<()>;
    /// The throttle counter under `key`, if any.
    async fn throttle_counter(&self, key: &str) -> StoreResult<Option<ThrottleCounter>>;
    /// Compare-and-set: replaces the counter under `key` by `next` only if it still is `seen`
    /// (`None`: absent). `false` when another attempt changed it first.
    async fn advance_throttle(
        &self,
        key: &str,
        seen: Option<ThrottleCounter>,
        next: ThrottleCounter,
    ) -> StoreResult<bool>;
    /// Takes one counted attempt back from `key` (it turned out right, or was never checked).
    async fn release_throttle(&self, key: &str) -> StoreResult<()>;
    /// Forgets the counter under `key` (after a right password) and every counter whose last
    /// attempt is older than `before`.
    async fn clear_throttle(&self, key: &str, before: i64) -> StoreResult<()>;
    /// Stores a setup token hash valid until `expires_at`.
    async fn create_setup_token(
        &self,
        token_hash: &str,
        now: i64,
        expires_at: i64,
    ) -> StoreResult<()>;
    /// Whether the token is unused and not expired.
    async fn setup_token_valid(&self, token_hash: &str, now: i64) -> StoreResult<bool>;
    /// Marks the token used; `false` if it was already used, expired or unknown.
    async fn consume_setup_token(&self, token_hash: &str, now: i64) -> StoreResult<bool>;
}

for_both_backends! {
    #[async_trait]
    impl SessionStore for Db {
        async fn create_session(&self, s: &AdminSessionRow) -> StoreResult<()> {
            sqlx::query(
                "INSERT INTO admin_sessions (session_hash, employee_id, csrf_hash, created_at, \
                 last_seen_at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&s.session_hash)
            .bind(&s.employee_id)
            .bind(&s.csrf_hash)
            .bind(s.created_at)
            .bind(s.last_seen_at)
            .execute(self.writer())
            .await?;
            Ok(())
        }

        async fn session(&self, session_hash: &str) -> StoreResult<Option<AdminSessionRow>> {
            Ok(sqlx::query_as::<_, AdminSessionRow>(
                "SELECT session_hash, employee_id, csrf_hash, created_at, last_seen_at \
                 FROM admin_sessions WHERE session_hash = $1",
            )
            .bind(session_hash)
            // The writer, so a session created a moment ago is always seen.
            .fetch_optional(self.writer())
            .await?)
        }

        async fn touch_session(&self, session_hash: &str, now: i64) -> StoreResult<()> {
            sqlx::query("UPDATE admin_sessions SET last_seen_at = $1 WHERE session_hash = $2")
                .bind(now)
                .bind(session_hash)
                .execute(self.writer())
                .await?;
            Ok(())
        }

        async fn delete_session(&self, session_hash: &str) -> StoreResult<()> {
            sqlx::query("DELETE FROM admin_sessions WHERE session_hash = $1")
                .bind(session_hash)
                .execute(self.writer())
                .await?;
            Ok(())
        }

        async fn delete_sessions_of(&self, employee_id: &str, keep: Option<&str>) -> StoreResult<()> {
            sqlx::query("DELETE FROM admin_sessions WHERE employee_id = $1 AND session_hash <> $2")
                .bind(employee_id)
                .bind(keep.unwrap_or(""))
                .execute(self.writer())
                .await?;
            Ok(())
        }

        async fn throttle_counter(&self, key: &str) -> StoreResult<Option<ThrottleCounter>> {
            Ok(sqlx::query_as::<_, ThrottleCounter>(
                "SELECT failures, last_at FROM signin_throttle WHERE throttle_key = $1",
            )
            .bind(key)
            .fetch_optional(self.writer())
            .await?)
        }

        async fn advance_throttle(
            &self,
            key: &str,
            seen: Option<ThrottleCounter>,
            next: ThrottleCounter,
        ) -> StoreResult<bool> {
            let done = match seen {
                None => {
                    sqlx::query(
                        "INSERT INTO signin_throttle (throttle_key, failures, last_at) \
                         VALUES ($1, $2, $3) ON CONFLICT (throttle_key) DO NOTHING",
                    )
                    .bind(key)
                    .bind(next.failures)
                    .bind(next.last_at)
                    .execute(self.writer())
                    .await?
                }
                Some(seen) => {
                    sqlx::query(
                        "UPDATE signin_throttle SET failures = $1, last_at = $2 \
                         WHERE throttle_key = $3 AND failures = $4 AND last_at = $5",
                    )
                    .bind(next.failures)
                    .bind(next.last_at)
                    .bind(key)
                    .bind(seen.failures)
                    .bind(seen.last_at)
                    .execute(self.writer())
                    .await?
                }
            };
            Ok(done.rows_affected() == 1)
        }

        async fn release_throttle(&self, key: &str) -> StoreResult<()> {
            sqlx::query(
                "UPDATE signin_throttle SET failures = failures - 1 \
                 WHERE throttle_key = $1 AND failures > 0",
            )
            .bind(key)
            .execute(self.writer())
            .await?;
            Ok(())
        }

        async fn clear_throttle(&self, key: &str, before: i64) -> StoreResult<()> {
            sqlx::query("DELETE FROM signin_throttle WHERE throttle_key = $1 OR last_at < $2")
                .bind(key)
                .bind(before)
                .execute(self.writer())
                .await?;
            Ok(())
        }

        async fn create_setup_token(
            &self,
            token_hash: &str,
            now: i64,
            expires_at: i64,
        ) -> StoreResult<()> {
            sqlx::query(
                "INSERT INTO setup_tokens (token_hash, created_at, expires_at) VALUES ($1, $2, $3)",
            )
            .bind(token_hash)
            .bind(now)
            .bind(expires_at)
            .execute(self.writer())
            .await?;
            Ok(())
        }

        async fn setup_token_valid(&self, token_hash: &str, now: i64) -> StoreResult<bool> {
            let n: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM setup_tokens WHERE token_hash = $1 AND used_at IS NULL \
                 AND expires_at > $2",
            )
            .bind(token_hash)
            .bind(now)
            .fetch_one(self.writer())
            .await?;
            Ok(n > 0)
        }

        async fn consume_setup_token(&self, token_hash: &str, now: i64) -> StoreResult<bool> {
            let done = sqlx::query(
                "UPDATE setup_tokens SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL \
                 AND expires_at > $1",
            )
            .bind(now)
            .bind(token_hash)
            .execute(self.writer())
            .await?;
            Ok(done.rows_affected() == 1)
        }
    }
}
