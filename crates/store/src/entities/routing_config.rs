//! The `routing_configs` table: a named routing config of an organization and its latest version.

use sea_orm::entity::prelude::*;

/// One routing config.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "routing_configs")]
pub struct Model {
    /// Primary key (UUID v7); what `x-keyway-config` and a key's default config name.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Organization.
    pub org_id: Uuid,
    /// Name, unique in the organization.
    pub name: String,
    /// Number of the newest version (versions count from 1).
    pub latest_version: i32,
    /// User who created the config.
    pub created_by: Option<Uuid>,
    /// Creation time.
    pub created_at: DateTimeUtc,
    /// Time of the newest version or rename.
    pub updated_at: DateTimeUtc,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
