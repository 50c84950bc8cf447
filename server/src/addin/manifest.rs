//! The add-in manifest: the repository's `manifest.xml` (written for local sideloading at
//! `https://localhost:3000`) rendered for this server's public URL and the Office 365 client id.

use axum::{
    extract::State,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};

use crate::{
    error::AppError,
    identity::office365::{Office365Settings, app_id_uri},
    state::AppState,
};

/// The committed manifest, the single source of the rendered one.
pub const TEMPLATE: &str = include_str!("../../../manifest.xml");
/// The base URL the committed manifest points at.
pub const LOCAL_BASE: &str = "https://localhost:3000";
/// The client id placeholder in the committed manifest's `WebApplicationInfo`.
pub const PLACEHOLDER_CLIENT_ID: &str = "00000000-0000-0000-0000-000000000000";

/// Renders the manifest for `public_base` (scheme + host [+ port], no trailing slash) and the
/// Office 365 app's `client_id`; `WebApplicationInfo`'s resource is the Application ID URI
/// derived from both (see [`app_id_uri`]).
pub fn render(public_base: &str, client_id: &str) -> String {
    let base = public_base.trim_end_matches('/');
    let client_id = match client_id.trim() {
        "" => PLACEHOLDER_CLIENT_ID,
        id => id,
    };
    let local_resource = app_id_uri(LOCAL_BASE, PLACEHOLDER_CLIENT_ID);
    TEMPLATE
        .replace(&local_resource, &xml_escape(&app_id_uri(base, client_id)))
        .replace(LOCAL_BASE, &xml_escape(base))
        .replace(PLACEHOLDER_CLIENT_ID, &xml_escape(client_id))
}

/// Why no manifest can be rendered for `public_base`: Outlook loads add-ins only over HTTPS.
pub fn refusal(public_base: &str) -> Option<String> {
    (!public_base.starts_with("https://")).then(|| {
        format!(
            "Outlook loads add-ins only over HTTPS, and this server's public URL is {public_base}. \
             Set server.public_url to the https:// address users reach the server at (behind a \
             reverse proxy, or with --tls-cert/--tls-key), then download the manifest again."
        )
    })
}

fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// `GET /manifest.xml`: the manifest for this server, to sideload or deploy; 409
/// `manifest_needs_https` when the public URL is not HTTPS.
pub async fn serve(State(state): State<AppState>) -> Result<Response, AppError> {
    let base = state.config.server.public_base(state.config.tls.enabled());
    if let Some(message) = refusal(&base) {
        return Err(AppError::Coded {
            status: StatusCode::CONFLICT,
            code: "manifest_needs_https",
            message,
        });
    }
    let settings = Office365Settings::load(&state).await?;
    let body = render(&base, &settings.client_id);
    Ok((
        [
            (header::CONTENT_TYPE, "application/xml; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "inline; filename=\"manifest.xml\"",
            ),
        ],
        body,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attribute_values<'a>(xml: &'a str, attribute: &str) -> Vec<&'a str> {
        let needle = format!("{attribute}=\"");
        xml.match_indices(&needle)
            .filter_map(|(at, _)| {
                let rest = &xml[at + needle.len()..];
                rest.split_once('"').map(|(value, _)| value)
            })
            .collect()
    }

    #[test]
    fn every_resource_reference_in_the_manifest_names_a_defined_resource() {
        let referenced = attribute_values(TEMPLATE, "resid");
        assert!(
            referenced.len() >= 8,
            "the four buttons reference resources"
        );
        let defined = attribute_values(TEMPLATE, "id");
        for resid in referenced {
            assert!(
                resid.len() <= 32,
                "resid {resid} is longer than 32 characters"
            );
            assert!(defined.contains(&resid), "resid {resid} is not defined");
        }
    }

    #[test]
    fn every_file_the_manifest_points_at_exists_in_the_web_directory() {
        let web = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../web");
        let files: Vec<&str> = attribute_values(TEMPLATE, "DefaultValue")
            .into_iter()
            .filter_map(|v| v.strip_prefix(LOCAL_BASE))
            .filter(|path| path.len() > 1)
            .collect();
        assert!(files.len() >= 6, "icons and the task pane: {files:?}");
        for path in files {
            assert!(web.join(&path[1..]).is_file(), "web{path} is missing");
        }
    }

    #[test]
    fn rendering_for_the_local_base_and_no_client_id_gives_the_committed_file() {
        assert_eq!(render(LOCAL_BASE, ""), TEMPLATE);
    }

    #[test]
    fn the_rendered_manifest_points_only_at_the_public_url_and_names_the_client_id() {
        let id = "5661fed9-f33d-4e95-b6cf-624a34a2f51d";
        let xml = render("https://crm.example.cz/", id);
        assert!(!xml.contains("localhost"));
        assert!(!xml.contains(PLACEHOLDER_CLIENT_ID));
        assert!(
            xml.contains("<SourceLocation DefaultValue=\"https://crm.example.cz/taskpane.html\"/>")
        );
        assert!(xml.contains(&format!("<Id>{id}</Id>")));
        assert!(xml.contains(&format!("<Resource>api://crm.example.cz/{id}</Resource>")));
    }

    #[test]
    fn markup_in_urls_is_escaped() {
        let xml = render("https://a.example/x&y", "c");
        assert!(xml.contains("https://a.example/x&amp;y/taskpane.html"));
    }

    #[test]
    fn a_plain_http_public_url_gets_no_manifest_and_says_why() {
        let why = refusal("http://crm.example.cz").expect("refused");
        assert!(
            why.contains("HTTPS") && why.contains("server.public_url"),
            "{why}"
        );
        assert_eq!(refusal("https://crm.example.cz"), None);
    }
}
