//! Organizations: create (the creator becomes owner), list mine, read, rename and settings
//! (admin), delete (owner).

use super::OrgCtx;
use crate::auth::Caller;
use crate::{ApiError, ApiState};
use keyway_domain::{Role, Slug};
use keyway_store::orgs::{OrgUpdate, OrgWithRole, Organization};
use serde_json::json;

/// Longest retention an organization may set.
pub const MAX_RETENTION_DAYS: u32 = 3650;

/// Creates an organization owned by the caller.
pub async fn create(
    state: &ApiState,
    caller: &Caller,
    name: &str,
    slug: Option<&str>,
) -> Result<OrgWithRole, ApiError> {
    let name = super::clean_name(name, "name")?;
    let slug = match slug {
        Some(s) => Slug::parse(s).map_err(|e| ApiError::BadRequest(format!("slug: {e}")))?,
        None => slugify(&name)?,
    };
    let org = state
        .db
        .create_org_with_owner(&slug, &name, caller.user.id)
        .await
        .map_err(|e| match e {
            keyway_store::StoreError::Conflict(_) => ApiError::Conflict(format!(
                "the slug {:?} is taken; choose another",
                slug.as_str()
            )),
            other => other.into(),
        })?;
    let ctx = OrgCtx {
        org_id: org.id,
        role: Role::Owner,
        caller: caller.clone(),
    };
    ctx.audit(
        state,
        "org.create",
        "org",
        org.id,
        json!({"name": org.name, "slug": org.slug.as_str()}),
    )
    .await?;
    Ok(OrgWithRole {
        org,
        role: Role::Owner,
    })
}

/// A slug from a display name, with a random suffix so names need not be unique.
fn slugify(name: &str) -> Result<Slug, ApiError> {
    let mut base: String = name
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    while base.contains("--") {
        base = base.replace("--", "-");
    }
    let base = base.trim_matches('-');
    let base: String = base.chars().take(40).collect();
    let base = if base.is_empty() {
        "org".to_owned()
    } else {
        base
    };
    let suffix = &uuid::Uuid::new_v4().simple().to_string()[..6];
    Slug::parse(&format!("{}-{suffix}", base.trim_end_matches('-')))
        .map_err(|e| ApiError::BadRequest(format!("slug: {e}")))
}

/// Organizations the caller belongs to.
pub async fn list_mine(state: &ApiState, caller: &Caller) -> Result<Vec<OrgWithRole>, ApiError> {
    Ok(state.db.orgs_of_user(caller.user.id).await?)
}

/// One organization (any member).
pub async fn get(state: &ApiState, ctx: &OrgCtx) -> Result<Organization, ApiError> {
    state.db.org(ctx.org_id).await?.ok_or(ApiError::NotFound)
}

/// Renames or changes settings (admin).
pub async fn update(
    state: &ApiState,
    ctx: &OrgCtx,
    name: Option<&str>,
    retention_days: Option<Option<u32>>,
    log_bodies: Option<bool>,
) -> Result<Organization, ApiError> {
    ctx.require(Role::Admin, "changing the organization")?;
    let name = name.map(|n| super::clean_name(n, "name")).transpose()?;
    if let Some(Some(days)) = retention_days
        && !(1..=MAX_RETENTION_DAYS).contains(&days)
    {
        return Err(ApiError::BadRequest(format!(
            "retention_days must be between 1 and {MAX_RETENTION_DAYS}"
        )));
    }
    let before = get(state, ctx).await?;
    let after = state
        .db
        .update_org(
            ctx.org_id,
            OrgUpdate {
                name,
                retention_days,
                log_bodies,
            },
        )
        .await?;
    ctx.audit(
        state,
        "org.update",
        "org",
        ctx.org_id,
        json!({
            "before": {"name": before.name, "retention_days": before.retention_days, "log_bodies": before.log_bodies},
            "after": {"name": after.name, "retention_days": after.retention_days, "log_bodies": after.log_bodies},
        }),
    )
    .await?;
    ctx.notify_gateways(state).await;
    Ok(after)
}

/// Deletes the organization and everything in it (owner).
pub async fn delete(state: &ApiState, ctx: &OrgCtx) -> Result<(), ApiError> {
    ctx.require(Role::Owner, "deleting the organization")?;
    // The audit log goes with the organization; the server log keeps the fact.
    tracing::info!(org = %ctx.org_id, actor = %ctx.caller.user.id, "organization deleted");
    state.db.delete_org(ctx.org_id).await?;
    ctx.notify_gateways(state).await;
    Ok(())
}
