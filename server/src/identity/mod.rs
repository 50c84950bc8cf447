//! Who is calling: Entra ID access tokens for the add-in (`entra`, `addin`), admin passwords
//! (`password`), admin sessions with CSRF protection and sign-in (`session`), sign-in
//! throttling (`throttle`), and the
//! Office 365 settings that decide which tokens are trusted (`office365`). This module is the
//! only code that knows JWTs.

pub mod addin;
pub mod entra;
pub mod office365;
pub mod password;
pub mod session;
pub mod throttle;

use std::sync::Arc;

use axum::extract::FromRef;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{caches::Caches, config::Config, secrets::MasterKey, store::Store};

/// What the identity services need (a substate of the server's state): who is calling is
/// decided from the configuration, the store, the master key, the token validator, the password
/// verifier and the in-memory caches.
#[derive(Clone)]
pub struct IdentityCtx {
    /// Effective configuration.
    pub config: Arc<Config>,
    /// Persistence.
    pub store: Arc<dyn Store>,
    /// The key that seals secrets and device cookies.
    pub master_key: Arc<MasterKey>,
    /// Validator of add-in access tokens.
    pub entra: Arc<entra::EntraValidator>,
    /// Password checks, a bounded number at a time.
    pub passwords: Arc<password::Verifier>,
    /// Employees and settings as the add-in's hot path reads them.
    pub caches: Arc<Caches>,
}

/// The add-in routes owned by this module (`/api/addin/me`).
pub fn router<S>() -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    IdentityCtx: FromRef<S>,
{
    OpenApiRouter::new().routes(routes!(addin::me))
}
