//! Secrets the embedded mode generates for itself on first start, so that
//! `studio serve` needs no configuration; kept under the data directory,
//! readable by their owner only.

use std::fs;
use std::io::Write;
use std::path::Path;

use anyhow::Context;
use rand::RngCore;

/// The configured secret, else the one stored under `name`, else a new one.
/// Processes starting together agree on one: the file appears whole or not
/// at all (written aside, then linked into place).
pub fn secret(dir: &Path, name: &str, configured: Option<&str>) -> anyhow::Result<Vec<u8>> {
    if let Some(value) = configured {
        return Ok(value.as_bytes().to_vec());
    }
    let path = dir.join(name);
    if !path.exists() {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let mut bytes = vec![0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        let aside = dir.join(format!(".{name}.{}", uuid::Uuid::new_v4()));
        let mut options = fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options
            .open(&aside)
            .with_context(|| format!("creating {}", aside.display()))?;
        file.write_all(hex::encode(&bytes).as_bytes())?;
        file.sync_all()?;
        match fs::hard_link(&aside, &path) {
            Ok(()) => tracing::info!(path = %path.display(), "generated a new secret"),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e).with_context(|| format!("creating {}", path.display())),
        }
        let _ = fs::remove_file(&aside);
    }
    let text = fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    hex::decode(text.trim()).with_context(|| format!("{} is not a hex secret", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_once_then_reused_and_configured_wins() {
        let dir = tempfile::tempdir().expect("temp dir");
        let first = secret(dir.path(), "token.key", None).expect("generate");
        assert_eq!(first.len(), 32);
        assert_eq!(secret(dir.path(), "token.key", None).expect("reuse"), first);
        assert_eq!(
            secret(dir.path(), "token.key", Some("configured")).expect("configured"),
            b"configured"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.path().join("token.key"))
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn racing_processes_agree() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().to_owned();
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let path = path.clone();
                std::thread::spawn(move || secret(&path, "identity.key", None).expect("secret"))
            })
            .collect();
        let secrets: Vec<Vec<u8>> = handles
            .into_iter()
            .map(|h| h.join().expect("join"))
            .collect();
        assert!(secrets.windows(2).all(|w| w[0] == w[1]));
    }
}
