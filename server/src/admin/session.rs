//! Sign-in, sign-out, "who am I" and password change for the admin UI.

use axum::{
    extract::State,
    http::{HeaderMap, header},
    response::{IntoResponse, Response},
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{
    api_responses::{Forbidden, Invalid, TooManyRequests, Unauthorized, Unavailable},
    error::{AppError, AppJson, no_store},
    identity::{
        password,
        session::{self, AdminSession},
        throttle::{Key, Rule},
    },
    service_errors::{CredentialError, FieldProblems},
    state::AppState,
    store::Role,
};

/// Credentials.
#[derive(Deserialize, ToSchema)]
pub struct LoginRequest {
    /// Sign-in e-mail.
    pub email: String,
    /// Password.
    pub password: String,
}

/// The signed-in account and its CSRF token.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionInfo {
    /// Employee id.
    pub employee_id: String,
    /// Sign-in e-mail.
    pub email: String,
    /// Role.
    pub role: Role,
    /// Send as `X-CSRF-Token` (or form field `csrf_token`) on every state-changing request.
    pub csrf_token: String,
}

/// Sign in: sets the session cookie and returns the CSRF token.
#[utoipa::path(
    post,
    path = "/api/admin/session",
    tag = "admin",
    request_body = LoginRequest,
    responses(
        (status = 200, body = SessionInfo),
        Unauthorized,
        TooManyRequests,
        Unavailable
    )
)]
pub async fn login(
    State(state): State<AppState>,
    extensions: axum::http::Extensions,
    headers: HeaderMap,
    AppJson(body): AppJson<LoginRequest>,
) -> Result<Response, AppError> {
    let ip = session::client_ip(&state.identity(), &extensions, &headers);
    let new =
        session::sign_in(&state.identity(), &body.email, &body.password, ip, &headers).await?;
    let info = SessionInfo {
        employee_id: new.employee.id.clone(),
        email: new.employee.login_email.clone(),
        role: new.employee.role,
        csrf_token: new.csrf_token.clone(),
    };
    let mut response = AppJson(info).into_response();
    for cookie in new.cookies(&state.identity()) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(no_store(response))
}

/// Sign out: ends the session and clears the cookie.
#[utoipa::path(
    delete,
    path = "/api/admin/session",
    tag = "admin",
    responses((status = 204), Unauthorized, Forbidden)
)]
pub async fn logout(
    State(state): State<AppState>,
    session: AdminSession,
) -> Result<Response, AppError> {
    state.store.delete_session(session.session_hash()).await?;
    let mut response = axum::http::StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        session::clearing_cookie(&state.identity()),
    );
    Ok(response)
}

/// Who am I, with the CSRF token (for pages loaded after sign-in).
#[utoipa::path(
    get,
    path = "/api/admin/session",
    tag = "admin",
    responses((status = 200, body = SessionInfo), Unauthorized)
)]
pub async fn whoami(session: AdminSession) -> Response {
    no_store(
        AppJson(SessionInfo {
            employee_id: session.employee.id.clone(),
            email: session.employee.login_email.clone(),
            role: session.employee.role,
            csrf_token: session.csrf_token,
        })
        .into_response(),
    )
}

/// A password change.
#[derive(Deserialize, ToSchema)]
pub struct PasswordChange {
    /// The current password.
    pub current_password: String,
    /// The new password (at least 12 characters).
    pub new_password: String,
}

/// Change one's own password; other sessions of the account end. Wrong current passwords are
/// throttled like sign-ins (per account, growing delay).
#[utoipa::path(
    post,
    path = "/api/admin/password",
    tag = "admin",
    request_body = PasswordChange,
    responses(
        (status = 204),
        Unauthorized,
        Forbidden,
        Invalid,
        TooManyRequests,
        Unavailable
    )
)]
pub async fn change_password(
    State(state): State<AppState>,
    session: AdminSession,
    AppJson(body): AppJson<PasswordChange>,
) -> Result<axum::http::StatusCode, AppError> {
    set_own_password(&state, &session, body).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

/// Replaces the signed-in employee's password after checking the current one (throttled);
/// their other sessions end. Shared by the JSON API and the Account page.
pub async fn set_own_password(
    state: &AppState,
    session: &AdminSession,
    body: PasswordChange,
) -> Result<(), CredentialError> {
    let keys = [Key {
        name: format!("password:{}", session.employee.id),
        rule: Rule::Backoff {
            free: i64::from(state.config.admin.max_failed_logins),
        },
    }];
    let current = session.employee.password_hash.as_deref();
    let ok =
        session::throttled_check(&state.identity(), &keys, &body.current_password, current).await?;
    if !ok {
        let mut problems = FieldProblems::default();
        problems.add("current_password", "is wrong");
        return Err(problems.into());
    }
    let new_password = body.new_password;
    let hash = tokio::task::spawn_blocking(move || password::hash(&new_password))
        .await
        .map_err(|e| CredentialError::Hashing(e.to_string()))?
        .map_err(|e| {
            let mut problems = FieldProblems::default();
            problems.add("new_password", e.to_string());
            CredentialError::Invalid(problems)
        })?;
    state
        .store
        .set_password_hash(&session.employee.id, &hash)
        .await?;
    state
        .store
        .delete_sessions_of(&session.employee.id, Some(session.session_hash()))
        .await?;
    super::audit(
        state,
        session,
        "password.change",
        &format!("employee:{}", session.employee.id),
        "",
    )
    .await?;
    Ok(())
}
