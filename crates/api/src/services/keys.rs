//! Virtual keys: read (any member), issue / change / rotate / revoke / delete (member and up;
//! viewers only read). The secret is returned once, by issue and rotate.

use super::OrgCtx;
use crate::{ApiError, ApiState};
use keyway_domain::{Role, Secret, TeamId, VirtualKeyId};
use keyway_store::virtual_keys::{KeyUpdate, NewKey, VirtualKey};
use serde_json::json;
use std::time::Duration;

/// Longest grace period a rotation may keep the old secret working.
pub const MAX_ROTATION_GRACE_SECS: u64 = 7 * 24 * 3600;
/// Default grace period of a rotation.
pub const DEFAULT_ROTATION_GRACE_SECS: u64 = 24 * 3600;

fn summary(k: &VirtualKey) -> serde_json::Value {
    json!({
        "name": k.name, "prefix": k.prefix, "team_id": k.team_id,
        "allowed_models": k.allowed_models,
        "allowed_providers": k.allowed_providers.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
        "limits": k.limits, "budget": super::budget_summary(k.budget.as_ref()), "expires_at": k.expires_at,
        "default_config_id": k.default_config_id, "guardrails": k.guardrails,
    })
}

async fn check_team(
    state: &ApiState,
    ctx: &OrgCtx,
    team: Option<uuid::Uuid>,
) -> Result<(), ApiError> {
    if let Some(team) = team
        && state
            .db
            .get_team(ctx.org_id, TeamId::from_uuid(team))
            .await?
            .is_none()
    {
        return Err(ApiError::BadRequest(
            "team_id: no such team in this organization".into(),
        ));
    }
    Ok(())
}

/// Keys of the organization.
pub async fn list(state: &ApiState, ctx: &OrgCtx) -> Result<Vec<VirtualKey>, ApiError> {
    Ok(state.db.list_keys(ctx.org_id).await?)
}

/// One key.
pub async fn get(state: &ApiState, ctx: &OrgCtx, id: VirtualKeyId) -> Result<VirtualKey, ApiError> {
    state
        .db
        .get_key(ctx.org_id, id)
        .await?
        .ok_or(ApiError::NotFound)
}

/// Issues a key; the secret is returned here and never again.
pub async fn issue(
    state: &ApiState,
    ctx: &OrgCtx,
    mut new: NewKey,
) -> Result<(VirtualKey, Secret<String>), ApiError> {
    ctx.require(Role::Member, "issuing keys")?;
    new.name = super::clean_name(&new.name, "name")?;
    check_team(state, ctx, new.team_id).await?;
    super::configs::check_exists(state, ctx, new.default_config_id).await?;
    let (key, secret) = state.db.issue_key(ctx.org_id, new).await?;
    ctx.audit(state, "key.create", "key", key.id, summary(&key))
        .await?;
    Ok((key, secret))
}

/// Changes a key's scope, limits or metadata.
pub async fn update(
    state: &ApiState,
    ctx: &OrgCtx,
    id: VirtualKeyId,
    mut update: KeyUpdate,
) -> Result<VirtualKey, ApiError> {
    ctx.require(Role::Member, "changing keys")?;
    if let Some(name) = &update.name {
        update.name = Some(super::clean_name(name, "name")?);
    }
    if let Some(team) = update.team_id {
        check_team(state, ctx, team).await?;
    }
    if let Some(config) = update.default_config_id {
        super::configs::check_exists(state, ctx, config).await?;
    }
    let before = get(state, ctx, id).await?;
    let after = state.db.update_key(ctx.org_id, id, update).await?;
    ctx.audit(
        state,
        "key.update",
        "key",
        id,
        json!({"before": summary(&before), "after": summary(&after)}),
    )
    .await?;
    ctx.notify_gateways(state).await;
    Ok(after)
}

/// Gives a key a new secret; the old one works for `grace_secs` more.
pub async fn rotate(
    state: &ApiState,
    ctx: &OrgCtx,
    id: VirtualKeyId,
    grace_secs: Option<u64>,
) -> Result<(VirtualKey, Secret<String>), ApiError> {
    ctx.require(Role::Member, "rotating keys")?;
    let grace = grace_secs.unwrap_or(DEFAULT_ROTATION_GRACE_SECS);
    if grace > MAX_ROTATION_GRACE_SECS {
        return Err(ApiError::BadRequest(format!(
            "grace_period_secs must be at most {MAX_ROTATION_GRACE_SECS}"
        )));
    }
    let (key, secret) = state
        .db
        .rotate_key(ctx.org_id, id, Duration::from_secs(grace))
        .await?;
    ctx.audit(
        state,
        "key.rotate",
        "key",
        id,
        json!({"prefix": key.prefix, "grace_period_secs": grace}),
    )
    .await?;
    ctx.notify_gateways(state).await;
    Ok((key, secret))
}

/// Revokes a key at once (every gateway refuses it within seconds).
pub async fn revoke(
    state: &ApiState,
    ctx: &OrgCtx,
    id: VirtualKeyId,
) -> Result<VirtualKey, ApiError> {
    ctx.require(Role::Member, "revoking keys")?;
    let key = state.db.revoke_key(ctx.org_id, id).await?;
    ctx.audit(
        state,
        "key.revoke",
        "key",
        id,
        json!({"name": key.name, "prefix": key.prefix}),
    )
    .await?;
    ctx.notify_gateways(state).await;
    Ok(key)
}

/// Deletes a key: it stops working like a revoked one and leaves the list.
pub async fn delete(state: &ApiState, ctx: &OrgCtx, id: VirtualKeyId) -> Result<(), ApiError> {
    ctx.require(Role::Member, "deleting keys")?;
    let key = get(state, ctx, id).await?;
    state.db.delete_key(ctx.org_id, id).await?;
    ctx.audit(
        state,
        "key.delete",
        "key",
        id,
        json!({"name": key.name, "prefix": key.prefix}),
    )
    .await?;
    ctx.notify_gateways(state).await;
    Ok(())
}
