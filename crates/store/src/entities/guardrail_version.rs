//! The `guardrail_versions` table: immutable versions of a guardrail.

use sea_orm::entity::prelude::*;

/// One version of a guardrail.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "guardrail_versions")]
pub struct Model {
    /// The guardrail.
    #[sea_orm(primary_key, auto_increment = false)]
    pub guardrail_id: Uuid,
    /// Version number, from 1.
    #[sea_orm(primary_key, auto_increment = false)]
    pub version: i32,
    /// The definition JSON as validated.
    #[sea_orm(column_type = "JsonBinary")]
    pub definition: Json,
    /// User who wrote this version.
    pub created_by: Option<Uuid>,
    /// When it was written.
    pub created_at: DateTimeUtc,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
