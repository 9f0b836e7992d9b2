//! Invitations: admins invite an address with a role; the e-mailed link lets a new or existing
//! account join.

use super::OrgCtx;
use crate::auth::Caller;
use crate::{ApiError, ApiState};
use chrono::Duration;
use keyway_domain::{Email, InviteId, Role};
use keyway_mailer::OutgoingEmail;
use keyway_store::members::{AcceptError, Invite, InvitePreview};
use serde_json::json;

/// How long an invite link works.
pub const INVITE_TTL_DAYS: i64 = 7;

/// Invites `email` with `role` and mails the link.
pub async fn create(
    state: &ApiState,
    ctx: &OrgCtx,
    email: &str,
    role: Role,
) -> Result<Invite, ApiError> {
    ctx.require(Role::Admin, "inviting members")?;
    if role == Role::Owner && ctx.role != Role::Owner {
        return Err(ApiError::forbidden("only an owner can invite an owner"));
    }
    let email = Email::parse(email).map_err(|e| ApiError::BadRequest(format!("email: {e}")))?;
    let members = state.db.list_members(ctx.org_id).await?;
    if members.iter().any(|m| m.email == email.as_str()) {
        return Err(ApiError::Conflict(format!("{email} is already a member")));
    }
    let org = state.db.org(ctx.org_id).await?.ok_or(ApiError::NotFound)?;
    let (invite, token) = state
        .db
        .create_invite(
            ctx.org_id,
            &email,
            role,
            ctx.caller.user.id,
            Duration::days(INVITE_TTL_DAYS),
        )
        .await?;
    let link = format!(
        "{}/invites/accept?token={}",
        state.public_url,
        token.expose()
    );
    let mail = OutgoingEmail {
        to: email.as_str().to_owned(),
        subject: format!(
            "{} invited you to {} on Keyway",
            ctx.caller.user.name, org.name
        ),
        text: format!(
            "{} ({}) invited you to join {} on Keyway as {role}.\n\nAccept the invitation:\n\n{link}\n\nThe link works for {INVITE_TTL_DAYS} days. If you do not have a Keyway account yet, the page lets you create one.\n",
            ctx.caller.user.name, ctx.caller.user.email, org.name
        ),
        html: None,
    };
    if let Err(e) = state.mailer.send(&mail).await {
        tracing::error!(error = %e, "could not send invite e-mail");
    }
    ctx.audit(
        state,
        "invite.create",
        "invite",
        invite.id,
        json!({"email": invite.email, "role": role}),
    )
    .await?;
    Ok(invite)
}

/// Invitations of the organization (admin).
pub async fn list(state: &ApiState, ctx: &OrgCtx) -> Result<Vec<Invite>, ApiError> {
    ctx.require(Role::Admin, "listing invites")?;
    Ok(state.db.list_invites(ctx.org_id).await?)
}

/// One invitation (admin).
pub async fn get(state: &ApiState, ctx: &OrgCtx, id: InviteId) -> Result<Invite, ApiError> {
    ctx.require(Role::Admin, "reading invites")?;
    state
        .db
        .get_invite(ctx.org_id, id)
        .await?
        .ok_or(ApiError::NotFound)
}

/// Withdraws an invitation (admin).
pub async fn revoke(state: &ApiState, ctx: &OrgCtx, id: InviteId) -> Result<Invite, ApiError> {
    let invite = get(state, ctx, id).await?;
    let revoked = state.db.revoke_invite(ctx.org_id, id).await?;
    ctx.audit(
        state,
        "invite.revoke",
        "invite",
        id,
        json!({"email": invite.email, "role": invite.role}),
    )
    .await?;
    Ok(revoked)
}

/// What an invite link offers, for the accept page (no login needed; reveals only the
/// organization's name, the address and the role).
pub async fn preview(state: &ApiState, token: &str) -> Result<InvitePreview, ApiError> {
    state
        .db
        .invite_by_token(token)
        .await?
        .ok_or(ApiError::NotFound)
}

/// Accepts an invitation as the logged-in caller.
pub async fn accept(state: &ApiState, caller: &Caller, token: &str) -> Result<Invite, ApiError> {
    match state
        .db
        .accept_invite(token, caller.user.id, &caller.user.email)
        .await?
    {
        Ok(invite) => {
            let ctx = OrgCtx {
                org_id: invite.org_id,
                role: invite.role,
                caller: caller.clone(),
            };
            ctx.audit(
                state,
                "invite.accept",
                "invite",
                invite.id,
                json!({"email": invite.email, "role": invite.role}),
            )
            .await?;
            Ok(invite)
        }
        Err(AcceptError::Invalid) => Err(ApiError::NotFound),
        Err(AcceptError::WrongAccount) => Err(ApiError::forbidden(
            "this invite was sent to another e-mail address; log in with that account",
        )),
    }
}
