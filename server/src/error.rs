//! The one error type handlers return, and the JSON error shape `{"error":{"code","message"}}`
//! that every 4xx/5xx response carries, including those made by axum and tower layers. Domain
//! modules return their own error types; the `From` impls here are the one place they become
//! HTTP statuses.

use std::{collections::BTreeMap, sync::Arc};

use axum::{
    Json,
    body::Body,
    extract::{FromRequest, Request, rejection::JsonRejection},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{
    crm::{ConnectError, CrmError},
    jobs::WorkError,
    service_errors::{
        CredentialError, CrmSetupError, EmployeeError, FieldProblems, NotAdmin, SaveError,
    },
    settings::SettingsError,
    store::StoreError,
};

/// Errors a handler can answer with; each variant documents its status code.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// 400: the request could not be understood (malformed JSON, bad query).
    #[error("{0}")]
    BadRequest(String),
    /// 401: missing, malformed, expired or wrongly signed credentials.
    #[error("{0}")]
    Unauthorized(String),
    /// 403: authenticated, but not allowed.
    #[error("{0}")]
    Forbidden(String),
    /// 404: no such resource.
    #[error("{0}")]
    NotFound(String),
    /// 409: conflicts with the current state.
    #[error("{0}")]
    Conflict(String),
    /// 422: parsed, but failed validation; `fields` maps a field to its message.
    #[error("{message}")]
    Invalid {
        /// Summary for people.
        message: String,
        /// Field name → what is wrong with it.
        fields: BTreeMap<String, String>,
    },
    /// 429: too many attempts; retry later.
    #[error("{0}")]
    TooManyRequests(String),
    /// 429 (throttled) or 503 (busy) with `Retry-After`: come back after `retry_after_secs`.
    #[error("{message}")]
    RetryLater {
        /// 429 or 503.
        status: StatusCode,
        /// Readable explanation.
        message: String,
        /// Seconds to wait, sent as `Retry-After`.
        retry_after_secs: u64,
    },
    /// 502: the CRM or Microsoft failed; details are logged, a summary is returned.
    #[error("{0}")]
    Upstream(String),
    /// 503: a dependency (database, CRM connection) is not available or not configured.
    #[error("{0}")]
    Unavailable(String),
    /// Any 4xx with its own stable code (such as 403 `csrf` or 403 `not_registered`).
    #[error("{message}")]
    Coded {
        /// The HTTP status.
        status: StatusCode,
        /// The stable code in the error body.
        code: &'static str,
        /// Readable explanation.
        message: String,
    },
    /// 500: anything unexpected; the chain is logged, never returned.
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

impl AppError {
    /// A 422 for one field.
    pub fn invalid_field(field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        Self::Invalid {
            message: format!("{field}: {message}"),
            fields: BTreeMap::from([(field.to_owned(), message)]),
        }
    }

    /// The HTTP status this error answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Upstream(_) => StatusCode::BAD_GATEWAY,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Coded { status, .. } | Self::RetryLater { status, .. } => *status,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The one place where domain errors become HTTP answers.

impl From<SettingsError> for AppError {
    fn from(err: SettingsError) -> Self {
        match err {
            SettingsError::Store(e) => e.into(),
            other => Self::Internal(anyhow::Error::new(other)),
        }
    }
}

impl From<FieldProblems> for AppError {
    fn from(problems: FieldProblems) -> Self {
        Self::Invalid {
            message: problems.summary("; "),
            fields: problems.0,
        }
    }
}

impl From<EmployeeError> for AppError {
    fn from(err: EmployeeError) -> Self {
        match err {
            EmployeeError::Invalid(problems) => problems.into(),
            EmployeeError::BadQuery(m) => Self::BadRequest(m.into()),
            EmployeeError::Forbidden(m) => Self::Forbidden(m.into()),
            EmployeeError::NotFound(m) => Self::NotFound(m.into()),
            EmployeeError::Conflict(m) => Self::Conflict(m.into()),
            EmployeeError::Store(e) => e.into(),
            EmployeeError::Settings(e) => e.into(),
            EmployeeError::Hashing(_) => Self::Internal(anyhow::Error::new(err)),
        }
    }
}

impl From<SaveError> for AppError {
    fn from(err: SaveError) -> Self {
        match err {
            SaveError::Invalid(problems) => problems.into(),
            SaveError::Forbidden => Self::Forbidden(err.to_string()),
            SaveError::Store(e) => e.into(),
            SaveError::Settings(e) => e.into(),
        }
    }
}

impl From<CredentialError> for AppError {
    fn from(err: CredentialError) -> Self {
        match err {
            CredentialError::Wrong => Self::Unauthorized(err.to_string()),
            CredentialError::Throttled { retry_after_secs } => Self::RetryLater {
                status: StatusCode::TOO_MANY_REQUESTS,
                message: err.to_string(),
                retry_after_secs,
            },
            CredentialError::Busy(message) => Self::RetryLater {
                status: StatusCode::SERVICE_UNAVAILABLE,
                message,
                retry_after_secs: 1,
            },
            CredentialError::Invalid(problems) => problems.into(),
            CredentialError::Store(e) => e.into(),
            CredentialError::Hashing(_) => Self::Internal(anyhow::Error::new(err)),
        }
    }
}

impl From<NotAdmin> for AppError {
    fn from(err: NotAdmin) -> Self {
        Self::Forbidden(err.to_string())
    }
}

impl From<CrmSetupError> for AppError {
    fn from(err: CrmSetupError) -> Self {
        match err {
            CrmSetupError::Invalid(problems) => problems.into(),
            CrmSetupError::NotReady(m) => Self::Conflict(m.into()),
            CrmSetupError::TestFailed { code, source } => Self::Coded {
                status: StatusCode::BAD_GATEWAY,
                code,
                message: source.to_string(),
            },
            CrmSetupError::Crm(e) => e.into(),
            CrmSetupError::Connect(e) => e.into(),
            CrmSetupError::Store(e) => e.into(),
            CrmSetupError::Settings(e) => e.into(),
        }
    }
}

impl From<CrmError> for AppError {
    fn from(err: CrmError) -> Self {
        let message = err.describe();
        match err {
            CrmError::NotFound => Self::NotFound(message),
            CrmError::RateLimited { .. } => Self::TooManyRequests(message),
            CrmError::Invalid(m) => Self::invalid_field("crm", m),
            _ => Self::Upstream(message),
        }
    }
}

impl From<WorkError> for AppError {
    fn from(err: WorkError) -> Self {
        match err {
            WorkError::Crm(e) => e.into(),
            WorkError::Connect(e) => e.into(),
            WorkError::Store(e) => e.into(),
            WorkError::Settings(e) => e.into(),
            WorkError::Busy(m) => Self::Conflict(m),
            WorkError::Gone(m) => Self::NotFound(m),
            WorkError::Broken(m) => Self::Internal(anyhow::anyhow!(m)),
        }
    }
}

impl From<ConnectError> for AppError {
    fn from(err: ConnectError) -> Self {
        match err {
            ConnectError::NotConfigured | ConnectError::KeyForOtherAddress => {
                Self::Unavailable(err.to_string())
            }
            ConnectError::NoEmployeeKey | ConnectError::EmployeeKeyForOtherAddress => {
                Self::Conflict(err.to_string())
            }
            ConnectError::BaseUrlNotAllowed => Self::invalid_field("base_url", err.to_string()),
            ConnectError::Invalid(m) => Self::invalid_field("crm", m),
            ConnectError::Settings(e) => e.into(),
            ConnectError::Secret(_) => Self::Internal(anyhow::Error::new(err)),
        }
    }
}

impl From<StoreError> for AppError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound => Self::NotFound("not found".into()),
            StoreError::Conflict(what) => Self::Conflict(what),
            other => Self::Internal(anyhow::Error::new(other)),
        }
    }
}

/// The body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// What went wrong, for programs (`code`) and for people (`message`).
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable code such as `not_found` or `invalid`.
    pub code: String,
    /// Readable explanation.
    pub message: String,
    /// Field name → message, for validation errors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fields: Option<BTreeMap<String, String>>,
}

/// The stable code for a status.
pub fn code_for(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "bad_request",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not_found",
        405 => "method_not_allowed",
        408 => "timeout",
        409 => "conflict",
        413 => "payload_too_large",
        414 => "uri_too_long",
        415 => "unsupported_media_type",
        422 => "invalid",
        429 => "too_many_requests",
        431 => "headers_too_large",
        502 => "upstream_error",
        503 => "unavailable",
        504 => "upstream_timeout",
        _ if status.is_client_error() => "client_error",
        _ => "internal",
    }
}

fn default_message(status: StatusCode) -> &'static str {
    match status.as_u16() {
        404 => "no such route or resource",
        405 => "method not allowed on this route",
        408 => "the request took too long",
        413 => "the request body is too large",
        _ => status.canonical_reason().unwrap_or("error"),
    }
}

/// Builds an error response with the JSON error shape.
pub fn error_response(
    status: StatusCode,
    message: impl Into<String>,
    fields: Option<BTreeMap<String, String>>,
) -> Response {
    let body = ErrorBody {
        error: ErrorDetail {
            code: code_for(status).to_owned(),
            message: message.into(),
            fields,
        },
    };
    (status, Json(body)).into_response()
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        if let Self::Coded { code, message, .. } = &self {
            let body = ErrorBody {
                error: ErrorDetail {
                    code: (*code).to_owned(),
                    message: message.clone(),
                    fields: None,
                },
            };
            return (status, Json(body)).into_response();
        }
        let (message, fields) = match &self {
            Self::Invalid { message, fields } => (message.clone(), Some(fields.clone())),
            Self::Internal(_) => ("internal error".to_owned(), None),
            other => (other.to_string(), None),
        };
        let mut response = error_response(status, message, fields);
        if let Self::RetryLater {
            retry_after_secs, ..
        } = &self
        {
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(retry_after_secs.max(&1).to_owned()),
            );
        }
        // A busy refusal is expected under load and says nothing about a fault.
        if status.is_server_error() && !matches!(self, Self::RetryLater { .. }) {
            // Logged by `log_server_errors`, inside the trace span of the request.
            response.extensions_mut().insert(Arc::new(self));
        }
        response
    }
}

/// Middleware: logs the cause of 5xx responses made from an [`AppError`].
pub async fn log_server_errors(request: Request, next: axum::middleware::Next) -> Response {
    let response = next.run(request).await;
    if let Some(err) = response.extensions().get::<Arc<AppError>>() {
        match err.as_ref() {
            AppError::Internal(e) => tracing::error!(error = format!("{e:#}"), "request failed"),
            other => tracing::warn!(error = %other, "request failed upstream"),
        }
    }
    response
}

/// Middleware: gives error responses made outside our handlers (unknown routes, wrong methods,
/// body limits, timeouts, framework rejections) the JSON error shape. HTML pages are left alone.
pub async fn json_error_shape(request: Request, next: axum::middleware::Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    if content_type.starts_with("application/json") || content_type.starts_with("text/html") {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 2048)
        .await
        .ok()
        .and_then(|b| String::from_utf8(b.to_vec()).ok())
        .filter(|t| !t.trim().is_empty() && content_type.starts_with("text/plain"));
    let message = text.unwrap_or_else(|| default_message(status).to_owned());
    let mut fixed = error_response(status, message, None);
    for (name, value) in parts.headers.iter() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            fixed.headers_mut().insert(name.clone(), value.clone());
        }
    }
    fixed
}

/// `Json` extractor whose rejections use the JSON error shape (400, 413, 415, 422).
#[derive(Debug, Clone, Copy, Default)]
pub struct AppJson<T>(pub T);

impl<T, S> FromRequest<S> for AppJson<T>
where
    axum::Json<T>: FromRequest<S, Rejection = JsonRejection>,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => {
                let status = match rejection.status() {
                    // Serde's "missing field" and type errors are still malformed input to us.
                    StatusCode::UNPROCESSABLE_ENTITY => StatusCode::BAD_REQUEST,
                    other => other,
                };
                Err(error_response(status, rejection.body_text(), None))
            }
        }
    }
}

impl<T: Serialize> IntoResponse for AppJson<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// Marks a response as never cacheable (for anything carrying personal or secret data).
pub fn no_store(mut response: Response<Body>) -> Response<Body> {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use axum::{Router, body::Body, http::Request, routing::post};
    use tower::ServiceExt;

    use super::*;

    async fn echo(AppJson(value): AppJson<serde_json::Value>) -> AppJson<serde_json::Value> {
        AppJson(value)
    }

    async fn call(body: &'static str, content_type: &str) -> (StatusCode, serde_json::Value) {
        let app = Router::new().route("/", post(echo));
        let request = Request::post("/")
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::from(body))
            .unwrap();
        let response = app.oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn malformed_json_gets_400_in_the_error_shape() {
        let (status, body) = call("{\"a\": ", "application/json").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["error"]["code"], "bad_request");
        assert!(
            body["error"]["message"].as_str().unwrap().contains("parse"),
            "{body}"
        );
    }

    #[tokio::test]
    async fn a_body_that_is_not_json_gets_415_in_the_error_shape() {
        let (status, body) = call("{}", "text/plain").await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert_eq!(body["error"]["code"], "unsupported_media_type");
    }

    #[tokio::test]
    async fn valid_json_passes_through() {
        let (status, body) = call("{\"a\": 1}", "application/json").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["a"], 1);
    }

    #[test]
    fn internal_errors_never_show_their_cause() {
        let response = AppError::Internal(anyhow::anyhow!("password=hunter2")).into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(response.extensions().get::<Arc<AppError>>().is_some());
    }
}
