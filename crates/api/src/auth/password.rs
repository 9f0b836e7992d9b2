//! Password rules and hashing: Argon2id (m = 19 MiB, t = 2, p = 1, OWASP's baseline) in PHC
//! strings, computed off the async runtime.

use crate::ApiError;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use keyway_domain::Secret;

/// Shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// Longest password accepted (bytes): hashing cost must not be a lever for attackers.
pub const MAX_PASSWORD_BYTES: usize = 256;

fn hasher() -> Result<Argon2<'static>, ApiError> {
    let params =
        Params::new(19_456, 2, 1, None).map_err(|e| ApiError::internal(Argon(e.to_string())))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

#[derive(Debug, thiserror::Error)]
#[error("argon2: {0}")]
struct Argon(String);

/// Checks the password rules; the error says which one failed.
pub fn check_rules(password: &str, email: &str) -> Result<(), ApiError> {
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(ApiError::BadRequest(format!(
            "password must be at most {MAX_PASSWORD_BYTES} bytes"
        )));
    }
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(ApiError::BadRequest(format!(
            "password must be at least {MIN_PASSWORD_CHARS} characters"
        )));
    }
    if password.trim().is_empty() {
        return Err(ApiError::BadRequest(
            "password must not be only spaces".into(),
        ));
    }
    if password.eq_ignore_ascii_case(email) {
        return Err(ApiError::BadRequest(
            "password must not be your e-mail address".into(),
        ));
    }
    let first = password.chars().next();
    if password.chars().all(|c| Some(c) == first) {
        return Err(ApiError::BadRequest(
            "password must not repeat one character".into(),
        ));
    }
    Ok(())
}

/// Hashes a password into a PHC string.
pub async fn hash(password: Secret<String>) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        hasher()?
            .hash_password(password.expose().as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| ApiError::internal(Argon(e.to_string())))
    })
    .await
    .map_err(ApiError::internal)?
}

/// Whether `password` matches the PHC string `phc` (constant-time inside argon2).
pub async fn verify(password: Secret<String>, phc: Secret<String>) -> Result<bool, ApiError> {
    tokio::task::spawn_blocking(move || {
        let parsed = PasswordHash::new(phc.expose())
            .map_err(|e| ApiError::internal(Argon(e.to_string())))?;
        Ok(hasher()?
            .verify_password(password.expose().as_bytes(), &parsed)
            .is_ok())
    })
    .await
    .map_err(ApiError::internal)?
}

/// A hash no password matches, verified against when the account does not exist so that login
/// takes as long either way (no account enumeration by timing).
pub async fn dummy_verify(password: Secret<String>) -> Result<(), ApiError> {
    const DUMMY: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$1rKZJ3TnF0bq1Yw4oQpsRk3gJcRkL8Ts3wQH4VJp2Zs";
    verify(password, Secret::new(DUMMY.to_owned()))
        .await
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_name_the_problem() {
        assert!(check_rules("short", "a@b.co").is_err());
        assert!(check_rules(&"x".repeat(300), "a@b.co").is_err());
        assert!(check_rules("aaaaaaaaaaaa", "a@b.co").is_err());
        assert!(check_rules("ada@example.com", "ada@example.com").is_err());
        assert!(check_rules("correct horse battery", "a@b.co").is_ok());
    }

    #[tokio::test]
    async fn hashes_are_argon2id_phc_and_verify() {
        let phc = hash(Secret::new("correct horse battery".into()))
            .await
            .unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(
            verify(
                Secret::new("correct horse battery".into()),
                Secret::new(phc.clone())
            )
            .await
            .unwrap()
        );
        assert!(
            !verify(Secret::new("wrong horse battery".into()), Secret::new(phc))
                .await
                .unwrap()
        );
        dummy_verify(Secret::new("anything".into())).await.unwrap();
    }
}
