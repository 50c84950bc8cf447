//! Validation of Microsoft Entra ID access tokens sent by the add-in.
//!
//! RS256 only; signing keys come from the configured JWKS (directly, or via the OpenID metadata
//! document), cached by `kid` in moka, reloaded hourly and on an unknown `kid` at most every
//! 5 minutes; a failed reload keeps the last good keys. Validated tokens are cached until they
//! expire so the hot path does not verify signatures again.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use jsonwebtoken::{Algorithm, DecodingKey, Validation, jwk::JwkSet};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tokio::sync::Mutex;

use crate::config::EntraConfig;

/// Reload the keys when the last good set is older than this.
const KEYS_MAX_AGE: Duration = Duration::from_secs(3600);
/// Least time between reloads caused by an unknown `kid`.
const UNKNOWN_KID_INTERVAL: Duration = Duration::from_secs(300);
/// Least time between attempts while no key set was ever loaded.
const FIRST_LOAD_RETRY: Duration = Duration::from_secs(10);

/// The claims of a validated add-in access token that the server uses.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct AccessClaims {
    /// Issuer.
    pub iss: String,
    /// Tenant id.
    pub tid: String,
    /// Object id of the user in the tenant.
    pub oid: String,
    /// Delegated scopes, space-separated.
    #[serde(default)]
    pub scp: Option<String>,
    /// Sign-in name (v2 tokens).
    #[serde(default)]
    pub preferred_username: Option<String>,
    /// User principal name (v1 tokens, some v2 tokens).
    #[serde(default)]
    pub upn: Option<String>,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// `app` for app-only tokens.
    #[serde(default)]
    pub idtyp: Option<String>,
    /// Expiry (Unix seconds).
    pub exp: i64,
}

impl AccessClaims {
    /// The e-mail-like sign-in name: `preferred_username`, else `upn`.
    pub fn sign_in_name(&self) -> Option<&str> {
        self.preferred_username
            .as_deref()
            .or(self.upn.as_deref())
            .filter(|s| !s.trim().is_empty())
    }
}

/// Which tokens this deployment accepts: from the Office 365 settings the admin enters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trust {
    /// Allowed tenant ids (lower case).
    pub tenants: Vec<String>,
    /// Accepted `aud` values: our API's client id and App ID URIs.
    pub audiences: Vec<String>,
}

/// Why a token was refused. Every variant but `KeysUnavailable` means 401.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    /// Not a JWT, or a header we do not accept.
    #[error("the access token is malformed")]
    Malformed,
    /// Not RS256.
    #[error("the access token's algorithm is not accepted")]
    Algorithm,
    /// The `kid` is not among the signing keys.
    #[error("the access token is signed by an unknown key")]
    UnknownKey,
    /// Signature, audience, expiry or another standard check failed.
    #[error("the access token is invalid: {0}")]
    Invalid(String),
    /// The issuer does not match the tenant, or the tenant is not allowed.
    #[error("the access token's issuer or tenant is not accepted")]
    Issuer,
    /// The token lacks our scope (app-only tokens included).
    #[error("the access token does not carry the required scope")]
    Scope,
    /// Office 365 is not configured, so no token can be accepted.
    #[error("Office 365 sign-in is not configured on this server")]
    NotConfigured,
    /// The signing keys could never be loaded.
    #[error("the Microsoft signing keys cannot be loaded")]
    KeysUnavailable,
}

#[derive(Default)]
struct RefreshState {
    last_success: Option<Instant>,
    last_attempt: Option<Instant>,
    last_unknown_kid_refresh: Option<Instant>,
}

/// Validates add-in access tokens; one per server, shared through `AppState`.
pub struct EntraValidator {
    config: EntraConfig,
    http: reqwest::Client,
    keys: moka::future::Cache<String, Arc<DecodingKey>>,
    refresh: Mutex<RefreshState>,
    tokens: moka::future::Cache<[u8; 32], Arc<AccessClaims>>,
}

impl std::fmt::Debug for EntraValidator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EntraValidator")
            .field("authority", &self.config.authority)
            .finish_non_exhaustive()
    }
}

impl EntraValidator {
    /// A validator for `config`.
    pub fn new(config: EntraConfig) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        Self {
            config,
            http,
            keys: moka::future::Cache::builder().max_capacity(256).build(),
            refresh: Mutex::new(RefreshState::default()),
            tokens: moka::future::Cache::builder()
                .max_capacity(100_000)
                // Entra access tokens live 60–90 minutes; entries are also checked against `exp`.
                .time_to_live(Duration::from_secs(2 * 3600))
                .build(),
        }
    }

    /// Forgets validated tokens (after the trusted tenants or audiences change).
    pub fn forget_tokens(&self) {
        self.tokens.invalidate_all();
    }

    /// The claims of `token` if it was validated before and has not expired.
    pub async fn cached(&self, token: &str) -> Option<Arc<AccessClaims>> {
        let fingerprint: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let claims = self.tokens.get(&fingerprint).await?;
        if claims.exp + self.leeway() as i64 > chrono::Utc::now().timestamp() {
            return Some(claims);
        }
        self.tokens.invalidate(&fingerprint).await;
        None
    }

    /// Validates `token` against `trust` (use [`cached`](Self::cached) first on the hot path).
    pub async fn validate(
        &self,
        token: &str,
        trust: &Trust,
    ) -> Result<Arc<AccessClaims>, TokenError> {
        if let Some(claims) = self.cached(token).await {
            return Ok(claims);
        }
        let fingerprint: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if trust.tenants.is_empty() || trust.audiences.is_empty() {
            return Err(TokenError::NotConfigured);
        }
        let claims = Arc::new(self.verify(token, trust).await?);
        self.tokens.insert(fingerprint, claims.clone()).await;
        Ok(claims)
    }

    fn leeway(&self) -> u64 {
        self.config.leeway_secs.min(300)
    }

    async fn verify(&self, token: &str, trust: &Trust) -> Result<AccessClaims, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
        if header.alg != Algorithm::RS256 {
            return Err(TokenError::Algorithm);
        }
        let kid = header.kid.ok_or(TokenError::Malformed)?;
        let key = self.key(&kid, trust).await?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.leeway = self.leeway();
        validation.validate_nbf = true;
        validation.set_audience(&trust.audiences);
        validation.set_required_spec_claims(&["exp", "aud", "iss"]);
        let data = jsonwebtoken::decode::<AccessClaims>(token, &key, &validation)
            .map_err(|e| TokenError::Invalid(e.to_string()))?;
        let claims = data.claims;
        let tid = claims.tid.to_lowercase();
        if !trust.tenants.contains(&tid) {
            return Err(TokenError::Issuer);
        }
        let authority = self.config.authority.trim_end_matches('/');
        let v2 = format!("{authority}/{tid}/v2.0");
        let v1 = format!("https://sts.windows.net/{tid}/");
        let iss = claims.iss.to_lowercase();
        if iss != v2.to_lowercase() && iss != v1 {
            return Err(TokenError::Issuer);
        }
        if claims.idtyp.as_deref() == Some("app") {
            return Err(TokenError::Scope);
        }
        let has_scope = claims
            .scp
            .as_deref()
            .is_some_and(|scp| scp.split(' ').any(|s| s == self.config.scope));
        if !has_scope {
            return Err(TokenError::Scope);
        }
        Ok(claims)
    }

    async fn key(&self, kid: &str, trust: &Trust) -> Result<Arc<DecodingKey>, TokenError> {
        self.reload_if_stale(trust).await;
        if let Some(key) = self.keys.get(kid).await {
            return Ok(key);
        }
        let loaded = {
            let mut state = self.refresh.lock().await;
            let now = Instant::now();
            let recently = |t: Option<Instant>, d: Duration| t.is_some_and(|t| now - t < d);
            if state.last_success.is_none() {
                if recently(state.last_attempt, FIRST_LOAD_RETRY) {
                    return Err(TokenError::KeysUnavailable);
                }
            } else if recently(state.last_unknown_kid_refresh, UNKNOWN_KID_INTERVAL) {
                return Err(TokenError::UnknownKey);
            } else {
                state.last_unknown_kid_refresh = Some(now);
            }
            self.reload(&mut state, trust).await
        };
        if !loaded && self.refresh.lock().await.last_success.is_none() {
            return Err(TokenError::KeysUnavailable);
        }
        self.keys.get(kid).await.ok_or(TokenError::UnknownKey)
    }

    async fn reload_if_stale(&self, trust: &Trust) {
        let mut state = self.refresh.lock().await;
        let now = Instant::now();
        let stale = state.last_success.is_some_and(|t| now - t >= KEYS_MAX_AGE);
        let tried = state
            .last_attempt
            .is_some_and(|t| now - t < UNKNOWN_KID_INTERVAL);
        if stale && !tried {
            self.reload(&mut state, trust).await;
        }
    }

    async fn reload(&self, state: &mut RefreshState, trust: &Trust) -> bool {
        state.last_attempt = Some(Instant::now());
        match self.fetch_keys(trust).await {
            Ok(set) => {
                let mut fresh = Vec::new();
                for jwk in &set.keys {
                    let (Some(kid), Ok(key)) = (&jwk.common.key_id, DecodingKey::from_jwk(jwk))
                    else {
                        continue;
                    };
                    fresh.push((kid.clone(), Arc::new(key)));
                }
                if fresh.is_empty() {
                    tracing::warn!("the JWKS holds no usable keys; keeping the last good keys");
                    return false;
                }
                self.keys.invalidate_all();
                for (kid, key) in fresh {
                    self.keys.insert(kid, key).await;
                }
                state.last_success = Some(Instant::now());
                true
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot load the Entra signing keys; keeping the last good keys");
                false
            }
        }
    }

    async fn fetch_keys(&self, trust: &Trust) -> anyhow::Result<JwkSet> {
        let jwks_url = if self.config.jwks_url.is_empty() {
            self.jwks_url_from_metadata(trust).await?
        } else {
            self.config.jwks_url.clone()
        };
        Ok(self
            .http
            .get(&jwks_url)
            .send()
            .await?
            .error_for_status()?
            .json::<JwkSet>()
            .await?)
    }

    async fn jwks_url_from_metadata(&self, trust: &Trust) -> anyhow::Result<String> {
        #[derive(Deserialize)]
        struct Metadata {
            jwks_uri: String,
        }
        let tenant = trust.tenants.first().map_or("common", String::as_str);
        let url = if self.config.metadata_url.is_empty() {
            format!(
                "{}/{tenant}/v2.0/.well-known/openid-configuration",
                self.config.authority.trim_end_matches('/')
            )
        } else {
            self.config.metadata_url.replace("{tenant}", tenant)
        };
        let metadata: Metadata = self
            .http
            .get(&url)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        Ok(metadata.jwks_uri)
    }
}
