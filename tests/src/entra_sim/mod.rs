//! entra-sim: a stand-in for the Microsoft identity platform, following its public wire formats.
//!
//! Serves the OpenID metadata (`/{tenant}/v2.0/.well-known/openid-configuration`), the JWKS
//! (`/discovery/v2.0/keys`, RS256 keys), a token minting endpoint (`POST /{tenant}/_sim/token`
//! with a JSON object of claim overrides → a signed Entra-shaped v2 access token), the
//! client-credentials endpoint (`POST /{tenant}/oauth2/v2.0/token`, form-encoded, as Microsoft's),
//! and `POST /_sim/rotate` (a new signing key; the old one stays published). The server under
//! test reaches it only through ordinary configuration (`entra.authority`).
//!
//! It also serves Microsoft Graph's calendar subset under `/v1.0` (see [`graph`]): tokens from the
//! client-credentials endpoint for the Graph audience carry the application roles admin consent
//! granted (`Calendars.ReadWrite` unless changed with `POST /_sim/app-roles`).

pub mod graph;
pub mod subscriptions;

use std::{
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
};

use aws_lc_rs::{
    encoding::{AsDer, Pkcs8V1Der},
    rsa::{KeyPair, KeySize},
    signature::KeyPair as _,
};
use axum::{
    Form, Json, Router,
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{get, post},
};
use base64::{Engine, engine::general_purpose::STANDARD};
use jsonwebtoken::{Algorithm, EncodingKey, Header, jwk::Jwk};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Default client id of the simulated API app registration.
pub const DEFAULT_CLIENT_ID: &str = "6e74172b-be56-4843-9ff4-e66a39bb12e3";
/// Default tenant id.
pub const DEFAULT_TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
/// The client secret the client-credentials endpoint accepts for [`DEFAULT_CLIENT_ID`].
pub const DEFAULT_CLIENT_SECRET: &str = "sim-client-secret-value";

/// One RSA signing key.
#[derive(Clone)]
pub struct SigningKey {
    /// Key id.
    pub kid: String,
    /// Private key for signing.
    pub encoding: EncodingKey,
    /// The public key as a JWK.
    pub jwk: Value,
    /// The public key as SubjectPublicKeyInfo PEM (for the "HS256 with the public key" attack).
    pub public_pem: String,
}

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

impl SigningKey {
    /// A fresh 2048-bit RSA key.
    pub fn generate() -> Self {
        let pair = KeyPair::generate(KeySize::Rsa2048).expect("RSA key generation");
        let der: Pkcs8V1Der<'static> = pair.as_der().expect("PKCS#8 encoding");
        let encoding = EncodingKey::from_rsa_pem(pem("PRIVATE KEY", der.as_ref()).as_bytes())
            .expect("a usable RSA key");
        let kid = uuid::Uuid::new_v4().simple().to_string();
        let mut jwk =
            serde_json::to_value(Jwk::from_encoding_key(&encoding, Algorithm::RS256).expect("JWK"))
                .expect("JWK JSON");
        jwk["kid"] = json!(kid);
        jwk["use"] = json!("sig");
        let public_der = pair.public_key().as_der().expect("public key DER");
        let public_pem = pem("PUBLIC KEY", public_der.as_ref());
        Self {
            kid,
            encoding,
            jwk,
            public_pem,
        }
    }
}

struct Inner {
    authority: String,
    tenant: String,
    client_id: String,
    client_secret: String,
    keys: Arc<Mutex<Vec<SigningKey>>>,
    graph: Arc<graph::GraphState>,
    jwks_hits: AtomicUsize,
    token_grants: AtomicUsize,
    jwks_failing: AtomicBool,
}

/// A running simulator (stops when dropped).
#[derive(Clone)]
pub struct EntraSim {
    inner: Arc<Inner>,
    /// Where it listens.
    pub addr: SocketAddr,
    _stop: Arc<tokio::sync::oneshot::Sender<()>>,
}

/// The line the binary prints: where everything is.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Endpoints {
    /// Token issuer for the tenant.
    pub issuer: String,
    /// OpenID metadata URL.
    pub metadata_url: String,
    /// JWKS URL.
    pub jwks_url: String,
    /// Token minting URL (POST claim overrides as JSON).
    pub token_url: String,
    /// Microsoft Graph base URL (ends in `/v1.0`).
    pub graph_url: String,
    /// Client id of the app registration the client-credentials endpoint knows.
    pub client_id: String,
    /// Its client secret.
    pub client_secret: String,
}

impl EntraSim {
    /// Starts on `bind` (use `127.0.0.1:0`) for `tenant` with the default client id.
    pub async fn start(bind: SocketAddr, tenant: &str) -> anyhow::Result<Self> {
        Self::start_with(bind, tenant, DEFAULT_CLIENT_ID).await
    }

    /// Starts with an explicit client id.
    pub async fn start_with(
        bind: SocketAddr,
        tenant: &str,
        client_id: &str,
    ) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind(bind).await?;
        let addr = listener.local_addr()?;
        let keys = Arc::new(Mutex::new(vec![SigningKey::generate()]));
        let published = keys.clone();
        let graph = Arc::new(graph::GraphState::new(
            format!("http://{addr}"),
            move || {
                published
                    .lock()
                    .map(|k| k.iter().map(|k| (k.kid.clone(), k.jwk.clone())).collect())
                    .unwrap_or_default()
            },
        ));
        graph.subscriptions().set_tenant(&tenant.to_lowercase());
        let inner = Arc::new(Inner {
            authority: format!("http://{addr}"),
            tenant: tenant.to_lowercase(),
            client_id: client_id.to_owned(),
            client_secret: DEFAULT_CLIENT_SECRET.to_owned(),
            keys,
            graph: graph.clone(),
            jwks_hits: AtomicUsize::new(0),
            token_grants: AtomicUsize::new(0),
            jwks_failing: AtomicBool::new(false),
        });
        let app = Router::new()
            .route(
                "/{tenant}/v2.0/.well-known/openid-configuration",
                get(metadata),
            )
            .route("/discovery/v2.0/keys", get(jwks))
            .route("/{tenant}/discovery/v2.0/keys", get(jwks))
            .route("/{tenant}/_sim/token", post(mint_endpoint))
            .route("/{tenant}/oauth2/v2.0/token", post(client_credentials))
            .route("/_sim/rotate", post(rotate_endpoint))
            .with_state(inner.clone())
            .merge(graph::router(graph));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await;
        });
        Ok(Self {
            inner,
            addr,
            _stop: Arc::new(stop),
        })
    }

    /// `http://127.0.0.1:PORT`: configure it as `entra.authority`.
    pub fn authority(&self) -> String {
        self.inner.authority.clone()
    }

    /// The tenant id.
    pub fn tenant(&self) -> String {
        self.inner.tenant.clone()
    }

    /// The client id tokens are issued for.
    pub fn client_id(&self) -> String {
        self.inner.client_id.clone()
    }

    /// The client secret the client-credentials endpoint accepts.
    pub fn client_secret(&self) -> String {
        self.inner.client_secret.clone()
    }

    /// Where everything is.
    pub fn endpoints(&self) -> Endpoints {
        let a = &self.inner.authority;
        let t = &self.inner.tenant;
        Endpoints {
            issuer: format!("{a}/{t}/v2.0"),
            metadata_url: format!("{a}/{t}/v2.0/.well-known/openid-configuration"),
            jwks_url: format!("{a}/discovery/v2.0/keys"),
            token_url: format!("{a}/{t}/_sim/token"),
            graph_url: format!("{a}/v1.0"),
            client_id: self.inner.client_id.clone(),
            client_secret: self.inner.client_secret.clone(),
        }
    }

    /// The Graph part: mailboxes, events, invitations, faults.
    pub fn graph(&self) -> &graph::GraphState {
        &self.inner.graph
    }

    /// Microsoft Graph base URL (ends in `/v1.0`).
    pub fn graph_url(&self) -> String {
        format!("{}/v1.0", self.inner.authority)
    }

    /// Adds a new signing key and signs with it from now on; the old keys stay published.
    pub fn rotate(&self) -> String {
        rotate_keys(&self.inner)
    }

    /// The current signing key.
    pub fn current_key(&self) -> SigningKey {
        current(&self.inner)
    }

    /// How often the JWKS was fetched.
    pub fn jwks_hits(&self) -> usize {
        self.inner.jwks_hits.load(Ordering::SeqCst)
    }

    /// How many tokens the client-credentials endpoint issued.
    pub fn token_grants(&self) -> usize {
        self.inner.token_grants.load(Ordering::SeqCst)
    }

    /// Makes the JWKS endpoint answer 500 (or work again).
    pub fn set_jwks_failing(&self, failing: bool) {
        self.inner.jwks_failing.store(failing, Ordering::SeqCst);
    }

    /// The default claims of a delegated v2 access token for a user.
    pub fn default_claims(&self, oid: &str, email: &str) -> Value {
        default_claims(&self.inner, oid, email)
    }

    /// Mints a token: the default claims with `overrides` merged in (a `null` removes a claim).
    pub fn mint(&self, overrides: &Value) -> String {
        let oid = uuid::Uuid::new_v4().to_string();
        let mut claims = default_claims(&self.inner, &oid, "user@example.com");
        merge(&mut claims, overrides);
        sign(&current(&self.inner), &claims)
    }
}

fn current(inner: &Inner) -> SigningKey {
    inner
        .keys
        .lock()
        .expect("key lock")
        .last()
        .cloned()
        .expect("a key")
}

fn rotate_keys(inner: &Inner) -> String {
    let key = SigningKey::generate();
    let kid = key.kid.clone();
    inner.keys.lock().expect("key lock").push(key);
    kid
}

/// Signs `claims` with `key` (RS256, with its `kid`).
pub fn sign(key: &SigningKey, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(key.kid.clone());
    jsonwebtoken::encode(&header, claims, &key.encoding).expect("signing")
}

fn merge(claims: &mut Value, overrides: &Value) {
    if let (Value::Object(c), Value::Object(o)) = (claims, overrides) {
        for (k, v) in o {
            if v.is_null() {
                c.remove(k);
            } else {
                c.insert(k.clone(), v.clone());
            }
        }
    }
}

fn default_claims(inner: &Inner, oid: &str, email: &str) -> Value {
    let now = chrono::Utc::now().timestamp();
    let t = &inner.tenant;
    json!({
        "aud": inner.client_id,
        "iss": format!("{}/{t}/v2.0", inner.authority),
        "iat": now,
        "nbf": now,
        "exp": now + 3600,
        "azp": "ea5a67f6-b6f3-4338-b240-c655ddc3cc8e",
        "azpacr": "0",
        "name": "Simulated User",
        "oid": oid,
        "preferred_username": email,
        "scp": "access_as_user",
        "sub": uuid::Uuid::new_v4().simple().to_string(),
        "tid": t,
        "uti": uuid::Uuid::new_v4().simple().to_string(),
        "ver": "2.0",
    })
}

async fn metadata(State(inner): State<Arc<Inner>>, Path(tenant): Path<String>) -> Json<Value> {
    let a = &inner.authority;
    Json(json!({
        "issuer": format!("{a}/{tenant}/v2.0"),
        "authorization_endpoint": format!("{a}/{tenant}/oauth2/v2.0/authorize"),
        "token_endpoint": format!("{a}/{tenant}/oauth2/v2.0/token"),
        "jwks_uri": format!("{a}/discovery/v2.0/keys"),
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "tenant_region_scope": "EU",
    }))
}

async fn jwks(State(inner): State<Arc<Inner>>) -> Response {
    inner.jwks_hits.fetch_add(1, Ordering::SeqCst);
    if inner.jwks_failing.load(Ordering::SeqCst) {
        return (StatusCode::INTERNAL_SERVER_ERROR, "simulated outage").into_response();
    }
    let keys: Vec<Value> = inner
        .keys
        .lock()
        .map(|k| k.iter().map(|k| k.jwk.clone()).collect())
        .unwrap_or_default();
    Json(json!({ "keys": keys })).into_response()
}

async fn mint_endpoint(
    State(inner): State<Arc<Inner>>,
    Path(_tenant): Path<String>,
    Json(overrides): Json<Value>,
) -> Response {
    if !overrides.is_object() {
        return (
            StatusCode::BAD_REQUEST,
            "send a JSON object of claim overrides",
        )
            .into_response();
    }
    let oid = uuid::Uuid::new_v4().to_string();
    let mut claims = default_claims(&inner, &oid, "user@example.com");
    merge(&mut claims, &overrides);
    let token = sign(&current(&inner), &claims);
    Json(json!({ "access_token": token, "token_type": "Bearer", "expires_in": 3600 }))
        .into_response()
}

async fn rotate_endpoint(State(inner): State<Arc<Inner>>) -> Json<Value> {
    Json(json!({ "kid": rotate_keys(&inner) }))
}

/// Form of the client-credentials grant.
#[derive(Deserialize)]
struct ClientCredentials {
    grant_type: String,
    client_id: String,
    client_secret: String,
    #[serde(default)]
    scope: String,
}

async fn client_credentials(
    State(inner): State<Arc<Inner>>,
    Path(tenant): Path<String>,
    Form(form): Form<ClientCredentials>,
) -> Response {
    let error = |status: StatusCode, code: &str, description: &str| {
        (
            status,
            Json(json!({ "error": code, "error_description": description })),
        )
            .into_response()
    };
    if form.grant_type != "client_credentials" {
        return error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "AADSTS70003: The app requested an unsupported grant type.",
        );
    }
    if tenant.to_lowercase() != inner.tenant {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "AADSTS90002: Tenant not found.",
        );
    }
    if form.client_id != inner.client_id || form.client_secret != inner.client_secret {
        return error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "AADSTS7000215: Invalid client secret provided.",
        );
    }
    if !form.scope.ends_with("/.default") {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            "AADSTS1002012: The provided value for scope is not valid.",
        );
    }
    let now = chrono::Utc::now().timestamp();
    let audience = form.scope.trim_end_matches("/.default");
    let roles: Vec<String> = if inner.graph.is_graph_audience(audience) {
        inner.graph.app_roles.lock().clone()
    } else {
        Vec::new()
    };
    let claims = json!({
        "aud": audience,
        "iss": format!("{}/{}/v2.0", inner.authority, inner.tenant),
        "iat": now, "nbf": now, "exp": now + 3599,
        "azp": inner.client_id, "idtyp": "app", "oid": uuid::Uuid::new_v4().to_string(),
        "roles": roles, "tid": inner.tenant, "ver": "2.0",
    });
    let token = sign(&current(&inner), &claims);
    inner.token_grants.fetch_add(1, Ordering::SeqCst);
    Json(json!({ "token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": token }))
        .into_response()
}
