//! The audit log: one row per mutating control-plane action, listed newest first with filters
//! and keyset pagination.

use crate::entities::audit_entry;
use crate::{Database, StoreError};
use chrono::{DateTime, SubsecRound, Utc};
use keyway_domain::{OrgId, UserId};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde::Serialize;
use uuid::Uuid;

/// One audited action.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEntry {
    /// Identifier (time-ordered).
    pub id: Uuid,
    /// Organization.
    pub org_id: OrgId,
    /// Acting user.
    pub actor_id: Option<UserId>,
    /// Acting user's address at the time.
    pub actor_email: String,
    /// Dotted action name, e.g. `key.revoke`.
    pub action: String,
    /// Kind of target, e.g. `key`.
    pub target_type: String,
    /// Target id.
    pub target_id: String,
    /// Before/after summary (never secrets).
    pub summary: serde_json::Value,
    /// Client address.
    pub ip: Option<String>,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// What to record.
#[derive(Debug, Clone)]
pub struct NewAuditEntry<'a> {
    /// Organization.
    pub org_id: OrgId,
    /// Acting user.
    pub actor_id: Option<UserId>,
    /// Acting user's address.
    pub actor_email: &'a str,
    /// Dotted action name.
    pub action: &'a str,
    /// Kind of target.
    pub target_type: &'a str,
    /// Target id.
    pub target_id: String,
    /// Before/after summary.
    pub summary: serde_json::Value,
    /// Client address.
    pub ip: Option<String>,
}

/// Filters for [`Database::list_audit`]; all optional.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Exact action, or a prefix ending in `.` (e.g. `key.`).
    pub action: Option<String>,
    /// Acting user.
    pub actor_id: Option<UserId>,
    /// Kind of target.
    pub target_type: Option<String>,
    /// Target id.
    pub target_id: Option<String>,
    /// From this time (inclusive).
    pub since: Option<DateTime<Utc>>,
    /// Before this time (exclusive).
    pub until: Option<DateTime<Utc>>,
    /// Only entries older than this id (the previous page's last id).
    pub before_id: Option<Uuid>,
}

impl From<audit_entry::Model> for AuditEntry {
    fn from(m: audit_entry::Model) -> Self {
        Self {
            id: m.id,
            org_id: OrgId::from_uuid(m.org_id),
            actor_id: m.actor_id.map(UserId::from_uuid),
            actor_email: m.actor_email,
            action: m.action,
            target_type: m.target_type,
            target_id: m.target_id,
            summary: m.summary,
            ip: m.ip,
            created_at: m.created_at,
        }
    }
}

impl Database {
    /// Records an action.
    pub async fn record_audit(&self, entry: NewAuditEntry<'_>) -> Result<AuditEntry, StoreError> {
        let model = audit_entry::Entity::insert(audit_entry::ActiveModel {
            id: Set(Uuid::now_v7()),
            org_id: Set(entry.org_id.as_uuid()),
            actor_id: Set(entry.actor_id.map(|u| u.as_uuid())),
            actor_email: Set(entry.actor_email.to_owned()),
            action: Set(entry.action.to_owned()),
            target_type: Set(entry.target_type.to_owned()),
            target_id: Set(entry.target_id),
            summary: Set(entry.summary),
            ip: Set(entry.ip),
            created_at: Set(Utc::now().trunc_subsecs(6)),
        })
        .exec_with_returning(self.conn())
        .await?;
        Ok(model.into())
    }

    /// Entries of `org` matching `filter`, newest first, at most `limit`.
    pub async fn list_audit(
        &self,
        org: OrgId,
        filter: &AuditFilter,
        limit: u64,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let mut cond = Condition::all().add(audit_entry::Column::OrgId.eq(org.as_uuid()));
        if let Some(action) = &filter.action {
            cond = if action.ends_with('.') {
                cond.add(audit_entry::Column::Action.starts_with(action))
            } else {
                cond.add(audit_entry::Column::Action.eq(action))
            };
        }
        if let Some(actor) = filter.actor_id {
            cond = cond.add(audit_entry::Column::ActorId.eq(actor.as_uuid()));
        }
        if let Some(t) = &filter.target_type {
            cond = cond.add(audit_entry::Column::TargetType.eq(t));
        }
        if let Some(t) = &filter.target_id {
            cond = cond.add(audit_entry::Column::TargetId.eq(t));
        }
        if let Some(since) = filter.since {
            cond = cond.add(audit_entry::Column::CreatedAt.gte(since));
        }
        if let Some(until) = filter.until {
            cond = cond.add(audit_entry::Column::CreatedAt.lt(until));
        }
        if let Some(before) = filter.before_id {
            // Ids are UUID v7: ordering by id is ordering by time.
            cond = cond.add(audit_entry::Column::Id.lt(before));
        }
        Ok(audit_entry::Entity::find()
            .filter(cond)
            .order_by_desc(audit_entry::Column::Id)
            .limit(limit)
            .all(self.conn())
            .await?
            .into_iter()
            .map(AuditEntry::from)
            .collect())
    }
}
