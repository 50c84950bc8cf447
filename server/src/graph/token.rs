//! App-only access tokens for Graph by the client-credentials grant, cached until shortly before
//! they expire (Microsoft's tokens are opaque to us: only `expires_in` is read).

use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::GraphError;

/// Tokens are renewed this long before they expire (or at 90 % of a shorter lifetime).
const REFRESH_EARLY: Duration = Duration::from_secs(300);

/// Where and how to get tokens, and the cached one.
pub struct TokenSource {
    http: reqwest::Client,
    token_url: String,
    client_id: String,
    client_secret: SecretString,
    scope: String,
    cached: tokio::sync::Mutex<Option<(SecretString, Instant)>>,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: Option<String>,
    expires_in: Option<u64>,
    error: Option<String>,
    error_description: Option<String>,
}

impl TokenSource {
    /// A source for `client_id` at `token_url` (`{authority}/{tenant}/oauth2/v2.0/token`) asking
    /// for `{graph origin}/.default`.
    pub fn new(
        http: reqwest::Client,
        token_url: String,
        client_id: String,
        client_secret: SecretString,
        graph_origin: &str,
    ) -> Self {
        Self {
            http,
            token_url,
            client_id,
            client_secret,
            scope: format!("{}/.default", graph_origin.trim_end_matches('/')),
            cached: tokio::sync::Mutex::new(None),
        }
    }

    /// A valid token: the cached one, or a fresh one when it is near expiry.
    pub async fn token(&self) -> Result<SecretString, GraphError> {
        let mut cached = self.cached.lock().await;
        if let Some((token, renew_at)) = cached.as_ref()
            && Instant::now() < *renew_at
        {
            return Ok(token.clone());
        }
        let (token, lifetime) = self.fetch().await?;
        let early = REFRESH_EARLY.min(lifetime / 10);
        *cached = Some((
            token.clone(),
            Instant::now() + lifetime.saturating_sub(early),
        ));
        Ok(token)
    }

    /// Forgets the cached token (after Graph refused it).
    pub async fn forget(&self) {
        *self.cached.lock().await = None;
    }

    async fn fetch(&self) -> Result<(SecretString, Duration), GraphError> {
        let form = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "client_credentials")
            .append_pair("client_id", &self.client_id)
            .append_pair("client_secret", self.client_secret.expose_secret())
            .append_pair("scope", &self.scope)
            .finish();
        let response = self
            .http
            .post(&self.token_url)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(form)
            .send()
            .await
            .map_err(|e| GraphError::Unavailable(e.without_url().to_string()))?;
        let status = response.status();
        let answer: TokenAnswer = response.json().await.map_err(|_| {
            GraphError::Unavailable(format!("the token endpoint answered {status} without JSON"))
        })?;
        if let (true, Some(token)) = (status.is_success(), answer.access_token) {
            let lifetime = Duration::from_secs(answer.expires_in.unwrap_or(3599).max(60));
            return Ok((SecretString::from(token), lifetime));
        }
        let description: String = answer
            .error_description
            .unwrap_or_default()
            .chars()
            .take(300)
            .collect();
        Err(match answer.error.as_deref().unwrap_or_default() {
            "invalid_client" | "unauthorized_client" => GraphError::BadCredentials(description),
            "invalid_request" | "invalid_tenant" if description.contains("AADSTS90002") => {
                GraphError::BadTenant(description)
            }
            "invalid_grant" | "consent_required" => GraphError::NoConsent(description),
            _ if status.is_server_error() => GraphError::Unavailable(description),
            code => GraphError::Rejected {
                status: status.as_u16(),
                code: code.to_owned(),
                message: description,
            },
        })
    }
}
