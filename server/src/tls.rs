//! HTTPS: the rustls configuration from PEM files, or a development certificate for `localhost`
//! created once in the data directory.

use std::path::{Path, PathBuf};

use anyhow::Context;
use axum_server::tls_rustls::RustlsConfig;

use crate::config::Config;

/// Paths of the development certificate and key inside `data_dir`.
pub fn self_signed_paths(data_dir: &Path) -> (PathBuf, PathBuf) {
    let dir = data_dir.join("tls");
    (
        dir.join("localhost-cert.pem"),
        dir.join("localhost-key.pem"),
    )
}

/// Creates the development certificate unless it exists; returns its paths.
pub fn ensure_self_signed(data_dir: &Path) -> anyhow::Result<(PathBuf, PathBuf)> {
    let (cert_path, key_path) = self_signed_paths(data_dir);
    if cert_path.exists() && key_path.exists() {
        return Ok((cert_path, key_path));
    }
    let names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    let certified = rcgen::generate_simple_self_signed(names)
        .context("while creating the development certificate")?;
    if let Some(dir) = cert_path.parent() {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("while creating {}", dir.display()))?;
    }
    std::fs::write(&cert_path, certified.cert.pem())
        .with_context(|| format!("while writing {}", cert_path.display()))?;
    crate::fsutil::write_private(&key_path, certified.signing_key.serialize_pem().as_bytes())?;
    tracing::info!(cert = %cert_path.display(), "created a development certificate for localhost");
    Ok((cert_path, key_path))
}

/// The rustls configuration for `config`, or `None` when TLS is off.
pub async fn rustls_config(config: &Config) -> anyhow::Result<Option<RustlsConfig>> {
    let (cert, key) = if !config.tls.cert.is_empty() {
        (
            PathBuf::from(&config.tls.cert),
            PathBuf::from(&config.tls.key),
        )
    } else if config.tls.self_signed {
        ensure_self_signed(&config.server.data_dir)?
    } else {
        return Ok(None);
    };
    // Several crates enable rustls; choose the one provider explicitly.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let tls = RustlsConfig::from_pem_file(&cert, &key)
        .await
        .with_context(|| {
            format!(
                "while loading TLS certificate {} and key {}",
                cert.display(),
                key.display()
            )
        })?;
    Ok(Some(tls))
}
