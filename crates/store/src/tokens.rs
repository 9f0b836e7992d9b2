//! Opaque one-time and refresh tokens: 256 random bits, base64url, stored only as SHA-256 hex.

use base64::Engine as _;
use keyway_domain::Secret;
use rand::RngCore as _;
use sha2::{Digest, Sha256};

/// A fresh token and the hash to store.
pub fn generate() -> (Secret<String>, String) {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash(&token);
    (Secret::new(token), hash)
}

/// SHA-256 hex of a presented token. Tokens are long and random, so a fast hash suffices.
pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}
