//! The one-time setup link for the first admin: printed at start while no active admin exists,
//! stored hashed, single use, valid 24 hours. `GET` shows a tiny form, `POST` creates the admin.

use axum::{
    Form,
    extract::{Path, State},
    http::StatusCode,
    response::{Html, IntoResponse, Response},
};
use serde::Deserialize;

use crate::{
    identity::{
        password,
        session::{hash_token, random_token},
    },
    state::AppState,
    store::{NewAudit, NewEmployee, now_ms},
};

/// How long a setup link is valid.
pub const VALID_MS: i64 = 24 * 3600 * 1000;

/// Creates a setup link when no active admin exists; returns its URL (to print once).
pub async fn issue_setup_link_if_needed(state: &AppState) -> anyhow::Result<Option<String>> {
    if state.store.count_active_admins().await? > 0 {
        return Ok(None);
    }
    let token = random_token();
    let now = now_ms();
    state
        .store
        .create_setup_token(&hash_token(&token), now, now + VALID_MS)
        .await?;
    let base = state.config.server.public_base(state.config.tls.enabled());
    Ok(Some(format!("{base}/admin/setup/{token}")))
}

fn page(status: StatusCode, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\">\
         <title>CRM Bridge setup</title></head><body><main>\
         <h1>CRM Bridge setup</h1>{body}</main></body></html>"
    );
    (
        status,
        [
            ("cache-control", "no-store"),
            ("referrer-policy", "no-referrer"),
        ],
        Html(html),
    )
        .into_response()
}

fn gone() -> Response {
    page(
        StatusCode::NOT_FOUND,
        "<p>This setup link is invalid, expired or already used. Use \
         <code>crm-bridge admin create --email E</code> or restart the server for a new link.</p>",
    )
}

async fn usable(state: &AppState, token: &str) -> Result<bool, Response> {
    let internal = |e: crate::store::StoreError| {
        tracing::error!(error = %e, "setup link check failed");
        page(StatusCode::INTERNAL_SERVER_ERROR, "<p>Internal error.</p>")
    };
    if token.len() > 100 {
        return Ok(false);
    }
    let valid = state
        .store
        .setup_token_valid(&hash_token(token), now_ms())
        .await
        .map_err(internal)?;
    let admins = state.store.count_active_admins().await.map_err(internal)?;
    Ok(valid && admins == 0)
}

const FORM: &str = "<p>Create the first admin account.</p><form method=\"post\">\
    <p><label>E-mail <input name=\"email\" type=\"email\" required autocomplete=\"username\"></label></p>\
    <p><label>Password (at least 12 characters) <input name=\"password\" type=\"password\" \
    required minlength=\"12\" autocomplete=\"new-password\"></label></p>\
    <p><button type=\"submit\">Create admin</button></p></form>";

/// `GET /admin/setup/{token}`: the form, or 404 when the link cannot be used.
pub async fn form(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    match usable(&state, &token).await {
        Ok(true) => page(StatusCode::OK, FORM),
        Ok(false) => gone(),
        Err(response) => response,
    }
}

/// The setup form.
#[derive(Deserialize)]
pub struct SetupForm {
    /// Sign-in e-mail.
    pub email: String,
    /// Password.
    pub password: String,
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `POST /admin/setup/{token}`: creates the first admin and uses up the link.
pub async fn create_admin(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Form(form): Form<SetupForm>,
) -> Response {
    match usable(&state, &token).await {
        Ok(true) => {}
        Ok(false) => return gone(),
        Err(response) => return response,
    }
    let email = form.email.trim().to_lowercase();
    if !email.contains('@') || email.len() > 254 {
        return page(
            StatusCode::UNPROCESSABLE_ENTITY,
            &format!("<p>That is not an e-mail address.</p>{FORM}"),
        );
    }
    let typed = form.password;
    let hash = match tokio::task::spawn_blocking(move || password::hash(&typed)).await {
        Ok(Ok(hash)) => hash,
        Ok(Err(e)) => {
            return page(
                StatusCode::UNPROCESSABLE_ENTITY,
                &format!("<p>{}</p>{FORM}", escape(&e.to_string())),
            );
        }
        Err(_) => return page(StatusCode::INTERNAL_SERVER_ERROR, "<p>Internal error.</p>"),
    };
    match state
        .store
        .consume_setup_token(&hash_token(&token), now_ms())
        .await
    {
        Ok(true) => {}
        Ok(false) => return gone(),
        Err(e) => {
            tracing::error!(error = %e, "cannot use the setup token");
            return page(StatusCode::INTERNAL_SERVER_ERROR, "<p>Internal error.</p>");
        }
    }
    let created = state
        .store
        .create_employee(NewEmployee {
            identifier: email.clone(),
            login_email: email.clone(),
            password_hash: Some(hash),
            admin: true,
            o365_email: email.clone(),
            ..NewEmployee::default()
        })
        .await;
    let admin = match created {
        Ok(admin) => admin,
        Err(e) => {
            tracing::error!(error = %e, "cannot create the first admin");
            return page(
                StatusCode::CONFLICT,
                "<p>The admin could not be created.</p>",
            );
        }
    };
    let _ = state
        .store
        .add_audit(NewAudit {
            actor_id: None,
            actor: "setup-link".into(),
            action: "employee.create".into(),
            target: format!("employee:{}", admin.id),
            detail: "first admin".into(),
        })
        .await;
    page(
        StatusCode::CREATED,
        &format!(
            "<p>Admin <b>{}</b> created. Sign in to the admin UI.</p>",
            escape(&admin.login_email)
        ),
    )
}
