//! Secrets the embedded mode generates for itself on first start, so that
//! `studio serve` needs no configuration; kept under the data directory,
//! readable by its owner only.

use std::fs;
use std::io::Write;
use std::path::Path;

use anyhow::Context;
use rand::RngCore;

/// The configured secret, else the one stored under `name`, else a new one.
pub fn secret(dir: &Path, name: &str, configured: Option<&str>) -> anyhow::Result<Vec<u8>> {
    if let Some(value) = configured {
        return Ok(value.as_bytes().to_vec());
    }
    let path = dir.join(name);
    if path.exists() {
        let text =
            fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        return hex::decode(text.trim())
            .with_context(|| format!("{} is not a hex secret", path.display()));
    }
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut bytes = vec![0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(&path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(hex::encode(&bytes).as_bytes())?;
    file.sync_all()?;
    tracing::info!(path = %path.display(), "generated a new secret");
    Ok(bytes)
}
