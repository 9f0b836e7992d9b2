//! How the control plane's stored limits and budgets map onto the limiter's levels
//! ([`crate::limits`]): one place, so the gateway (enforcing) and the API (showing spend) name
//! the same counters.

use crate::limits::{BudgetLevel, DEFAULT_THRESHOLDS, Period, Scope, ScopeKind};
use crate::virtual_keys::{BudgetPeriod, KeyBudget};
use keyway_domain::{OrgId, TeamId, VirtualKeyId};

/// The level of a virtual key.
pub fn key_scope(org: OrgId, key: VirtualKeyId) -> Scope {
    Scope::new(org.to_string(), ScopeKind::Key, key.to_string())
}

/// The level of a team.
pub fn team_scope(org: OrgId, team: TeamId) -> Scope {
    Scope::new(org.to_string(), ScopeKind::Team, team.to_string())
}

/// The limiter's period for a stored budget period.
pub fn period_of(p: BudgetPeriod) -> Period {
    match p {
        BudgetPeriod::Daily => Period::Daily,
        BudgetPeriod::Weekly => Period::Weekly,
        BudgetPeriod::Monthly => Period::Monthly,
        BudgetPeriod::Total => Period::Total,
    }
}

/// The budget level of `scope` with a stored budget.
pub fn budget_level(scope: Scope, budget: &KeyBudget) -> BudgetLevel {
    BudgetLevel {
        scope,
        limit: budget.limit,
        period: period_of(budget.period),
        thresholds: DEFAULT_THRESHOLDS.to_vec(),
    }
}

/// The level of a whole organization.
pub fn org_scope(org: OrgId) -> Scope {
    Scope::new(org.to_string(), ScopeKind::Org, org.to_string())
}

/// The level of one end user (`x-keyway-user`) of an organization.
pub fn end_user_scope(org: OrgId, user: &str) -> Scope {
    Scope::new(org.to_string(), ScopeKind::EndUser, user)
}
