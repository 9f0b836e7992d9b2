//! Budget spend as the gateway enforces it, read from the process's limiter (Redis, or the
//! in-process state of the embedded default): the current period of a key's or a team's budget.

use crate::dto::SpendOut;
use crate::{ApiError, ApiState};
use keyway_store::governance::{budget_level, key_scope, team_scope};
use keyway_store::limits::{LimitError, Scope};
use keyway_store::teams::Team;
use keyway_store::virtual_keys::{KeyBudget, VirtualKey};

async fn spend_of(
    state: &ApiState,
    scope: Scope,
    budget: Option<&KeyBudget>,
) -> Result<Option<SpendOut>, ApiError> {
    let Some(budget) = budget else {
        return Ok(None);
    };
    match state.limits.spend(&budget_level(scope, budget)).await {
        Ok(s) => Ok(Some(SpendOut {
            period_id: s.period_id,
            spent_usd: s.spent.to_string(),
            reserved_usd: s.reserved.to_string(),
            limit_usd: budget.limit.to_string(),
            resets_at: s.resets_at,
        })),
        // The key itself is still worth showing while Redis is briefly unreachable.
        Err(LimitError::Unavailable) => Ok(None),
        Err(e) => Err(ApiError::internal(e)),
    }
}

/// Current spend of a key's budget (`None` without a budget).
pub async fn of_key(state: &ApiState, key: &VirtualKey) -> Result<Option<SpendOut>, ApiError> {
    spend_of(state, key_scope(key.org_id, key.id), key.budget.as_ref()).await
}

/// Current spend of a team's budget (`None` without a budget).
pub async fn of_team(state: &ApiState, team: &Team) -> Result<Option<SpendOut>, ApiError> {
    spend_of(
        state,
        team_scope(team.org_id, team.id),
        team.budget.as_ref(),
    )
    .await
}

/// Current spend of the organization's own budget (`None` without one).
pub async fn of_org(
    state: &ApiState,
    org: keyway_domain::OrgId,
    limits: &keyway_store::org_limits::OrgLimits,
) -> Result<Option<SpendOut>, ApiError> {
    spend_of(
        state,
        keyway_store::governance::org_scope(org),
        limits.budget.as_ref(),
    )
    .await
}
