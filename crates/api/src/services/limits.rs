//! Organization-wide limits: the organization's own rate limits and budget and those every end
//! user (`x-keyway-user`) gets. Read: any member; replace: admin.

use super::OrgCtx;
use crate::{ApiError, ApiState};
use keyway_domain::Role;
use keyway_store::org_limits::OrgLimits;
use serde_json::json;

/// The organization's limits (empty when never set).
pub async fn get(state: &ApiState, ctx: &OrgCtx) -> Result<OrgLimits, ApiError> {
    Ok(state.db.org_limits(ctx.org_id).await?)
}

/// Replaces the organization's limits; the gateways apply them within seconds.
pub async fn set(state: &ApiState, ctx: &OrgCtx, limits: OrgLimits) -> Result<OrgLimits, ApiError> {
    ctx.require(Role::Admin, "changing organization limits")?;
    let before = get(state, ctx).await?;
    let after = state.db.set_org_limits(ctx.org_id, &limits).await?;
    let summary = |l: &OrgLimits| {
        json!({
            "limits": l.limits, "budget": super::budget_summary(l.budget.as_ref()),
            "end_user_limits": l.end_user_limits, "end_user_budget": super::budget_summary(l.end_user_budget.as_ref()),
        })
    };
    ctx.audit(
        state,
        "org.limits_update",
        "org",
        ctx.org_id,
        json!({"before": summary(&before), "after": summary(&after)}),
    )
    .await?;
    ctx.notify_gateways(state).await;
    Ok(after)
}
