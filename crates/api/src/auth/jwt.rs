//! Access tokens: short-lived JWTs, HS256 only, with `iss`, `aud`, `exp`, `nbf` checked and a
//! `kid` naming the signing key so keys can rotate.
//!
//! The signing key derives from the master key (SHA-256 over a fixed label and the key), and the
//! `kid` is the master key's id: rotating the master key rotates the signing key, and tokens
//! signed under the old one stop verifying (they live minutes; refresh tokens live in the
//! database and survive). Only HS256 is accepted, so `alg: none` and RS/HS confusion fail.

use chrono::Utc;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use keyway_domain::UserId;
use keyway_store::MasterKey;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// Issuer claim of every access token.
pub const ISSUER: &str = "keyway";
/// Audience claim of every access token.
pub const AUDIENCE: &str = "keyway-api";
/// Lifetime of an access token.
pub const ACCESS_TTL_SECS: i64 = 15 * 60;

/// The claims Keyway puts in an access token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// User id.
    pub sub: Uuid,
    /// Session id (refresh-token family); a revoked session ends its access tokens.
    pub sid: Uuid,
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// Issued at (seconds).
    pub iat: i64,
    /// Not before (seconds).
    pub nbf: i64,
    /// Expiry (seconds).
    pub exp: i64,
    /// Token id.
    pub jti: Uuid,
}

/// Signing and verification keys.
pub struct JwtKeys {
    kid: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

/// Why a token was refused (kept vague for clients; logged at debug).
#[derive(Debug, thiserror::Error)]
#[error("invalid access token: {0}")]
pub struct TokenError(String);

impl JwtKeys {
    /// Derives the HS256 key from the master key.
    pub fn from_master_key(master: &MasterKey) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(b"keyway/jwt-signing/v1\0");
        hasher.update(master.bytes());
        let secret = hasher.finalize();
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = 5;
        Self {
            kid: master.id().to_owned(),
            encoding: EncodingKey::from_secret(&secret),
            decoding: DecodingKey::from_secret(&secret),
            validation,
        }
    }

    /// Signs an access token for `user` in `session`, valid [`ACCESS_TTL_SECS`].
    pub fn issue(
        &self,
        user: UserId,
        session: Uuid,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let now = Utc::now().timestamp();
        let claims = Claims {
            sub: user.as_uuid(),
            sid: session,
            iss: ISSUER.to_owned(),
            aud: AUDIENCE.to_owned(),
            iat: now,
            nbf: now,
            exp: now + ACCESS_TTL_SECS,
            jti: Uuid::new_v4(),
        };
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, &claims, &self.encoding)
    }

    /// Verifies signature, algorithm, `kid`, issuer, audience, expiry and not-before.
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|e| TokenError(e.to_string()))?;
        if header.alg != Algorithm::HS256 {
            return Err(TokenError(format!(
                "algorithm {:?} not accepted",
                header.alg
            )));
        }
        if header.kid.as_deref() != Some(self.kid.as_str()) {
            return Err(TokenError("unknown signing key".into()));
        }
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| TokenError(e.to_string()))
    }

    /// The current signing key's id.
    pub fn kid(&self) -> &str {
        &self.kid
    }
}
