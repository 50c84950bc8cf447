//! The [`AddinUser`] extractor for `/api/addin/*` handlers: validates the bearer token and yields
//! the bound employee, binding the first sign-in by e-mail. Also `GET /api/addin/me`.

use std::sync::Arc;

use axum::{
    extract::{FromRef, FromRequestParts},
    http::{StatusCode, header, request::Parts},
};
use serde::Serialize;
use utoipa::ToSchema;

use super::{
    IdentityCtx,
    entra::{AccessClaims, TokenError},
    office365::Office365Settings,
};
use crate::{
    api_responses::{Forbidden, Unauthorized},
    error::AppError,
    store::Employee,
};

/// What the pane shows when a valid token belongs to nobody we know.
pub const NOT_REGISTERED: &str = "You are not set up in CRM Bridge, or your access was turned off; ask your CRM Bridge admin to add you.";

/// The employee behind a valid add-in access token.
#[derive(Debug, Clone)]
pub struct AddinUser {
    /// The bound, active employee.
    pub employee: Arc<Employee>,
    /// The validated token's claims.
    pub claims: Arc<AccessClaims>,
}

fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

fn token_error(err: TokenError) -> AppError {
    match err {
        TokenError::NotConfigured | TokenError::KeysUnavailable => {
            AppError::Unavailable(err.to_string())
        }
        other => AppError::Unauthorized(other.to_string()),
    }
}

fn not_registered() -> AppError {
    AppError::Coded {
        status: StatusCode::FORBIDDEN,
        code: "not_registered",
        message: NOT_REGISTERED.into(),
    }
}

impl<S: Send + Sync> FromRequestParts<S> for AddinUser
where
    IdentityCtx: FromRef<S>,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        let state = &IdentityCtx::from_ref(state);
        let token = bearer(parts).ok_or_else(|| {
            AppError::Unauthorized("sign-in required: send `Authorization: Bearer <token>`".into())
        })?;
        let claims = match state.entra.cached(token).await {
            Some(claims) => claims,
            None => {
                let base = state.config.server.public_base(state.config.tls.enabled());
                let trust = Office365Settings::load::<IdentityCtx>(state)
                    .await?
                    .trust(&base);
                state
                    .entra
                    .validate(token, &trust)
                    .await
                    .map_err(token_error)?
            }
        };
        let tid = claims.tid.to_lowercase();
        let employee = match state
            .caches
            .employee_by_entra(state.store.as_ref(), &tid, &claims.oid)
            .await?
        {
            Some(employee) => employee,
            None => {
                let email = claims.sign_in_name().unwrap_or_default();
                let bound = state
                    .store
                    .bind_entra_by_email(email, &tid, &claims.oid)
                    .await?;
                match bound {
                    Some(employee) => {
                        tracing::info!(employee = %employee.id, "bound an Outlook sign-in to an employee");
                        Arc::new(employee)
                    }
                    // A concurrent first request may have bound it a moment ago.
                    None => match state.store.employee_by_entra(&tid, &claims.oid).await? {
                        Some(employee) => Arc::new(employee),
                        None => return Err(not_registered()),
                    },
                }
            }
        };
        if !employee.active {
            return Err(not_registered());
        }
        Ok(Self { employee, claims })
    }
}

/// Who the add-in user is.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    /// Employee id.
    pub employee_id: String,
    /// Display name (from the token, else the identifier).
    pub name: String,
    /// Office 365 e-mail.
    pub email: String,
    /// Preferred language, if set.
    pub language: Option<String>,
}

/// Who am I: the employee bound to the caller's token.
#[utoipa::path(
    get,
    path = "/api/addin/me",
    tag = "addin",
    security(("bearer" = [])),
    responses(
        (status = 200, body = Me),
        Unauthorized,
        Forbidden
    )
)]
pub async fn me(user: AddinUser) -> axum::Json<Me> {
    let name = user
        .claims
        .name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| user.employee.identifier.clone());
    axum::Json(Me {
        employee_id: user.employee.id.clone(),
        name,
        email: user.employee.o365_email.clone(),
        language: user.employee.language.clone(),
    })
}
