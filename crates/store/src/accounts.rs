//! Accounts: users, login sessions with rotating refresh tokens, and one-time e-mail tokens.
//!
//! # Sessions
//! A login creates a session (a refresh-token family) and its first refresh token. Exchanging a
//! refresh token marks it used and issues the next one in the same session. Presenting a used
//! token again means it leaked: the whole session is revoked ([`RefreshOutcome::Reused`]).
//! Access tokens carry the session id, so revoking a session (logout, reuse, password change)
//! ends its access tokens too.

use crate::entities::{email_token, refresh_token, session, user};
use crate::{Database, StoreError, tokens};
use chrono::{DateTime, Duration, SubsecRound, Utc};
use keyway_domain::{Email, Secret, UserId};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, SqlErr, TransactionTrait};
use serde::Serialize;
use uuid::Uuid;

/// An account as the rest of Keyway sees it (never its password hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    /// Identifier.
    pub id: UserId,
    /// Normalised address.
    pub email: String,
    /// Display name.
    pub name: String,
    /// When the address was proven.
    pub email_verified_at: Option<DateTime<Utc>>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

impl From<user::Model> for User {
    fn from(m: user::Model) -> Self {
        Self {
            id: UserId::from_uuid(m.id),
            email: m.email,
            name: m.name,
            email_verified_at: m.email_verified_at,
            created_at: m.created_at,
        }
    }
}

/// A user with the password hash, for login only.
#[derive(Debug, Clone)]
pub struct UserCredentials {
    /// The account.
    pub user: User,
    /// Argon2id PHC string.
    pub password_hash: Secret<String>,
}

/// What a one-time e-mail token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailPurpose {
    /// Proves the address after signup.
    VerifyEmail,
    /// Lets the holder set a new password.
    ResetPassword,
}

impl EmailPurpose {
    fn as_str(self) -> &'static str {
        match self {
            EmailPurpose::VerifyEmail => "verify_email",
            EmailPurpose::ResetPassword => "reset_password",
        }
    }
}

/// A session and its first refresh token, returned by [`Database::start_session`].
#[derive(Debug)]
pub struct NewSession {
    /// Session id (`sid` in access tokens).
    pub session_id: Uuid,
    /// The refresh token, shown once.
    pub refresh_token: Secret<String>,
    /// When the session ends.
    pub expires_at: DateTime<Utc>,
}

/// The result of presenting a refresh token.
#[derive(Debug)]
pub enum RefreshOutcome {
    /// Exchanged: the next token of the same session.
    Rotated {
        /// The session's user.
        user_id: UserId,
        /// Session id.
        session_id: Uuid,
        /// The next refresh token, shown once.
        refresh_token: Secret<String>,
    },
    /// The token was already used: the session has been revoked.
    Reused,
    /// Unknown token, or its session is revoked or expired.
    Invalid,
}

fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

impl Database {
    /// Creates an account; a taken address is a [`StoreError::Conflict`].
    pub async fn create_user(
        &self,
        email: &Email,
        name: &str,
        password_hash: &str,
        verified: bool,
    ) -> Result<User, StoreError> {
        let at = now();
        let model = user::ActiveModel {
            id: Set(UserId::new().as_uuid()),
            email: Set(email.as_str().to_owned()),
            name: Set(name.to_owned()),
            password_hash: Set(password_hash.to_owned()),
            email_verified_at: Set(verified.then_some(at)),
            password_changed_at: Set(at),
            created_at: Set(at),
            updated_at: Set(at),
        };
        user::Entity::insert(model)
            .exec_with_returning(self.conn())
            .await
            .map(User::from)
            .map_err(|e| match e.sql_err() {
                Some(SqlErr::UniqueConstraintViolation(_)) => StoreError::Conflict("account"),
                _ => StoreError::Db(e),
            })
    }

    /// Looks an account up by id.
    pub async fn user(&self, id: UserId) -> Result<Option<User>, StoreError> {
        Ok(user::Entity::find_by_id(id.as_uuid())
            .one(self.conn())
            .await?
            .map(User::from))
    }

    /// Looks an account up by address, with its password hash.
    pub async fn user_credentials(
        &self,
        email: &Email,
    ) -> Result<Option<UserCredentials>, StoreError> {
        Ok(user::Entity::find()
            .filter(user::Column::Email.eq(email.as_str()))
            .one(self.conn())
            .await?
            .map(|m| UserCredentials {
                password_hash: Secret::new(m.password_hash.clone()),
                user: m.into(),
            }))
    }

    /// The password hash of an account.
    pub async fn password_hash(&self, id: UserId) -> Result<Option<Secret<String>>, StoreError> {
        Ok(user::Entity::find_by_id(id.as_uuid())
            .one(self.conn())
            .await?
            .map(|m| Secret::new(m.password_hash)))
    }

    /// Marks an address as proven.
    pub async fn mark_email_verified(&self, id: UserId) -> Result<(), StoreError> {
        user::Entity::update_many()
            .col_expr(user::Column::EmailVerifiedAt, Expr::value(now()))
            .filter(user::Column::Id.eq(id.as_uuid()))
            .filter(user::Column::EmailVerifiedAt.is_null())
            .exec(self.conn())
            .await?;
        Ok(())
    }

    /// Sets a new password hash and revokes the user's sessions except `keep` (the session that
    /// changed it, if any).
    pub async fn set_password(
        &self,
        id: UserId,
        password_hash: &str,
        keep: Option<Uuid>,
        reason: &str,
    ) -> Result<(), StoreError> {
        let at = now();
        let txn = self.conn().begin().await?;
        let updated = user::Entity::update_many()
            .col_expr(user::Column::PasswordHash, Expr::value(password_hash))
            .col_expr(user::Column::PasswordChangedAt, Expr::value(at))
            .col_expr(user::Column::UpdatedAt, Expr::value(at))
            .filter(user::Column::Id.eq(id.as_uuid()))
            .exec(&txn)
            .await?;
        if updated.rows_affected == 0 {
            return Err(StoreError::NotFound("account"));
        }
        let mut revoke = session::Entity::update_many()
            .col_expr(session::Column::RevokedAt, Expr::value(at))
            .col_expr(session::Column::RevokedReason, Expr::value(reason))
            .filter(session::Column::UserId.eq(id.as_uuid()))
            .filter(session::Column::RevokedAt.is_null());
        if let Some(keep) = keep {
            revoke = revoke.filter(session::Column::Id.ne(keep));
        }
        revoke.exec(&txn).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Updates the display name.
    pub async fn rename_user(&self, id: UserId, name: &str) -> Result<User, StoreError> {
        user::Entity::update_many()
            .col_expr(user::Column::Name, Expr::value(name))
            .col_expr(user::Column::UpdatedAt, Expr::value(now()))
            .filter(user::Column::Id.eq(id.as_uuid()))
            .exec(self.conn())
            .await?;
        self.user(id).await?.ok_or(StoreError::NotFound("account"))
    }

    /// Issues a one-time e-mail token valid for `ttl`; earlier unused tokens of the same purpose
    /// stop working, so only the newest link does.
    pub async fn create_email_token(
        &self,
        user_id: UserId,
        purpose: EmailPurpose,
        ttl: Duration,
    ) -> Result<Secret<String>, StoreError> {
        let (token, hash) = tokens::generate();
        let at = now();
        let txn = self.conn().begin().await?;
        email_token::Entity::update_many()
            .col_expr(email_token::Column::UsedAt, Expr::value(at))
            .filter(email_token::Column::UserId.eq(user_id.as_uuid()))
            .filter(email_token::Column::Purpose.eq(purpose.as_str()))
            .filter(email_token::Column::UsedAt.is_null())
            .exec(&txn)
            .await?;
        email_token::Entity::insert(email_token::ActiveModel {
            id: Set(Uuid::now_v7()),
            user_id: Set(user_id.as_uuid()),
            purpose: Set(purpose.as_str().to_owned()),
            token_hash: Set(hash),
            created_at: Set(at),
            expires_at: Set(at + ttl),
            used_at: Set(None),
        })
        .exec(&txn)
        .await?;
        txn.commit().await?;
        Ok(token)
    }

    /// Uses a one-time token: returns its user when it is known, unused, unexpired and for
    /// `purpose`; it cannot be used again.
    pub async fn consume_email_token(
        &self,
        token: &str,
        purpose: EmailPurpose,
    ) -> Result<Option<UserId>, StoreError> {
        let at = now();
        let hash = tokens::hash(token);
        let Some(found) = email_token::Entity::find()
            .filter(email_token::Column::TokenHash.eq(&hash))
            .filter(email_token::Column::Purpose.eq(purpose.as_str()))
            .one(self.conn())
            .await?
        else {
            return Ok(None);
        };
        if found.used_at.is_some() || found.expires_at <= at {
            return Ok(None);
        }
        // Conditional update: of two concurrent uses, one wins.
        let used = email_token::Entity::update_many()
            .col_expr(email_token::Column::UsedAt, Expr::value(at))
            .filter(email_token::Column::Id.eq(found.id))
            .filter(email_token::Column::UsedAt.is_null())
            .exec(self.conn())
            .await?;
        Ok((used.rows_affected == 1).then(|| UserId::from_uuid(found.user_id)))
    }

    /// Starts a session for `user_id` lasting `ttl`, with its first refresh token.
    pub async fn start_session(
        &self,
        user_id: UserId,
        ttl: Duration,
        ip: Option<&str>,
        user_agent: Option<&str>,
    ) -> Result<NewSession, StoreError> {
        let at = now();
        let session_id = Uuid::now_v7();
        let (token, hash) = tokens::generate();
        let txn = self.conn().begin().await?;
        session::Entity::insert(session::ActiveModel {
            id: Set(session_id),
            user_id: Set(user_id.as_uuid()),
            ip: Set(ip.map(|s| truncate(s, 64))),
            user_agent: Set(user_agent.map(|s| truncate(s, 300))),
            created_at: Set(at),
            expires_at: Set(at + ttl),
            revoked_at: Set(None),
            revoked_reason: Set(None),
        })
        .exec(&txn)
        .await?;
        insert_refresh(&txn, session_id, hash, at).await?;
        txn.commit().await?;
        Ok(NewSession {
            session_id,
            refresh_token: token,
            expires_at: at + ttl,
        })
    }

    /// Exchanges a refresh token for the next one (see the module docs for reuse).
    pub async fn refresh_session(&self, token: &str) -> Result<RefreshOutcome, StoreError> {
        let at = now();
        let hash = tokens::hash(token);
        let Some(found) = refresh_token::Entity::find()
            .filter(refresh_token::Column::TokenHash.eq(&hash))
            .one(self.conn())
            .await?
        else {
            return Ok(RefreshOutcome::Invalid);
        };
        let Some(sess) = session::Entity::find_by_id(found.session_id)
            .one(self.conn())
            .await?
        else {
            return Ok(RefreshOutcome::Invalid);
        };
        if sess.revoked_at.is_some() || sess.expires_at <= at {
            return Ok(RefreshOutcome::Invalid);
        }
        let txn = self.conn().begin().await?;
        let used = refresh_token::Entity::update_many()
            .col_expr(refresh_token::Column::UsedAt, Expr::value(at))
            .filter(refresh_token::Column::Id.eq(found.id))
            .filter(refresh_token::Column::UsedAt.is_null())
            .exec(&txn)
            .await?;
        if used.rows_affected == 0 {
            txn.rollback().await?;
            self.revoke_session(sess.id, "refresh_reuse").await?;
            tracing::warn!(session = %sess.id, "refresh token reused; session revoked");
            return Ok(RefreshOutcome::Reused);
        }
        let (next, next_hash) = tokens::generate();
        insert_refresh(&txn, sess.id, next_hash, at).await?;
        txn.commit().await?;
        Ok(RefreshOutcome::Rotated {
            user_id: UserId::from_uuid(sess.user_id),
            session_id: sess.id,
            refresh_token: next,
        })
    }

    /// Ends a session (its refresh tokens and access tokens stop working).
    pub async fn revoke_session(&self, session_id: Uuid, reason: &str) -> Result<(), StoreError> {
        session::Entity::update_many()
            .col_expr(session::Column::RevokedAt, Expr::value(now()))
            .col_expr(session::Column::RevokedReason, Expr::value(reason))
            .filter(session::Column::Id.eq(session_id))
            .filter(session::Column::RevokedAt.is_null())
            .exec(self.conn())
            .await?;
        Ok(())
    }

    /// Whether a session is live (exists, belongs to `user_id`, not revoked, not expired).
    pub async fn session_active(
        &self,
        session_id: Uuid,
        user_id: UserId,
    ) -> Result<bool, StoreError> {
        let found = session::Entity::find_by_id(session_id)
            .one(self.conn())
            .await?;
        Ok(found.is_some_and(|s| {
            s.user_id == user_id.as_uuid() && s.revoked_at.is_none() && s.expires_at > now()
        }))
    }
}

async fn insert_refresh(
    conn: &impl sea_orm::ConnectionTrait,
    session_id: Uuid,
    hash: String,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    refresh_token::Entity::insert(refresh_token::ActiveModel {
        id: Set(Uuid::now_v7()),
        session_id: Set(session_id),
        token_hash: Set(hash),
        created_at: Set(at),
        used_at: Set(None),
    })
    .exec(conn)
    .await?;
    Ok(())
}

fn truncate(value: &str, max_chars: usize) -> String {
    value.chars().take(max_chars).collect()
}
