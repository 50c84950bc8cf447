//! Small file helpers shared by modules that keep files in the data directory.

use std::path::Path;

use anyhow::Context;

/// Writes `bytes` to a new file readable only by its owner (mode 0600 on Unix).
pub fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("while creating {}", path.display()))?;
    file.write_all(bytes)
        .with_context(|| format!("while writing {}", path.display()))?;
    file.sync_all()
        .with_context(|| format!("while syncing {}", path.display()))?;
    Ok(())
}
