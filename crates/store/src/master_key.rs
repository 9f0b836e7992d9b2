//! The master key that wraps every stored secret's data key.
//!
//! Production sets `KEYWAY_MASTER_KEY`. The embedded default generates one on first start into
//! `<data-dir>/master.key` (mode 0600) and warns, so a laptop install works with no set-up and
//! keeps working across restarts.

use crate::StoreError;
use base64::Engine as _;
use keyway_config::{SecuritySettings, Settings};
use keyway_domain::Secret;
use rand::RngCore as _;
use sha2::{Digest, Sha256};
use std::io::Write as _;
use std::path::Path;

const FILE_NAME: &str = "master.key";

/// A 256-bit key with a short public id (for key rotation bookkeeping).
pub struct MasterKey {
    key: Secret<[u8; SecuritySettings::MASTER_KEY_LEN]>,
    id: String,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MasterKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// Where a master key came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MasterKeySource {
    /// `security.master_key` / `KEYWAY_MASTER_KEY`.
    Configured,
    /// Read from the data directory.
    DataDir,
    /// Generated just now into the data directory.
    Generated,
}

impl MasterKey {
    /// The configured key, or the data directory's, generating that on first use.
    pub fn resolve(settings: &Settings) -> Result<(Self, MasterKeySource), StoreError> {
        if let Some(configured) = &settings.security.master_key {
            return Ok((
                Self::from_base64(configured.expose())?,
                MasterKeySource::Configured,
            ));
        }
        let path = settings.server.data_dir.join(FILE_NAME);
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok((Self::from_base64(&text)?, MasterKeySource::DataDir)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = Self::generate_into(&path)?;
                tracing::warn!(
                    path = %path.display(),
                    "generated a master key for the embedded default; production must set KEYWAY_MASTER_KEY"
                );
                Ok((key, MasterKeySource::Generated))
            }
            Err(source) => Err(StoreError::Io {
                context: format!("reading {}", path.display()),
                source,
            }),
        }
    }

    /// Parses a base64 key.
    pub fn from_base64(text: &str) -> Result<Self, StoreError> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|_| StoreError::Invalid("master key is not base64".into()))?;
        let key: [u8; SecuritySettings::MASTER_KEY_LEN] = bytes
            .try_into()
            .map_err(|_| StoreError::Invalid("master key must be 32 bytes".into()))?;
        Ok(Self::from_bytes(key))
    }

    fn generate_into(path: &Path) -> Result<Self, StoreError> {
        let io = |context: String| move |source| StoreError::Io { context, source };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io(format!("creating {}", dir.display())))?;
        }
        let mut key = [0u8; SecuritySettings::MASTER_KEY_LEN];
        rand::rng().fill_bytes(&mut key);
        let text = base64::engine::general_purpose::STANDARD.encode(key);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options
            .open(path)
            .map_err(io(format!("creating {}", path.display())))?;
        file.write_all(text.as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(io(format!("writing {}", path.display())))?;
        Self::from_base64(&text)
    }

    /// Public id of the key (first 4 bytes of its SHA-256), stored next to wrapped data keys.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// A fresh random key (for rotation).
    pub fn generate() -> Self {
        let mut key = [0u8; SecuritySettings::MASTER_KEY_LEN];
        rand::rng().fill_bytes(&mut key);
        Self::from_bytes(key)
    }

    fn from_bytes(key: [u8; SecuritySettings::MASTER_KEY_LEN]) -> Self {
        let id = hex::encode(&Sha256::digest(key)[..4]);
        Self {
            key: Secret::new(key),
            id,
        }
    }

    /// The key as base64, for the operator to store (a [`Secret`], so it never prints by
    /// accident).
    pub fn to_base64(&self) -> Secret<String> {
        Secret::new(base64::engine::general_purpose::STANDARD.encode(self.key.expose()))
    }

    /// Replaces the data directory's key file with this key (mode 0600, written aside and
    /// renamed, so a crash leaves either the old or the new file whole).
    pub fn replace_file(&self, data_dir: &Path) -> Result<std::path::PathBuf, StoreError> {
        let io = |context: String| move |source| StoreError::Io { context, source };
        let path = data_dir.join(FILE_NAME);
        let partial = data_dir.join(format!(".{FILE_NAME}.partial"));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options
            .open(&partial)
            .map_err(io(format!("creating {}", partial.display())))?;
        file.write_all(self.to_base64().expose().as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(io(format!("writing {}", partial.display())))?;
        std::fs::rename(&partial, &path).map_err(io(format!("replacing {}", path.display())))?;
        Ok(path)
    }

    /// The key bytes, for the envelope-encryption code.
    pub fn bytes(&self) -> &[u8; SecuritySettings::MASTER_KEY_LEN] {
        self.key.expose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_once_with_private_permissions_then_reuses() {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = Settings::default();
        settings.server.data_dir = dir.path().join("data");
        let (first, source) = MasterKey::resolve(&settings).unwrap();
        assert_eq!(source, MasterKeySource::Generated);
        let path = settings.server.data_dir.join(FILE_NAME);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let (second, source) = MasterKey::resolve(&settings).unwrap();
        assert_eq!(source, MasterKeySource::DataDir);
        assert_eq!(first.bytes(), second.bytes());
        assert_eq!(first.id().len(), 8);
        assert!(!format!("{first:?}").contains(&hex::encode(first.bytes())));
    }

    #[test]
    fn configured_key_wins_and_bad_keys_are_refused() {
        let mut settings = Settings::default();
        settings.server.data_dir = tempfile::tempdir().unwrap().path().join("never-created");
        let configured = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
        settings.security.master_key = Some(Secret::new(configured));
        let (key, source) = MasterKey::resolve(&settings).unwrap();
        assert_eq!(source, MasterKeySource::Configured);
        assert_eq!(key.bytes(), &[7u8; 32]);
        assert!(!settings.server.data_dir.exists());
        assert!(MasterKey::from_base64("not base64!").is_err());
        assert!(MasterKey::from_base64("AAAA").is_err());
    }
}
