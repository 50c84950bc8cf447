//! Employees: the people who use the add-in and, with a password, the admin UI.
//! An admin is an employee with the `admin` role.

use std::fmt;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{StoreError, StoreResult, for_both_backends, found, now_ms, on_unique};

/// What an account may do in the admin UI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Full access to the admin UI.
    Admin,
    /// May see and test only their own settings.
    Employee,
}

impl Role {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Employee => "employee",
        }
    }

    fn parse(s: &str) -> StoreResult<Self> {
        match s {
            "admin" => Ok(Role::Admin),
            "employee" => Ok(Role::Employee),
            other => Err(StoreError::Corrupt(format!("unknown role {other:?}"))),
        }
    }
}

/// A stored employee. `Debug` leaves out the password hash and the encrypted CRM key.
#[derive(Clone, PartialEq)]
pub struct Employee {
    /// Our id (UUID).
    pub id: String,
    /// Employee number or e-mail, as the company knows the person.
    pub identifier: String,
    /// E-mail used to sign in to the admin UI (lower case; may be empty).
    pub login_email: String,
    /// argon2id PHC string; `None` until a password is set.
    pub password_hash: Option<String>,
    /// Admin UI role.
    pub role: Role,
    /// The e-mail of the person's CRM account.
    pub crm_user_email: String,
    /// The person's CRM API key, encrypted (see `secrets`).
    pub crm_api_key_enc: Option<String>,
    /// The CRM base URL the key was saved with: the only address it is ever sent to.
    pub crm_key_base_url: Option<String>,
    /// Office 365 e-mail that binds the first Outlook sign-in (lower case).
    pub o365_email: String,
    /// Entra tenant id, once bound.
    pub entra_tid: Option<String>,
    /// Entra object id, once bound.
    pub entra_oid: Option<String>,
    /// The CRM security levels whose records the employee may see; `None` when not known
    /// (no CRM key, or the CRM did not say): not limited.
    pub crm_security_levels: Option<Vec<i64>>,
    /// Deactivated employees can neither use the add-in nor sign in.
    pub active: bool,
    /// Preferred language of the admin UI (`en`, `cs`, …).
    pub language: Option<String>,
    /// First sign-in from Outlook (Unix ms).
    pub first_signin_at: Option<i64>,
    /// Creation time (Unix ms).
    pub created_at: i64,
    /// Last change (Unix ms).
    pub updated_at: i64,
}

impl fmt::Debug for Employee {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Employee")
            .field("id", &self.id)
            .field("login_email", &self.login_email)
            .field("role", &self.role)
            .field("active", &self.active)
            .finish_non_exhaustive()
    }
}

/// Fields of a new employee.
#[derive(Clone, Default)]
pub struct NewEmployee {
    /// Employee number or e-mail.
    pub identifier: String,
    /// Sign-in e-mail for the admin UI.
    pub login_email: String,
    /// argon2id hash, if the account may sign in to the admin UI.
    pub password_hash: Option<String>,
    /// `true` for an admin.
    pub admin: bool,
    /// The e-mail of the person's CRM account.
    pub crm_user_email: String,
    /// Encrypted CRM API key.
    pub crm_api_key_enc: Option<String>,
    /// Office 365 e-mail.
    pub o365_email: String,
}

/// Employees and admin accounts.
#[async_trait]
pub trait EmployeeStore {
    /// Creates an employee; [`StoreError::Conflict`] if the login e-mail is taken.
    async fn create_employee(&self, new: NewEmployee) -> StoreResult<Employee>;
    /// The employee with this id.
    async fn employee(&self, id: &str) -> StoreResult<Option<Employee>>;
    /// The employee who signs in with this e-mail (case-insensitive).
    async fn employee_by_login_email(&self, email: &str) -> StoreResult<Option<Employee>>;
    /// All employees, by identifier.
    async fn list_employees(&self) -> StoreResult<Vec<Employee>>;
    /// How many active admins exist.
    async fn count_active_admins(&self) -> StoreResult<i64>;
    /// Replaces an employee's password hash.
    async fn set_password_hash(&self, id: &str, hash: &str) -> StoreResult<()>;
    /// Replaces the CRM security levels the employee may see (`None`: not limited).
    async fn set_crm_security_levels(&self, id: &str, levels: Option<&[i64]>) -> StoreResult<()>;
}

#[derive(sqlx::FromRow)]
pub(super) struct EmployeeRow {
    employee_id: String,
    identifier: String,
    login_email: String,
    password_hash: Option<String>,
    role: String,
    crm_user_email: String,
    crm_api_key_enc: Option<String>,
    crm_key_base_url: Option<String>,
    o365_email: String,
    entra_tid: Option<String>,
    entra_oid: Option<String>,
    crm_security_levels: Option<String>,
    active: bool,
    language: Option<String>,
    first_signin_at: Option<i64>,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<EmployeeRow> for Employee {
    type Error = StoreError;

    fn try_from(r: EmployeeRow) -> StoreResult<Self> {
        Ok(Employee {
            id: r.employee_id,
            identifier: r.identifier,
            login_email: r.login_email,
            password_hash: r.password_hash,
            role: Role::parse(&r.role)?,
            crm_user_email: r.crm_user_email,
            crm_api_key_enc: r.crm_api_key_enc,
            crm_key_base_url: r.crm_key_base_url,
            o365_email: r.o365_email,
            entra_tid: r.entra_tid,
            entra_oid: r.entra_oid,
            crm_security_levels: r
                .crm_security_levels
                .as_deref()
                .map(serde_json::from_str)
                .transpose()
                .map_err(|e| StoreError::Corrupt(format!("security levels: {e}")))?,
            active: r.active,
            language: r.language,
            first_signin_at: r.first_signin_at,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

/// Maps a unique violation on `employees` to a conflict naming the e-mail that is taken.
pub(super) fn employee_conflict(err: sqlx::Error) -> StoreError {
    let o365 = match &err {
        sqlx::Error::Database(db) => {
            db.constraint().is_some_and(|c| c.contains("o365"))
                || db.message().contains("o365_email")
        }
        _ => false,
    };
    if o365 {
        on_unique(err, "another active employee has this Office 365 e-mail")
    } else {
        on_unique(err, "an employee with this login e-mail already exists")
    }
}

fn rows_to_employees(rows: Vec<EmployeeRow>) -> StoreResult<Vec<Employee>> {
    rows.into_iter().map(Employee::try_from).collect()
}

pub(super) const SELECT_EMPLOYEE: &str = "SELECT employee_id, identifier, login_email, password_hash, role, \
    crm_user_email, crm_api_key_enc, crm_key_base_url, o365_email, entra_tid, entra_oid, crm_security_levels, \
    active, language, first_signin_at, created_at, updated_at FROM employees";

for_both_backends! {
    #[async_trait]
    impl EmployeeStore for Db {
        async fn create_employee(&self, new: NewEmployee) -> StoreResult<Employee> {
            let now = now_ms();
            let id = uuid::Uuid::now_v7().to_string();
            let role = if new.admin { Role::Admin } else { Role::Employee };
            sqlx::query(
                "INSERT INTO employees (employee_id, identifier, login_email, password_hash, \
                 role, crm_user_email, crm_api_key_enc, o365_email, active, created_at, \
                 updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, TRUE, $9, $9)",
            )
            .bind(&id)
            .bind(&new.identifier)
            .bind(new.login_email.trim().to_lowercase())
            .bind(&new.password_hash)
            .bind(role.as_str())
            .bind(new.crm_user_email.trim().to_lowercase())
            .bind(&new.crm_api_key_enc)
            .bind(new.o365_email.trim().to_lowercase())
            .bind(now)
            .execute(self.writer())
            .await
            .map_err(employee_conflict)?;
            self.employee(&id).await?.ok_or(StoreError::NotFound)
        }

        async fn employee(&self, id: &str) -> StoreResult<Option<Employee>> {
            let sql = sqlx::AssertSqlSafe(format!("{SELECT_EMPLOYEE} WHERE employee_id = $1"));
            sqlx::query_as::<_, EmployeeRow>(sql)
                .bind(id)
                .fetch_optional(self.reader())
                .await?
                .map(Employee::try_from)
                .transpose()
        }

        async fn employee_by_login_email(&self, email: &str) -> StoreResult<Option<Employee>> {
            let sql = sqlx::AssertSqlSafe(format!(
                "{SELECT_EMPLOYEE} WHERE login_email = $1 AND login_email <> ''"
            ));
            sqlx::query_as::<_, EmployeeRow>(sql)
                .bind(email.trim().to_lowercase())
                .fetch_optional(self.reader())
                .await?
                .map(Employee::try_from)
                .transpose()
        }

        async fn list_employees(&self) -> StoreResult<Vec<Employee>> {
            let sql = sqlx::AssertSqlSafe(format!("{SELECT_EMPLOYEE} ORDER BY identifier, login_email"));
            rows_to_employees(sqlx::query_as::<_, EmployeeRow>(sql).fetch_all(self.reader()).await?)
        }

        async fn count_active_admins(&self) -> StoreResult<i64> {
            Ok(sqlx::query_scalar(
                "SELECT COUNT(*) FROM employees WHERE role = 'admin' AND active = TRUE",
            )
            .fetch_one(self.reader())
            .await?)
        }

        async fn set_password_hash(&self, id: &str, hash: &str) -> StoreResult<()> {
            let done = sqlx::query(
                "UPDATE employees SET password_hash = $1, updated_at = $2 WHERE employee_id = $3",
            )
            .bind(hash)
            .bind(now_ms())
            .bind(id)
            .execute(self.writer())
            .await?;
            found(done.rows_affected())
        }

        async fn set_crm_security_levels(&self, id: &str, levels: Option<&[i64]>) -> StoreResult<()> {
            let levels = levels
                .map(serde_json::to_string)
                .transpose()
                .map_err(|e| StoreError::Corrupt(format!("security levels: {e}")))?;
            let done = sqlx::query(
                "UPDATE employees SET crm_security_levels = $1 WHERE employee_id = $2",
            )
            .bind(levels)
            .bind(id)
            .execute(self.writer())
            .await?;
            found(done.rows_affected())
        }
    }
}
