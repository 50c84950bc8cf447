//! Secrets at rest: the [`MasterKey`] and the encrypted form of CRM API keys and other secrets.
//!
//! Values are sealed with XChaCha20-Poly1305 under a random 192-bit nonce. The AAD names the
//! place a value belongs to (for example `employees.crm_api_key:<id>`), so a ciphertext copied to
//! another row does not decrypt. The stored text is `v1:` + base64(nonce ‖ ciphertext).
//!
//! Settings secrets follow one convention so key rotation finds them without knowing every
//! setting: a string field whose name ends in `_enc` inside the JSON value of setting `key` is
//! sealed with the AAD `settings.<key>.<field>`.

use std::{fmt, path::PathBuf};

use anyhow::Context;
use base64::{Engine, engine::general_purpose::STANDARD};
use chacha20poly1305::{
    AeadCore, KeyInit, XChaCha20Poly1305, XNonce,
    aead::{Aead, OsRng, Payload},
};
use secrecy::{ExposeSecret, SecretString};

use crate::{config::Config, store::Store};

const PREFIX: &str = "v1:";
const NONCE_LEN: usize = 24;
/// Name of the key file in the data directory.
pub const KEY_FILE: &str = "master.key";

/// Where the master key came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// `secrets.master_key` / `CRM_BRIDGE_MASTER_KEY`.
    Config,
    /// The key file at this path.
    File(PathBuf),
}

/// Why a secret could not be opened.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    /// Not in the `v1:` format.
    #[error("the stored secret has an unknown format")]
    Format,
    /// Wrong key, wrong place, or tampered.
    #[error("the stored secret cannot be decrypted (wrong master key or tampered value)")]
    Decrypt,
}

/// The key that encrypts secrets at rest. `Debug` never shows it.
#[derive(Clone)]
pub struct MasterKey {
    cipher: XChaCha20Poly1305,
    bytes: [u8; 32],
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(***)")
    }
}

impl MasterKey {
    /// A new random key.
    pub fn generate() -> Self {
        let key = XChaCha20Poly1305::generate_key(&mut OsRng);
        Self::from_bytes(key.into())
    }

    fn from_bytes(bytes: [u8; 32]) -> Self {
        Self {
            cipher: XChaCha20Poly1305::new(&bytes.into()),
            bytes,
        }
    }

    /// Parses the base64 text of 32 bytes.
    pub fn from_base64(text: &str) -> anyhow::Result<Self> {
        let raw = STANDARD
            .decode(text.trim())
            .context("the master key is not valid base64")?;
        let bytes: [u8; 32] = raw
            .try_into()
            .map_err(|_| anyhow::anyhow!("the master key must be 32 bytes (base64 of 32 bytes)"))?;
        Ok(Self::from_bytes(bytes))
    }

    /// The key as base64 text, for the key file or for printing once after rotation.
    pub fn to_base64(&self) -> SecretString {
        SecretString::from(STANDARD.encode(self.bytes))
    }

    /// Loads the configured key, or the key file in the data directory, creating it (mode 0600)
    /// at first start.
    pub fn load(config: &Config) -> anyhow::Result<(Self, KeySource)> {
        if let Some(text) = config
            .secrets
            .master_key
            .get()
            .filter(|t| !t.trim().is_empty())
        {
            let key =
                Self::from_base64(text).context("in secrets.master_key / CRM_BRIDGE_MASTER_KEY")?;
            return Ok((key, KeySource::Config));
        }
        let path = config.server.data_dir.join(KEY_FILE);
        if path.exists() {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("while reading {}", path.display()))?;
            let key = Self::from_base64(&text).with_context(|| format!("in {}", path.display()))?;
            return Ok((key, KeySource::File(path)));
        }
        std::fs::create_dir_all(&config.server.data_dir)
            .with_context(|| format!("while creating {}", config.server.data_dir.display()))?;
        let key = Self::generate();
        crate::fsutil::write_private(&path, key.to_base64().expose_secret().as_bytes())?;
        tracing::info!(path = %path.display(), "created a new master key file; keep a backup of it");
        Ok((key, KeySource::File(path)))
    }

    /// Encrypts `plaintext` for the place named by `aad`.
    pub fn seal(&self, aad: &str, plaintext: &str) -> String {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let payload = Payload {
            msg: plaintext.as_bytes(),
            aad: aad.as_bytes(),
        };
        // Encryption in memory fails only for messages larger than the cipher's limit (256 GiB).
        let sealed = self.cipher.encrypt(&nonce, payload).unwrap_or_default();
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        format!("{PREFIX}{}", STANDARD.encode(out))
    }

    /// Decrypts a value sealed by [`seal`](Self::seal) for the same `aad`.
    pub fn open(&self, aad: &str, stored: &str) -> Result<SecretString, SecretError> {
        let body = stored.strip_prefix(PREFIX).ok_or(SecretError::Format)?;
        let raw = STANDARD.decode(body).map_err(|_| SecretError::Format)?;
        if raw.len() < NONCE_LEN {
            return Err(SecretError::Format);
        }
        let (nonce, sealed) = raw.split_at(NONCE_LEN);
        let plain = self
            .cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| SecretError::Decrypt)?;
        String::from_utf8(plain)
            .map(SecretString::from)
            .map_err(|_| SecretError::Decrypt)
    }
}

/// The AAD of an employee's CRM API key.
pub fn employee_crm_key_aad(employee_id: &str) -> String {
    format!("employees.crm_api_key:{employee_id}")
}

/// The AAD of the field `field` (ending in `_enc`) of setting `key`.
pub fn setting_aad(key: &str, field: &str) -> String {
    format!("settings.{key}.{field}")
}

/// `"••••1234"`: the last four characters of a secret, for display.
pub fn mask(secret: &SecretString) -> String {
    let chars: Vec<char> = secret.expose_secret().chars().collect();
    let tail: String = if chars.len() > 8 {
        chars[chars.len() - 4..].iter().collect()
    } else {
        String::new()
    };
    format!("••••{tail}")
}

/// How many secrets a rotation re-encrypted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rotated {
    /// Employees' CRM API keys.
    pub employee_keys: usize,
    /// `_enc` fields in settings.
    pub setting_fields: usize,
}

/// Re-encrypts every stored secret from `old` to `new` in one transaction. Fails without
/// changing anything if any secret cannot be opened with `old`.
pub async fn rotate(
    store: &dyn Store,
    old: &MasterKey,
    new: &MasterKey,
) -> anyhow::Result<Rotated> {
    let mut employees = Vec::new();
    for employee in store.list_employees().await? {
        if let Some(enc) = &employee.crm_api_key_enc {
            let aad = employee_crm_key_aad(&employee.id);
            let plain = old
                .open(&aad, enc)
                .with_context(|| format!("the CRM API key of employee {}", employee.id))?;
            employees.push((employee.id.clone(), new.seal(&aad, plain.expose_secret())));
        }
    }
    let mut settings = Vec::new();
    let mut setting_fields = 0;
    for (key, value) in store.all_settings().await? {
        let Ok(serde_json::Value::Object(mut map)) = serde_json::from_str(&value) else {
            continue;
        };
        let mut changed = false;
        for (field, v) in map.iter_mut() {
            let Some(text) = v.as_str().filter(|_| field.ends_with("_enc")) else {
                continue;
            };
            let aad = setting_aad(&key, field);
            let plain = old
                .open(&aad, text)
                .with_context(|| format!("the secret {field} of setting {key}"))?;
            *v = serde_json::Value::String(new.seal(&aad, plain.expose_secret()));
            changed = true;
            setting_fields += 1;
        }
        if changed {
            settings.push((key, serde_json::Value::Object(map).to_string()));
        }
    }
    store.rewrite_secrets(&employees, &settings).await?;
    Ok(Rotated {
        employee_keys: employees.len(),
        setting_fields,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_value_opens_only_with_the_same_key_and_place() {
        let key = MasterKey::generate();
        let sealed = key.seal("employees.crm_api_key:1", "api-key-123");
        assert!(sealed.starts_with("v1:"));
        assert!(!sealed.contains("api-key-123"));
        let opened = key.open("employees.crm_api_key:1", &sealed).unwrap();
        assert_eq!(opened.expose_secret(), "api-key-123");
        assert_eq!(
            key.open("employees.crm_api_key:2", &sealed).unwrap_err(),
            SecretError::Decrypt
        );
        assert_eq!(
            MasterKey::generate()
                .open("employees.crm_api_key:1", &sealed)
                .unwrap_err(),
            SecretError::Decrypt
        );
        assert_eq!(key.open("x", "plain").unwrap_err(), SecretError::Format);
    }

    #[test]
    fn sealing_twice_gives_different_ciphertexts() {
        let key = MasterKey::generate();
        assert_ne!(key.seal("a", "same"), key.seal("a", "same"));
    }

    #[test]
    fn the_key_round_trips_through_base64_and_hides_in_debug() {
        let key = MasterKey::generate();
        let text = key.to_base64();
        let again = MasterKey::from_base64(text.expose_secret()).unwrap();
        assert_eq!(
            again
                .open("a", &key.seal("a", "v"))
                .unwrap()
                .expose_secret(),
            "v"
        );
        assert!(!format!("{key:?}").contains(text.expose_secret()));
        assert!(MasterKey::from_base64("c2hvcnQ=").is_err());
    }

    #[test]
    fn masks_show_only_the_last_four_characters_of_long_secrets() {
        assert_eq!(mask(&SecretString::from("abcdefghij1234")), "••••1234");
        assert_eq!(mask(&SecretString::from("short")), "••••");
    }
}
