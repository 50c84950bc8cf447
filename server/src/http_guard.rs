//! HTTP hardening at the edge: security headers on every response (`nosniff` everywhere, a
//! Content-Security-Policy on the admin UI, HSTS when the public URL is HTTPS), and limits on
//! the request target and headers that answer in the JSON error shape.
//!
//! hyper itself answers, before any of our code runs and with an empty body, requests it cannot
//! parse (400), request targets longer than 65,534 bytes (414), more than 100 headers or a head
//! larger than its ~400 KiB read buffer (431); `axum::serve` offers no hook for those answers.
//! The limits here are far below hyper's, so every ordinary oversize request gets the JSON shape.

use axum::{
    extract::{Request, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    middleware::Next,
    response::Response,
};

use crate::{
    config::{Config, is_loopback_url},
    error::error_response,
};

/// Longest accepted request target (path and query), in bytes.
pub const MAX_URI_BYTES: usize = 8 * 1024;
/// Largest accepted sum of header names and values, in bytes.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;

/// The admin UI's policy: only our own scripts, styles and connections; never framed.
pub const ADMIN_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; \
    form-action 'self'; frame-ancestors 'none'";

/// One year, the usual HSTS lifetime.
const HSTS: &str = "max-age=31536000";

/// What the guard needs to know, decided once when the router is built.
#[derive(Debug, Clone, Copy)]
pub struct Guard {
    hsts: bool,
}

impl Guard {
    /// HSTS when the public URL is HTTPS on a real host (on a loopback name browsers would apply
    /// it to every port, breaking other local development servers).
    pub fn new(config: &Config) -> Self {
        let public = config.server.public_base(config.tls.enabled());
        let hsts = url::Url::parse(&public)
            .is_ok_and(|url| url.scheme() == "https" && !is_loopback_url(&url));
        Self { hsts }
    }
}

/// Middleware: refuses oversize request targets (414) and headers (431) in the JSON error shape,
/// and adds the security headers to every response.
pub async fn guard(State(guard): State<Guard>, request: Request, next: Next) -> Response {
    let is_admin_page =
        request.uri().path() == "/admin" || request.uri().path().starts_with("/admin/");
    let mut response = match too_large(&request) {
        Some(refusal) => refusal,
        None => next.run(request).await,
    };
    add_security_headers(response.headers_mut(), is_admin_page, guard.hsts);
    response
}

/// The refusal for a request whose target or headers exceed the limits; `None` when it fits.
fn too_large(request: &Request) -> Option<Response> {
    let uri_len = request
        .uri()
        .path_and_query()
        .map_or(0, |p| p.as_str().len());
    let header_len: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if uri_len > MAX_URI_BYTES {
        Some(error_response(
            StatusCode::URI_TOO_LONG,
            format!("the request target is longer than {MAX_URI_BYTES} bytes"),
            None,
        ))
    } else if header_len > MAX_HEADER_BYTES {
        Some(error_response(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            format!("the request headers are larger than {MAX_HEADER_BYTES} bytes"),
            None,
        ))
    } else {
        None
    }
}

/// `nosniff` everywhere, the admin CSP on admin pages that set none, HSTS when enabled.
fn add_security_headers(headers: &mut HeaderMap, is_admin_page: bool, hsts: bool) {
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if is_admin_page && !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(ADMIN_CSP),
        );
    }
    if hsts {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        );
    }
}
