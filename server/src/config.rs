//! Configuration: defaults, then an optional TOML file, then `CRM_BRIDGE_*` environment variables.
//!
//! Every key is documented in `server/config.example.toml`; a test keeps that file in step with
//! [`Config::default`]. Secrets are [`SecretString`]s and never appear in `Debug` or printed config.

use std::{
    fmt,
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize, Serializer};

/// Prefix of every environment variable the server reads.
pub const ENV_PREFIX: &str = "CRM_BRIDGE_";

/// The documented example configuration, printed by `crm-bridge print-config --example`.
pub const EXAMPLE: &str = include_str!("../config.example.toml");

/// Root of the configuration.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// HTTP listener, public URL and request limits (`[server]`).
    pub server: ServerConfig,
    /// Optional HTTPS (`[tls]`).
    pub tls: TlsConfig,
    /// Database connection (`[database]`).
    pub database: DatabaseConfig,
    /// Logging (`[log]`).
    pub log: LogConfig,
    /// Secrets at rest (`[secrets]`).
    pub secrets: SecretsConfig,
    /// Microsoft Entra ID token validation for the add-in (`[entra]`).
    pub entra: EntraConfig,
    /// Admin sessions and sign-in throttling (`[admin]`).
    pub admin: AdminConfig,
    /// Outbound CRM client (`[crm]`).
    pub crm: CrmConfig,
    /// Background workers (`[jobs]`).
    pub jobs: JobsConfig,
}

/// `[server]`: where the server listens and how it protects itself.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to listen on. `CRM_BRIDGE_SERVER__BIND`, default `127.0.0.1:8080`.
    pub bind: SocketAddr,
    /// URL under which users and the CRM reach this server (used for the manifest and webhook
    /// URL). Empty means `http(s)://{bind}`. `CRM_BRIDGE_SERVER__PUBLIC_URL`.
    pub public_url: String,
    /// Directory for the SQLite database, the key file and the development certificate.
    /// `CRM_BRIDGE_SERVER__DATA_DIR`, default `./data`.
    pub data_dir: PathBuf,
    /// Folder of the task pane's files as `scripts/build-wasm` builds them (`web/dist`), instead
    /// of the pane built into the binary. `CRM_BRIDGE_SERVER__WEB_DIR`, default empty (built in).
    pub web_dir: PathBuf,
    /// Serve the Outlook sandbox (`/sandbox.html`), a development page. The demo turns it on.
    /// `CRM_BRIDGE_SERVER__SERVE_SANDBOX`, default `false`.
    pub serve_sandbox: bool,
    /// Largest accepted request body in bytes. Default 1 MiB.
    pub body_limit_bytes: usize,
    /// Time after which a request is answered 408. Default 30 s.
    pub request_timeout_secs: u64,
    /// Extra origins allowed by CORS besides the public URL's own origin.
    pub cors_origins: Vec<String>,
    /// A TLS-terminating proxy is in front, so a plain `http://` public URL off loopback is
    /// intended. Without it the server refuses to start with such a URL. Default false.
    pub behind_tls_proxy: bool,
    /// Addresses or networks (CIDR) of reverse proxies whose `X-Forwarded-For` is believed when
    /// deciding a client's IP address (sign-in throttling). Empty: the TCP peer is the client.
    pub trusted_proxies: Vec<String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: String::new(),
            data_dir: PathBuf::from("./data"),
            web_dir: PathBuf::new(),
            serve_sandbox: false,
            body_limit_bytes: 1024 * 1024,
            request_timeout_secs: 30,
            cors_origins: Vec::new(),
            behind_tls_proxy: false,
            trusted_proxies: Vec::new(),
        }
    }
}

impl ServerConfig {
    /// The public base URL without a trailing slash.
    pub fn public_base(&self, tls: bool) -> String {
        if self.public_url.is_empty() {
            let scheme = if tls { "https" } else { "http" };
            format!("{scheme}://{}", self.bind)
        } else {
            self.public_url.trim_end_matches('/').to_owned()
        }
    }

    /// Request timeout as a [`Duration`].
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs)
    }

    /// The networks of `trusted_proxies`; entries that do not parse are left out (`Config::load`
    /// refuses them).
    pub fn trusted_proxy_nets(&self) -> Vec<ipnet::IpNet> {
        self.trusted_proxies
            .iter()
            .filter_map(|p| parse_net(p))
            .collect()
    }
}

/// An address (`10.0.0.1`) or a network (`10.0.0.0/8`).
fn parse_net(text: &str) -> Option<ipnet::IpNet> {
    let text = text.trim();
    text.parse::<ipnet::IpNet>().ok().or_else(|| {
        text.parse::<std::net::IpAddr>()
            .ok()
            .map(ipnet::IpNet::from)
    })
}

/// Whether `url`'s host is `localhost` or a loopback address.
pub fn is_loopback_url(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// `[tls]`: serve HTTPS directly (Outlook loads add-in pages only over HTTPS).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain file (empty = none). `CRM_BRIDGE_TLS__CERT`.
    pub cert: String,
    /// PEM private key file (empty = none). `CRM_BRIDGE_TLS__KEY`.
    pub key: String,
    /// Create (once) and use a development certificate for `localhost` in the data directory.
    pub self_signed: bool,
}

impl TlsConfig {
    /// Whether the server speaks HTTPS.
    pub fn enabled(&self) -> bool {
        self.self_signed || !self.cert.is_empty()
    }
}

/// `[database]`: which database and how many connections.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `sqlite://…` or `postgres://…`. Empty means a SQLite file `crm-bridge.db` in the data
    /// directory. `CRM_BRIDGE_DATABASE__URL`.
    pub url: DatabaseUrl,
    /// Largest number of pooled connections (0 = the backend's default).
    pub max_connections: u32,
}

/// `[log]`: log filter and format.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// `tracing` filter such as `info` or `server=debug,info`. `RUST_LOG` overrides it.
    pub level: String,
    /// `text` or `json`.
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: "info".into(),
            format: LogFormat::Text,
        }
    }
}

/// Output format of the log.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// `[secrets]`: the master key that encrypts secrets at rest.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct SecretsConfig {
    /// Base64 of 32 random bytes. `CRM_BRIDGE_SECRETS__MASTER_KEY` (or `CRM_BRIDGE_MASTER_KEY`).
    /// Empty means a key file `master.key` (mode 0600) in the data directory, created at first
    /// start.
    pub master_key: Secret,
}

/// `[entra]`: how add-in access tokens are validated.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct EntraConfig {
    /// Authority host; issuers are `{authority}/{tid}/v2.0`. Default
    /// `https://login.microsoftonline.com`.
    pub authority: String,
    /// OpenID metadata URL; `{tenant}` is replaced by the first allowed tenant. Empty means
    /// `{authority}/{tenant}/v2.0/.well-known/openid-configuration`.
    pub metadata_url: String,
    /// JWKS URL; empty means the `jwks_uri` of the metadata document.
    pub jwks_url: String,
    /// Scope the token must carry in `scp`. Default `access_as_user`.
    pub scope: String,
    /// Leeway for `exp` and `nbf` in seconds (at most 300).
    pub leeway_secs: u64,
    /// Microsoft Graph base URL for calendar sync. Default `https://graph.microsoft.com/v1.0`.
    pub graph_url: String,
}

impl Default for EntraConfig {
    fn default() -> Self {
        Self {
            authority: "https://login.microsoftonline.com".into(),
            metadata_url: String::new(),
            jwks_url: String::new(),
            scope: "access_as_user".into(),
            leeway_secs: 60,
            graph_url: "https://graph.microsoft.com/v1.0".into(),
        }
    }
}

/// `[admin]`: admin UI sessions and sign-in throttling.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AdminConfig {
    /// A session ends after this many minutes without a request. Default 30.
    pub session_idle_minutes: u64,
    /// A session ends this many hours after sign-in, whatever happens. Default 12.
    pub session_absolute_hours: u64,
    /// Failed sign-ins allowed per IP address within 15 minutes, and per account before each
    /// further attempt has to wait a doubling delay. Default 10.
    pub max_failed_logins: u32,
    /// Password checks (argon2, 19 MiB each) running at the same time; further attempts wait
    /// briefly, then get 503 with `Retry-After`. 0: the number of CPU cores.
    pub max_concurrent_password_checks: usize,
    /// Mark the session cookie `Secure` (turn off only for plain-HTTP development).
    pub secure_cookie: bool,
}

impl Default for AdminConfig {
    fn default() -> Self {
        Self {
            session_idle_minutes: 30,
            session_absolute_hours: 12,
            max_failed_logins: 10,
            max_concurrent_password_checks: 0,
            secure_cookie: true,
        }
    }
}

/// `[crm]`: outbound calls to the CRM.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct CrmConfig {
    /// Timeout of one CRM request in seconds. Default 30.
    pub request_timeout_secs: u64,
    /// Concurrent connections per CRM instance (Raynet allows 4). Default 4.
    pub max_connections: usize,
    /// Attempts for one request answered 429/503 before giving up. Default 5.
    pub max_retries: u32,
    /// Longest wait for one backoff in seconds; longer waits are left to the job queue.
    /// Default 60.
    pub max_backoff_secs: u64,
    /// Allow CRM base URLs other than Raynet's HTTPS hosts (a simulator, a test double, a
    /// proxy). Default false: a stored API key is only ever sent to Raynet over HTTPS.
    pub allow_other_hosts: bool,
}

impl Default for CrmConfig {
    fn default() -> Self {
        Self {
            request_timeout_secs: 30,
            max_connections: 4,
            max_retries: 5,
            max_backoff_secs: 60,
            allow_other_hosts: false,
        }
    }
}

/// `[jobs]`: background workers.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct JobsConfig {
    /// Run the background workers in this process. Default true.
    pub enabled: bool,
    /// How often idle workers look for due work, in milliseconds. Default 500.
    pub poll_interval_ms: u64,
    /// Attempts before a job is marked failed. Default 12.
    pub max_attempts: u32,
    /// Minutes between reconcile runs against the CRM (0 = never). Default 15.
    pub reconcile_minutes: u64,
    /// Seconds between calendar reconcile passes, which sync activities changed since the last
    /// pass and remove events of activities the CRM no longer has (0 = never). Default 900.
    pub calendar_reconcile_secs: u64,
    /// Hours between id sweeps that remove cached records the CRM no longer has (a delete
    /// whose webhook was lost; ids only, 1 request per 1,000 records) (0 = never). Default 24.
    pub sweep_hours: u64,
    /// How long a worker holds a job before another may take it over, in seconds. Default 120.
    pub lease_secs: u64,
    /// Longest wait between two attempts of a job, in seconds (a CRM reset time may be later).
    /// Default 300.
    pub max_backoff_secs: u64,
    /// Jobs run at the same time by this process. Default 4.
    pub workers: usize,
}

impl Default for JobsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            poll_interval_ms: 500,
            max_attempts: 12,
            reconcile_minutes: 15,
            calendar_reconcile_secs: 900,
            sweep_hours: 24,
            lease_secs: 120,
            max_backoff_secs: 300,
            workers: 4,
        }
    }
}

/// A secret string from configuration: redacted in `Debug` and when serialized.
#[derive(Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct Secret(Option<SecretString>);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        let value = value.into();
        Self((!value.is_empty()).then(|| SecretString::from(value)))
    }

    /// The secret, if one is set and not empty.
    pub fn get(&self) -> Option<&str> {
        self.0
            .as_ref()
            .map(|s| s.expose_secret())
            .filter(|s| !s.is_empty())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.get().is_some() {
            "\"[REDACTED]\""
        } else {
            "\"\""
        })
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(if self.get().is_some() {
            "[REDACTED]"
        } else {
            ""
        })
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        self.get() == other.get()
    }
}

/// A database URL whose password is redacted in `Debug` and when serialized.
#[derive(Clone, Default, Deserialize, PartialEq)]
#[serde(transparent)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    /// Wraps a URL.
    pub fn new(url: impl Into<String>) -> Self {
        Self(url.into())
    }

    /// The URL with its password.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The URL with any password replaced by `***`.
    pub fn redacted(&self) -> String {
        match url::Url::parse(&self.0) {
            Ok(mut url) if url.password().is_some() => {
                let _ = url.set_password(Some("***"));
                url.to_string()
            }
            _ => self.0.clone(),
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.redacted())
    }
}

impl Serialize for DatabaseUrl {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.redacted())
    }
}

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file or a variable could not be parsed.
    #[error("invalid configuration: {0}")]
    Invalid(#[from] Box<figment::Error>),
    /// A value that is needed is missing.
    #[error("{what} is not configured: set `{key}` in the config file or `{env}`")]
    Missing {
        /// What the value is for.
        what: &'static str,
        /// The dotted key in the TOML file.
        key: &'static str,
        /// The environment variable.
        env: String,
    },
    /// A value is present but unusable.
    #[error("`{key}` ({env}) is invalid: {reason}")]
    Bad {
        /// The dotted key in the TOML file.
        key: &'static str,
        /// The environment variable.
        env: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// The environment variable that sets a dotted configuration key.
pub fn env_var_for(key: &str) -> String {
    format!("{ENV_PREFIX}{}", key.replace('.', "__").to_uppercase())
}

impl Config {
    /// Loads defaults, then `file` (if given), then the environment, and checks the result.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::from_figment(Self::figment(file))
    }

    /// The layered sources, before extraction; exposed so tests can inspect them.
    pub fn figment(file: Option<&Path>) -> Figment {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(file) = file {
            figment = figment.merge(Toml::file_exact(file));
        }
        // Unknown variables are warned about by `unknown_env_vars`, not fatal.
        let known = known_keys();
        figment
            // The short name the setup guide uses for the master key.
            .merge(
                Env::raw()
                    .only(&["CRM_BRIDGE_MASTER_KEY"])
                    .map(|_| "secrets.master_key".into()),
            )
            .merge(Env::prefixed(ENV_PREFIX).split("__").filter(move |k| {
                known
                    .iter()
                    .any(|known| known.eq_ignore_ascii_case(k.as_str()))
            }))
    }

    /// Extracts and checks a configuration from `figment`.
    pub fn from_figment(figment: Figment) -> Result<Self, ConfigError> {
        let config: Config = figment.extract().map_err(Box::new)?;
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> Result<(), ConfigError> {
        match (self.tls.cert.is_empty(), self.tls.key.is_empty()) {
            (false, true) => {
                return Err(ConfigError::Missing {
                    what: "the TLS private key",
                    key: "tls.key",
                    env: env_var_for("tls.key"),
                });
            }
            (true, false) => {
                return Err(ConfigError::Missing {
                    what: "the TLS certificate",
                    key: "tls.cert",
                    env: env_var_for("tls.cert"),
                });
            }
            _ => {}
        }
        if self.entra.leeway_secs > 300 {
            return Err(ConfigError::Bad {
                key: "entra.leeway_secs",
                env: env_var_for("entra.leeway_secs"),
                reason: "at most 300 seconds".into(),
            });
        }
        if let Some(bad) = self
            .server
            .trusted_proxies
            .iter()
            .find(|p| parse_net(p).is_none())
        {
            return Err(ConfigError::Bad {
                key: "server.trusted_proxies",
                env: env_var_for("server.trusted_proxies"),
                reason: format!("{bad:?} is neither an IP address nor a CIDR network"),
            });
        }
        let url = self.database.url.expose();
        if !(url.is_empty() || url.starts_with("sqlite:") || url.starts_with("postgres")) {
            return Err(ConfigError::Bad {
                key: "database.url",
                env: env_var_for("database.url"),
                reason: "must start with sqlite:// or postgres://".into(),
            });
        }
        Ok(())
    }

    /// Checks how users reach the server before it serves: a plain `http://` public URL off
    /// loopback is refused unless `server.behind_tls_proxy` says TLS ends at a proxy in front.
    /// Returns warnings to log (a session cookie without `Secure` off loopback).
    pub fn check_transport(&self) -> Result<Vec<String>, ConfigError> {
        let public = self.server.public_base(self.tls.enabled());
        let url = url::Url::parse(&public).map_err(|e| ConfigError::Bad {
            key: "server.public_url",
            env: env_var_for("server.public_url"),
            reason: format!("{public:?} is not a URL: {e}"),
        })?;
        let loopback = is_loopback_url(&url);
        if url.scheme() == "http" && !loopback && !self.server.behind_tls_proxy {
            return Err(ConfigError::Bad {
                key: "server.public_url",
                env: env_var_for("server.public_url"),
                reason: format!(
                    "{public} is plain HTTP off loopback, so passwords and session cookies would \
                     travel unencrypted: use an https:// URL (with --tls-cert/--tls-key or a \
                     TLS-terminating proxy), or set `server.behind_tls_proxy = true` ({}) if a \
                     proxy in front terminates TLS",
                    env_var_for("server.behind_tls_proxy")
                ),
            });
        }
        let mut warnings = Vec::new();
        if !self.admin.secure_cookie && !loopback {
            warnings.push(format!(
                "`admin.secure_cookie` is false while the server is reached at {public}: the \
                 admin session cookie may travel over plain HTTP; set it to true ({})",
                env_var_for("admin.secure_cookie")
            ));
        }
        Ok(warnings)
    }

    /// The database URL to connect to: the configured one, or the SQLite file in the data dir.
    pub fn database_url(&self) -> DatabaseUrl {
        if self.database.url.expose().is_empty() {
            let path = self.server.data_dir.join("crm-bridge.db");
            DatabaseUrl::new(format!("sqlite://{}?mode=rwc", path.display()))
        } else {
            self.database.url.clone()
        }
    }

    /// The configuration as TOML with secrets redacted, for `crm-bridge print-config`.
    pub fn to_redacted_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_else(|e| format!("# cannot render: {e}\n"))
    }
}

/// Every dotted key the configuration knows, derived from the defaults.
pub fn known_keys() -> Vec<String> {
    let value = serde_json::to_value(Config::default()).unwrap_or_default();
    let mut keys = Vec::new();
    collect_keys(&value, "", &mut keys);
    keys
}

fn collect_keys(value: &serde_json::Value, prefix: &str, out: &mut Vec<String>) {
    if let serde_json::Value::Object(map) = value {
        for (k, v) in map {
            let key = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            if v.is_object() {
                collect_keys(v, &key, out);
            } else {
                out.push(key);
            }
        }
    }
}

/// `CRM_BRIDGE_*` variables in `vars` that match no configuration key (likely misspelled).
pub fn unknown_env_vars(vars: impl IntoIterator<Item = (String, String)>) -> Vec<String> {
    let known: Vec<String> = known_keys().iter().map(|k| env_var_for(k)).collect();
    vars.into_iter()
        .map(|(name, _)| name)
        .filter(|name| name.starts_with(ENV_PREFIX))
        .filter(|name| name != "CRM_BRIDGE_MASTER_KEY" && !name.starts_with("CRM_BRIDGE_TEST_"))
        .filter(|name| !known.contains(name))
        .collect()
}

#[cfg(test)]
// figment::Jail closures return figment::Error by design.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;

    #[test]
    fn the_example_file_equals_the_defaults() {
        let example: Config = Figment::from(Toml::string(EXAMPLE)).extract().unwrap();
        assert_eq!(example, Config::default());
    }

    #[test]
    fn the_example_file_documents_every_key() {
        let example: toml::Table = EXAMPLE.parse().unwrap();
        let mut documented = Vec::new();
        collect_keys(&serde_json::to_value(example).unwrap(), "", &mut documented);
        let mut known = known_keys();
        known.sort();
        documented.sort();
        assert_eq!(documented, known);
    }

    #[test]
    fn environment_variables_override_the_file_with_double_underscore_nesting() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "c.toml",
                "[server]\nbind = \"127.0.0.1:9000\"\n[log]\nlevel = \"debug\"\n",
            )?;
            jail.set_env("CRM_BRIDGE_SERVER__BIND", "127.0.0.1:9100");
            jail.set_env("CRM_BRIDGE_DATABASE__URL", "postgres://u:pw@localhost/db");
            let config = Config::load(Some(Path::new("c.toml"))).unwrap();
            assert_eq!(config.server.bind.port(), 9100);
            assert_eq!(config.log.level, "debug");
            assert_eq!(config.database.url.expose(), "postgres://u:pw@localhost/db");
            Ok(())
        });
    }

    #[test]
    fn the_short_master_key_variable_is_accepted() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("CRM_BRIDGE_MASTER_KEY", "c2VjcmV0");
            let config = Config::load(None).unwrap();
            assert_eq!(config.secrets.master_key.get(), Some("c2VjcmV0"));
            Ok(())
        });
    }

    #[test]
    fn a_misspelled_variable_is_reported_and_a_correct_one_is_not() {
        let unknown = unknown_env_vars([
            ("CRM_BRIDGE_DATABSE__URL".to_string(), String::new()),
            ("CRM_BRIDGE_DATABASE__URL".to_string(), String::new()),
            ("HOME".to_string(), String::new()),
        ]);
        assert_eq!(unknown, vec!["CRM_BRIDGE_DATABSE__URL".to_string()]);
    }

    #[test]
    fn a_certificate_without_a_key_names_the_missing_key_and_variable() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("CRM_BRIDGE_TLS__CERT", "/tmp/cert.pem");
            let err = Config::load(None).unwrap_err().to_string();
            assert!(err.contains("tls.key"), "{err}");
            assert!(err.contains("CRM_BRIDGE_TLS__KEY"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn secrets_are_redacted_in_debug_and_printed_config() {
        let mut config = Config::default();
        config.secrets.master_key = Secret::new("super-secret-value");
        config.database.url = DatabaseUrl::new("postgres://user:hunter2@db/crm");
        let debug = format!("{config:?}");
        let printed = config.to_redacted_toml();
        for text in [&debug, &printed] {
            assert!(!text.contains("super-secret-value"), "{text}");
            assert!(!text.contains("hunter2"), "{text}");
        }
        assert!(printed.contains("postgres://user:***@db/crm"), "{printed}");
    }

    #[test]
    fn trusted_proxies_come_from_the_environment_and_bad_ones_name_the_key() {
        figment::Jail::expect_with(|jail| {
            jail.set_env(
                "CRM_BRIDGE_SERVER__TRUSTED_PROXIES",
                r#"["10.0.0.0/8", "127.0.0.1"]"#,
            );
            let config = Config::load(None).unwrap();
            assert_eq!(config.server.trusted_proxy_nets().len(), 2);
            jail.set_env("CRM_BRIDGE_SERVER__TRUSTED_PROXIES", r#"["proxy.local"]"#);
            let err = Config::load(None).unwrap_err().to_string();
            assert!(err.contains("server.trusted_proxies"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn a_plain_http_public_url_is_refused_off_loopback_only() {
        let mut config = Config::default();
        for (url, ok) in [
            ("http://crm.example.com", false),
            ("http://localhost:8080", true),
            ("http://127.0.0.1:8080", true),
            ("https://crm.example.com", true),
        ] {
            config.server.public_url = url.into();
            assert_eq!(config.check_transport().is_ok(), ok, "{url}");
        }
        config.server.public_url = "http://crm.example.com".into();
        config.server.behind_tls_proxy = true;
        assert!(config.check_transport().is_ok());
        config.admin.secure_cookie = false;
        let warnings = config.check_transport().unwrap();
        assert!(warnings[0].contains("admin.secure_cookie"), "{warnings:?}");
    }

    #[test]
    fn the_default_database_is_a_sqlite_file_in_the_data_directory() {
        let config = Config::default();
        assert_eq!(
            config.database_url().expose(),
            "sqlite://./data/crm-bridge.db?mode=rwc"
        );
    }
}
