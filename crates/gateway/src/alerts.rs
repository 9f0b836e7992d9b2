//! Budget threshold alerts: when a settlement crosses 50 %, 80 % or 100 % of a budget for the
//! first time in its period, the organization's audit log gets a `budget.threshold` entry and
//! its owners and admins an e-mail. The limiter reports each crossing once per level, threshold
//! and period across all gateway processes (it is decided in the same Redis script that
//! settles), so replicas never send duplicates.

use keyway_domain::{OrgId, Role};
use keyway_mailer::{Mailer, OutgoingEmail};
use keyway_store::Database;
use keyway_store::audit::NewAuditEntry;
use keyway_store::limits::{ScopeKind, ThresholdCrossing};
use serde_json::json;
use std::sync::Arc;

/// Who appears as the actor of the audit entries the gateway writes.
pub const GATEWAY_ACTOR: &str = "keyway-gateway";
/// Longest target id the audit log stores.
const MAX_TARGET_ID: usize = 64;

/// Sends budget alerts.
#[derive(Clone)]
pub struct BudgetAlerts {
    db: Database,
    mailer: Option<Arc<Mailer>>,
}

fn kind_name(kind: ScopeKind) -> &'static str {
    match kind {
        ScopeKind::Org => "organization",
        ScopeKind::Team => "team",
        ScopeKind::Key => "key",
        ScopeKind::EndUser => "end_user",
    }
}

impl BudgetAlerts {
    /// Alerts recorded in `db`'s audit log, and mailed through `mailer` when given.
    pub fn new(db: Database, mailer: Option<Arc<Mailer>>) -> Self {
        Self { db, mailer }
    }

    /// Records and announces one crossing; failures are logged, never raised (the request that
    /// caused it has been answered already).
    pub async fn crossed(&self, c: &ThresholdCrossing) {
        tracing::info!(
            level = %c.scope, period = c.period_id, percent = c.percent,
            spent = %c.spent, limit = %c.limit, "budget threshold crossed"
        );
        let Ok(org) = uuid::Uuid::parse_str(&c.scope.org).map(OrgId::from_uuid) else {
            tracing::error!(
                org = c.scope.org,
                "budget alert for a malformed organization id"
            );
            return;
        };
        let kind = kind_name(c.scope.kind);
        let summary = json!({
            "level": kind, "id": c.scope.id, "percent": c.percent, "period_id": c.period_id,
            "spent_usd": c.spent.to_string(), "limit_usd": c.limit.to_string(),
        });
        let entry = NewAuditEntry {
            org_id: org,
            actor_id: None,
            actor_email: GATEWAY_ACTOR,
            action: "budget.threshold",
            target_type: kind,
            target_id: c.scope.id.chars().take(MAX_TARGET_ID).collect(),
            summary,
            ip: None,
        };
        if let Err(e) = self.db.record_audit(entry).await {
            tracing::error!(error = %e, "recording a budget alert failed");
        }
        let Some(mailer) = &self.mailer else {
            return;
        };
        let members = match self.db.list_members(org).await {
            Ok(m) => m,
            Err(e) => {
                tracing::error!(error = %e, "listing who to alert failed");
                return;
            }
        };
        let what = match c.scope.kind {
            ScopeKind::Org => "The organization's budget".to_owned(),
            ScopeKind::Team => format!("The budget of team {}", c.scope.id),
            ScopeKind::Key => format!("The budget of virtual key {}", c.scope.id),
            ScopeKind::EndUser => format!("The budget of end user {}", c.scope.id),
        };
        let subject = format!("Keyway: {what} reached {}%", c.percent);
        let text = format!(
            "{what} has reached {percent}% for period {period}: ${spent} spent of ${limit}.\n\n{tail}\n",
            percent = c.percent,
            period = c.period_id,
            spent = c.spent,
            limit = c.limit,
            tail = if c.percent >= 100 {
                "Requests charged to it are refused until the period starts over or the budget is raised."
            } else {
                "Requests are still served; raise the budget if this is expected."
            },
        );
        for m in members.iter().filter(|m| m.role.at_least(Role::Admin)) {
            let email = OutgoingEmail {
                to: m.email.clone(),
                subject: subject.clone(),
                text: text.clone(),
                html: None,
            };
            if let Err(e) = mailer.send(&email).await {
                tracing::error!(error = %e, "mailing a budget alert failed");
            }
        }
    }
}
