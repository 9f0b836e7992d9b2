//! The `audit_log` table: one row per mutating control-plane action.

use sea_orm::entity::prelude::*;

/// One audited action.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_log")]
pub struct Model {
    /// Primary key (UUID v7, so it sorts by time).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Organization.
    pub org_id: Uuid,
    /// Acting user, if a user acted.
    pub actor_id: Option<Uuid>,
    /// Acting user's e-mail at the time (kept when the user is deleted).
    pub actor_email: String,
    /// Dotted action name, e.g. `key.revoke`.
    pub action: String,
    /// Kind of target, e.g. `key`.
    pub target_type: String,
    /// Target id.
    pub target_id: String,
    /// Before/after summary, never with secrets.
    #[sea_orm(column_type = "JsonBinary")]
    pub summary: Json,
    /// Client address.
    pub ip: Option<String>,
    /// When.
    pub created_at: DateTimeUtc,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
