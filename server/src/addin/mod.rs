//! What the Outlook add-in needs from the server besides the item and activity APIs: the
//! manifest rendered for this server (`manifest`) and the task pane's sign-in configuration
//! (`config`).

pub mod config;
pub mod manifest;

use axum::{Router, routing::get};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::state::AppState;

/// JSON routes: `GET /api/public/addin-config`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(config::get_config))
}

/// Non-JSON routes: `GET /manifest.xml`.
pub fn xml_router() -> Router<AppState> {
    Router::new().route("/manifest.xml", get(manifest::serve))
}
