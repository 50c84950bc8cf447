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

use utoipa_axum::{router::OpenApiRouter, routes};

use crate::state::AppState;

/// The add-in routes owned by this module (`/api/addin/me`).
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(addin::me))
}
