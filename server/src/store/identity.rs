//! Employee changes made by the identity code: admin edits, the Entra (`tid`, `oid`) binding, and
//! the one-transaction rewrite of every encrypted secret when the master key rotates.

use async_trait::async_trait;

use super::{
    AuditStore, Employee, NewAudit, Role, StoreError, StoreResult,
    employees::{EmployeeRow, SELECT_EMPLOYEE, employee_conflict},
    for_both_backends, found, now_ms, on_unique,
};

/// Changes to an employee; `None` leaves a field as it is.
#[derive(Clone, Default)]
pub struct EmployeeChanges {
    /// Employee number or e-mail.
    pub identifier: Option<String>,
    /// Sign-in e-mail (stored lower case).
    pub login_email: Option<String>,
    /// CRM account e-mail (stored lower case).
    pub crm_user_email: Option<String>,
    /// Office 365 e-mail (stored lower case); the Entra binding is unaffected.
    pub o365_email: Option<String>,
    /// Admin UI role.
    pub role: Option<Role>,
    /// Whether the employee may use the add-in and sign in.
    pub active: Option<bool>,
    /// Preferred language.
    pub language: Option<String>,
}

/// Identity-related employee writes.
#[async_trait]
pub trait IdentityStore {
    /// Applies `changes`; [`StoreError::NotFound`] if no such employee.
    async fn update_employee(&self, id: &str, changes: EmployeeChanges) -> StoreResult<Employee>;
    /// Replaces (or with `None` removes) the encrypted CRM API key and the base URL it is for.
    async fn set_crm_api_key_enc(
        &self,
        id: &str,
        enc: Option<&str>,
        base_url: Option<&str>,
    ) -> StoreResult<()>;
    /// The employee bound to this Entra identity.
    async fn employee_by_entra(&self, tid: &str, oid: &str) -> StoreResult<Option<Employee>>;
    /// Binds the employee whose Office 365 e-mail is `email` (case-insensitive) to (`tid`,
    /// `oid`), only when exactly one active employee has that e-mail and it is not bound yet;
    /// `None` otherwise. An attempt to bind an employee already bound to another identity is
    /// refused and written to the audit log.
    async fn bind_entra_by_email(
        &self,
        email: &str,
        tid: &str,
        oid: &str,
    ) -> StoreResult<Option<Employee>>;
    /// Replaces encrypted values in one transaction: (employee id, CRM key) pairs and
    /// (settings key, JSON value) pairs.
    async fn rewrite_secrets(
        &self,
        employees: &[(String, String)],
        settings: &[(String, String)],
    ) -> StoreResult<()>;
    /// Every setting as (key, JSON value).
    async fn all_settings(&self) -> StoreResult<Vec<(String, String)>>;
}

for_both_backends! {
    #[async_trait]
    impl IdentityStore for Db {
        async fn update_employee(&self, id: &str, c: EmployeeChanges) -> StoreResult<Employee> {
            let lower = |v: &Option<String>| v.as_ref().map(|s| s.trim().to_lowercase());
            let done = sqlx::query(
                "UPDATE employees SET identifier = COALESCE($1, identifier), \
                 login_email = COALESCE($2, login_email), \
                 crm_user_email = COALESCE($3, crm_user_email), \
                 o365_email = COALESCE($4, o365_email), role = COALESCE($5, role), \
                 active = COALESCE($6, active), language = COALESCE($7, language), \
                 updated_at = $8 WHERE employee_id = $9",
            )
            .bind(c.identifier.as_ref().map(|s| s.trim().to_owned()))
            .bind(lower(&c.login_email))
            .bind(lower(&c.crm_user_email))
            .bind(lower(&c.o365_email))
            .bind(c.role.map(Role::as_str))
            .bind(c.active)
            .bind(&c.language)
            .bind(now_ms())
            .bind(id)
            .execute(self.writer())
            .await
            .map_err(employee_conflict)?;
            found(done.rows_affected())?;
            by_id(self, id).await?.ok_or(StoreError::NotFound)
        }

        async fn set_crm_api_key_enc(
            &self,
            id: &str,
            enc: Option<&str>,
            base_url: Option<&str>,
        ) -> StoreResult<()> {
            let done = sqlx::query(
                "UPDATE employees SET crm_api_key_enc = $1, crm_key_base_url = $4, updated_at = $2 \
                 WHERE employee_id = $3",
            )
            .bind(enc)
            .bind(now_ms())
            .bind(id)
            .bind(base_url)
            .execute(self.writer())
            .await?;
            found(done.rows_affected())
        }

        async fn employee_by_entra(&self, tid: &str, oid: &str) -> StoreResult<Option<Employee>> {
            let sql = sqlx::AssertSqlSafe(format!(
                "{SELECT_EMPLOYEE} WHERE entra_tid = $1 AND entra_oid = $2"
            ));
            sqlx::query_as::<_, EmployeeRow>(sql)
                .bind(tid)
                .bind(oid)
                .fetch_optional(self.writer())
                .await?
                .map(Employee::try_from)
                .transpose()
        }

        async fn bind_entra_by_email(
            &self,
            email: &str,
            tid: &str,
            oid: &str,
        ) -> StoreResult<Option<Employee>> {
            let email = email.trim().to_lowercase();
            if email.is_empty() {
                return Ok(None);
            }
            let sql = sqlx::AssertSqlSafe(format!(
                "{SELECT_EMPLOYEE} WHERE o365_email = $1 AND active = TRUE LIMIT 2"
            ));
            let mut matches = sqlx::query_as::<_, EmployeeRow>(sql)
                .bind(&email)
                .fetch_all(self.writer())
                .await?;
            // Only an unambiguous e-mail binds (the unique index makes two matches rare).
            let found = match (matches.pop(), matches.is_empty()) {
                (Some(row), true) => Employee::try_from(row)?,
                _ => return Ok(None),
            };
            if let Some(bound) = &found.entra_oid
                && (bound != oid || found.entra_tid.as_deref() != Some(tid))
            {
                self.add_audit(NewAudit {
                    actor_id: None,
                    actor: format!("outlook:{oid}"),
                    action: "employee.rebind_refused".into(),
                    target: format!("employee:{}", found.id),
                    detail: "an Outlook sign-in with this Office 365 e-mail belongs to another \
                             Microsoft account than the one bound"
                        .into(),
                })
                .await?;
                return Ok(None);
            }
            let now = now_ms();
            // The `entra_oid IS NULL` guard makes concurrent first sign-ins bind only once.
            let done = sqlx::query(
                "UPDATE employees SET entra_tid = $1, entra_oid = $2, first_signin_at = $3, \
                 updated_at = $3 WHERE employee_id = $4 AND entra_oid IS NULL",
            )
            .bind(tid)
            .bind(oid)
            .bind(now)
            .bind(&found.id)
            .execute(self.writer())
            .await
            .map_err(|e| on_unique(e, "this Microsoft account is already bound"))?;
            if done.rows_affected() == 0 {
                return self.employee_by_entra(tid, oid).await;
            }
            by_id(self, &found.id).await
        }

        async fn rewrite_secrets(
            &self,
            employees: &[(String, String)],
            settings: &[(String, String)],
        ) -> StoreResult<()> {
            let mut tx = self.writer().begin().await?;
            for (id, enc) in employees {
                sqlx::query("UPDATE employees SET crm_api_key_enc = $1 WHERE employee_id = $2")
                    .bind(enc)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
            for (key, value) in settings {
                sqlx::query("UPDATE settings SET value = $1, updated_at = $2 WHERE key = $3")
                    .bind(value)
                    .bind(now_ms())
                    .bind(key)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(())
        }

        async fn all_settings(&self) -> StoreResult<Vec<(String, String)>> {
            Ok(sqlx::query_as::<_, (String, String)>("SELECT key, value FROM settings ORDER BY key")
                .fetch_all(self.writer())
                .await?)
        }
    }

    async fn by_id(db: &Db, id: &str) -> StoreResult<Option<Employee>> {
        let sql = sqlx::AssertSqlSafe(format!("{SELECT_EMPLOYEE} WHERE employee_id = $1"));
        sqlx::query_as::<_, EmployeeRow>(sql)
            .bind(id)
            .fetch_optional(db.writer())
            .await?
            .map(Employee::try_from)
            .transpose()
    }
}
