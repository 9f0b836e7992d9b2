//! Members of an organization: list and read (any member), change roles and remove (admin;
//! only an owner grants or takes ownership), leave (anyone but the last owner).

use super::OrgCtx;
use crate::{ApiError, ApiState};
use keyway_domain::{Role, UserId};
use keyway_store::members::Member;
use serde_json::json;

/// Members of the organization.
pub async fn list(state: &ApiState, ctx: &OrgCtx) -> Result<Vec<Member>, ApiError> {
    Ok(state.db.list_members(ctx.org_id).await?)
}

/// One member.
pub async fn get(state: &ApiState, ctx: &OrgCtx, user: UserId) -> Result<Member, ApiError> {
    state
        .db
        .member(ctx.org_id, user)
        .await?
        .ok_or(ApiError::NotFound)
}

async fn keep_an_owner(state: &ApiState, ctx: &OrgCtx, target: &Member) -> Result<(), ApiError> {
    if target.role == Role::Owner && state.db.owner_count(ctx.org_id).await? <= 1 {
        return Err(ApiError::Conflict(
            "an organization needs at least one owner: make someone else owner first".into(),
        ));
    }
    Ok(())
}

/// Changes a member's role.
pub async fn set_role(
    state: &ApiState,
    ctx: &OrgCtx,
    user: UserId,
    role: Role,
) -> Result<Member, ApiError> {
    ctx.require(Role::Admin, "changing roles")?;
    let target = get(state, ctx, user).await?;
    if (role == Role::Owner || target.role == Role::Owner) && ctx.role != Role::Owner {
        return Err(ApiError::forbidden(
            "only an owner can grant or take the owner role",
        ));
    }
    if target.role == Role::Owner && role != Role::Owner {
        keep_an_owner(state, ctx, &target).await?;
    }
    state.db.set_member_role(ctx.org_id, user, role).await?;
    ctx.audit(
        state,
        "member.update",
        "member",
        user,
        json!({"email": target.email, "before": {"role": target.role}, "after": {"role": role}}),
    )
    .await?;
    get(state, ctx, user).await
}

/// Removes a member; members may remove themselves (leave).
pub async fn remove(state: &ApiState, ctx: &OrgCtx, user: UserId) -> Result<(), ApiError> {
    if user != ctx.caller.user.id {
        ctx.require(Role::Admin, "removing members")?;
    }
    let target = get(state, ctx, user).await?;
    if target.role == Role::Owner && ctx.role != Role::Owner {
        return Err(ApiError::forbidden("only an owner can remove an owner"));
    }
    keep_an_owner(state, ctx, &target).await?;
    state.db.remove_member(ctx.org_id, user).await?;
    ctx.audit(
        state,
        "member.remove",
        "member",
        user,
        json!({"email": target.email, "role": target.role}),
    )
    .await?;
    Ok(())
}
