//! Admin UI sessions: server-side rows keyed by the hash of a random id carried in the
//! `crm_bridge_session` cookie, with idle and absolute expiry; the [`AdminSession`] extractor and
//! the `require_admin` check; CSRF protection (synchronizer token plus an `Origin` check) for
//! every state-changing request under `/api/admin/` and `/admin/`; and sign-in itself: bounded
//! password checks, throttling (see `throttle`), and the device cookie that lets a browser which
//! signed in to an account before keep signing in while the account is under attack.
//!
//! The CSRF token is derived from the session id (which only the cookie carries), so the store
//! keeps a hash of it, never the token.

use std::net::{IpAddr, SocketAddr};

use axum::{
    body::Body,
    extract::{ConnectInfo, FromRequestParts, Request, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header, request::Parts},
    middleware::Next,
    response::{IntoResponse, Response},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{
    IdentityCtx,
    throttle::{self, Key, Rule},
};
use crate::{
    error::AppError,
    service_errors::{CredentialError, NotAdmin},
    store::{AdminSessionRow, Employee, NewAudit, Role, Store, StoreResult, now_ms},
};

/// Name of the session cookie.
pub const COOKIE: &str = "crm_bridge_session";
/// Header carrying the CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// Form field carrying the CSRF token.
pub const CSRF_FIELD: &str = "csrf_token";
/// Name of the device cookie: proof that this browser signed in to an account before.
pub const DEVICE_COOKIE: &str = "crm_bridge_device";
/// How long a device cookie is honoured after the sign-in that set it.
pub const DEVICE_MAX_AGE_SECS: i64 = 90 * 24 * 3600;
const DEVICE_AAD: &str = "admin.device_cookie";

/// 32 random bytes, base64url: session ids, CSRF tokens, setup tokens.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// SHA-256 (hex) of a token, the only form in which tokens are stored.
pub fn hash_token(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The CSRF token of the session whose cookie carries `session_id`.
fn csrf_token_for(session_id: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(format!("csrf\0{session_id}").as_bytes()))
}

fn csrf_error(message: &str) -> AppError {
    AppError::Coded {
        status: StatusCode::FORBIDDEN,
        code: "csrf",
        message: message.into(),
    }
}

/// A valid admin UI session and its employee.
#[derive(Debug, Clone)]
pub struct AdminSession {
    /// The signed-in employee (active).
    pub employee: Employee,
    /// The session's CSRF token.
    pub csrf_token: String,
    session_hash: String,
}

impl AdminSession {
    /// [`NotAdmin`] unless the employee has the `admin` role.
    pub fn require_admin(&self) -> Result<(), NotAdmin> {
        if self.employee.role == Role::Admin {
            Ok(())
        } else {
            Err(NotAdmin)
        }
    }

    /// Whether the session belongs to an admin.
    pub fn is_admin(&self) -> bool {
        self.employee.role == Role::Admin
    }

    /// The stored hash of this session's id.
    pub fn session_hash(&self) -> &str {
        &self.session_hash
    }

    /// How the audit log names this actor.
    pub fn actor(&self) -> String {
        if self.employee.login_email.is_empty() {
            self.employee.identifier.clone()
        } else {
            self.employee.login_email.clone()
        }
    }

    /// Writes one audit row for a change this session's employee made.
    pub async fn audit(
        &self,
        store: &dyn Store,
        action: &str,
        target: &str,
        detail: impl Into<String>,
    ) -> StoreResult<()> {
        store
            .add_audit(NewAudit {
                actor_id: Some(self.employee.id.clone()),
                actor: self.actor(),
                action: action.into(),
                target: target.into(),
                detail: detail.into(),
            })
            .await
    }
}

impl<S: Send + Sync> FromRequestParts<S> for AdminSession {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, AppError> {
        // `admin_guard` loaded and checked the session (and CSRF) for admin paths.
        parts
            .extensions
            .get::<AdminSession>()
            .cloned()
            .ok_or_else(|| AppError::Unauthorized("sign in to the admin UI first".into()))
    }
}

/// An [`AdminSession`] of an employee with the `admin` role (403 otherwise).
#[derive(Debug, Clone)]
pub struct RequireAdmin(pub AdminSession);

impl<S: Send + Sync> FromRequestParts<S> for RequireAdmin {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        let session = AdminSession::from_request_parts(parts, state).await?;
        session.require_admin()?;
        Ok(Self(session))
    }
}

fn named_cookie(headers: &HeaderMap, cookie: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == cookie)
        .map(|(_, value)| value.trim().to_owned())
        .filter(|v| !v.is_empty())
}

fn cookie_value(headers: &HeaderMap) -> Option<String> {
    named_cookie(headers, COOKIE)
}

/// Loads the session named by the cookie, ending it when it has expired or its employee can no
/// longer sign in.
pub async fn load_session(
    state: &IdentityCtx,
    headers: &HeaderMap,
) -> Result<Option<AdminSession>, AppError> {
    let Some(id) = cookie_value(headers) else {
        return Ok(None);
    };
    let hash = hash_token(&id);
    let Some(row) = state.store.session(&hash).await? else {
        return Ok(None);
    };
    let now = now_ms();
    let admin = &state.config.admin;
    let idle_ms =
        i64::try_from(admin.session_idle_minutes.saturating_mul(60_000)).unwrap_or(i64::MAX);
    let absolute_ms =
        i64::try_from(admin.session_absolute_hours.saturating_mul(3_600_000)).unwrap_or(i64::MAX);
    let expired = now.saturating_sub(row.last_seen_at) > idle_ms
        || now.saturating_sub(row.created_at) > absolute_ms;
    let csrf_token = csrf_token_for(&id);
    let csrf_ok = bool::from(
        hash_token(&csrf_token)
            .as_bytes()
            .ct_eq(row.csrf_hash.as_bytes()),
    );
    let employee = match state.store.employee(&row.employee_id).await? {
        Some(e) if e.active && !expired && csrf_ok => e,
        _ => {
            state.store.delete_session(&hash).await?;
            return Ok(None);
        }
    };
    state.store.touch_session(&hash, now).await?;
    Ok(Some(AdminSession {
        employee,
        csrf_token,
        session_hash: hash,
    }))
}

fn is_admin_path(path: &str) -> bool {
    path.starts_with("/api/admin/") || path == "/api/admin" || path.starts_with("/admin/")
}

/// Paths that change state without a session, protected otherwise (credentials or a
/// single-use token in the URL) and by the `Origin` check.
fn csrf_exempt(method: &Method, path: &str) -> bool {
    (*method == Method::POST && path == "/api/admin/session") || path.starts_with("/admin/setup/")
}

fn same_origin(state: &IdentityCtx, headers: &HeaderMap, origin: &str) -> bool {
    let public = state.config.server.public_base(state.config.tls.enabled());
    let public_origin = url::Url::parse(&public).map(|u| u.origin().ascii_serialization());
    if public_origin.is_ok_and(|p| p == origin) {
        return true;
    }
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    match (url::Url::parse(origin), host) {
        (Ok(url), Some(host)) => {
            let authority = match (url.host_str(), url.port()) {
                (Some(h), Some(p)) => format!("{h}:{p}"),
                (Some(h), None) => h.to_owned(),
                _ => return false,
            };
            authority.eq_ignore_ascii_case(host)
        }
        _ => false,
    }
}

/// Middleware for `/api/admin/` and `/admin/`: refuses cross-origin state changes, loads the
/// session for [`AdminSession`], and requires the CSRF token (header `X-CSRF-Token` or form
/// field `csrf_token`) on every POST/PUT/PATCH/DELETE made with a session.
pub async fn admin_guard(
    State(state): State<IdentityCtx>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_owned();
    if !is_admin_path(&path) {
        return next.run(request).await;
    }
    match guard(&state, request, &path).await {
        Ok(request) => next.run(request).await,
        Err(err) => err.into_response(),
    }
}

async fn guard(state: &IdentityCtx, mut request: Request, path: &str) -> Result<Request, AppError> {
    let method = request.method().clone();
    let changes_state = !matches!(method, Method::GET | Method::HEAD | Method::OPTIONS);
    if changes_state && let Some(origin) = request.headers().get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("");
        if !same_origin(state, request.headers(), origin) {
            return Err(csrf_error("cross-origin request refused"));
        }
    }
    let Some(session) = load_session(state, request.headers()).await? else {
        return Ok(request);
    };
    if changes_state && !csrf_exempt(&method, path) {
        let header_token = request
            .headers()
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let (token, rebuilt) = match header_token {
            Some(token) => (Some(token), request),
            None => form_csrf_token(state, request).await?,
        };
        request = rebuilt;
        let ok =
            token.is_some_and(|t| bool::from(t.as_bytes().ct_eq(session.csrf_token.as_bytes())));
        if !ok {
            return Err(csrf_error("missing or wrong CSRF token"));
        }
    }
    request.extensions_mut().insert(session);
    Ok(request)
}

async fn form_csrf_token(
    state: &IdentityCtx,
    request: Request,
) -> Result<(Option<String>, Request), AppError> {
    let is_form = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Ok((None, request));
    }
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, state.config.server.body_limit_bytes)
        .await
        .map_err(|_| AppError::BadRequest("cannot read the form".into()))?;
    let token = url::form_urlencoded::parse(&bytes)
        .find(|(k, _)| k == CSRF_FIELD)
        .map(|(_, v)| v.into_owned());
    Ok((token, Request::from_parts(parts, Body::from(bytes))))
}

fn secure_attr(state: &IdentityCtx) -> &'static str {
    if state.config.admin.secure_cookie {
        "; Secure"
    } else {
        ""
    }
}

fn cookie_header(state: &IdentityCtx, name: &str, value: &str, max_age: i64) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{name}={value}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age}{}",
        secure_attr(state)
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("crm_bridge_invalid=; Path=/; Max-Age=0"))
}

/// The `Set-Cookie` value for a new session id.
pub fn session_cookie(state: &IdentityCtx, id: &str) -> HeaderValue {
    let max_age = state
        .config
        .admin
        .session_absolute_hours
        .saturating_mul(3600);
    cookie_header(
        state,
        COOKIE,
        id,
        i64::try_from(max_age).unwrap_or(i64::MAX),
    )
}

/// The `Set-Cookie` value that removes the session cookie.
pub fn clearing_cookie(state: &IdentityCtx) -> HeaderValue {
    cookie_header(state, COOKIE, "", 0)
}

/// A session just created by [`sign_in`].
#[derive(Debug)]
pub struct NewSession {
    /// The cookie value (never stored).
    pub id: String,
    /// The CSRF token.
    pub csrf_token: String,
    /// The employee.
    pub employee: Employee,
    device: String,
}

impl NewSession {
    /// The `Set-Cookie` values to send: the session cookie and a fresh device cookie.
    pub fn cookies(&self, state: &IdentityCtx) -> [HeaderValue; 2] {
        [
            session_cookie(state, &self.id),
            cookie_header(state, DEVICE_COOKIE, &self.device, DEVICE_MAX_AGE_SECS),
        ]
    }
}

/// The client's IP address: the TCP peer, or what `X-Forwarded-For` says when the peer is one of
/// the configured trusted proxies.
pub fn client_ip(
    state: &IdentityCtx,
    extensions: &axum::http::Extensions,
    headers: &HeaderMap,
) -> Option<IpAddr> {
    let peer = extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip());
    throttle::client_ip(peer, headers, &state.config.server.trusted_proxy_nets())
}

/// A new device cookie value for `employee_id`: sealed, so it cannot be forged or moved to
/// another account.
fn new_device(state: &IdentityCtx, employee_id: &str, now: i64) -> String {
    let plain = format!("{employee_id} {now} {}", random_token());
    state.master_key.seal(DEVICE_AAD, &plain)
}

/// The id of the device cookie in `headers` if it was set by a sign-in to `employee_id` within
/// [`DEVICE_MAX_AGE_SECS`].
fn known_device(
    state: &IdentityCtx,
    headers: &HeaderMap,
    employee_id: &str,
    now: i64,
) -> Option<String> {
    use secrecy::ExposeSecret;
    let sealed = named_cookie(headers, DEVICE_COOKIE)?;
    let plain = state.master_key.open(DEVICE_AAD, &sealed).ok()?;
    let mut parts = plain.expose_secret().split(' ');
    let (owner, issued, id) = (parts.next()?, parts.next()?, parts.next()?);
    let issued: i64 = issued.parse().ok()?;
    let fresh = now.saturating_sub(issued) < DEVICE_MAX_AGE_SECS * 1000;
    (owner == employee_id && fresh).then(|| id.to_owned())
}

/// The throttle keys of a sign-in attempt: the device's own budget for a known device, else the
/// client address and the account.
fn signin_keys(
    state: &IdentityCtx,
    email: &str,
    ip: Option<IpAddr>,
    device: Option<String>,
) -> Vec<Key> {
    let max = i64::from(state.config.admin.max_failed_logins);
    match device {
        Some(device) => vec![Key {
            name: format!("device:{device}"),
            rule: Rule::Backoff { free: max },
        }],
        None => ip
            .map(|ip| Key {
                name: format!("ip:{ip}"),
                rule: Rule::Limit { max },
            })
            .into_iter()
            .chain([Key {
                name: format!("account:{email}"),
                rule: Rule::Backoff { free: max },
            }])
            .collect(),
    }
}

/// Checks a password through the bounded verifier, counted under `keys` first (see
/// `throttle`): `Throttled` while throttled, `Busy` when too busy, otherwise whether it matched.
pub async fn throttled_check(
    state: &IdentityCtx,
    keys: &[Key],
    password_text: &str,
    hash: Option<&str>,
) -> Result<bool, CredentialError> {
    let store = state.store.as_ref();
    let now = now_ms();
    throttle::claim_all(store, keys, now).await?;
    match state.passwords.verify(password_text, hash).await {
        Ok(true) => {
            throttle::succeeded(store, keys, now).await?;
            Ok(true)
        }
        Ok(false) => Ok(false),
        Err(busy) => {
            throttle::release(store, keys).await?;
            Err(CredentialError::Busy(busy.to_string()))
        }
    }
}

/// Checks the credentials (throttled, see `throttle`), ends the previous session named by
/// `headers`' cookie, and creates a new session. Unknown accounts cost the same password check
/// as known ones, so timing does not tell which e-mails have accounts.
pub async fn sign_in(
    state: &IdentityCtx,
    email: &str,
    password_text: &str,
    ip: Option<IpAddr>,
    headers: &HeaderMap,
) -> Result<NewSession, CredentialError> {
    let email = email.trim().to_lowercase();
    let now = now_ms();
    let employee = state
        .store
        .employee_by_login_email(&email)
        .await?
        .filter(|e| e.active);
    let device = employee
        .as_ref()
        .and_then(|e| known_device(state, headers, &e.id, now));
    let keys = signin_keys(state, &email, ip, device);
    let hash = employee.as_ref().and_then(|e| e.password_hash.as_deref());
    let verified = throttled_check(state, &keys, password_text, hash).await?;
    let Some(employee) = employee.filter(|_| verified) else {
        return Err(CredentialError::Wrong);
    };
    // Rotation at sign-in: whatever session the browser had ends here.
    if let Some(old) = cookie_value(headers) {
        state.store.delete_session(&hash_token(&old)).await?;
    }
    let id = random_token();
    let csrf_token = csrf_token_for(&id);
    state
        .store
        .create_session(&AdminSessionRow {
            session_hash: hash_token(&id),
            employee_id: employee.id.clone(),
            csrf_hash: hash_token(&csrf_token),
            created_at: now,
            last_seen_at: now,
        })
        .await?;
    let device = new_device(state, &employee.id, now);
    Ok(NewSession {
        id,
        csrf_token,
        employee,
        device,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; crm_bridge_session=abc; b=2"),
        );
        assert_eq!(cookie_value(&headers).as_deref(), Some("abc"));
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("crm_bridge_session_x=1"),
        );
        assert_eq!(cookie_value(&headers), None);
    }

    #[test]
    fn tokens_are_random_and_hashes_are_hex() {
        let (a, b) = (random_token(), random_token());
        assert_ne!(a, b);
        assert_eq!(hash_token(&a).len(), 64);
        assert_ne!(hash_token(&a), hash_token(&b));
    }
}
