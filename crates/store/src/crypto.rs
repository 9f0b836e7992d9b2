//! Envelope encryption of stored secrets (provider keys).
//!
//! Each secret gets a fresh random AES-256-GCM data key; the secret is encrypted under that key
//! and the data key is encrypted ("wrapped") under the master key, each with its own random
//! 96-bit nonce. The master key's id is stored next to the result, so rotating the master key
//! only re-wraps data keys ([`rewrap`]) and never touches the secrets' ciphertexts.
//!
//! Both encryptions carry associated data built from a caller-chosen *context* that names the
//! row the secret belongs to (e.g. `provider_credential/<org id>/<credential id>`): a sealed
//! secret copied into another row, or another organization, fails to open.

use crate::{MasterKey, StoreError};
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use rand::RngCore as _;

/// Bytes in an AES-GCM nonce.
pub const NONCE_LEN: usize = 12;
const DATA_KEY_LEN: usize = 32;
/// Versions the associated-data layout, so a future scheme cannot be confused with this one.
const AAD_VERSION: &str = "keyway/envelope/v1";

/// A secret sealed under a master key: what the database stores, nothing of it secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Sealed {
    /// The secret encrypted under the data key (with its GCM tag).
    pub ciphertext: Vec<u8>,
    /// Nonce of `ciphertext`.
    pub nonce: Vec<u8>,
    /// The data key encrypted under the master key (with its GCM tag).
    pub wrapped_key: Vec<u8>,
    /// Nonce of `wrapped_key`.
    pub key_nonce: Vec<u8>,
    /// Id of the master key that wrapped the data key ([`MasterKey::id`]).
    pub master_key_id: String,
}

impl std::fmt::Debug for Sealed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealed")
            .field("master_key_id", &self.master_key_id)
            .field("ciphertext_len", &self.ciphertext.len())
            .finish_non_exhaustive()
    }
}

/// Encrypts `plaintext` for the row named by `context` under a fresh data key wrapped by
/// `master`.
pub fn seal(master: &MasterKey, context: &str, plaintext: &[u8]) -> Result<Sealed, StoreError> {
    let mut data_key = [0u8; DATA_KEY_LEN];
    rand::rng().fill_bytes(&mut data_key);
    let (ciphertext, nonce) = encrypt(&data_key, &secret_aad(context), plaintext)?;
    let sealed_key = wrap(master, context, &data_key);
    data_key.fill(0);
    let (wrapped_key, key_nonce) = sealed_key?;
    Ok(Sealed {
        ciphertext,
        nonce: nonce.to_vec(),
        wrapped_key,
        key_nonce: key_nonce.to_vec(),
        master_key_id: master.id().to_owned(),
    })
}

/// Decrypts a secret sealed by [`seal`] for the same `context`. Any changed byte, a wrong
/// context or a different master key is a [`StoreError::Crypto`].
pub fn open(master: &MasterKey, context: &str, sealed: &Sealed) -> Result<Vec<u8>, StoreError> {
    let mut data_key = unwrap(master, context, sealed)?;
    let plaintext = decrypt(
        &data_key,
        &sealed.nonce,
        &secret_aad(context),
        &sealed.ciphertext,
    );
    data_key.fill(0);
    plaintext.map_err(|()| {
        StoreError::Crypto(format!(
            "sealed secret for {context} failed authentication: its ciphertext was altered or \
             belongs to another record"
        ))
    })
}

/// Re-wraps the data key of `sealed` from `old` to `new` (master-key rotation); the secret's
/// ciphertext and nonce stay as they are.
pub fn rewrap(
    old: &MasterKey,
    new: &MasterKey,
    context: &str,
    sealed: &Sealed,
) -> Result<Sealed, StoreError> {
    let mut data_key = unwrap(old, context, sealed)?;
    let wrapped = wrap(new, context, &data_key);
    data_key.fill(0);
    let (wrapped_key, key_nonce) = wrapped?;
    Ok(Sealed {
        ciphertext: sealed.ciphertext.clone(),
        nonce: sealed.nonce.clone(),
        wrapped_key,
        key_nonce: key_nonce.to_vec(),
        master_key_id: new.id().to_owned(),
    })
}

fn secret_aad(context: &str) -> Vec<u8> {
    format!("{AAD_VERSION}/secret/{context}").into_bytes()
}

/// The wrapped key is bound to the master key id as well, so a row whose id column was edited
/// to point at another key fails instead of being decrypted with it.
fn key_aad(master_key_id: &str, context: &str) -> Vec<u8> {
    format!("{AAD_VERSION}/data-key/{master_key_id}/{context}").into_bytes()
}

fn wrap(
    master: &MasterKey,
    context: &str,
    data_key: &[u8; DATA_KEY_LEN],
) -> Result<(Vec<u8>, [u8; NONCE_LEN]), StoreError> {
    encrypt(master.bytes(), &key_aad(master.id(), context), data_key)
}

fn unwrap(
    master: &MasterKey,
    context: &str,
    sealed: &Sealed,
) -> Result<[u8; DATA_KEY_LEN], StoreError> {
    if sealed.master_key_id != master.id() {
        return Err(StoreError::Crypto(format!(
            "secret for {context} is sealed under master key {}, but the configured master key is {}",
            sealed.master_key_id,
            master.id()
        )));
    }
    let aad = key_aad(&sealed.master_key_id, context);
    let mut bytes =
        decrypt(master.bytes(), &sealed.key_nonce, &aad, &sealed.wrapped_key).map_err(|()| {
            StoreError::Crypto(format!(
                "data key for {context} failed authentication: the wrapped key was altered or \
                 belongs to another record"
            ))
        })?;
    let key = <[u8; DATA_KEY_LEN]>::try_from(bytes.as_slice())
        .map_err(|_| StoreError::Crypto(format!("data key for {context} has the wrong length")));
    bytes.fill(0);
    key
}

fn encrypt(
    key: &[u8; 32],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<(Vec<u8>, [u8; NONCE_LEN]), StoreError> {
    let mut nonce = [0u8; NONCE_LEN];
    rand::rng().fill_bytes(&mut nonce);
    let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key));
    let ciphertext = cipher
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .map_err(|_| StoreError::Crypto("secret too large to encrypt".into()))?;
    Ok((ciphertext, nonce))
}

fn decrypt(key: &[u8; 32], nonce: &[u8], aad: &[u8], ciphertext: &[u8]) -> Result<Vec<u8>, ()> {
    // A nonce of the wrong length is tampering like any other; `from_slice` would panic on it.
    if nonce.len() != NONCE_LEN {
        return Err(());
    }
    let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key));
    cipher
        .decrypt(
            Nonce::from_slice(nonce),
            Payload {
                msg: ciphertext,
                aad,
            },
        )
        .map_err(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    fn key(byte: u8) -> MasterKey {
        MasterKey::from_base64(&base64::engine::general_purpose::STANDARD.encode([byte; 32]))
            .unwrap()
    }

    #[test]
    fn each_seal_uses_fresh_keys_and_nonces() {
        let master = key(1);
        let a = seal(&master, "ctx", b"same secret").unwrap();
        let b = seal(&master, "ctx", b"same secret").unwrap();
        assert_ne!(a.ciphertext, b.ciphertext);
        assert_ne!(a.wrapped_key, b.wrapped_key);
        assert_ne!(a.nonce, b.nonce);
        assert_eq!(a.nonce.len(), NONCE_LEN);
        assert_eq!(a.key_nonce.len(), NONCE_LEN);
        assert_eq!(open(&master, "ctx", &a).unwrap(), b"same secret");
    }

    #[test]
    fn a_short_nonce_is_an_error_not_a_panic() {
        let master = key(1);
        let mut sealed = seal(&master, "ctx", b"x").unwrap();
        sealed.nonce.pop();
        assert!(matches!(
            open(&master, "ctx", &sealed),
            Err(StoreError::Crypto(_))
        ));
        let mut sealed = seal(&master, "ctx", b"x").unwrap();
        sealed.key_nonce.clear();
        assert!(matches!(
            open(&master, "ctx", &sealed),
            Err(StoreError::Crypto(_))
        ));
    }

    #[test]
    fn debug_shows_no_ciphertext() {
        let sealed = seal(&key(1), "ctx", b"x").unwrap();
        let shown = format!("{sealed:?}");
        assert!(shown.contains(&sealed.master_key_id));
        assert!(!shown.contains("ciphertext:"));
    }
}
