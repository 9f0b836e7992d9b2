//! Accounts: signup, e-mail verification, login with throttling, refresh-token rotation,
//! logout, password reset and change.

use crate::auth::{Caller, password};
use crate::{ApiError, ApiState};
use chrono::Duration;
use keyway_domain::{Email, Secret};
use keyway_mailer::OutgoingEmail;
use keyway_store::accounts::{EmailPurpose, RefreshOutcome, User};
use keyway_store::tokens;
use std::time::Duration as StdDuration;
use uuid::Uuid;

/// How long a login session lasts without logging in again.
pub const SESSION_TTL_DAYS: i64 = 30;
/// How long a verification link works.
pub const VERIFY_TTL_HOURS: i64 = 48;
/// How long a password-reset link works.
pub const RESET_TTL_MINUTES: i64 = 60;
/// Failed logins allowed per account per [`THROTTLE_WINDOW`].
pub const MAX_FAILURES_PER_ACCOUNT: i64 = 10;
/// Failed logins allowed per client address per [`THROTTLE_WINDOW`].
pub const MAX_FAILURES_PER_IP: i64 = 50;
/// The throttling window.
pub const THROTTLE_WINDOW: StdDuration = StdDuration::from_secs(15 * 60);

/// Tokens handed out at login and refresh.
#[derive(Debug)]
pub struct TokenPair {
    /// Short-lived JWT.
    pub access_token: String,
    /// Opaque, single-use refresh token.
    pub refresh_token: Secret<String>,
    /// Seconds the access token lives.
    pub expires_in: i64,
    /// Seconds the refresh token (session) lives at most.
    pub refresh_expires_in: i64,
}

fn parse_email(email: &str) -> Result<Email, ApiError> {
    Email::parse(email).map_err(|e| ApiError::BadRequest(format!("email: {e}")))
}

async fn send(state: &ApiState, to: &str, subject: &str, text: String) {
    let email = OutgoingEmail {
        to: to.to_owned(),
        subject: subject.to_owned(),
        text,
        html: None,
    };
    // A mail failure must not undo the action; the user can ask again.
    if let Err(e) = state.mailer.send(&email).await {
        tracing::error!(error = %e, subject, "could not send e-mail");
    }
}

async fn send_verification(state: &ApiState, user: &User) -> Result<(), ApiError> {
    let token = state
        .db
        .create_email_token(
            user.id,
            EmailPurpose::VerifyEmail,
            Duration::hours(VERIFY_TTL_HOURS),
        )
        .await?;
    let link = format!("{}/verify-email?token={}", state.public_url, token.expose());
    send(
        state,
        &user.email,
        "Verify your e-mail address for Keyway",
        format!(
            "Hello {},\n\nConfirm your address to start using Keyway:\n\n{link}\n\nThe link works for {VERIFY_TTL_HOURS} hours. If you did not sign up, ignore this e-mail.\n",
            user.name
        ),
    )
    .await;
    Ok(())
}

/// Creates an account and mails a verification link. With a valid `invite_token` for the same
/// address, the account starts verified (the invite link proved the mailbox) and joins the
/// inviting organization.
pub async fn signup(
    state: &ApiState,
    email: &str,
    password_plain: Secret<String>,
    name: &str,
    invite_token: Option<&str>,
) -> Result<User, ApiError> {
    let email = parse_email(email)?;
    let name = super::clean_name(name, "name")?;
    password::check_rules(password_plain.expose(), email.as_str())?;
    let invite = match invite_token {
        Some(token) => {
            let preview = state.db.invite_by_token(token).await?.ok_or_else(|| {
                ApiError::BadRequest("invite link is invalid, used or expired".into())
            })?;
            if preview.invite.email != email.as_str() {
                return Err(ApiError::BadRequest(
                    "this invite was sent to another e-mail address".into(),
                ));
            }
            Some(token)
        }
        None => None,
    };
    let phc = password::hash(password_plain).await?;
    let user = state
        .db
        .create_user(&email, &name, &phc, invite.is_some())
        .await
        .map_err(|e| match e {
            keyway_store::StoreError::Conflict(_) => {
                ApiError::Conflict("an account with this e-mail address already exists".into())
            }
            other => other.into(),
        })?;
    match invite {
        Some(token) => {
            state
                .db
                .accept_invite(token, user.id, &user.email)
                .await?
                .map_err(|_| {
                    ApiError::BadRequest("invite link is invalid, used or expired".into())
                })?;
        }
        None => send_verification(state, &user).await?,
    }
    Ok(user)
}

/// Mails a fresh verification link when the account exists and is unverified. Always succeeds,
/// so it reveals nothing about which addresses have accounts.
pub async fn resend_verification(state: &ApiState, email: &str) -> Result<(), ApiError> {
    let Ok(email) = Email::parse(email) else {
        return Ok(());
    };
    if let Some(found) = state.db.user_credentials(&email).await?
        && found.user.email_verified_at.is_none()
    {
        send_verification(state, &found.user).await?;
    }
    Ok(())
}

/// Proves an address with the token from the verification mail.
pub async fn verify_email(state: &ApiState, token: &str) -> Result<User, ApiError> {
    let user_id = state
        .db
        .consume_email_token(token, EmailPurpose::VerifyEmail)
        .await?
        .ok_or_else(|| {
            ApiError::BadRequest("verification link is invalid, used or expired".into())
        })?;
    state.db.mark_email_verified(user_id).await?;
    state.db.user(user_id).await?.ok_or(ApiError::NotFound)
}

fn throttle_keys(email: &str, ip: Option<&str>) -> (String, Option<String>) {
    (
        format!("auth:fail:acct:{}", tokens::hash(email)),
        ip.map(|ip| format!("auth:fail:ip:{ip}")),
    )
}

async fn throttled(state: &ApiState, key: &str, max: i64) -> Result<bool, ApiError> {
    Ok(state.kv.incr_window(key, 0, THROTTLE_WINDOW).await? >= max)
}

async fn issue_tokens(
    state: &ApiState,
    user: &User,
    session_id: Uuid,
    refresh_token: Secret<String>,
) -> Result<TokenPair, ApiError> {
    let access_token = state
        .jwt
        .issue(user.id, session_id)
        .map_err(ApiError::internal)?;
    Ok(TokenPair {
        access_token,
        refresh_token,
        expires_in: crate::auth::jwt::ACCESS_TTL_SECS,
        refresh_expires_in: Duration::days(SESSION_TTL_DAYS).num_seconds(),
    })
}

/// Logs in. Failures count per account and per client address; past the limits the answer is
/// 429 until the window ends, whatever the password.
pub async fn login(
    state: &ApiState,
    email: &str,
    password_plain: Secret<String>,
    ip: Option<&str>,
    user_agent: Option<&str>,
) -> Result<(User, TokenPair), ApiError> {
    let bad = || ApiError::Unauthorized("wrong e-mail address or password".into());
    let email = Email::parse(email).map_err(|_| bad())?;
    let (acct_key, ip_key) = throttle_keys(email.as_str(), ip);
    let too_many = || ApiError::TooManyRequests {
        message: "too many failed logins; try again later".into(),
        retry_after_secs: THROTTLE_WINDOW.as_secs(),
    };
    if throttled(state, &acct_key, MAX_FAILURES_PER_ACCOUNT).await? {
        return Err(too_many());
    }
    if let Some(k) = &ip_key
        && throttled(state, k, MAX_FAILURES_PER_IP).await?
    {
        return Err(too_many());
    }
    let found = state.db.user_credentials(&email).await?;
    let ok = match &found {
        Some(creds) => password::verify(password_plain, creds.password_hash.clone()).await?,
        None => {
            password::dummy_verify(password_plain).await?;
            false
        }
    };
    let Some(creds) = found.filter(|_| ok) else {
        state.kv.incr_window(&acct_key, 1, THROTTLE_WINDOW).await?;
        if let Some(k) = &ip_key {
            state.kv.incr_window(k, 1, THROTTLE_WINDOW).await?;
        }
        return Err(bad());
    };
    if creds.user.email_verified_at.is_none() {
        return Err(ApiError::Forbidden {
            code: "email_not_verified",
            message: "verify your e-mail address first: follow the link we sent you".into(),
        });
    }
    state.kv.delete(&acct_key).await?;
    let session = state
        .db
        .start_session(
            creds.user.id,
            Duration::days(SESSION_TTL_DAYS),
            ip,
            user_agent,
        )
        .await?;
    let pair = issue_tokens(
        state,
        &creds.user,
        session.session_id,
        session.refresh_token,
    )
    .await?;
    Ok((creds.user, pair))
}

/// Exchanges a refresh token for a new pair. A reused token revokes its whole session.
pub async fn refresh(state: &ApiState, refresh_token: &str) -> Result<TokenPair, ApiError> {
    match state.db.refresh_session(refresh_token).await? {
        RefreshOutcome::Rotated {
            user_id,
            session_id,
            refresh_token,
        } => {
            let user = state
                .db
                .user(user_id)
                .await?
                .ok_or_else(|| ApiError::Unauthorized("account no longer exists".into()))?;
            issue_tokens(state, &user, session_id, refresh_token).await
        }
        RefreshOutcome::Reused => Err(ApiError::Unauthorized(
            "refresh token was already used; the session has been ended for safety".into(),
        )),
        RefreshOutcome::Invalid => Err(ApiError::Unauthorized(
            "invalid or expired refresh token".into(),
        )),
    }
}

/// Ends the caller's session.
pub async fn logout(state: &ApiState, caller: &Caller) -> Result<(), ApiError> {
    state.db.revoke_session(caller.session_id, "logout").await?;
    Ok(())
}

/// Mails a reset link when the account exists. Always succeeds (no account enumeration).
pub async fn forgot_password(state: &ApiState, email: &str) -> Result<(), ApiError> {
    let Ok(email) = Email::parse(email) else {
        return Ok(());
    };
    let Some(found) = state.db.user_credentials(&email).await? else {
        return Ok(());
    };
    let token = state
        .db
        .create_email_token(
            found.user.id,
            EmailPurpose::ResetPassword,
            Duration::minutes(RESET_TTL_MINUTES),
        )
        .await?;
    let link = format!(
        "{}/reset-password?token={}",
        state.public_url,
        token.expose()
    );
    send(
        state,
        &found.user.email,
        "Reset your Keyway password",
        format!(
            "Hello {},\n\nSomeone asked to reset your Keyway password. To choose a new one, open:\n\n{link}\n\nThe link works for {RESET_TTL_MINUTES} minutes, once. If it was not you, ignore this e-mail; your password stays as it is.\n",
            found.user.name
        ),
    )
    .await;
    Ok(())
}

/// Sets a new password with the token from the reset mail; every session ends. Proves the
/// mailbox, so an unverified account becomes verified.
pub async fn reset_password(
    state: &ApiState,
    token: &str,
    new_password: Secret<String>,
) -> Result<(), ApiError> {
    // Check the rules before using up the token, so a weak password can be retried.
    password::check_rules(new_password.expose(), "")?;
    let user_id = state
        .db
        .consume_email_token(token, EmailPurpose::ResetPassword)
        .await?
        .ok_or_else(|| ApiError::BadRequest("reset link is invalid, used or expired".into()))?;
    let phc = password::hash(new_password).await?;
    state
        .db
        .set_password(user_id, &phc, None, "password_reset")
        .await?;
    state.db.mark_email_verified(user_id).await?;
    Ok(())
}

/// Changes the caller's password (the current one is required); every other session ends.
pub async fn change_password(
    state: &ApiState,
    caller: &Caller,
    current: Secret<String>,
    new_password: Secret<String>,
) -> Result<(), ApiError> {
    let phc = state
        .db
        .password_hash(caller.user.id)
        .await?
        .ok_or(ApiError::NotFound)?;
    if !password::verify(current, phc).await? {
        return Err(ApiError::BadRequest("current password is wrong".into()));
    }
    password::check_rules(new_password.expose(), &caller.user.email)?;
    let phc = password::hash(new_password).await?;
    state
        .db
        .set_password(
            caller.user.id,
            &phc,
            Some(caller.session_id),
            "password_change",
        )
        .await?;
    Ok(())
}
