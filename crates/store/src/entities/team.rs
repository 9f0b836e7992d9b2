//! The `teams` table: groups inside an organization, carrying budgets and limits.

use sea_orm::entity::prelude::*;

/// One team.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "teams")]
pub struct Model {
    /// Primary key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Organization.
    pub org_id: Uuid,
    /// Name, unique in the organization.
    pub name: String,
    /// JSON rate limits (`{"rpm", "tpm"}`).
    #[sea_orm(column_type = "JsonBinary")]
    pub limits: Json,
    /// JSON budget (`{"limit", "period"}`), if any.
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub budget: Option<Json>,
    /// Creation time.
    pub created_at: DateTimeUtc,
    /// Last change.
    pub updated_at: DateTimeUtc,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
