//! The `routing_config_versions` table: immutable versions of a routing config.

use sea_orm::entity::prelude::*;

/// One version of a routing config.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "routing_config_versions")]
pub struct Model {
    /// The config.
    #[sea_orm(primary_key, auto_increment = false)]
    pub config_id: Uuid,
    /// Version number, from 1.
    #[sea_orm(primary_key, auto_increment = false)]
    pub version: i32,
    /// The config JSON as validated.
    #[sea_orm(column_type = "JsonBinary")]
    pub config: Json,
    /// User who wrote this version.
    pub created_by: Option<Uuid>,
    /// When it was written.
    pub created_at: DateTimeUtc,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
