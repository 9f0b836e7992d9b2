//! The `prompt_partial_versions` table: immutable versions of a partial.

use sea_orm::entity::prelude::*;

/// One version of a partial.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "prompt_partial_versions")]
pub struct Model {
    /// The partial.
    #[sea_orm(primary_key, auto_increment = false)]
    pub partial_id: Uuid,
    /// Version number, from 1.
    #[sea_orm(primary_key, auto_increment = false)]
    pub version: i32,
    /// Template text.
    pub content: String,
    /// What changed in this version.
    pub commit_message: String,
    /// User who wrote this version.
    pub created_by: Option<Uuid>,
    /// When it was written.
    pub created_at: DateTimeUtc,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
