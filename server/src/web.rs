//! Static files (task pane, icons) from the configured web directory, and the fallback that
//! answers unknown API routes with a JSON 404.

use axum::{
    extract::{Request, State},
    http::{Method, StatusCode},
    response::{IntoResponse, Response},
};
use tower::ServiceExt;
use tower_http::services::ServeDir;

use crate::{error::error_response, state::AppState};

/// Fallback: files under the web directory for GET/HEAD outside `/api/`, else JSON 404.
pub async fn fallback(State(state): State<AppState>, request: Request) -> Response {
    let path = request.uri().path();
    let is_read = matches!(*request.method(), Method::GET | Method::HEAD);
    if !is_read || path.starts_with("/api/") || path == "/api" {
        return error_response(StatusCode::NOT_FOUND, "no such route", None);
    }
    let files = ServeDir::new(&state.config.server.web_dir).precompressed_gzip();
    match files.oneshot(request).await {
        Ok(response) => response.into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "cannot read a static file");
            error_response(StatusCode::NOT_FOUND, "no such file", None)
        }
    }
}
