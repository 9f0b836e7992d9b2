//! The `prompt_labels` table: a named pointer (`production`, `staging`, ...) at a prompt version.

use sea_orm::entity::prelude::*;

/// One label of a prompt.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "prompt_labels")]
pub struct Model {
    /// The prompt.
    #[sea_orm(primary_key, auto_increment = false)]
    pub prompt_id: Uuid,
    /// Label name, unique per prompt.
    #[sea_orm(primary_key, auto_increment = false)]
    pub name: String,
    /// The version it points at.
    pub version: i32,
    /// User who last moved it.
    pub updated_by: Option<Uuid>,
    /// When it was last moved.
    pub updated_at: DateTimeUtc,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
