//! The admin JSON API (`/api/admin/*`: session, password, employees, every setting, audit log)
//! and the one-time first-admin setup page (`/admin/setup/{token}`). Each setting has one domain
//! module (validation + save) that both its JSON handlers and its HTML page call. Sessions and
//! CSRF live in `identity::session`, persistence in `store`.

/// Marks a string literal as a catalog key, so the catalog test sees it.
macro_rules! tkey {
    ($key:literal) => {
        $key
    };
}

pub mod audit;
pub mod company;
pub mod crm_connection;
pub mod employees;
pub mod office365;
pub mod pages;
pub mod session;
pub mod setup;
pub mod sync;
pub mod webhook;

use std::collections::BTreeMap;

use axum::{Router, routing::get};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    i18n::{Lang, Tr},
    identity::session::AdminSession,
    service_errors::FieldProblems,
    state::AppState,
    store::StoreResult,
};

/// What is wrong with a settings form: field name → catalog key of the message. The JSON API
/// answers it as a 422 in English, the HTML pages show it next to each field in the admin's
/// language.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Problems(pub BTreeMap<&'static str, &'static str>);

impl Problems {
    /// Records `message_key` for `field` (the first problem of a field wins).
    pub fn add(&mut self, field: &'static str, message_key: &'static str) {
        self.0.entry(field).or_insert(message_key);
    }

    /// Whether nothing is wrong.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Field → message in `tr`'s language.
    pub fn texts(&self, tr: &Tr) -> BTreeMap<String, String> {
        self.0
            .iter()
            .map(|(field, key)| ((*field).to_owned(), tr.t(key)))
            .collect()
    }

    /// `Ok` when nothing is wrong, else the problems with English messages (the JSON API
    /// answers them as a 422).
    pub fn check(&self) -> Result<(), FieldProblems> {
        self.in_english().check()
    }

    /// The problems with English messages, as the admin services report them.
    pub fn in_english(&self) -> FieldProblems {
        FieldProblems(self.texts(&Tr::new(Lang::En)))
    }
}

/// The JSON endpoints of the admin API.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(session::login, session::logout, session::whoami))
        .routes(routes!(session::change_password))
        .routes(routes!(employees::list, employees::create))
        .routes(routes!(employees::get_one, employees::update))
        .routes(routes!(office365::get_settings, office365::put_settings))
        .routes(routes!(company::get_settings, company::put_settings))
        .routes(routes!(sync::get_settings, sync::put_settings))
        .routes(routes!(
            crm_connection::get_settings,
            crm_connection::put_settings
        ))
        .routes(routes!(crm_connection::test))
        .routes(routes!(webhook::status))
        .routes(routes!(webhook::generate))
        .routes(routes!(
            webhook::register_handler,
            webhook::unregister_handler
        ))
        .routes(routes!(webhook::new_token))
        .routes(routes!(audit::list))
}

/// The HTML pages owned by this module (the first-admin setup link).
pub fn html_router() -> Router<AppState> {
    Router::new()
        .route(
            "/admin/setup/{token}",
            get(setup::form).post(setup::create_admin),
        )
        .merge(pages::router())
}

/// Writes one audit row for a change made by `by`.
pub(crate) async fn audit(
    state: &AppState,
    by: &AdminSession,
    action: &str,
    target: &str,
    detail: impl Into<String>,
) -> StoreResult<()> {
    by.audit(state.store.as_ref(), action, target, detail).await
}
