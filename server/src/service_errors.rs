//! What the admin services (employees, company data, Office 365, sync parameters, the CRM
//! connection and webhook), the admin role check and the credential checks (sign-in, password
//! change) fail with. They know nothing of HTTP: the HTTP edge (`error.rs`) maps these to statuses, in the one place domain
//! errors become answers. A leaf module (outside `admin`), so the edge can name these without a
//! module cycle.

use std::collections::BTreeMap;

use crate::{
    crm::{ConnectError, CrmError},
    settings::SettingsError,
    store::StoreError,
};

/// Field name → English message, for input that failed validation.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FieldProblems(pub BTreeMap<String, String>);

impl FieldProblems {
    /// Records `message` for `field`.
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0.insert(field.to_owned(), message.into());
    }

    /// `Ok` when nothing is wrong.
    pub fn check(self) -> Result<(), Self> {
        if self.0.is_empty() { Ok(()) } else { Err(self) }
    }

    /// All problems in one line, such as `login_email: is not an e-mail address`.
    pub fn summary(&self, separator: &str) -> String {
        self.0
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect::<Vec<_>>()
            .join(separator)
    }
}

/// Why creating, reading or changing an employee failed.
#[derive(Debug, thiserror::Error)]
pub enum EmployeeError {
    /// The input failed validation.
    #[error("{}", .0.summary("; "))]
    Invalid(FieldProblems),
    /// The search text is unusable (too long).
    #[error("{0}")]
    BadQuery(&'static str),
    /// The signed-in employee may not do this.
    #[error("{0}")]
    Forbidden(&'static str),
    /// No such employee.
    #[error("{0}")]
    NotFound(&'static str),
    /// The change conflicts with the current state.
    #[error("{0}")]
    Conflict(&'static str),
    /// Hashing the password failed unexpectedly.
    #[error("password hashing failed: {0}")]
    Hashing(String),
    /// The database failed (or reported a unique-key conflict).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Stored settings could not be read.
    #[error(transparent)]
    Settings(#[from] SettingsError),
}

impl From<FieldProblems> for EmployeeError {
    fn from(problems: FieldProblems) -> Self {
        Self::Invalid(problems)
    }
}

/// Why saving a setting (company data, Office 365) failed.
#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    /// The input failed validation.
    #[error("{}", .0.summary("; "))]
    Invalid(FieldProblems),
    /// The admin role is needed.
    #[error("this needs the admin role")]
    Forbidden,
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Stored settings could not be read or written.
    #[error(transparent)]
    Settings(#[from] SettingsError),
}

impl From<FieldProblems> for SaveError {
    fn from(problems: FieldProblems) -> Self {
        Self::Invalid(problems)
    }
}

/// The signed-in employee lacks the admin role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("this needs the admin role")]
pub struct NotAdmin;

/// Why a CRM setup step failed: saving or testing the connection, or changing the webhook.
#[derive(Debug, thiserror::Error)]
pub enum CrmSetupError {
    /// The input failed validation.
    #[error("{}", .0.summary("; "))]
    Invalid(FieldProblems),
    /// Another step must come first (such as generating the webhook id before registering it).
    #[error("{0}")]
    NotReady(&'static str),
    /// The connection test reached no usable CRM account; `code` tells the reasons apart
    /// (`crm_unknown_instance`, `crm_bad_credentials`, …).
    #[error("{source}")]
    TestFailed {
        /// The stable code the pages translate.
        code: &'static str,
        /// What the CRM answered.
        source: CrmError,
    },
    /// The CRM failed.
    #[error(transparent)]
    Crm(#[from] CrmError),
    /// No CRM client could be built from the stored connection.
    #[error(transparent)]
    Connect(#[from] ConnectError),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Stored settings could not be read or written.
    #[error(transparent)]
    Settings(#[from] SettingsError),
}

impl From<FieldProblems> for CrmSetupError {
    fn from(problems: FieldProblems) -> Self {
        Self::Invalid(problems)
    }
}

/// Why checking credentials failed: signing in, or changing one's own password.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    /// A wrong e-mail or password, or an account that cannot sign in.
    #[error("wrong e-mail or password")]
    Wrong,
    /// Too many failed attempts under one of the throttle's keys; nothing was checked.
    #[error("too many failed sign-ins; wait and try again")]
    Throttled {
        /// Seconds until the next attempt is allowed.
        retry_after_secs: u64,
    },
    /// The password verifier is saturated; nothing was counted.
    #[error("{0}")]
    Busy(String),
    /// The input failed validation (such as a wrong current password).
    #[error("{}", .0.summary("; "))]
    Invalid(FieldProblems),
    /// Hashing the new password failed unexpectedly.
    #[error("password hashing failed: {0}")]
    Hashing(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<FieldProblems> for CredentialError {
    fn from(problems: FieldProblems) -> Self {
        Self::Invalid(problems)
    }
}
