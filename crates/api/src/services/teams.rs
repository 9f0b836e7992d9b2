//! Teams: read (any member), create / change / delete and manage members (admin).

use super::OrgCtx;
use crate::{ApiError, ApiState};
use keyway_domain::{Role, TeamId, UserId};
use keyway_store::teams::{Team, TeamUpdate};
use keyway_store::virtual_keys::{KeyBudget, KeyLimits};
use serde_json::json;

/// Teams of the organization.
pub async fn list(state: &ApiState, ctx: &OrgCtx) -> Result<Vec<Team>, ApiError> {
    Ok(state.db.list_teams(ctx.org_id).await?)
}

/// One team.
pub async fn get(state: &ApiState, ctx: &OrgCtx, id: TeamId) -> Result<Team, ApiError> {
    state
        .db
        .get_team(ctx.org_id, id)
        .await?
        .ok_or(ApiError::NotFound)
}

fn conflict(e: keyway_store::StoreError) -> ApiError {
    match e {
        keyway_store::StoreError::Conflict(_) => {
            ApiError::Conflict("a team with this name already exists".into())
        }
        other => other.into(),
    }
}

/// Creates a team.
pub async fn create(
    state: &ApiState,
    ctx: &OrgCtx,
    name: &str,
    limits: KeyLimits,
    budget: Option<KeyBudget>,
) -> Result<Team, ApiError> {
    ctx.require(Role::Admin, "creating teams")?;
    let name = super::clean_name(name, "name")?;
    let team = state
        .db
        .create_team(ctx.org_id, &name, limits, budget)
        .await
        .map_err(conflict)?;
    ctx.audit(
        state,
        "team.create",
        "team",
        team.id,
        json!({"name": team.name, "limits": team.limits, "budget": super::budget_summary(team.budget.as_ref())}),
    )
    .await?;
    Ok(team)
}

/// Changes a team.
pub async fn update(
    state: &ApiState,
    ctx: &OrgCtx,
    id: TeamId,
    mut update: TeamUpdate,
) -> Result<Team, ApiError> {
    ctx.require(Role::Admin, "changing teams")?;
    let before = get(state, ctx, id).await?;
    update.name = update
        .name
        .map(|n| super::clean_name(&n, "name"))
        .transpose()?;
    let after = state
        .db
        .update_team(ctx.org_id, id, update)
        .await
        .map_err(conflict)?;
    ctx.audit(
        state,
        "team.update",
        "team",
        id,
        json!({
            "before": {"name": before.name, "limits": before.limits, "budget": super::budget_summary(before.budget.as_ref())},
            "after": {"name": after.name, "limits": after.limits, "budget": super::budget_summary(after.budget.as_ref())},
        }),
    )
    .await?;
    ctx.notify_gateways(state).await;
    Ok(after)
}

/// Deletes a team.
pub async fn delete(state: &ApiState, ctx: &OrgCtx, id: TeamId) -> Result<(), ApiError> {
    ctx.require(Role::Admin, "deleting teams")?;
    let team = get(state, ctx, id).await?;
    state.db.delete_team(ctx.org_id, id).await?;
    ctx.audit(state, "team.delete", "team", id, json!({"name": team.name}))
        .await?;
    ctx.notify_gateways(state).await;
    Ok(())
}

/// Adds an organization member to a team.
pub async fn add_member(
    state: &ApiState,
    ctx: &OrgCtx,
    id: TeamId,
    user: UserId,
) -> Result<Team, ApiError> {
    ctx.require(Role::Admin, "changing team members")?;
    get(state, ctx, id).await?;
    if state.db.role_of(ctx.org_id, user).await?.is_none() {
        return Err(ApiError::BadRequest(
            "user_id is not a member of this organization".into(),
        ));
    }
    let team = state.db.add_team_member(ctx.org_id, id, user).await?;
    ctx.audit(
        state,
        "team.member_add",
        "team",
        id,
        json!({"user_id": user}),
    )
    .await?;
    Ok(team)
}

/// Removes a member from a team.
pub async fn remove_member(
    state: &ApiState,
    ctx: &OrgCtx,
    id: TeamId,
    user: UserId,
) -> Result<Team, ApiError> {
    ctx.require(Role::Admin, "changing team members")?;
    let team = state.db.remove_team_member(ctx.org_id, id, user).await?;
    ctx.audit(
        state,
        "team.member_remove",
        "team",
        id,
        json!({"user_id": user}),
    )
    .await?;
    Ok(team)
}
