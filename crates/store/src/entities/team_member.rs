//! The `team_members` table: which organization members belong to which team.

use sea_orm::entity::prelude::*;

/// One team membership.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "team_members")]
pub struct Model {
    /// Team.
    #[sea_orm(primary_key, auto_increment = false)]
    pub team_id: Uuid,
    /// Member.
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: Uuid,
    /// Since when.
    pub created_at: DateTimeUtc,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
