//! Routing configs: read (any member), create / new version / rename / delete (admin).
//!
//! Every config is validated with [`RoutingConfig::from_value`] before it is stored, so the
//! gateway never meets a stored config it cannot load; a validation error is a 400 whose message
//! names the JSON path (`targets[1].weight: must be >= 0`). Versions are immutable: a change
//! writes version n+1 and leaves the older ones readable.

use super::OrgCtx;
use crate::{ApiError, ApiState};
use keyway_domain::Role;
use keyway_domain::guardrails::named_ids;
use keyway_domain::routing::RoutingConfig;
use keyway_store::StoreError;
use keyway_store::configs::{RoutingConfigRecord, RoutingConfigVersion};
use serde_json::json;
use uuid::Uuid;

/// Largest config accepted, in bytes of JSON.
pub const MAX_CONFIG_BYTES: usize = 256 * 1024;

/// Validates `config`, including that each guardrail id its `input_guardrails` /
/// `output_guardrails` names is one of the organization's.
async fn check_config(
    state: &ApiState,
    ctx: &OrgCtx,
    config: &serde_json::Value,
) -> Result<(), ApiError> {
    let size = serde_json::to_vec(config).map(|v| v.len()).unwrap_or(0);
    if size > MAX_CONFIG_BYTES {
        return Err(ApiError::BadRequest(format!(
            "config: {size} bytes is more than the {MAX_CONFIG_BYTES} allowed"
        )));
    }
    let parsed = RoutingConfig::from_value(config.clone())
        .map_err(|errors| ApiError::BadRequest(format!("invalid routing config: {errors}")))?;
    let root = parsed.root();
    for (param, list) in [
        ("input_guardrails", &root.input_guardrails),
        ("output_guardrails", &root.output_guardrails),
    ] {
        for id in named_ids(list.as_ref()) {
            if state.db.get_guardrail(ctx.org_id, id).await?.is_none() {
                return Err(ApiError::BadRequest(format!(
                    "{param}: guardrail {id} does not exist in this organization"
                )));
            }
        }
    }
    Ok(())
}

fn conflict(e: StoreError) -> ApiError {
    match e {
        StoreError::Conflict("routing config name") => {
            ApiError::Conflict("a routing config with this name already exists".into())
        }
        StoreError::Conflict(_) => ApiError::Conflict(
            "the config was changed concurrently; read it again and retry".into(),
        ),
        other => other.into(),
    }
}

/// A 400 unless `config` (a key's default config) is one of the organization's configs.
pub async fn check_exists(
    state: &ApiState,
    ctx: &OrgCtx,
    config: Option<Uuid>,
) -> Result<(), ApiError> {
    if let Some(id) = config
        && state.db.get_routing_config(ctx.org_id, id).await?.is_none()
    {
        return Err(ApiError::BadRequest(
            "default_config_id: no such routing config in this organization".into(),
        ));
    }
    Ok(())
}

/// Configs of the organization, each with its newest version.
pub async fn list(state: &ApiState, ctx: &OrgCtx) -> Result<Vec<RoutingConfigRecord>, ApiError> {
    Ok(state.db.list_routing_configs(ctx.org_id).await?)
}

/// One config with its newest version.
pub async fn get(
    state: &ApiState,
    ctx: &OrgCtx,
    id: Uuid,
) -> Result<RoutingConfigRecord, ApiError> {
    state
        .db
        .get_routing_config(ctx.org_id, id)
        .await?
        .ok_or(ApiError::NotFound)
}

/// Every version of one config, newest first.
pub async fn versions(
    state: &ApiState,
    ctx: &OrgCtx,
    id: Uuid,
) -> Result<Vec<RoutingConfigVersion>, ApiError> {
    Ok(state
        .db
        .list_routing_config_versions(ctx.org_id, id)
        .await?)
}

/// Creates a config (version 1).
pub async fn create(
    state: &ApiState,
    ctx: &OrgCtx,
    name: &str,
    config: serde_json::Value,
) -> Result<RoutingConfigRecord, ApiError> {
    ctx.require(Role::Admin, "creating routing configs")?;
    let name = super::clean_name(name, "name")?;
    check_config(state, ctx, &config).await?;
    let record = state
        .db
        .create_routing_config(ctx.org_id, &name, config, Some(ctx.caller.user.id))
        .await
        .map_err(conflict)?;
    ctx.audit(
        state,
        "config.create",
        "config",
        record.id,
        json!({"name": record.name, "version": record.version}),
    )
    .await?;
    Ok(record)
}

/// Renames a config and/or writes a new version of it.
pub async fn update(
    state: &ApiState,
    ctx: &OrgCtx,
    id: Uuid,
    name: Option<String>,
    config: Option<serde_json::Value>,
) -> Result<RoutingConfigRecord, ApiError> {
    ctx.require(Role::Admin, "changing routing configs")?;
    let before = get(state, ctx, id).await?;
    let name = name.map(|n| super::clean_name(&n, "name")).transpose()?;
    if name.is_none() && config.is_none() {
        return Err(ApiError::BadRequest(
            "give a new name, a new config, or both".into(),
        ));
    }
    if let Some(config) = &config {
        check_config(state, ctx, config).await?;
    }
    let after = state
        .db
        .update_routing_config(
            ctx.org_id,
            id,
            name.as_deref(),
            config,
            Some(ctx.caller.user.id),
        )
        .await
        .map_err(conflict)?;
    ctx.notify_gateways(state).await;
    ctx.audit(
        state,
        "config.update",
        "config",
        id,
        json!({
            "before": {"name": before.name, "version": before.version},
            "after": {"name": after.name, "version": after.version},
        }),
    )
    .await?;
    Ok(after)
}

/// Deletes a config and its versions; refused while a key uses it as its default.
pub async fn delete(state: &ApiState, ctx: &OrgCtx, id: Uuid) -> Result<(), ApiError> {
    ctx.require(Role::Admin, "deleting routing configs")?;
    let config = get(state, ctx, id).await?;
    let users = state.db.count_keys_using_config(ctx.org_id, id).await?;
    if users > 0 {
        return Err(ApiError::Conflict(format!(
            "{users} virtual key(s) use this config as their default; change them first"
        )));
    }
    state.db.delete_routing_config(ctx.org_id, id).await?;
    ctx.notify_gateways(state).await;
    ctx.audit(
        state,
        "config.delete",
        "config",
        id,
        json!({"name": config.name, "version": config.version}),
    )
    .await?;
    Ok(())
}
