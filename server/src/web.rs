//! The task pane's static files, and the fallback that answers unknown API routes with a JSON 404.
//!
//! The files are `web/dist/` as `scripts/build-wasm` leaves it: built into the binary (release
//! builds embed the folder; debug builds read it from the source tree), or from `server.web_dir`
//! when set. Files under `v/<hash>/` are named by their content and cached for a year; the rest
//! (`taskpane.html`, the manifest's icons) are revalidated by ETag on every opening, so the pane's
//! second opening costs one small 304. A `.br` or `.gz` sibling is sent to clients that accept
//! it. The Outlook sandbox (a development page) is served only when `server.serve_sandbox` is on.

use std::{borrow::Cow, path::Path};

use axum::{
    body::Body,
    extract::{Request, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
    response::{IntoResponse, Response},
};
use sha2::{Digest, Sha256};

use crate::{config::ServerConfig, error::error_response, state::AppState};

/// The pane's entry page: what `readyz` looks for.
pub const ENTRY: &str = "taskpane.html";
/// The kinds of file the pane consists of; nothing else is served (a `web_dir` pointed at the
/// source folder must not hand out `package.json` and the like).
const SERVED: [&str; 7] = ["html", "css", "js", "wasm", "png", "svg", "ico"];
/// Files of the Outlook sandbox, served only with `server.serve_sandbox`.
const SANDBOX: [&str; 3] = ["sandbox.html", "sandbox.css", "js/sandbox.js"];
/// Cache policy of content-hashed files.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Who may show the pane in a frame: Outlook on the web and the new Outlook (the hosts Microsoft
/// serves them from), and this server itself (the sandbox). Desktop Outlook shows it unframed.
const FRAME_ANCESTORS: &str = "frame-ancestors 'self' https://*.office.com https://*.office365.com \
     https://*.outlook.com https://outlook.live.com https://*.cloud.microsoft \
     https://*.officeapps.live.com";

/// `web/dist/` at build time (empty when the pane was not built).
#[derive(rust_embed::RustEmbed)]
#[folder = "../web/dist/"]
#[allow_missing = true]
struct Built;

/// Where the pane's files come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaneFiles<'a> {
    /// Built into the binary.
    Built,
    /// The folder `server.web_dir` names.
    Dir(&'a Path),
}

impl<'a> PaneFiles<'a> {
    /// The source `config` selects.
    pub fn of(config: &'a ServerConfig) -> Self {
        if config.web_dir.as_os_str().is_empty() {
            Self::Built
        } else {
            Self::Dir(&config.web_dir)
        }
    }

    /// Whether the pane's entry page is there.
    pub async fn has_pane(&self) -> bool {
        self.read(ENTRY).await.is_some()
    }

    /// Why there is no pane, and what to do, for logs and `readyz`.
    pub fn missing(&self) -> String {
        match self {
            Self::Built => {
                "no task pane: this binary was built without web/dist; run scripts/build-wasm \
                 and build again, or set server.web_dir (CRM_BRIDGE_SERVER__WEB_DIR) to a built \
                 web/dist folder"
                    .into()
            }
            Self::Dir(dir) => format!(
                "no task pane in server.web_dir ({}): point it at a folder built by scripts/build-wasm \
                 (web/dist), or leave it empty to use the pane built into the binary",
                dir.display()
            ),
        }
    }

    /// The bytes of `path` (already checked by [`safe_path`]) and their ETag.
    async fn read(&self, path: &str) -> Option<(Cow<'static, [u8]>, String)> {
        match self {
            Self::Built => {
                let file = Built::get(path)?;
                let etag = etag(&file.metadata.sha256_hash());
                Some((file.data, etag))
            }
            Self::Dir(dir) => {
                let bytes = tokio::fs::read(dir.join(path)).await.ok()?;
                let etag = etag(&Sha256::digest(&bytes).into());
                Some((Cow::Owned(bytes), etag))
            }
        }
    }
}

fn etag(hash: &[u8; 32]) -> String {
    let hex: String = hash[..12].iter().map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}

/// `path` without its leading `/` if every segment is a plain file or folder name.
fn safe_path(path: &str) -> Option<&str> {
    let path = path.strip_prefix('/')?;
    let plain = |segment: &str| {
        !segment.is_empty()
            && !segment.starts_with('.')
            && segment
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
    };
    let served = path
        .rsplit_once('.')
        .is_some_and(|(_, extension)| SERVED.contains(&extension));
    (served && path.split('/').all(plain)).then_some(path)
}

/// The precompressed encodings `headers` accept, best first.
fn encodings(headers: &HeaderMap) -> Vec<(&'static str, &'static str)> {
    let accepted = headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|item| {
            let mut parts = item.split(';').map(str::trim);
            let name = parts.next()?;
            let refused = parts
                .any(|p| p.replace(' ', "").trim_start_matches("q=").parse::<f32>() == Ok(0.0));
            (!refused).then_some(name.to_ascii_lowercase())
        })
        .collect::<Vec<_>>();
    [("br", ".br"), ("gzip", ".gz")]
        .into_iter()
        .filter(|(name, _)| accepted.iter().any(|a| a == name))
        .collect()
}

/// Fallback: the pane's files for GET/HEAD outside `/api/`, else JSON 404.
pub async fn fallback(State(state): State<AppState>, request: Request) -> Response {
    let config = &state.config.server;
    let uri_path = request.uri().path();
    let is_read = matches!(*request.method(), Method::GET | Method::HEAD);
    if !is_read || uri_path.starts_with("/api/") || uri_path == "/api" {
        return error_response(StatusCode::NOT_FOUND, "no such route", None);
    }
    let Some(path) = safe_path(uri_path) else {
        return error_response(StatusCode::NOT_FOUND, "no such file", None);
    };
    if SANDBOX.contains(&path) && !config.serve_sandbox {
        return error_response(StatusCode::NOT_FOUND, "no such file", None);
    }
    let files = PaneFiles::of(config);
    let Some(((bytes, etag), encoding)) = find_file(&files, path, request.headers()).await else {
        return error_response(StatusCode::NOT_FOUND, "no such file", None);
    };
    let headers = file_headers(path, &etag, encoding);
    if etag_matches(request.headers(), &etag) {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    let body = match bytes {
        Cow::Borrowed(bytes) => Body::from(bytes),
        Cow::Owned(bytes) => Body::from(bytes),
    };
    (headers, body).into_response()
}

/// A pane file's bytes and ETag.
type PaneFile = (Cow<'static, [u8]>, String);

/// `path` in the best pre-compressed form the client accepts, else as it is, with the encoding.
async fn find_file(
    files: &PaneFiles<'_>,
    path: &str,
    request_headers: &HeaderMap,
) -> Option<(PaneFile, Option<&'static str>)> {
    for (encoding, suffix) in encodings(request_headers) {
        if let Some(file) = files.read(&format!("{path}{suffix}")).await {
            return Some((file, Some(encoding)));
        }
    }
    files.read(path).await.map(|file| (file, None))
}

/// Content type, caching, ETag, encoding and (for HTML) framing headers of a served file.
fn file_headers(path: &str, etag: &str, encoding: Option<&'static str>) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let content_type = mime_guess::from_path(path).first_or_octet_stream();
    if let Ok(value) = HeaderValue::from_str(content_type.as_ref()) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    let immutable = path.starts_with("v/");
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if immutable { IMMUTABLE } else { "no-cache" }),
    );
    if let Ok(value) = HeaderValue::from_str(etag) {
        headers.insert(header::ETAG, value);
    }
    headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    if let Some(encoding) = encoding {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static(encoding));
    }
    if path.ends_with(".html") {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(FRAME_ANCESTORS),
        );
    }
    headers
}

/// Whether `If-None-Match` names `etag` (or `*`).
fn etag_matches(request_headers: &HeaderMap, etag: &str) -> bool {
    request_headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|tag| tag.trim() == etag || tag.trim() == "*")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_relative_paths_are_served() {
        assert_eq!(safe_path("/taskpane.html"), Some("taskpane.html"));
        assert_eq!(
            safe_path("/v/0123/pkg/addin_wasm_bg.wasm"),
            Some("v/0123/pkg/addin_wasm_bg.wasm")
        );
        for bad in [
            "/",
            "/../x.js",
            "/a/../b.js",
            "/.env",
            "/a//b.js",
            "/a\\b.js",
            "/%2e%2e/x.js",
            "relative.js",
            "/package.json",
            "/package-lock.json",
            "/Cargo.toml",
        ] {
            assert_eq!(safe_path(bad), None, "{bad}");
        }
    }

    #[test]
    fn brotli_is_preferred_and_refused_encodings_are_not_sent() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("gzip, deflate, br"),
        );
        assert_eq!(encodings(&headers), [("br", ".br"), ("gzip", ".gz")]);
        headers.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("gzip;q=1, br;q=0"),
        );
        assert_eq!(encodings(&headers), [("gzip", ".gz")]);
        headers.remove(header::ACCEPT_ENCODING);
        assert!(encodings(&headers).is_empty());
    }
}
