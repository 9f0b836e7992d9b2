//! The `org_limits` table: an organization's own rate limits and budget, and those of each of
//! its end users.

use sea_orm::entity::prelude::*;

/// One organization's limits.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "org_limits")]
pub struct Model {
    /// Organization (primary key).
    #[sea_orm(primary_key, auto_increment = false)]
    pub org_id: Uuid,
    /// JSON rate limits of the whole organization (`{"rpm", "tpm"}`).
    #[sea_orm(column_type = "JsonBinary")]
    pub limits: Json,
    /// JSON budget of the whole organization (`{"limit", "period"}`), if any.
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub budget: Option<Json>,
    /// JSON rate limits of each end user.
    #[sea_orm(column_type = "JsonBinary")]
    pub end_user_limits: Json,
    /// JSON budget of each end user, if any.
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub end_user_budget: Option<Json>,
    /// Last change.
    pub updated_at: DateTimeUtc,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
